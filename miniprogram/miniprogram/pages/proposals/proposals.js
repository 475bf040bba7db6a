// A plan's rule-change proposals (?code=), or those a membership may answer (?membership=&code=):
// newest first, each with its status and live tally; tap one for the differences and the vote.
const { listPlanProposals, listMembershipProposals } = require('../../api/proposals')
const { loadInto } = require('../../utils/load')
const { describeProposal } = require('../../utils/proposals')
const a11y = require('../../utils/a11y')

Component({
  behaviors: [a11y.behavior],
  data: { status: 'loading', errorMessage: '', items: [], code: '', membership: null },
  methods: {
    onLoad(query) {
      this.setData({ code: query.code || '', membership: query.membership ? Number(query.membership) : null })
      return this.load()
    },
    onPullDownRefresh() {
      return this.load().then(() => wx.stopPullDownRefresh())
    },
    load() {
      const fetch = options => (this.data.membership
        ? listMembershipProposals(this.data.membership, options)
        : listPlanProposals(this.data.code, options))
      return loadInto(this, options => fetch(options).then(data => ({ items: data.items.map(describeProposal) })),
        data => data.items.length === 0)
    },
    open(event) {
      const suffix = this.data.membership ? `&membership=${this.data.membership}` : ''
      wx.navigateTo({ url: `/pages/proposal/proposal?id=${event.currentTarget.dataset.id}${suffix}` })
    },
  },
})
