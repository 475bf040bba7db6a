const { API, ok, fail, TOKEN, plan, policy, membership } = require('../fixtures')

const page = 'pages/join/join'
const query = { code: 'adult_789' }
const base = { [`GET ${API}/plans/adult_789`]: ok(plan('adult_789')), [`GET ${API}/privacy/policy`]: ok(policy()) }
const fill = async (comp, { tap, input }) => {
  await tap('.relation', 1)
  await input('.name-input', '张小宝')
  await input('.id-input', '110101199001011237')
  await tap('.answer-no', 0)
  await tap('.answer-no', 1)
  await tap('.consent', 0)
  await tap('.consent', 1)
}
module.exports = [
  { name: 'loading', page, query, storage: TOKEN, responses: base, pending: [`GET ${API}/plans/adult_789`] },
  { name: 'loaded', page, query, storage: TOKEN, responses: base },
  { name: 'error', page, query, storage: TOKEN,
    responses: Object.assign({}, base, { [`GET ${API}/plans/adult_789`]: fail(404, 'plan_not_found', '没有这个互助计划') }) },
  { name: 'after-filling', page, query, storage: TOKEN, responses: base, act: fill },
  { name: 'after-incomplete-submit', page, query, storage: TOKEN, responses: base,
    act: async (comp, { tap, input }) => {
      await input('.name-input', '张三')
      await input('.id-input', '1234')
      await tap('.submit')
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
