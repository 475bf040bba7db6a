// My claims and their status; the way to report a new one.
const { listClaims } = require('../../api/claims')
const { listMemberships } = require('../../api/memberships')
const { loadInto } = require('../../utils/load')
const { formatDate } = require('../../utils/time')

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
      // a claim names its membership; whose it is comes from the family's memberships
      return loadInto(this, options => Promise.all([listClaims(options), listMemberships(options)]).then(([claims, family]) => {
        const people = family.items.reduce((all, m) => Object.assign(all, { [m.id]: m.person_name }), {})
        return {
          items: claims.items.map(c => Object.assign({}, c, { person_name: people[c.membership_id] || '', date: formatDate(c.submitted_at) })),
        }
      }), data => data.items.length === 0)
    },
    open(event) {
      wx.navigateTo({ url: `/pages/claim/claim?id=${event.currentTarget.dataset.id}` })
    },
    report() {
      wx.navigateTo({ url: '/pages/claim-new/claim-new' })
    },
  },
})
