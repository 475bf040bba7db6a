// One membership: balance, its ledger (every fen in and out), leaving, sharing the sponsor link.
const { getMembership, ledger, leave } = require('../../api/memberships')
const { loadInto } = require('../../utils/load')
const { describe } = require('../../utils/memberships')
const { formatDateTime } = require('../../utils/time')
const { formatFen } = require('../../utils/money')

const PER_PAGE = 20

Component({
  data: { status: 'loading', errorMessage: '', id: null, membership: null, entries: [], total: 0 },
  methods: {
    onLoad(query) {
      this.setData({ id: Number(query.id) })
      return this.load()
    },
    load() {
      return loadInto(this, options => Promise.all([
        getMembership(this.data.id, options), ledger(this.data.id, 1, PER_PAGE, options),
      ]).then(([membership, page]) => ({
        membership: describe(membership),
        entries: page.items.map(e => Object.assign({}, e, { when: formatDateTime(e.created_at) })),
        total: page.total,
      })))
    },
    topUp() {
      wx.navigateTo({ url: `/pages/topup/topup?id=${this.data.id}` })
    },
    confirmLeave() {
      wx.showModal({
        title: '确认退出？',
        content: '退出后保障结束，余额按规则退回。',
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
