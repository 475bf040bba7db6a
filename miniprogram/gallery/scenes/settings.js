// Scenes for pages/settings/settings: which messages are on
const { API, ok, TOKEN, templates } = require('../fixtures')

const page = 'pages/settings/settings'
const get = `GET ${API}/subscriptions`
const TITLES = { case_announced: '新案例公示', case_publicity: '公示结果', share_deducted: '分摊扣款', balance_low: '余额不足',
  observation_over: '观察期结束', membership_status: '保障状态变化', topup_credited: '充值到账', claim_status: '申请进度', aid_paid: '互助金到账',
  rule_change: '规则变更征求意见' }
const some = () => ({ items: templates().items.map(t => Object.assign({}, t, { title: TITLES[t.key] || t.key,
  remaining: ['topup_credited', 'share_deducted', 'balance_low'].includes(t.key) ? 2 : 0 })) })

module.exports = [
  { name: 'loading', page, storage: TOKEN, pending: [get] },
  { name: 'loaded', page, storage: TOKEN, responses: { [get]: ok(some()) } },
  { name: 'all-on', page, storage: TOKEN, responses: { [get]: ok({ items: some().items.map(t => Object.assign({}, t, { remaining: 1 })) }) } },
]
