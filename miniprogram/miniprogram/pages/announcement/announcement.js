// One announcement, and the objection form (a reason is required).
const { getAnnouncement, createObjection } = require('../../api/announcements')
const { loadInto } = require('../../utils/load')
const { formatDate } = require('../../utils/time')
const { loadTemplates, askSubscriptions } = require('../../utils/pay')
const { SUBSCRIBE_KEYS } = require('../../config')

const a11y = require('../../utils/a11y')

Component({
  behaviors: [a11y.behavior],
  data: { status: 'loading', errorMessage: '', id: null, announcement: null, reason: '', sending: false, objectionError: '', objected: false, following: false },
  methods: {
    onLoad(query) {
      this.setData({ id: Number(query.id) })
      this.templates = []
      loadTemplates().then(templates => { this.templates = templates })
      return this.load()
    },
    load() {
      return loadInto(this, options => getAnnouncement(this.data.id, options).then(a => ({
        // objections are taken while the case is in publicity and its period has not ended (the API decides; this hides the form)
        announcement: Object.assign({}, a, {
          ends: formatDate(a.publicity_ends_at),
          objectionsOpen: a.status === 'publicity' && Date.parse(a.publicity_ends_at) > Date.now(),
        }),
      })))
    },
    onReason(event) {
      this.setData({ reason: event.detail.value, objectionError: '' })
    },
    // following a case: the notices of its publicity and its run, asked from this tap (WeChat's rule)
    async follow() {
      const accepted = await askSubscriptions(this.templates, SUBSCRIBE_KEYS.followCase)
      this.setData({ following: accepted.length > 0 })
      wx.showToast({ title: accepted.length ? '已关注，有进展会通知你' : '未开启通知', icon: 'none' })
    },
    async object() {
      const reason = this.data.reason.trim()
      if (reason.length < 5) {
        this.setData({ objectionError: '请写明异议的理由（至少5个字）' })
        return
      }
      this.setData({ sending: true, objectionError: '' })
      try {
        await createObjection(this.data.id, reason)
        this.setData({ objected: true, reason: '' })
      } catch (error) {
        this.setData({ objectionError: error.message })
      } finally {
        this.setData({ sending: false })
      }
    },
  },
})
