// Invite: share card with my inviter code, a poster with the mini-program code, how many joined.
const { myInvite, inviteQrcode } = require('../../api/invites')
const { loadInto } = require('../../utils/load')

Component({
  data: { status: 'loading', errorMessage: '', code: '', share_path: '', joined_count: 0, posterPath: '', posterError: '', making: false },
  methods: {
    onShow() {
      return this.load()
    },
    load() {
      return loadInto(this, myInvite)
    },
    async makePoster() {
      this.setData({ making: true, posterError: '' })
      try {
        this.setData({ posterPath: await inviteQrcode({ silent: true }) })
      } catch (error) {
        this.setData({ posterError: error.message })
      } finally {
        this.setData({ making: false })
      }
    },
    previewPoster() {
      wx.previewImage({ urls: [this.data.posterPath] })
    },
    onShareAppMessage() {
      return {
        title: '一起互助：每人最多3元，帮一个家渡过难关',
        path: this.data.share_path || `/pages/index/index?inviter=${this.data.code}`,
      }
    },
  },
})
