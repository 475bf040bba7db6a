// Plan detail: who may join, observation, the aid table, the share cap, exclusions, the fee — all from
// the API; sharing a card of the plan; a plan that is closing says so and takes no joins.
const { getPlan } = require('../../api/plans')
const { loadInto } = require('../../utils/load')
const { describePlan } = require('../../utils/plans')
const a11y = require('../../utils/a11y')

Component({
  behaviors: [a11y.behavior],
  data: { status: 'loading', errorMessage: '', code: '', plan: null },
  methods: {
    onLoad(query) {
      this.setData({ code: query.code })
      return this.load()
    },
    load() {
      return loadInto(this, options => getPlan(this.data.code, options).then(plan => ({ plan: describePlan(plan) })))
    },
    join() {
      wx.navigateTo({ url: `/pages/join/join?code=${this.data.code}` })
    },
    openWindDown() {
      wx.navigateTo({ url: `/pages/wind-down/wind-down?code=${this.data.code}` })
    },
    openProposals() {
      wx.navigateTo({ url: `/pages/proposals/proposals?code=${this.data.code}` })
    },
    openTransparency() {
      wx.navigateTo({ url: `/pages/transparency/transparency?code=${this.data.code}` })
    },
    // a card per plan: its name, the cap in the API's numbers, the plan's own page
    onShareAppMessage() {
      const p = this.data.plan
      const inviter = (wx.getStorageSync('user') || {}).invite_code
      const suffix = inviter ? `&inviter=${inviter}` : ''
      return {
        title: p ? `${p.name}：每案每人最多分摊${p.shareCapText}` : '一起互助',
        path: `/pages/plan/plan?code=${this.data.code}${suffix}`,
      }
    },
    onShareTimeline() {
      const p = this.data.plan
      return { title: p ? `${p.name} · ${p.membersText}人互助中` : '一起互助', query: `code=${this.data.code}` }
    },
  },
})
