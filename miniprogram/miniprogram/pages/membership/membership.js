// One membership: the balance (large), its ledger (every fen in and out, credits with "+", paged as
// the member scrolls), leaving (a destructive action, confirmed), a balance being returned, the
// sponsor link to share; money returned by merchant transfer: "确认收款" → wx.requestMerchantTransfer
// (balance_return.transfer) → POST …/balance-return/confirmed.
const { confirmBalanceReturn, getMembership, ledger, leave } = require('../../api/memberships')
const { confirmReceipt } = require('../../utils/transfer')
const { loadInto } = require('../../utils/load')
const { describe } = require('../../utils/memberships')
const { formatDateTime } = require('../../utils/time')
const { formatFen } = require('../../utils/money')
const a11y = require('../../utils/a11y')

const PER_PAGE = 20
const RETURN_STATUS = { pending: '待退回', returning: '退回中', done: '已退回', failed: '退回失败，我们会联系你' }
const entry = e => Object.assign({}, e, { when: formatDateTime(e.created_at) })

// GET /memberships/{id} balance_return (issue 14): where the member's money is on its way back
function returnText(r) {
  if (!r) return ''
  const why = r.reason === 'wind_down' ? '计划终止' : '退出计划'
  return `${why}，余额 ${formatFen(r.amount_fen)} ${RETURN_STATUS[r.status] || r.status}（已退回 ${formatFen(r.returned_fen)}）`
}

Component({
  behaviors: [a11y.behavior],
  data: { status: 'loading', errorMessage: '', id: null, membership: null, entries: [], total: 0, page: 1, loadingMore: false, returnText: '', windingDown: false,
    returnTransfer: null, confirming: false },
  methods: {
    onLoad(query) {
      this.setData({ id: Number(query.id) })
      return this.load()
    },
    load() {
      return loadInto(this, options => Promise.all([
        getMembership(this.data.id, options), ledger(this.data.id, 1, PER_PAGE, options),
      ]).then(([membership, page]) => ({
        membership: describe(membership), returnText: returnText(membership.balance_return),
        windingDown: Boolean(membership.balance_return && membership.balance_return.reason === 'wind_down'),
        // a transfer of the older money waiting for the member to confirm receipt in WeChat
        returnTransfer: (membership.balance_return && membership.balance_return.transfer) || null,
        entries: page.items.map(entry), total: page.total, page: 1,
      })))
    },
    // paging: the next page of the ledger when the member reaches the bottom
    async onReachBottom() {
      if (this.data.loadingMore || this.data.entries.length >= this.data.total) return
      this.setData({ loadingMore: true })
      try {
        const next = await ledger(this.data.id, this.data.page + 1, PER_PAGE, { silent: true })
        this.setData({ entries: this.data.entries.concat(next.items.map(entry)), total: next.total, page: this.data.page + 1 })
      } catch (error) {
        wx.showToast({ title: error.message, icon: 'none' })
      } finally {
        this.setData({ loadingMore: false })
      }
    },
    async confirmReceipt() {
      if (this.data.confirming) return
      this.setData({ confirming: true })
      try {
        await confirmReceipt(this.data.returnTransfer, () => confirmBalanceReturn(this.data.id), () => this.load())
      } finally {
        this.setData({ confirming: false })
      }
    },
    topUp() {
      wx.navigateTo({ url: `/pages/topup/topup?id=${this.data.id}` })
    },
    openDeductions() {
      wx.navigateTo({ url: `/pages/deductions/deductions?id=${this.data.id}` })
    },
    openWindDown() {
      wx.navigateTo({ url: `/pages/wind-down/wind-down?code=${this.data.membership.plan_code}&membership=${this.data.id}` })
    },
    openProposals() {
      wx.navigateTo({ url: `/pages/proposals/proposals?membership=${this.data.id}&code=${this.data.membership.plan_code}` })
    },
    confirmLeave() {
      wx.showModal({
        title: '确认退出此计划？',
        content: `退出后${this.data.membership.person_name}的保障立即结束，不能再申请互助；余额 ${formatFen(this.data.membership.balance_fen)} 按规则退回。`,
        confirmText: '退出', confirmColor: '#c5221f', cancelText: '再想想',
        success: res => { if (res.confirm) this.doLeave() },
      })
    },
    async doLeave() {
      try {
        const result = await leave(this.data.id)
        wx.showToast({ title: result.refunded_fen > 0 ? `已退出，退回 ${formatFen(result.refunded_fen)}` : '已退出', icon: 'none' })
        await this.load()
      } catch (error) {
        // request.js has shown the reason (e.g. an open claim)
      }
    },
    onShareAppMessage() {
      const m = this.data.membership
      return { title: `帮${m.person_name}充值互助金`, path: `/pages/topup/topup?sponsor=${m.sponsor_token}` }
    },
  },
})
