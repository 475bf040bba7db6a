// Home: the plans, their live member counts and the estimated annual cost.
const { listPlans } = require('../../api/plans')
const { loadInto } = require('../../utils/load')

Component({
  data: { status: 'loading', errorMessage: '', items: [] },
  methods: {
    onLoad() {
      return this.load()
    },
    onPullDownRefresh() {
      return this.load().then(() => wx.stopPullDownRefresh())
    },
    load() {
      return loadInto(this, options => listPlans(options).then(data => ({
        items: data.items.map(plan => Object.assign({}, plan, { hasEstimate: Number.isInteger(plan.estimated_annual_fen) })),
      })), data => data.items.length === 0)
    },
    openPlan(event) {
      wx.navigateTo({ url: `/pages/plan/plan?code=${event.currentTarget.dataset.code}` })
    },
    openTransparency() {
      wx.navigateTo({ url: '/pages/transparency/transparency' })
    },
  },
})
