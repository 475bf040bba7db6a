// Home: the plans, their live member counts and the estimated annual cost; the group we came from
// (shareTicket) when there is one; transparency, who runs the platform, message settings.
const { listPlans } = require('../../api/plans')
const { loadInto } = require('../../utils/load')
const { describePlan } = require('../../utils/plans')
const { GROUP_KEY } = require('../../utils/launch')
const a11y = require('../../utils/a11y')

Component({
  behaviors: [a11y.behavior],
  data: { status: 'loading', errorMessage: '', items: [], opengid: '' },
  methods: {
    onLoad() {
      return this.load()
    },
    onShow() {
      this.setData({ opengid: wx.getStorageSync(GROUP_KEY) || '' })
    },
    onPullDownRefresh() {
      return this.load().then(() => wx.stopPullDownRefresh())
    },
    load() {
      return loadInto(this, options => listPlans(options).then(data => ({ items: data.items.map(describePlan) })),
        data => data.items.length === 0)
    },
    openPlan(event) {
      wx.navigateTo({ url: `/pages/plan/plan?code=${event.currentTarget.dataset.code}` })
    },
    open(event) {
      wx.navigateTo({ url: `/pages/${event.currentTarget.dataset.page}/${event.currentTarget.dataset.page}` })
    },
    openTransparency() {
      wx.navigateTo({ url: '/pages/transparency/transparency' })
    },
    onShareAppMessage() {
      const inviter = (wx.getStorageSync('user') || {}).invite_code
      return { title: '一起互助：大病互助，每期公开每一分钱', path: inviter ? `/pages/index/index?inviter=${inviter}` : '/pages/index/index' }
    },
    onShareTimeline() {
      return { title: '一起互助：大病互助，每期公开每一分钱' }
    },
  },
})
