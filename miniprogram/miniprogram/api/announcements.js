const { call } = require('./request')

module.exports = {
  // planCode narrows the list to one plan (optional)
  listAnnouncements: (planCode, options) =>
    call('listAnnouncements', Object.assign({ query: { plan_code: planCode || undefined } }, options)),
  // one keyset page: cursor = the previous page's next_cursor ('' for the first)
  listAnnouncementsPage: (planCode, cursor, limit, options) => call('listAnnouncements', Object.assign({
    query: { plan_code: planCode || undefined, limit, cursor: cursor || undefined } }, options)),
  getAnnouncement: (id, options) => call('getAnnouncement', Object.assign({ params: { id } }, options)),
  createObjection: (id, reason, options) =>
    call('createObjection', Object.assign({ params: { id }, data: { reason } }, options)),
}
