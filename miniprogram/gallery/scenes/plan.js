const { API, ok, fail, plan } = require('../fixtures')

const path = `${API}/plans/adult_789`
module.exports = [
  { name: 'loading', page: 'pages/plan/plan', query: { code: 'adult_789' }, pending: [`GET ${path}`] },
  { name: 'loaded', page: 'pages/plan/plan', query: { code: 'adult_789' }, responses: { [`GET ${path}`]: ok(plan('adult_789')) } },
  { name: 'error', page: 'pages/plan/plan', query: { code: 'adult_789' },
    responses: { [`GET ${path}`]: fail(404, 'plan_not_found', '没有这个互助计划') } },
]
