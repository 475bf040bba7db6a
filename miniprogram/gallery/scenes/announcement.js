const { API, ok, fail, TOKEN, announcement, templates } = require('../fixtures')

const page = 'pages/announcement/announcement'
const query = { id: '4' }
const get = `GET ${API}/announcements/4`
const objections = `POST ${API}/announcements/4/objections`
const objection = { id: 1, reason: '他去年就确诊了，隐瞒了病史', status: 'pending', resolution: null,
  created_at: '2026-04-05T02:00:00+00:00', resolved_at: null }
// the reworked page asks for notices when a member follows the case
const subscriptions = { [`GET ${API}/subscriptions`]: ok(templates()) }
module.exports = [
  { name: 'loading', page, query, storage: TOKEN, responses: subscriptions, pending: [get] },
  { name: 'loaded', page, query, storage: TOKEN, responses: { ...subscriptions, [get]: ok(announcement(4)) } },
  { name: 'error', page, query, storage: TOKEN, responses: { ...subscriptions, [get]: fail(404, 'not_found', '公示不存在') } },
  { name: 'publicity-over', page, query, storage: TOKEN, responses: { ...subscriptions, [get]: ok(announcement(4, { status: 'ready' })) } },
  { name: 'after-empty-objection', page, query, storage: TOKEN, responses: { ...subscriptions, [get]: ok(announcement(4)) },
    act: async (comp, { tap }) => { await tap('.object-button') } },
  { name: 'after-objection', page, query, storage: TOKEN, responses: { ...subscriptions, [get]: ok(announcement(4)), [objections]: ok(objection, 201) },
    act: async (comp, { tap, input }) => {
      await input('.reason', objection.reason)
      await tap('.object-button')
    } },
  { name: 'after-objection-refused', page, query, storage: TOKEN,
    responses: { ...subscriptions, [get]: ok(announcement(4)), [objections]: fail(409, 'objection_exists', '您已对这个案例提出过异议') },
    act: async (comp, { tap, input }) => {
      await input('.reason', '情况与公示不符的理由')
      await tap('.object-button')
    } },
]
