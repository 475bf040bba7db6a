// My claims and their status; the way to report a new one.
const { listClaims } = require('../../api/claims')
const { loadInto } = require('../../utils/load')
const { CLAIM_STATUSES, label } = require('../../utils/labels')
const { formatDate } = require('../../utils/time')

Component({
  data: { status: 'loading', errorMessage: '', items: [] },
  methods: {
    onShow() {
      return this.load()
    },
    load() {
      return loadInto(this, options => listClaims(options).then(data => ({
        items: data.items.map(c => Object.assign({}, c, { statusText: label(CLAIM_STATUSES, c.status), date: formatDate(c.created_at) })),
      })), data => data.items.length === 0)
    },
    open(event) {
      wx.navigateTo({ url: `/pages/claim/claim?id=${event.currentTarget.dataset.id}` })
    },
    report() {
      wx.navigateTo({ url: '/pages/claim-new/claim-new' })
    },
  },
})
