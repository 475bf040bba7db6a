const { API, ok, fail, TOKEN, plan, policy, membership, templates } = require('../fixtures')

const page = 'pages/join/join'
const query = { code: 'adult_789' }
const base = { [`GET ${API}/plans/adult_789`]: ok(plan('adult_789')), [`GET ${API}/privacy/policy`]: ok(policy()),
  [`GET ${API}/subscriptions`]: ok(templates()) }
// the stepper's next button, on a page that has one
const next = async ({ has, tap }) => { if (has('.next-button')) await tap('.next-button') }
const fill = async (comp, tools) => {
  await tools.tap('.relation', 1)
  await tools.input('.name-input', '张小宝')
  await tools.input('.id-input', '110101199001011237')
  await next(tools)
  await tools.tap('.answer-no', 0)
  await tools.tap('.answer-no', 1)
  await next(tools)
  await tools.tap('.consent', 0)
  await tools.tap('.consent', 1)
}
module.exports = [
  { name: 'loading', page, query, storage: TOKEN, responses: base, pending: [`GET ${API}/plans/adult_789`] },
  { name: 'loaded', page, query, storage: TOKEN, responses: base },
  { name: 'error', page, query, storage: TOKEN,
    responses: Object.assign({}, base, { [`GET ${API}/plans/adult_789`]: fail(404, 'plan_not_found', '没有这个互助计划') }) },
  { name: 'after-filling', page, query, storage: TOKEN, responses: base, act: fill },
  { name: 'after-incomplete-submit', page, query, storage: TOKEN, responses: base,
    act: async (comp, tools) => {
      await tools.input('.name-input', '张三')
      await tools.input('.id-input', '1234')
      await tools.tap(tools.has('.next-button') ? '.next-button' : '.submit')
    } },
  { name: 'after-refusal', page, query, storage: TOKEN,
    responses: Object.assign({}, base, { [`POST ${API}/memberships`]: fail(400, 'not_eligible', '年龄不符合本计划的加入条件') }),
    act: async (comp, tools) => {
      await fill(comp, tools)
      await tools.tap('.submit')
    } },
  { name: 'after-joining', page, query, storage: TOKEN,
    responses: Object.assign({}, base, { [`POST ${API}/memberships`]: ok(membership(9, { state: 'pending' }), 201) }),
    act: async (comp, tools) => {
      await fill(comp, tools)
      await tools.tap('.submit')
    } },
]
