const { API, ok, fail, TOKEN, membership, payment, templates, plan } = require('../fixtures')

const page = 'pages/topup/topup'
const query = { id: '1' }
const base = { [`GET ${API}/subscriptions`]: ok(templates()), [`GET ${API}/plans/adult_789`]: ok(plan('adult_789')), [`GET ${API}/memberships/1`]: ok(membership(1, { balance_fen: 300 })) }
const paying = Object.assign({}, base, {
  [`POST ${API}/memberships/1/topups`]: ok(payment, 201),
  [`GET ${API}/memberships/1`]: [ok(membership(1, { balance_fen: 300 })), ok(membership(1, { balance_fen: 3300 }))],
  [`POST ${API}/subscriptions`]: ok(templates(1)),
})
module.exports = [
  { name: 'loading', page, query, storage: TOKEN, responses: base, pending: [`GET ${API}/memberships/1`, `GET ${API}/subscriptions`] },
  { name: 'loaded', page, query, storage: TOKEN, responses: base },
  { name: 'error', page, query, storage: TOKEN,
    responses: Object.assign({}, base, { [`GET ${API}/memberships/1`]: fail(404, 'not_found', '没有找到这份保障') }) },
  { name: 'sponsor', page, query: { sponsor: 'sp-tok' }, storage: TOKEN, responses: Object.assign({}, base, {
    [`POST ${API}/sponsor/lookup`]: ok({ plan_code: 'children', plan_name: '少儿互助计划', person_name: '王*', state: 'suspended',
      balance_fen: 0, min_prepay_fen: 300, is_own: false }) }) },
  { name: 'after-invalid-amount', page, query, storage: TOKEN, responses: base,
    act: async (comp, { tap, input }) => {
      await input('.custom-amount', '1.234')
      await tap('.pay-button')
    } },
  { name: 'after-paying', page, query, storage: TOKEN, responses: paying,
    act: async (comp, { tap }) => {
      await tap('.amount', 2)
      await tap('.pay-button')
    } },
  { name: 'after-order-refused', page, query, storage: TOKEN,
    responses: Object.assign({}, base, { [`POST ${API}/memberships/1/topups`]: fail(400, 'amount_above_ceiling', '单次充值不能超过500元') }),
    act: async (comp, { tap, input }) => {
      await input('.custom-amount', '800')
      await tap('.pay-button')
    } },
]
