// Message settings: which notices are on (each template's sends allowed and not used, from
// GET /subscriptions), and a tap to turn on those that are off (at most 3 per WeChat prompt).
const { listSubscriptions } = require('../../api/invites')
const { askSubscriptions } = require('../../utils/pay')
const { loadInto } = require('../../utils/load')
const a11y = require('../../utils/a11y')

const PER_PROMPT = 3

Component({
  behaviors: [a11y.behavior],
  data: { status: 'loading', errorMessage: '', items: [], offCount: 0, asking: false },
  methods: {
    onShow() {
      return this.load()
    },
    load() {
      return loadInto(this, options => listSubscriptions(options).then(data => {
        this.templates = data.items
        const items = data.items.map(t => Object.assign({}, t, { on: t.remaining > 0, stateText: t.remaining > 0 ? `已开启 · 可通知${t.remaining}次` : '未开启' }))
        return { items, offCount: items.filter(t => !t.on).length }
      }), data => data.items.length === 0)
    },
    // from the tap (WeChat's rule): the first few templates that are off
    async turnOn() {
      const off = this.templates.filter(t => !(t.remaining > 0)).slice(0, PER_PROMPT).map(t => t.key)
      if (!off.length) return
      this.setData({ asking: true })
      await askSubscriptions(this.templates, off)
      this.setData({ asking: false })
      await this.load()
    },
  },
})
