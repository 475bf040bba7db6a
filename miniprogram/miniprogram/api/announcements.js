const { call } = require('./request')

module.exports = {
  listAnnouncements: options => call('listAnnouncements', options),
  getAnnouncement: (id, options) => call('getAnnouncement', Object.assign({ params: { id } }, options)),
  createObjection: (id, reason, options) =>
    call('createObjection', Object.assign({ params: { id }, data: { reason } }, options)),
}
