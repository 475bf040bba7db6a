// 公示: cases in publicity, before anyone pays for them.
const { listAnnouncementsPage } = require('../../api/announcements')
const { loadInto } = require('../../utils/load')
const { formatDate } = require('../../utils/time')

const a11y = require('../../utils/a11y')

const PER_PAGE = 20
const describe = a => Object.assign({}, a, { ends: formatDate(a.publicity_ends_at) })

Component({
  behaviors: [a11y.behavior],
  data: { status: 'loading', errorMessage: '', items: [], nextCursor: null, loadingMore: false },
  methods: {
    onShow() {
      return this.load()
    },
    onPullDownRefresh() {
      return this.load().then(() => wx.stopPullDownRefresh())
    },
    load() {
      return loadInto(this, options => listAnnouncementsPage(null, '', PER_PAGE, options).then(data => ({
        items: data.items.map(describe), nextCursor: data.next_cursor || null,
      })), data => data.items.length === 0)
    },
    // the next keyset page when the member reaches the bottom
    async onReachBottom() {
      if (this.data.loadingMore || !this.data.nextCursor) return
      this.setData({ loadingMore: true })
      try {
        const data = await listAnnouncementsPage(null, this.data.nextCursor, PER_PAGE, { silent: true })
        this.setData({ items: this.data.items.concat(data.items.map(describe)), nextCursor: data.next_cursor || null })
      } catch (error) {
        wx.showToast({ title: error.message, icon: 'none' })
      } finally {
        this.setData({ loadingMore: false })
      }
    },
    open(event) {
      wx.navigateTo({ url: `/pages/announcement/announcement?id=${event.currentTarget.dataset.id}` })
    },
  },
})
