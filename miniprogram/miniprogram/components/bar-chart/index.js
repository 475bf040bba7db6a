// <bar-chart points="{{[{label, value}]}}" title="每期每人分摊"/>: bars on a canvas 2d (utils/chart.js),
// with the same figures as a list underneath for screen readers and for when canvas is unavailable.
const { layout, draw } = require('../../utils/chart')

Component({
  properties: {
    points: { type: Array, value: [], observer: 'redraw' },
    title: { type: String, value: '' },
    height: { type: Number, value: 160 },
  },
  data: { bars: [] },
  lifetimes: {
    ready() {
      this.redraw()
    },
  },
  methods: {
    redraw() {
      const points = this.data.points || []
      this.setData({ bars: layout(points, 300, this.data.height).bars })
      if (!this.createSelectorQuery) return
      const query = this.createSelectorQuery()
      if (!query || !query.select) return
      query.select('.chart-canvas').fields({ node: true, size: true }).exec(res => {
        const found = res && res[0]
        if (!found || !found.node) return // no canvas (simulated renderer): the list below says it all
        const canvas = found.node
        const dpr = (wx.getWindowInfo ? wx.getWindowInfo() : wx.getSystemInfoSync()).pixelRatio || 2
        canvas.width = found.width * dpr
        canvas.height = found.height * dpr
        const ctx = canvas.getContext('2d')
        ctx.scale(dpr, dpr)
        draw(ctx, layout(points, found.width, found.height), found.width, found.height)
      })
    },
  },
})
