const { API, ok, fail, TOKEN, plan } = require('../fixtures')

const page = 'pages/plan/plan'
const get = code => `GET ${API}/plans/${code}`
module.exports = [
  { name: 'loading', page, query: { code: 'adult_789' }, storage: TOKEN, pending: [get('adult_789')] },
  { name: 'loaded', page, query: { code: 'adult_789' }, storage: TOKEN, responses: { [get('adult_789')]: ok(plan('adult_789')) } },
  { name: 'no-estimate', page, query: { code: 'children' }, storage: TOKEN,
    responses: { [get('children')]: ok(plan('children', { estimated_annual_fen: null })) } },
  { name: 'error', page, query: { code: 'nope' }, storage: TOKEN, responses: { [get('nope')]: fail(404, 'plan_not_found', '没有这个互助计划') } },
]
