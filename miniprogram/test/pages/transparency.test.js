const { load, mount, fakeWx, ok, fail, PENDING, text, tap } = require('../harness')
const { plan, run } = require('../fixtures')

const page = load('pages/transparency/transparency')

test('per plan: members, balances held, aid paid, runs; a run shows its cases', async () => {
  const wx = fakeWx({
    'GET /plans': ok({ items: [plan('adult_789'), plan('children', { counts: { members: 7, observing: 7, protected: 0 } })] }),
    'GET /plans/adult_789/runs': ok({ items: [run(6, { status: 'published', executed_at: null, published_at: '2026-05-11T02:00:00+00:00' }), run(5)] }),
    'GET /plans/children/runs': ok({ items: [] }),
    'GET /plans/adult_789/runs/5': ok(run(5)),
  })
  const comp = mount(page)
  await comp.instance.onLoad()
  expect(text(comp)).toContain('互助成员1234 人')
  expect(text(comp)).toContain('成员预存余额¥3,702.00')
  expect(text(comp)).toContain('已发放互助金¥500,000.00')
  expect(text(comp)).toContain('2026-05-11 公示中 · 2 个案例 · 216000 人分摊每人¥2.50')
  expect(text(comp)).toContain('2026-04-16 已完成 · 2 个案例 · 216000 人分摊每人¥2.50')
  await tap(comp, '.run', 1)
  expect(wx.requests.map(r => r.key)).toContain('GET /plans/adult_789/runs/5')
  expect(text(comp)).toContain('已筹集¥539,975.00')
  expect(text(comp)).toContain('管理费¥40,000.00')
  expect(text(comp)).toContain('李* · 42岁 · 白血病¥300,000.00')
  expect(text(comp)).toContain('王* · 42岁 · 脑出血¥200,000.00')
  await tap(comp, '.plan-tab', 1)
  expect(text(comp)).toContain('互助成员7 人')
  expect(text(comp)).toContain('还没有分摊')
  expect(wx.requests.map(r => r.key)).toContain('GET /plans/children/runs')
})

test('runs that fail to load are said so; loading, empty, error', async () => {
  fakeWx({ 'GET /plans': [PENDING, ok({ items: [plan('adult_789')] }), ok({ items: [] }), fail(500, 'internal_error', '服务器出了点问题')],
    'GET /plans/adult_789/runs': fail(404, 'not_found', '没有找到') })
  const comp = mount(page)
  comp.instance.onLoad()
  expect(text(comp)).toContain('加载中')
  await comp.instance.onLoad()
  expect(text(comp)).toContain('没有找到')
  await comp.instance.onLoad()
  expect(text(comp)).toContain('暂无互助计划')
  await comp.instance.onLoad()
  expect(text(comp)).toContain('服务器出了点问题')
})
