// A control for gallery.test.js: a page that draws on <canvas type="2d"> must show its drawing.
Component({
  methods: {
    onLoad() {},
    onReady() {
      return new Promise(resolve => this.createSelectorQuery().select('.chart').fields({ node: true, size: true }).exec(res => {
        const canvas = res[0].node
        canvas.width = res[0].width
        canvas.height = res[0].height
        const ctx = canvas.getContext('2d')
        ctx.fillStyle = '#0b6e4f'
        ctx.fillRect(20, 20, ctx.measureText('分摊').width * 5, 80)
        resolve()
      }))
    },
  },
})
