// Scenes for pages/group/group: the group chat the mini-program was opened from (counts only)
const { API, ok, fail, TOKEN, groupSummary } = require('../fixtures')

const page = 'pages/group/group'
const get = `GET ${API}/groups/G-1/summary`
const inGroup = Object.assign({ opengid: 'G-1' }, TOKEN)

module.exports = [
  { name: 'loading', page, storage: inGroup, pending: [get] },
  { name: 'loaded', page, storage: inGroup, responses: { [get]: ok(groupSummary({ members_seen: 1234, protected_people: 566 })) } },
  { name: 'empty', page, storage: TOKEN },
  { name: 'error', page, storage: inGroup, responses: { [get]: fail(404, 'group_not_found', '没有找到这个群') } },
]
