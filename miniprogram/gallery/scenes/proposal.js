// Scenes for pages/proposal/proposal (issue 14; answers follow contract-14.md)
const { API, ok, TOKEN, proposal } = require('../fixtures')

const page = 'pages/proposal/proposal'
const publicOne = `GET ${API}/proposals/2`
const memberList = `GET ${API}/memberships/1/proposals`
const answer = `POST ${API}/memberships/1/proposals/2/answer`
const mine = (id, overrides = {}) => Object.assign(proposal(id), { my_answer: null, can_answer: true, can_leave_with_full_refund: false }, overrides)
const tally = { agree: 151, disagree: 50, answered: 201, eligible: 1234, turnout_percent: 16 }

module.exports = [
  { name: 'loading', page, query: { id: '2' }, storage: TOKEN, pending: [publicOne] },
  { name: 'public', page, query: { id: '2' }, storage: TOKEN, responses: { [publicOne]: ok(proposal(2)) } },
  { name: 'can-answer', page, query: { id: '2', membership: '1' }, storage: TOKEN, responses: { [memberList]: ok({ items: [mine(2)] }) } },
  { name: 'after-agree', page, query: { id: '2', membership: '1' }, storage: TOKEN,
    responses: { [memberList]: ok({ items: [mine(2)] }),
      [answer]: ok({ proposal_id: 2, membership_id: 1, answer: 'agree', answered_at: '2026-04-05T02:00:00+00:00', tally }) },
    act: async comp => { await comp.instance.send('agree') } },
  { name: 'passed-disagreed', page, query: { id: '2', membership: '1' }, storage: TOKEN, responses: { [memberList]: ok({ items: [
    mine(2, { status: 'passed', my_answer: 'disagree', can_answer: false, can_leave_with_full_refund: true,
      outcome_text: '已通过：同意者占答复者的 75%，答复率 16%。新规则 2026-05-01 起生效，不同意的成员可在此之前退出并全额退款。' }),
  ] }) } },
]
