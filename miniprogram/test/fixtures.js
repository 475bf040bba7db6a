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
  aid_paid_fen: 50000000,
  estimated_annual_fen: 12000,
  status: 'open', wind_down: null,  // issue 14: 'closing' | 'closed' with the WindDown object
}, overrides)

const membership = (id, overrides = {}) => Object.assign({
  id, plan_code: 'adult_789', plan_name: '成人互助计划', plan_version: 1, relation: 'self',
  person_name: '张*', id_number: '1101**********1234', sex: 'M', age_years: 30, eligibility_group: '成人',
  state: 'observing', balance_fen: 1000, min_prepay_fen: 300, joined_at: '2026-03-02T02:00:00+00:00',
  observation_starts_at: '2026-03-02T02:00:00+00:00', observation_ends_at: '2026-08-29T02:00:00+00:00',
  observation_days_left: 42, protected_at: null, suspended_at: null, grace_ends_at: null, ended_at: null,
  sponsor_token: 'sp-tok',
  balance_return: null,  // issue 14: a balance on its way back (balanceReturn below)
}, overrides)

const payment = {
  order: { id: 77, membership_id: 1, amount_fen: 1000, status: 'paying', sponsored: false, out_trade_no: 'T77',
    created_at: '2026-03-02T02:00:00+00:00', expires_at: '2026-03-02T02:30:00+00:00', paid_at: null },
  payment: { timeStamp: '1772416800', nonceStr: 'n1', package: 'prepay_id=wx1', signType: 'RSA', paySign: 'sig' },
}

const ledgerPage = (items = [], overrides = {}) => Object.assign({ items, page: 1, per_page: 20, total: items.length }, overrides)
const ledgerEntry = (transactionId, overrides = {}) => Object.assign({
  transaction_id: transactionId, amount_fen: 1000, reason: '充值', sponsored: false, reference_type: 'order',
  reference_id: '77', created_at: '2026-03-02T02:05:00+00:00',
}, overrides)

// GET /subscriptions: the keys and ids of config/subscribe_templates.toml
const TEMPLATE_KEYS = ['case_announced', 'case_publicity', 'share_deducted', 'balance_low', 'observation_over',
  'membership_status', 'topup_credited', 'claim_status', 'aid_paid', 'rule_change']
const templates = (remaining = 0) => ({ items: TEMPLATE_KEYS.map(key => ({
  key, template_id: `yiqi-${key.replace(/_/g, '-')}-dev`, title: key, remaining })) })

const invite = (overrides = {}) => Object.assign({
  code: 'INV8K2', share_path: '/pages/index/index?inviter=INV8K2', qrcode_scene: 'INV8K2', invited_count: 5, joined_count: 3,
}, overrides)

// a run's case as GET …/runs/{id} and GET …/deductions give it
const runCase = (caseId, overrides = {}) => Object.assign({
  case_id: caseId, person: '李*', age_years: 42, incident_type: 'illness', diagnosis: '白血病', city: '杭州',
  approved_aid_fen: 30000000, limited_aid_fen: 30000000, collected_aid_fen: 30000000,
}, overrides)

const deductions = { items: [{ run_id: 5, plan_code: 'adult_789', status: 'executed', paid_fen: 250, share_fen: 250,
  deducted_at: '2026-04-16T02:00:00+00:00', cases: [
    Object.assign(runCase(11), { part_fen: 150 }),
    Object.assign(runCase(12, { person: '王*', diagnosis: '脑出血', approved_aid_fen: 20000000, limited_aid_fen: 20000000,
      collected_aid_fen: 20000000 }), { part_fen: 100 }),
  ] }] }

const announcement = (id, overrides = {}) => Object.assign({
  id, plan_code: 'adult_789', plan_name: '成人互助计划', person: '李*', age_years: 42, sex: 'M', incident_type: 'illness',
  illness: '白血病', hospital_city: '杭州', approved_aid_fen: 30000000, organisation: '某调查机构',
  investigation_summary: '2026年2月确诊，已核实诊断证明与病历。', status: 'publicity',
  publicity_started_at: '2026-04-03T02:00:00+00:00', publicity_ends_at: '2026-04-10T02:00:00+00:00', objections: [],
}, overrides)

const claim = (id, overrides = {}) => Object.assign({
  id, membership_id: 1, status: 'under_review', status_text: '审核中', incident_type: 'illness', incident_date: '2026-02-27',
  diagnosis_date: '2026-03-01', diagnosis: '白血病', hospital: '市第一医院', city: '杭州', description: '',
  missing_items: null, rejection_reason: null, aid_item_code: null, approved_aid_fen: null, collected_aid_fen: null,
  publicity_ends_at: null, submitted_at: '2026-03-05T02:00:00+00:00', payout: null,
  timeline: [
    { from_status: null, to_status: 'submitted', actor: 'member', note: '', created_at: '2026-03-05T02:00:00+00:00' },
    { from_status: 'submitted', to_status: 'under_review', actor: 'operator', note: '材料齐全，开始审核', created_at: '2026-03-06T02:00:00+00:00' },
  ],
  documents: [{ id: 1, content_type: 'image/jpeg', size_bytes: 120000, created_at: '2026-03-05T02:01:00+00:00' }],
}, overrides)

const run = (id, overrides = {}) => Object.assign({
  id, plan_code: 'adult_789', status: 'executed', cut_off_at: '2026-04-10T02:00:00+00:00',
  published_at: '2026-04-11T02:00:00+00:00', executed_at: '2026-04-16T02:00:00+00:00', case_count: 2, share_fen: 250,
  share_cap_fen: 300, payer_count: 216000, low_balance_count: 12, approved_aid_fen: 50000000, limited_aid_fen: 50000000,
  fee_fen: 4000000, management_fee_bp: 800, surplus_before_fen: 0, surplus_used_fen: 0, amount_fen: 54000000,
  paid_count: 215990, collected_fen: 53997500, suspended_count: 10, aid_collected_fen: 50000000, fee_collected_fen: 3997500,
  over_collection_fen: 0, surplus_after_fen: 0,
  cases: [runCase(11), runCase(12, { person: '王*', diagnosis: '脑出血', approved_aid_fen: 20000000, limited_aid_fen: 20000000 })],
}, overrides)

// GET /privacy/policy (texts shortened)
const policy = (overrides = {}) => Object.assign({
  version: '2026-03-01',
  documents: [{ key: 'privacy_policy', title: '隐私政策', text: '# 一起互助隐私政策' },
    { key: 'service_agreement', title: '服务协议', text: '# 一起互助服务协议' }],
  scopes: [
    { key: 'privacy_policy', title: '同意《服务协议》和《隐私政策》', text: '我已阅读并同意《服务协议》和《隐私政策》。' },
    { key: 'sensitive_personal_data', title: '单独同意：处理被保障人的身份证号和健康告知', text: '我单独同意处理被保障人的身份证号码和健康告知答案。' },
    { key: 'medical_documents', title: '单独同意：处理病历和诊断材料', text: '我单独同意处理我上传的医疗材料。' },
  ],
  join_scopes: ['privacy_policy', 'sensitive_personal_data'],
  claim_scopes: ['privacy_policy', 'medical_documents'],
}, overrides)

// GET /plans/{code}/reports/{period}: a month's report (app/services/reports.compute), all fen
const report = (period = '2026-04', overrides = {}) => Object.assign({
  period, frozen: false, sha256: null,
  report: {
    v: 1, plan: 'adult_789', plan_name: '成人互助计划', from: '2026-03-31T16:00:00+00:00', to: '2026-04-30T16:00:00+00:00',
    opening: { member_fen: 300000, plan_surplus_fen: 0, aid_payable_fen: 0, plan_pool_fen: 0, refund_pending_fen: 0 },
    closing: { member_fen: 370200, plan_surplus_fen: 120, aid_payable_fen: 0, plan_pool_fen: 0, refund_pending_fen: 0 },
    members_with_balance_at_close: 218432,
    flows: { money_received_fen: 640000, topups_own_fen: 600000, topups_sponsored_fen: 40000, topup_count: 321,
      deductions_fen: 54000, aid_payable_added_fen: 50000, aid_paid_fen: 50000, balances_to_refund_fen: 1000,
      refunds_fen: 1000, fees_fen: 4000, surplus_change_fen: 120 },
    custody: {
      money: { money_received_fen: 425320, money_returned_fen: 1000, aid_paid_fen: 50000, fees_fen: 4000, total_fen: 370320 },
      held: { member_balances_fen: 370200, surplus_fen: 120, aid_payable_fen: 0, pool_in_run_fen: 0, refunds_on_their_way_fen: 0,
        total_fen: 370320 },
      balanced: true,
    },
    runs: [{ run_id: 5, executed_at: '2026-04-16T02:00:00+00:00', cases: 2, payers: 216000, share_fen: 250, collected_fen: 53997500,
      suspended: 10, aid_collected_fen: 50000000, fee_fen: 3997500, surplus_before_fen: 0, surplus_after_fen: 0 }],
    history: [
      { run_id: 4, executed_at: '2026-03-31T02:00:00+00:00', payers: 210000, share_fen: 180, aid_collected_fen: 30000000 },
      { run_id: 5, executed_at: '2026-04-16T02:00:00+00:00', payers: 216000, share_fen: 250, aid_collected_fen: 50000000 },
    ],
  },
}, overrides)

const frozenReports = { items: [{ period: '2026-03', sha256: 'a3f1c2d4e5b6a7980112233445566778899aabbccddeeff00112233445566778',
  frozen_at: '2026-04-01T00:05:00+00:00' }] }

const groupSummary = (overrides = {}) => Object.assign({ opengid: 'G-1', members_seen: 12, protected_people: 5,
  plans: [{ plan_code: 'adult_789', plan_name: '成人互助计划', protected: 4 }, { plan_code: 'children', plan_name: '少儿互助计划', protected: 1 }],
}, overrides)

// issue 14's objects as the API serves them: proposals (app/api/proposals_schemas.py), the wind-down and a
// member's balance return (app/api/wind_down_schemas.py)
const proposal = (id, overrides = {}) => Object.assign({
  id, plan_code: 'adult_789', status: 'open', title: '每案分摊上限从3元调整为5元',
  summary_text: '大病治疗费用上涨，提高每案每人分摊上限，最高互助金不变。',
  differences: [{ field: 'share_cap_fen', label: '每案每人分摊上限', before_text: '每案每人最多分摊 ¥3.00', after_text: '每案每人最多分摊 ¥5.00',
    text: '每个案例你最多分摊的金额从 3 元变为 5 元' }],
  window_opens_at: '2026-04-01T02:00:00+00:00', window_closes_at: '2026-04-15T02:00:00+00:00',
  effective_on: '2026-05-01', notice_ends_on: '2026-04-30',
  quorum: { agree_ratio_text: '同意者不少于答复者的三分之二', agree_numerator: 2, agree_denominator: 3, min_turnout_percent: 10,
    eligible_count: 1234 },
  tally: { agree: 150, disagree: 50, answered: 200, eligible: 1234, turnout_percent: 16 },
  outcome_text: null,
}, overrides)

const windDown = (overrides = {}) => Object.assign({
  plan_code: 'adult_789', status: 'refunding', closing_date: '2026-06-30', announced_at: '2026-05-01T02:00:00+00:00',
  joins_open: false, claims_text: '2026-06-30 之前发生的事故仍可申请，之后发生的不再受理。',
  progress: { members_total: 1234, refunded: 800, pending: 430, failed: 4, returned_fen: 250000, remaining_fen: 120200 },
  surplus_rule_text: '计划结余按终止日各成员余额的比例分还。', surplus_fen: 1234, closing_report_url: null,
  closing_report_sha256: null, notes: ['一年以内的充值原路退回，更早的以商家转账退回。'],
}, overrides)

const balanceReturn = (overrides = {}) => Object.assign({
  reason: 'wind_down', status: 'returning', status_text: '余额正在退回：一年内的付款原路退回，更早的钱转入付款人的微信零钱（需在小程序中确认收款）',
  amount_fen: 1200, returned_fen: 700, by_refund_fen: 700, by_transfer_fen: 500, surplus_fen: 12, transfer_package_info: null,
}, overrides)

// 商家转账 waiting for the member (issues 14 and 17): what wx.requestMerchantTransfer needs, as the API gives it
const TRANSFER_PACKAGE = 'ABBQO+oYAAABAAAAAAAk+yPZGnMAAAAtAAAAAAAAAAAAAAAAAAAAAA=='
const merchantTransfer = (overrides = {}) => Object.assign({ mch_id: '1900000001', app_id: 'wx-test-app', package_info: TRANSFER_PACKAGE }, overrides)
const waitingPayout = (overrides = {}) => Object.assign({
  status: 'wait_user_confirm', amount_fen: 5000000, package_info: TRANSFER_PACKAGE, paid_at: null, transfer: merchantTransfer(),
}, overrides)

module.exports = { merchantTransfer, waitingPayout, report, frozenReports, groupSummary, proposal, windDown, balanceReturn, policy, plan, membership, payment, ledgerPage, ledgerEntry, templates, TEMPLATE_KEYS, invite, runCase, deductions, announcement, claim, run }
