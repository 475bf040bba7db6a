// My family's memberships: state, balance, observation countdown, suspended warning with a top-up button.
const { listMemberships } = require('../../api/memberships')
const { loadInto } = require('../../utils/load')
const { describe } = require('../../utils/memberships')
const a11y = require('../../utils/a11y')

Component({
  behaviors: [a11y.behavior],
  data: { status: 'loading', errorMessage: '', items: [] },
  methods: {
    onShow() {
      return this.load()
    },
    onPullDownRefresh() {
      return this.load().then(() => wx.stopPullDownRefresh())
    },
    load() {
      return loadInto(this, options => listMemberships(options).then(data => ({ items: data.items.map(describe) })),
        data => data.items.length === 0)
    },
    go(event) {
      const { page, id } = event.currentTarget.dataset
      wx.navigateTo({ url: `/pages/${page}/${page}?id=${id}` })
    },
    browsePlans() {
      wx.switchTab({ url: '/pages/index/index' })
    },
    openClaims() {
      wx.navigateTo({ url: '/pages/claims/claims' })
    },
  },
})
