// The group chat the mini-program was opened from (shareTicket → POST /groups/enter → opengid):
// counts only — how many of the people seen there are protected, per plan. Nobody is named.
const { groupSummary } = require('../../api/auth')
const { loadInto } = require('../../utils/load')
const { formatCount } = require('../../utils/money')
const { GROUP_KEY } = require('../../utils/launch')
const a11y = require('../../utils/a11y')

Component({
  behaviors: [a11y.behavior],
  data: { status: 'loading', errorMessage: '', summary: null },
  methods: {
    onLoad(query) {
      this.opengid = (query && query.opengid) || wx.getStorageSync(GROUP_KEY)
      return this.load()
    },
    load() {
      if (!this.opengid) {
        this.setData({ status: 'empty' })
        return Promise.resolve()
      }
      return loadInto(this, options => groupSummary(this.opengid, options).then(summary => ({
        summary: Object.assign({}, summary, {
          seenText: formatCount(summary.members_seen), protectedText: formatCount(summary.protected_people),
          plans: summary.plans.map(p => Object.assign({}, p, { protectedText: `${formatCount(p.protected)} 人保障中` })),
        }),
      })))
    },
    browsePlans() {
      wx.switchTab({ url: '/pages/index/index' })
    },
  },
})
