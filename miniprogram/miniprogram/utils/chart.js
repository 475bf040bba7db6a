// A small bar chart, drawn on a <canvas type="2d"> by components/bar-chart: the layout is pure
// arithmetic here (tested), the drawing only replays it on the canvas context.
const { formatFen } = require('./money')

// points: [{label, value (integer fen)}] → bars in a width × height box (CSS px), tallest = the box
// less room for the value above and the label below each bar.
function layout(points, width, height, options = {}) {
  const top = options.top || 18
  const bottom = options.bottom || 20
  const gap = options.gap || 8
  const list = (points || []).filter(p => Number.isSafeInteger(p.value))
  const max = list.reduce((m, p) => Math.max(m, p.value), 0)
  if (!list.length || width <= 0 || height <= top + bottom) return { bars: [], max, baseline: height - bottom }
  const slot = width / list.length
  const barWidth = Math.max(4, Math.min(40, slot - gap))
  const room = height - top - bottom
  const bars = list.map((p, i) => {
    const h = max > 0 ? Math.max(p.value > 0 ? 2 : 0, Math.round((p.value / max) * room)) : 0
    const x = Math.round(i * slot + (slot - barWidth) / 2)
    return { x, y: height - bottom - h, w: barWidth, h, label: p.label, valueText: formatFen(p.value), center: x + barWidth / 2 }
  })
  return { bars, max, baseline: height - bottom }
}

// Replays a layout on a CanvasRenderingContext2D (wx canvas 2d has the same API).
function draw(ctx, chart, width, height, colors = {}) {
  ctx.clearRect(0, 0, width, height)
  ctx.fillStyle = colors.axis || '#c9cdd4'
  ctx.fillRect(0, chart.baseline, width, 1)
  ctx.font = '10px sans-serif'
  ctx.textAlign = 'center'
  chart.bars.forEach(bar => {
    ctx.fillStyle = colors.bar || '#0b6e4f'
    ctx.fillRect(bar.x, bar.y, bar.w, bar.h)
    ctx.fillStyle = colors.text || '#3c4043'
    ctx.fillText(bar.valueText, bar.center, bar.y - 4)
    ctx.fillText(bar.label, bar.center, chart.baseline + 14)
  })
}

module.exports = { layout, draw }
