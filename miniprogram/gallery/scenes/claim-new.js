const { API, ok, fail, TOKEN, membership, templates, claim, policy } = require('../fixtures')

const page = 'pages/claim-new/claim-new'
const list = `GET ${API}/memberships`
const base = {
  [`GET ${API}/subscriptions`]: ok(templates()),
  [`GET ${API}/privacy/policy`]: ok(policy()),
  [list]: ok({ items: [membership(1, { state: 'protected' }), membership(2, { state: 'protected', relation: 'child', person_name: '张小*' }),
    membership(3, { state: 'observing', person_name: '观*' })] }),
}
// the stepper's next button, on a page that has one
const next = async ({ has, tap }) => { if (has('.next-button')) await tap('.next-button') }
const fill = async (comp, tools) => {
  const { tap, input, call } = tools
  await tap('.member', 0)
  await tap('.incident', 1)
  await next(tools)
  await call('onInput', { currentTarget: { dataset: { field: 'incidentDate' } }, detail: { value: '2026-02-27' } })
  await input('.diagnosis-input', '胫骨骨折')
  await call('onInput', { currentTarget: { dataset: { field: 'diagnosisDate' } }, detail: { value: '2026-03-01' } })
  await input('.hospital-input', '市第一医院')
  await input('.city-input', '杭州')
  await next(tools)
  await tap('.consent', 0)
  await tap('.consent', 1)
}
module.exports = [
  { name: 'loading', page, storage: TOKEN, responses: base, pending: [list] },
  { name: 'loaded', page, storage: TOKEN, responses: base },
  { name: 'empty', page, storage: TOKEN, responses: Object.assign({}, base, { [list]: ok({ items: [] }) }) },
  { name: 'error', page, storage: TOKEN, responses: Object.assign({}, base, { [list]: { networkError: 'timeout' } }) },
  { name: 'after-missing-fields', page, storage: TOKEN, responses: base,
    act: async (comp, { tap, has }) => {
      await tap('.member', 0)
      await tap(has('.next-button') ? '.next-button' : '.submit')
    } },
  { name: 'after-filling', page, storage: TOKEN, responses: base, act: fill },
  { name: 'after-refusal', page, storage: TOKEN,
    responses: Object.assign({}, base, { [`POST ${API}/claims`]: fail(400, 'incident_before_observation_end', '观察期内发生的不在互助范围内') }),
    act: async (comp, tools) => {
      await fill(comp, tools)
      await tools.tap('.submit')
    } },
]
