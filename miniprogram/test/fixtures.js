// Answers as the API gives them (each fixture is checked against the OpenAPI document by
// contract.test.js, except for endpoints listed in known-gaps.js).
const plan = (code, overrides = {}) => Object.assign({
  code, name: code === 'adult_789' ? '成人互助计划' : '少儿互助计划', summary: '18–59岁，重大疾病互助',
  version: 1, covered_incidents: ['illness'], observation_days: 180, max_aid_fen: 30000000, share_cap_fen: 300,
  min_prepay_fen: 300, management_fee_bp: 800,
  eligibility: [{ label: '成人', min_age_years: 18, min_age_days: null, max_age_years: 59, sex: null, required_answers: [] }],
  aid_table: [{ code: 'major', name: '重大疾病', max_aid_fen: 30000000 }],
  exclusions: ['既往症'],
  health_questions: [{ key: 'has_major_illness', text: '是否患有重大疾病？' }],
  eligibility_questions: [{ key: 'lives_in_china', text: '是否常住中国大陆？' }],
  rules_in_words: ['观察期：180天', '最高互助金：¥300,000.00'],
  counts: { members: 1234, observing: 200, protected: 1034 },
  balances_held_fen: 370200,
  estimated_annual_fen: 12000,
  aid_paid_fen: 3000000,
}, overrides)

const membership = (id, overrides = {}) => Object.assign({
  id, plan_code: 'adult_789', plan_name: '成人互助计划', plan_version: 1, relation: 'self',
  person_name: '张*', id_number: '1101**********1234', sex: 'M', age_years: 30, eligibility_group: '成人',
  state: 'observing', balance_fen: 1000, min_prepay_fen: 300, joined_at: '2026-03-02T02:00:00+00:00',
  observation_starts_at: '2026-03-02T02:00:00+00:00', observation_ends_at: '2026-08-29T02:00:00+00:00',
  observation_days_left: 42, protected_at: null, suspended_at: null, grace_ends_at: null, ended_at: null,
  sponsor_token: 'sp-tok',
}, overrides)

const payment = { order_id: 77, out_trade_no: 'T77', payment: {
  timeStamp: '1772416800', nonceStr: 'n1', package: 'prepay_id=wx1', signType: 'RSA', paySign: 'sig' } }

const deductions = { items: [{ run_id: 5, share_fen: 250, executed_at: '2026-04-16T02:00:00+00:00', cases: [
  { claim_id: 11, person: '李*', illness: '白血病', part_fen: 150 },
  { claim_id: 12, person: '王*', illness: '脑出血', part_fen: 100 },
] }] }

const announcement = (id, overrides = {}) => Object.assign({
  id, plan_name: '成人互助计划', person: '李*', illness: '白血病', summary: '2026年2月确诊，已提交诊断证明与病历。',
  approved_aid_fen: 30000000, publicity_ends_at: '2026-04-10T02:00:00+00:00', objections_open: true,
}, overrides)

const claim = (id, overrides = {}) => Object.assign({
  id, status: 'under_review', person_name: '张*', illness: '白血病', occurred_on: '2026-03-01', approved_aid_fen: null,
  created_at: '2026-03-05T02:00:00+00:00',
  timeline: [
    { status: 'submitted', at: '2026-03-05T02:00:00+00:00', note: '' },
    { status: 'under_review', at: '2026-03-06T02:00:00+00:00', note: '材料齐全，开始审核' },
  ],
  documents: [{ id: 1, kind: 'diagnosis' }],
}, overrides)

const run = (id, overrides = {}) => Object.assign({
  id, status: 'executed', share_fen: 250, case_count: 2, executed_at: '2026-04-16T02:00:00+00:00',
  cases: [{ claim_id: 11, person: '李*', illness: '白血病', aid_fen: 30000000 }],
}, overrides)

module.exports = { plan, membership, payment, deductions, announcement, claim, run }
