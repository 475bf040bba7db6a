const { call, download } = require('./request')

module.exports = {
  myInvite: options => call('myInvite', options),
  // the poster's mini-program code (PNG) → a temporary file path for <image>
  inviteQrcode: options => download('inviteQrcode', options),
  // {items: [{key, template_id, title, remaining}]}: the ids to pass to wx.requestSubscribeMessage
  listSubscriptions: options => call('listSubscriptions', options),
  // template keys the member accepted in wx.requestSubscribeMessage
  subscribe: (accepted, options) => call('subscribe', Object.assign({ data: { accepted } }, options)),
}
