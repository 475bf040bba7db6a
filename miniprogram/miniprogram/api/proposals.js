const { call } = require('./request')

// Rule-change proposals and a plan's wind-down (issue 14; /work/notes/contract-14.md)
module.exports = {
  listPlanProposals: (code, options) => call('listPlanProposals', Object.assign({ params: { code } }, options)),
  getProposal: (id, options) => call('getProposal', Object.assign({ params: { id } }, options)),
  // each with my_answer, can_answer, can_leave_with_full_refund for this membership (its payer)
  listMembershipProposals: (id, options) => call('listMembershipProposals', Object.assign({ params: { id } }, options)),
  // answer: 'agree' | 'disagree' → {proposal_id, membership_id, answer, answered_at, tally}
  answerProposal: (id, proposal, answer, options) =>
    call('answerProposal', Object.assign({ params: { id, proposal }, data: { answer } }, options)),
  getWindDown: (code, options) => call('getWindDown', Object.assign({ params: { code } }, options)),
}
