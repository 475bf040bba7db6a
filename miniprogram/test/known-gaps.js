// Endpoints and fields the mini-program uses that the API does not serve (yet). Each entry is an
// explicit allowance naming the issue expected to bring it:
//   endpoints: { deductions: 'issue N (…)' }
//   fields: { 'getPlan response some_field': 'issue N (…)' }   ("endpoint body|query|response field")
// The contract test FAILS when an allowed gap is no longer a gap (so the list can only shrink), and
// the end-to-end steps that need a gapped endpoint are reported as skipped by name. On main it is empty.
// Issue 14's entries follow /work/notes/contract-14.md; they go once its consent and wind-down API land.
const ISSUE_14_CONSENT = 'issue 14 (rule-change proposals: helper consent)'
const ISSUE_14_WIND_DOWN = 'issue 14 (wind-down: helper winddown)'
module.exports = {
  endpoints: {
    listPlanProposals: ISSUE_14_CONSENT,
    getProposal: ISSUE_14_CONSENT,
    listMembershipProposals: ISSUE_14_CONSENT,
    answerProposal: ISSUE_14_CONSENT,
    getWindDown: ISSUE_14_WIND_DOWN,
  },
  fields: {
    'getPlan response status': ISSUE_14_WIND_DOWN,
    'getPlan response wind_down': ISSUE_14_WIND_DOWN,
    'getMembership response balance_return': ISSUE_14_WIND_DOWN,
  },
}
