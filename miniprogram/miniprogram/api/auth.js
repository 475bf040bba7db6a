const { call, login } = require('./request')

module.exports = {
  // POST /auth/login, with the inviter code kept from the launch options
  login,
  // POST /groups/enter: the encrypted group info of the chat the mini-program was opened from
  groupSummary: (opengid, options) => call('groupSummary', Object.assign({ params: { opengid } }, options)),
  enterGroup: ({ encryptedData, iv }, options) => call('enterGroup', Object.assign({ data: { encryptedData, iv } }, options)),
}
