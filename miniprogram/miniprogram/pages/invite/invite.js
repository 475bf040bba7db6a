// Invite: a share card with my inviter code; a poster drawn on canvas (the plan, a line of text, my
// mini-program code) saved to the album with the permission flow; how many joined through me.
const { myInvite, inviteQrcode } = require('../../api/invites')
const { listPlans } = require('../../api/plans')
const { loadInto } = require('../../utils/load')
const { formatFen, formatCount } = require('../../utils/money')
const { posterSpec, drawPoster, saveToAlbum } = require('../../utils/poster')
const a11y = require('../../utils/a11y')

Component({
  behaviors: [a11y.behavior],
  data: {
    status: 'loading', errorMessage: '', code: '', share_path: '', joined_count: 0, invited_count: 0, plan: null,
    posterPath: '', posterError: '', making: false, saved: '',
  },
  methods: {
    onShow() {
      return this.load()
    },
    load() {
      return loadInto(this, options => Promise.all([myInvite(options), listPlans(options)]).then(([mine, plans]) => {
        const plan = plans.items[0] || null
        return Object.assign({}, mine, {
          plan: plan && { name: plan.name, shareCapText: formatFen(plan.share_cap_fen), membersText: formatCount(plan.counts.members) },
        })
      }))
    },
    // the <canvas type="2d" class="poster-canvas"> node (hidden off-screen)
    getCanvas() {
      return new Promise((resolve, reject) => this.createSelectorQuery().select('.poster-canvas').fields({ node: true })
        .exec(res => (res && res[0] && res[0].node ? resolve(res[0].node) : reject(new Error('无法绘制海报')))))
    },
    loadImage(canvas, src) {
      return new Promise((resolve, reject) => {
        const image = canvas.createImage()
        image.onload = () => resolve(image)
        image.onerror = () => reject(new Error('小程序码加载失败'))
        image.src = src
      })
    },
    async makePoster() {
      this.setData({ making: true, posterError: '', saved: '' })
      try {
        const qrcodePath = await inviteQrcode({ silent: true })
        const canvas = await this.getCanvas()
        const spec = posterSpec(Object.assign({ code: this.data.code }, this.data.plan ? {
          planName: this.data.plan.name, shareCapText: this.data.plan.shareCapText, membersText: this.data.plan.membersText,
        } : {}))
        canvas.width = spec.width
        canvas.height = spec.height
        drawPoster(canvas.getContext('2d'), spec, await this.loadImage(canvas, qrcodePath))
        const posterPath = await new Promise((resolve, reject) => wx.canvasToTempFilePath({
          canvas, fileType: 'png', success: res => resolve(res.tempFilePath), fail: () => reject(new Error('海报生成失败')),
        }))
        this.setData({ posterPath })
      } catch (error) {
        this.setData({ posterError: error.message })
      } finally {
        this.setData({ making: false })
      }
    },
    async savePoster() {
      try {
        const outcome = await saveToAlbum(this.data.posterPath)
        this.setData({ saved: outcome === 'saved' ? '已保存到相册' : '没有相册权限，海报未保存' })
      } catch (error) {
        this.setData({ saved: error.message })
      }
    },
    previewPoster() {
      wx.previewImage({ urls: [this.data.posterPath] })
    },
    onShareAppMessage() {
      return {
        title: this.data.plan ? `一起互助：每案每人最多分摊${this.data.plan.shareCapText}，帮一个家渡过难关` : '一起互助：帮一个家渡过难关',
        path: this.data.share_path || `/pages/index/index?inviter=${this.data.code}`,
      }
    },
    onShareTimeline() {
      return { title: '一起互助：每期公开每一分钱', query: `inviter=${this.data.code}` }
    },
  },
})
