// Scenes for pages/wind-down/wind-down (issue 14's wind-down, as app/api/wind_down_schemas.py serves it)
const { API, ok, fail, TOKEN, windDown, balanceReturn, membership } = require('../fixtures')

const page = 'pages/wind-down/wind-down'
const get = `GET ${API}/plans/adult_789/wind-down`

module.exports = [
  { name: 'loading', page, query: { code: 'adult_789' }, storage: TOKEN, pending: [get] },
  { name: 'refunding', page, query: { code: 'adult_789' }, storage: TOKEN, responses: { [get]: ok(windDown()) } },
  { name: 'my-refund', page, query: { code: 'adult_789', membership: '1' }, storage: TOKEN, responses: {
    [get]: ok(windDown()),
    [`GET ${API}/memberships/1`]: ok(membership(1, { state: 'left', balance_fen: 0, balance_return: balanceReturn({
      amount_fen: 1000, returned_fen: 600, by_refund_fen: 400, by_transfer_fen: 600, surplus_fen: 10 }) })),
  } },
  { name: 'closed', page, query: { code: 'adult_789' }, storage: TOKEN, responses: { [get]: ok(windDown({ status: 'closed',
    progress: { members_total: 1234, refunded: 1234, pending: 0, failed: 0, returned_fen: 370200, remaining_fen: 0 },
    closing_report_url: '/api/v1/plans/adult_789/wind-down/report', closing_report_sha256: 'c1'.repeat(32) })) } },
  { name: 'error', page, query: { code: 'adult_789' }, storage: TOKEN, responses: { [get]: fail(404, 'not_found', '这个计划没有在终止') } },
]
