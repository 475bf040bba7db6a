// Plan detail: who may join, observation, the aid table, the share cap, exclusions, the fee — all from
// the API; sharing a card of the plan; a plan that is closing says so and takes no joins.
const { getPlan } = require('../../api/plans')
const { loadInto } = require('../../utils/load')
const { describePlan } = require('../../utils/plans')
const { cardSpec, drawPoster } = require('../../utils/poster')
const a11y = require('../../utils/a11y')

Component({
  behaviors: [a11y.behavior],
  data: { status: 'loading', errorMessage: '', code: '', plan: null, cardPath: '' },
  methods: {
    onLoad(query) {
      this.setData({ code: query.code })
      return this.load()
    },
    load() {
      return loadInto(this, options => getPlan(this.data.code, options).then(plan => ({ plan: describePlan(plan) })))
        .then(() => (this.data.plan ? this.makeCard() : null))
    },
    // the <canvas type="2d" class="card-canvas"> node (off-screen); null where there is none
    getCanvas() {
      return new Promise(resolve => this.createSelectorQuery().select('.card-canvas').fields({ node: true })
        .exec(res => resolve(res && res[0] && res[0].node ? res[0].node : null)))
    },
    // the share card image: drawn once the plan is loaded; without it WeChat shows a screenshot
    async makeCard() {
      try {
        const canvas = await this.getCanvas()
        if (!canvas) return
        const p = this.data.plan
        const spec = cardSpec({ planName: p.name, membersText: p.membersText, shareCapText: p.shareCapText })
        canvas.width = spec.width
        canvas.height = spec.height
        drawPoster(canvas.getContext('2d'), spec, null)
        const cardPath = await new Promise((resolve, reject) => wx.canvasToTempFilePath({
          canvas, fileType: 'png', success: res => resolve(res.tempFilePath), fail: reject,
        }))
        this.setData({ cardPath })
      } catch (error) {
        // the share still works, with WeChat's screenshot
      }
    },
    join() {
      wx.navigateTo({ url: `/pages/join/join?code=${this.data.code}` })
    },
    openWindDown() {
      wx.navigateTo({ url: `/pages/wind-down/wind-down?code=${this.data.code}` })
    },
    openProposals() {
      wx.navigateTo({ url: `/pages/proposals/proposals?code=${this.data.code}` })
    },
    openTransparency() {
      wx.navigateTo({ url: `/pages/transparency/transparency?code=${this.data.code}` })
    },
    // a card per plan: its name, the cap in the API's numbers, the plan's own page
    onShareAppMessage() {
      const p = this.data.plan
      const inviter = (wx.getStorageSync('user') || {}).invite_code
      const suffix = inviter ? `&inviter=${inviter}` : ''
      const card = {
        title: p ? `${p.name}：每案每人最多分摊${p.shareCapText}` : '一起互助',
        path: `/pages/plan/plan?code=${this.data.code}${suffix}`,
      }
      return this.data.cardPath ? Object.assign(card, { imageUrl: this.data.cardPath }) : card
    },
    onShareTimeline() {
      const p = this.data.plan
      const card = { title: p ? `${p.name} · ${p.membersText}人互助中` : '一起互助', query: `code=${this.data.code}` }
      return this.data.cardPath ? Object.assign(card, { imageUrl: this.data.cardPath }) : card
    },
  },
})
