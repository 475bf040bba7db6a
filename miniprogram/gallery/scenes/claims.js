const { API, ok, TOKEN, claim, membership } = require('../fixtures')

const page = 'pages/claims/claims'
const family = { [`GET ${API}/memberships`]: ok({ items: [membership(1, { state: 'protected' })] }) }
const list = `GET ${API}/claims`
module.exports = [
  { name: 'loading', page, storage: TOKEN, responses: family, pending: [list] },
  { name: 'loaded', page, storage: TOKEN, responses: Object.assign({ [list]: ok({ items: [
    claim(7),
    claim(8, { status: 'returned', status_text: '需补充材料', missing_items: '出院小结', diagnosis: '胫骨骨折', incident_type: 'accident' }),
    claim(6, { status: 'paid', status_text: '已打款', approved_aid_fen: 5000000, collected_aid_fen: 5000000, submitted_at: '2026-01-10T02:00:00+00:00' }),
  ] }) }, family) },
  { name: 'empty', page, storage: TOKEN, responses: Object.assign({ [list]: ok({ items: [] }) }, family) },
  { name: 'error', page, storage: TOKEN, responses: Object.assign({ [list]: { networkError: 'timeout' } }, family) },
]
