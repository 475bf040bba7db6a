// 公示: cases in publicity, before anyone pays for them.
const { listAnnouncements } = require('../../api/announcements')
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
      return loadInto(this, options => listAnnouncements(null, options).then(data => ({
        items: data.items.map(a => Object.assign({}, a, { ends: formatDate(a.publicity_ends_at) })),
      })), data => data.items.length === 0)
    },
    open(event) {
      wx.navigateTo({ url: `/pages/announcement/announcement?id=${event.currentTarget.dataset.id}` })
    },
  },
})
