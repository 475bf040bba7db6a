// My family's memberships: state, balance, observation countdown, suspended warning with a top-up button.
const { listMemberships } = require('../../api/memberships')
const { loadInto } = require('../../utils/load')
const { describe } = require('../../utils/memberships')

Component({
  data: { status: 'loading', errorMessage: '', items: [] },
  methods: {
    onShow() {
      return this.load()
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
