// Endpoints and fields the mini-program uses that the API does not serve (yet). Each entry is an
// explicit allowance naming the issue expected to bring it:
//   endpoints: { deductions: 'issue N (…)' }
//   fields: { 'getPlan response some_field': 'issue N (…)' }   ("endpoint body|query|response field")
// The contract test FAILS when an allowed gap is no longer a gap (so the list can only shrink), and
// the end-to-end steps that need a gapped endpoint are reported as skipped by name. On main it is empty.
// Issue 14's wind-down entries follow /work/notes/contract-14.md; they go once its wind-down API lands (the
// consent API has: proposals are checked against the document).
const ISSUE_14_WIND_DOWN = 'issue 14 (wind-down: helper winddown)'
module.exports = {
  endpoints: {
    getWindDown: ISSUE_14_WIND_DOWN,
  },
  fields: {
    'getPlan response status': ISSUE_14_WIND_DOWN,
    'getPlan response wind_down': ISSUE_14_WIND_DOWN,
    'getMembership response balance_return': ISSUE_14_WIND_DOWN,
  },
}
