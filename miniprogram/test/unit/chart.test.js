const { layout, draw } = require('../../miniprogram/utils/chart')
const { posterSpec, drawPoster } = require('../../miniprogram/utils/poster')
const a11y = require('../../miniprogram/utils/a11y')

test('bars: the tallest fills the room between the value line and the labels; heights in proportion; centred in equal slots', () => {
  const chart = layout([{ label: 'a', value: 100 }, { label: 'b', value: 250 }, { label: 'c', value: 0 }], 300, 160)
  expect(chart.max).toBe(250)
  expect(chart.baseline).toBe(140)
  expect(chart.bars.map(b => b.h)).toEqual([49, 122, 0]) // room = 160 - 18 - 20 = 122
  expect(chart.bars.map(b => b.y + b.h)).toEqual([140, 140, 140]) // all stand on the baseline
  expect(chart.bars.map(b => b.x)).toEqual([30, 130, 230]) // slot 100, bar 40 wide (capped), centred
  expect(chart.bars.map(b => b.valueText)).toEqual(['¥1.00', '¥2.50', '¥0.00'])
})

test('a tiny value still shows (2 px); nothing to draw when there are no points, no room, or no integer values', () => {
  expect(layout([{ label: 'a', value: 1 }, { label: 'b', value: 100000 }], 300, 160).bars[0].h).toBe(2)
  expect(layout([], 300, 160).bars).toEqual([])
  expect(layout([{ label: 'a', value: 5 }], 300, 30).bars).toEqual([])
  expect(layout([{ label: 'a', value: 1.5 }, { label: 'b', value: null }], 300, 160).bars).toEqual([])
})

function recorder() {
  const calls = []
  return { calls, ctx: new Proxy({}, { get: (t, name) => (...args) => calls.push([name, ...args]), set: (t, name, v) => { calls.push([`=${name}`, v]); return true } }) }
}

test('drawing replays the layout: a rectangle per bar, its value above and its label below', () => {
  const { calls, ctx } = recorder()
  const chart = layout([{ label: '03-31', value: 180 }, { label: '04-16', value: 250 }], 300, 160)
  draw(ctx, chart, 300, 160)
  const rects = calls.filter(c => c[0] === 'fillRect').map(c => c.slice(1))
  expect(rects).toEqual([[0, 140, 300, 1], ...chart.bars.map(b => [b.x, b.y, b.w, b.h])])
  expect(calls.filter(c => c[0] === 'fillText').map(c => c[1])).toEqual(['¥1.80', '03-31', '¥2.50', '04-16'])
})

test('the poster: the plan, its numbers from the API, my code; drawn in order, the mini-program code last', () => {
  const spec = posterSpec({ planName: '成人互助计划', shareCapText: '¥3.00', membersText: '218,432', code: 'AB12CD' })
  expect(spec.texts.map(t => t.text)).toEqual(['一起互助', '成人互助计划', '218,432人正在互助', '每案每人最多分摊¥3.00',
    '一人有难，大家分担；每一期的钱都能在手机上核验。', '长按识别小程序码，和我一起加入', '邀请码 AB12CD'])
  spec.texts.forEach(t => expect(t.x).toBeLessThan(spec.width))
  const { calls, ctx } = recorder()
  drawPoster(ctx, spec, 'IMAGE')
  expect(calls[calls.length - 1]).toEqual(['drawImage', 'IMAGE', 215, 620, 320, 320])
  expect(posterSpec({ code: 'X' }).texts[3].text).toBe('每期公开每一分钱') // no plan: no number made up
})

test('font scaling follows the WeChat font setting, within what the layouts hold', () => {
  const setting = px => { global.wx = { getAppBaseInfo: () => ({ fontSizeSetting: px }) } }
  setting(17)
  expect(a11y.fontStyle()).toBe('font-size: 17px')
  setting(30)
  expect(a11y.fontPx()).toBe(a11y.MAX_PX)
  setting(12)
  expect(a11y.fontPx()).toBe(a11y.MIN_PX)
  global.wx = { getAppBaseInfo: () => { throw new Error('old base library') } }
  expect(a11y.fontPx()).toBe(a11y.MIN_PX)
})
