// Every endpoint the mini-program calls, in one place: method, path under the API base
// ({name} = a path parameter), the query and body fields it sends and the response fields it reads
// ("a.b" = nested object, "a[]" = each element of a list). The api/*.js functions build their
// requests from this table, and test/contract.test.js checks it against the API's OpenAPI document.
const MEMBERSHIP_FIELDS = [
  'id', 'plan_code', 'plan_name', 'relation', 'person_name', 'state', 'balance_fen', 'min_prepay_fen',
  'observation_days_left', 'grace_ends_at', 'sponsor_token',
]
const PAYMENT_FIELDS = [
  'order_id', 'payment.timeStamp', 'payment.nonceStr', 'payment.package', 'payment.signType', 'payment.paySign',
]
const each = (list, fields) => fields.map(f => `${list}[].${f}`)

module.exports = {
  // --- auth, groups, invites, subscriptions
  login: { method: 'POST', path: '/auth/login', body: ['code', 'inviter'],
    response: ['token', 'user.id', 'user.invite_code', 'user.is_new'] },
  enterGroup: { method: 'POST', path: '/groups/enter', body: ['encryptedData', 'iv'], response: [] },
  myInvite: { method: 'GET', path: '/invites/me', response: ['code', 'share_path', 'joined_count'] },
  inviteQrcode: { method: 'GET', path: '/invites/me/qrcode', binary: true, response: [] },
  subscribe: { method: 'POST', path: '/subscriptions', body: ['accepted'], response: [] },

  // --- plans and apportionment runs
  listPlans: { method: 'GET', path: '/plans',
    response: each('items', ['code', 'name', 'summary', 'counts.members', 'min_prepay_fen', 'share_cap_fen',
      'max_aid_fen', 'balances_held_fen', 'estimated_annual_fen', 'aid_paid_fen']) },
  getPlan: { method: 'GET', path: '/plans/{code}',
    response: ['code', 'name', 'summary', 'rules_in_words', 'observation_days', 'max_aid_fen', 'share_cap_fen',
      'min_prepay_fen', 'exclusions', 'eligibility[].label', 'health_questions[].key', 'health_questions[].text',
      'eligibility_questions[].key', 'eligibility_questions[].text', 'counts.members', 'estimated_annual_fen'] },
  listRuns: { method: 'GET', path: '/plans/{code}/runs',
    response: each('items', ['id', 'status', 'share_fen', 'case_count', 'executed_at']) },
  getRun: { method: 'GET', path: '/plans/{code}/runs/{id}',
    response: ['id', 'status', 'share_fen', 'case_count', 'executed_at', 'cases[].claim_id', 'cases[].person',
      'cases[].illness', 'cases[].aid_fen'] },

  // --- memberships, money
  join: { method: 'POST', path: '/memberships',
    body: ['plan_code', 'relation', 'person.name', 'person.id_number', 'answers'], response: MEMBERSHIP_FIELDS },
  listMemberships: { method: 'GET', path: '/memberships', response: each('items', MEMBERSHIP_FIELDS) },
  getMembership: { method: 'GET', path: '/memberships/{id}', response: MEMBERSHIP_FIELDS },
  ledger: { method: 'GET', path: '/memberships/{id}/ledger', query: ['page', 'per_page'],
    response: [...each('items', ['id', 'amount_fen', 'reason', 'created_at']), 'page', 'per_page', 'total'] },
  leave: { method: 'POST', path: '/memberships/{id}/leave', response: ['state'] },
  deductions: { method: 'GET', path: '/memberships/{id}/deductions',
    response: each('items', ['run_id', 'share_fen', 'executed_at', 'cases[].claim_id', 'cases[].person',
      'cases[].illness', 'cases[].part_fen']) },
  createTopup: { method: 'POST', path: '/memberships/{id}/topups', body: ['amount_fen'], response: PAYMENT_FIELDS },
  getSponsor: { method: 'GET', path: '/sponsor/{token}',
    response: ['plan_name', 'person_name', 'state', 'balance_fen', 'min_prepay_fen'] },
  sponsorTopup: { method: 'POST', path: '/sponsor/{token}/topups', body: ['amount_fen'], response: PAYMENT_FIELDS },

  // --- claims and announcements (公示)
  createClaim: { method: 'POST', path: '/claims',
    body: ['membership_id', 'incident', 'illness', 'occurred_on', 'description'], response: ['id', 'status'] },
  listClaims: { method: 'GET', path: '/claims',
    response: each('items', ['id', 'status', 'person_name', 'illness', 'created_at']) },
  getClaim: { method: 'GET', path: '/claims/{id}',
    response: ['id', 'status', 'person_name', 'illness', 'occurred_on', 'approved_aid_fen', 'timeline[].status',
      'timeline[].at', 'timeline[].note', 'documents[].id', 'documents[].kind'] },
  uploadClaimDocument: { method: 'POST', path: '/claims/{id}/documents', multipart: true, body: ['file', 'kind'],
    response: ['id', 'kind'] },
  listAnnouncements: { method: 'GET', path: '/announcements',
    response: each('items', ['id', 'plan_name', 'person', 'illness', 'approved_aid_fen', 'publicity_ends_at']) },
  getAnnouncement: { method: 'GET', path: '/announcements/{id}',
    response: ['id', 'plan_name', 'person', 'illness', 'summary', 'approved_aid_fen', 'publicity_ends_at',
      'objections_open'] },
  createObjection: { method: 'POST', path: '/announcements/{id}/objections', body: ['reason'], response: ['id'] },
}
