// Every endpoint the mini-program calls, in one place: method, path under the API base
// ({name} = a path parameter), the query and body fields it sends and the response fields it reads
// ("a.b" = nested object, "a[]" = each element of a list). The api/*.js functions build their
// requests from this table, and test/contract.test.js checks it against the API's OpenAPI document.
const MEMBERSHIP_FIELDS = [
  'id', 'plan_code', 'plan_name', 'relation', 'person_name', 'state', 'balance_fen', 'min_prepay_fen',
  'observation_days_left', 'grace_ends_at', 'sponsor_token',
]
// POST …/topups and POST /sponsor/topups: the order and the wx.requestPayment parameters
const PAYMENT_FIELDS = [
  'order.id', 'order.status', 'order.amount_fen',
  'payment.timeStamp', 'payment.nonceStr', 'payment.package', 'payment.signType', 'payment.paySign',
]
const CLAIM_FIELDS = [
  'id', 'membership_id', 'status', 'status_text', 'incident_type', 'diagnosis', 'diagnosis_date', 'hospital',
  'submitted_at', 'approved_aid_fen', 'missing_items', 'rejection_reason',
  'timeline[].to_status', 'timeline[].created_at', 'timeline[].note',
  'documents[].id', 'documents[].content_type',
]
// wx.requestMerchantTransfer's mchId, appId and package (商家转账), while a transfer waits for the member
const TRANSFER_FIELDS = ['mch_id', 'app_id', 'package_info']
const PAYOUT_FIELDS = ['payout.status', 'payout.amount_fen', ...TRANSFER_FIELDS.map(f => `payout.transfer.${f}`)]
const ANNOUNCEMENT_FIELDS = [
  'id', 'plan_name', 'person', 'age_years', 'illness', 'hospital_city', 'approved_aid_fen', 'investigation_summary',
  'status', 'publicity_ends_at',
]
// issue 14: rule-change proposals as app/api/proposals_schemas.py serves them; wind-down per /work/notes/contract-14.md
const PROPOSAL_FIELDS = ['id', 'plan_code', 'status', 'title', 'summary_text', 'differences[].field', 'differences[].label',
  'differences[].before_text',
  'differences[].after_text', 'differences[].text', 'window_opens_at', 'window_closes_at', 'effective_on', 'notice_ends_on',
  'quorum.agree_ratio_text', 'quorum.min_turnout_percent', 'quorum.eligible_count', 'tally.agree', 'tally.disagree',
  'tally.answered', 'tally.eligible', 'tally.turnout_percent', 'outcome_text']
const WIND_DOWN_FIELDS = ['plan_code', 'status', 'closing_date', 'announced_at', 'joins_open', 'claims_text',
  'progress.members_total', 'progress.refunded', 'progress.pending', 'progress.failed', 'progress.returned_fen',
  'progress.remaining_fen', 'surplus_rule_text', 'closing_report_url', 'notes']
// a case of an apportionment run, anonymised (GET …/runs/{id} and each deduction)
const RUN_CASE_FIELDS = ['case_id', 'person', 'age_years', 'diagnosis', 'approved_aid_fen']
const TEMPLATE_FIELDS = ['items[].key', 'items[].template_id', 'items[].remaining']
const each = (list, fields) => fields.map(f => `${list}[].${f}`)
// the payer's consents sent with a join or a claim (GET /privacy/policy gives the version)
const CONSENT_FIELDS = ['consent.policy_version', 'consent.scopes']

module.exports = {
  // --- auth, groups, invites, subscriptions
  login: { method: 'POST', path: '/auth/login', body: ['code', 'inviter'],
    response: ['token', 'user.id', 'user.invite_code', 'user.is_new'] },
  enterGroup: { method: 'POST', path: '/groups/enter', body: ['encryptedData', 'iv'], response: ['opengid'] },
  // counts only: how many people of this group chat the user has seen are in a plan
  groupSummary: { method: 'GET', path: '/groups/{opengid}/summary',
    response: ['opengid', 'members_seen', 'protected_people', 'plans[].plan_code', 'plans[].plan_name', 'plans[].protected'] },
  myInvite: { method: 'GET', path: '/invites/me', response: ['code', 'share_path', 'qrcode_scene', 'invited_count', 'joined_count'] },
  // the poster's mini-program code (PNG): getUnlimited with scene = the invite code (qrcode_scene)
  inviteQrcode: { method: 'GET', path: '/invites/me/qrcode', binary: true, response: [] },
  // subscribe-message templates: key (config/subscribe_templates.toml) → template_id for wx.requestSubscribeMessage
  listSubscriptions: { method: 'GET', path: '/subscriptions', response: TEMPLATE_FIELDS },
  subscribe: { method: 'POST', path: '/subscriptions', body: ['accepted'], response: TEMPLATE_FIELDS },

  // --- plans and apportionment runs
  listPlans: { method: 'GET', path: '/plans',
    response: each('items', ['code', 'name', 'summary', 'counts.members', 'min_prepay_fen', 'share_cap_fen',
      'max_aid_fen', 'balances_held_fen', 'aid_paid_fen', 'estimated_annual_fen']) },
  getPlan: { method: 'GET', path: '/plans/{code}',
    response: ['code', 'name', 'summary', 'rules_in_words', 'observation_days', 'max_aid_fen', 'share_cap_fen',
      'min_prepay_fen', 'management_fee_bp', 'exclusions', 'eligibility[].label', 'eligibility[].min_age_years',
      'eligibility[].max_age_years', 'aid_table[].code', 'aid_table[].name', 'aid_table[].max_aid_fen', 'status', 'wind_down', 'health_questions[].key', 'health_questions[].text',
      'eligibility_questions[].key', 'eligibility_questions[].text', 'counts.members', 'estimated_annual_fen'] },
  listRuns: { method: 'GET', path: '/plans/{code}/runs',
    response: each('items', ['id', 'status', 'share_fen', 'case_count', 'payer_count', 'published_at', 'executed_at']) },
  getRun: { method: 'GET', path: '/plans/{code}/runs/{id}',
    response: ['id', 'status', 'share_fen', 'case_count', 'payer_count', 'published_at', 'executed_at', 'collected_fen',
      'fee_fen', ...each('cases', RUN_CASE_FIELDS)] },

  // monthly financial reports (public, aggregates only): the frozen months, and one month's figures
  listReports: { method: 'GET', path: '/plans/{code}/reports', response: ['items[].period', 'items[].sha256', 'items[].frozen_at'] },
  getReport: { method: 'GET', path: '/plans/{code}/reports/{period}', response: ['period', 'frozen', 'sha256', 'report'] },

  // --- memberships, money
  join: { method: 'POST', path: '/memberships',
    body: ['plan_code', 'relation', 'person.name', 'person.id_number', 'answers', ...CONSENT_FIELDS],
    response: MEMBERSHIP_FIELDS },
  listMemberships: { method: 'GET', path: '/memberships', response: each('items', MEMBERSHIP_FIELDS) },
  // balance_return: issue 14's wind-down (a balance on its way back)
  getMembership: { method: 'GET', path: '/memberships/{id}', response: [...MEMBERSHIP_FIELDS, 'balance_return',
    ...TRANSFER_FIELDS.map(f => `balance_return.transfer.${f}`)] },
  // after wx.requestMerchantTransfer succeeded for a balance returned by transfer: the API asks WeChat
  confirmBalanceReturn: { method: 'POST', path: '/memberships/{id}/balance-return/confirmed',
    response: ['status', ...TRANSFER_FIELDS.map(f => `transfer.${f}`)] },
  ledger: { method: 'GET', path: '/memberships/{id}/ledger', query: ['page', 'per_page'],
    response: [...each('items', ['transaction_id', 'amount_fen', 'reason', 'sponsored', 'created_at']),
      'page', 'per_page', 'total'] },
  leave: { method: 'POST', path: '/memberships/{id}/leave', response: ['membership.state', 'refunded_fen'] },
  deductions: { method: 'GET', path: '/memberships/{id}/deductions',
    response: each('items', ['run_id', 'status', 'paid_fen', 'share_fen', 'deducted_at',
      ...each('cases', [...RUN_CASE_FIELDS, 'part_fen'])]) },
  // the member's own inclusion proof of one deduction (utils/merkle.js checks it on the phone)
  deductionProof: { method: 'GET', path: '/memberships/{id}/deductions/{run}/proof',
    response: ['run_id', 'member_secret', 'pseudonym', 'amount_fen', 'leaf', 'leaf_index', 'tree_size', 'audit_path',
      'root'] },
  createTopup: { method: 'POST', path: '/memberships/{id}/topups', body: ['amount_fen'], response: PAYMENT_FIELDS },
  // The sponsor token is a bearer secret: it travels in the body, never in a URL (access logs).
  getSponsor: { method: 'POST', path: '/sponsor/lookup', body: ['token'],
    response: ['plan_name', 'person_name', 'state', 'balance_fen', 'min_prepay_fen', 'is_own'] },
  sponsorTopup: { method: 'POST', path: '/sponsor/topups', body: ['token', 'amount_fen'], response: PAYMENT_FIELDS },

  // --- rule-change proposals and wind-down (issue 14)
  listPlanProposals: { method: 'GET', path: '/plans/{code}/proposals', response: each('items', PROPOSAL_FIELDS) },
  getProposal: { method: 'GET', path: '/proposals/{id}', response: PROPOSAL_FIELDS },
  listMembershipProposals: { method: 'GET', path: '/memberships/{id}/proposals',
    response: each('items', [...PROPOSAL_FIELDS, 'my_answer', 'can_answer', 'can_leave_with_full_refund']) },
  answerProposal: { method: 'POST', path: '/memberships/{id}/proposals/{proposal}/answer', body: ['answer'],
    response: ['proposal_id', 'membership_id', 'answer', 'answered_at', 'tally.agree', 'tally.disagree', 'tally.answered',
      'tally.eligible', 'tally.turnout_percent'] },
  getWindDown: { method: 'GET', path: '/plans/{code}/wind-down', response: WIND_DOWN_FIELDS },

  // --- privacy: the policy texts and the consents asked before joining and claiming
  getPrivacyPolicy: { method: 'GET', path: '/privacy/policy',
    response: ['version', 'documents[].key', 'documents[].title', 'documents[].text', 'scopes[].key', 'scopes[].title',
      'scopes[].text', 'join_scopes', 'claim_scopes'] },

  // --- claims and announcements (公示)
  createClaim: { method: 'POST', path: '/claims',
    body: ['membership_id', 'incident_type', 'incident_date', 'diagnosis', 'diagnosis_date', 'hospital', 'city',
      'description', ...CONSENT_FIELDS], response: CLAIM_FIELDS },
  listClaims: { method: 'GET', path: '/claims', response: each('items', CLAIM_FIELDS) },
  getClaim: { method: 'GET', path: '/claims/{id}', response: [...CLAIM_FIELDS, ...PAYOUT_FIELDS] },
  // after wx.requestMerchantTransfer succeeded for the aid: the API asks WeChat and settles
  confirmPayout: { method: 'POST', path: '/claims/{id}/payout/confirmed', response: [...CLAIM_FIELDS, ...PAYOUT_FIELDS] },
  uploadClaimDocument: { method: 'POST', path: '/claims/{id}/documents', multipart: true, body: ['file'],
    response: ['id', 'content_type'] },
  // keyset pages: limit, and the cursor the previous page gave (next_cursor, null on the last page)
  listAnnouncements: { method: 'GET', path: '/announcements', query: ['plan_code', 'limit', 'cursor'],
    response: [...each('items', ANNOUNCEMENT_FIELDS), 'next_cursor'] },
  getAnnouncement: { method: 'GET', path: '/announcements/{id}',
    response: [...ANNOUNCEMENT_FIELDS, 'objections[].status'] },
  createObjection: { method: 'POST', path: '/announcements/{id}/objections', body: ['reason'], response: ['id', 'status'] },
}
