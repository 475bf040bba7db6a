const { load, mount, fakeWx, ok, fail, PENDING, text, tap, emit } = require('../harness')
const { plan, run, report, frozenReports } = require('../fixtures')

const page = load('pages/transparency/transparency')
const MONTH = '2026-04'

// "now" is in April 2026, China time: the report asked for is that month's
beforeEach(() => jest.useFakeTimers({ now: Date.parse('2026-04-20T02:00:00Z'), doNotFake: ['setTimeout', 'setImmediate', 'nextTick', 'queueMicrotask'] }))
afterEach(() => jest.useRealTimers())

const routes = extra => Object.assign({
  'GET /plans': ok({ items: [plan('adult_789', { counts: { members: 218432, observing: 0, protected: 218432 } }),
    plan('children', { counts: { members: 7, observing: 7, protected: 0 } })] }),
  'GET /plans/adult_789/runs': ok({ items: [run(6, { status: 'published', executed_at: null, published_at: '2026-05-11T02:00:00+00:00' }), run(5)] }),
  'GET /plans/children/runs': ok({ items: [] }),
  'GET /plans/adult_789/runs/5': ok(run(5)),
  [`GET /plans/adult_789/reports/${MONTH}`]: ok(report(MONTH)),
  [`GET /plans/children/reports/${MONTH}`]: fail(404, 'plan_not_found', '没有这个互助计划'),
  'GET /plans/adult_789/reports': ok(frozenReports),
  'GET /plans/children/reports': ok({ items: [] }),
}, extra)

test('per plan: members (thousands separators), balances held, aid paid, runs; a run opens its numbers and cases', async () => {
  const wx = fakeWx(routes())
  const comp = mount(page)
  await comp.instance.onLoad({})
  expect(text(comp)).toContain('218,432互助成员')
  expect(text(comp)).toContain('¥3,702.00成员预存余额')
  expect(text(comp)).toContain('¥500,000.00已发放互助金')
  expect(text(comp)).toContain('2026-05-11 · 公示中2 个案例 · 216,000 人分摊每人¥2.50')
  expect(text(comp)).toContain('2026-04-16 · 已完成2 个案例 · 216,000 人分摊每人¥2.50')
  await emit(comp, '.run', 'click', {}, 1)
  expect(wx.requests.map(r => r.key)).toContain('GET /plans/adult_789/runs/5')
  const detail = text(comp.querySelector('.run-detail'))
  expect(detail).toContain('应分摊人数216,000')
  expect(detail).toContain('已扣款人数215,990')
  expect(detail).toContain('已筹集¥539,975.00')
  expect(detail).toContain('管理费¥40,000.00')
  expect(detail).toContain('李* · 42岁 · 白血病¥300,000.00')
  expect(detail).toContain('王* · 42岁 · 脑出血¥200,000.00')
  await emit(comp, '.run', 'click', {}, 1) // tapped again: closed
  expect(comp.querySelector('.run-detail')).toBeFalsy()
  await tap(comp, '.plan-tab', 1)
  expect(text(comp)).toContain('7互助成员')
  expect(text(comp)).toContain('还没有分摊')
  expect(text(comp)).toContain('没有这个互助计划') // the month's report failed: said in its card
  expect(wx.requests.map(r => r.key)).toContain('GET /plans/children/runs')
})

test('the month\'s report: where the money is held (both sides balanced), the month\'s flows, the share per run charted, frozen months with their hashes', async () => {
  fakeWx(routes())
  const comp = mount(page)
  await comp.instance.onLoad({ code: 'adult_789' })
  const card = text(comp.querySelector('.report'))
  expect(card).toContain('成员预存余额¥3,702.00')
  expect(card).toContain('计划结余¥1.20')
  expect(card).toContain('合计¥3,703.20')
  expect(card).toContain('收到的钱与持有的钱两边相符')
  expect(card).toContain('收到充值¥6,400.00')
  expect(card).toContain('管理费¥40.00')
  // the chart's figures (also drawn on the canvas): the share of each run, oldest first
  expect(comp.querySelector('.share-chart').instance.data.bars.map(b => [b.label, b.valueText])).toEqual([['03-31', '¥1.80'], ['04-16', '¥2.50']])
  expect(text(comp)).toContain('2026-03SHA-256 a3f1c2d4e5b6a798…')
})

test('verify my deduction: to my family\'s memberships, where each deduction is checked on the phone', async () => {
  const wx = fakeWx(routes())
  const comp = mount(page)
  await comp.instance.onLoad({})
  await emit(comp, '.verify-mine', 'click')
  expect(wx.switchTab).toHaveBeenCalledWith({ url: '/pages/family/family' })
})

test('runs that fail to load are said so; loading, empty, error; pull to refresh', async () => {
  const wx = fakeWx(routes({ 'GET /plans': [PENDING, ok({ items: [plan('adult_789')] }), ok({ items: [] }), fail(500, 'internal_error', '服务器出了点问题')],
    'GET /plans/adult_789/runs': fail(404, 'not_found', '没有找到') }))
  const comp = mount(page)
  comp.instance.onLoad({})
  expect(text(comp)).toContain('加载中')
  await comp.instance.onLoad({})
  expect(text(comp)).toContain('没有找到')
  await comp.instance.onPullDownRefresh()
  expect(text(comp)).toContain('暂无互助计划')
  expect(wx.stopPullDownRefresh).toHaveBeenCalledTimes(1)
  await comp.instance.onLoad({})
  expect(text(comp)).toContain('服务器出了点问题')
})
