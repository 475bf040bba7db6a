// Scenes for pages/proposals/proposals (issue 14's rule-change proposals; answers follow contract-14.md)
const { API, ok, fail, TOKEN, proposal } = require('../fixtures')

const page = 'pages/proposals/proposals'
const planList = `GET ${API}/plans/adult_789/proposals`
const memberList = `GET ${API}/memberships/1/proposals`
const mine = (id, overrides = {}) => Object.assign(proposal(id), { my_answer: null, can_answer: true, can_leave_with_full_refund: false }, overrides)

module.exports = [
  { name: 'loading', page, query: { code: 'adult_789' }, storage: TOKEN, pending: [planList] },
  { name: 'loaded', page, query: { code: 'adult_789' }, storage: TOKEN, responses: { [planList]: ok({ items: [
    proposal(2), proposal(1, { status: 'failed', title: '观察期从180天缩短为90天', tally: { agree: 60, disagree: 140, answered: 200, eligible: 1234, turnout_percent: 16 } }),
  ] }) } },
  { name: 'member', page, query: { code: 'adult_789', membership: '1' }, storage: TOKEN, responses: { [memberList]: ok({ items: [
    mine(2, { my_answer: 'agree', can_answer: false }),
  ] }) } },
  { name: 'empty', page, query: { code: 'adult_789' }, storage: TOKEN, responses: { [planList]: ok({ items: [] }) } },
  { name: 'error', page, query: { code: 'nope' }, storage: TOKEN,
    responses: { [`GET ${API}/plans/nope/proposals`]: fail(404, 'plan_not_found', '没有这个互助计划') } },
]
