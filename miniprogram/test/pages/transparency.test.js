const { load, mount, fakeWx, ok, fail, PENDING, text, tap } = require('../harness')
const { plan, run } = require('../fixtures')

const page = load('pages/transparency/transparency')

test('per plan: members, balances held, aid paid, runs; a run shows its cases', async () => {
  const wx = fakeWx({
    'GET /plans': ok({ items: [plan('adult_789'), plan('children', { counts: { members: 7, observing: 7, protected: 0 } })] }),
    'GET /plans/adult_789/runs': ok({ items: [run(5)] }),
    'GET /plans/children/runs': ok({ items: [] }),
    'GET /plans/adult_789/runs/5': ok(run(5)),
  })
  const comp = mount(page)
  await comp.instance.onLoad()
  expect(text(comp)).toContain('互助成员1234 人')
  expect(text(comp)).toContain('成员预存余额¥3,702.00')
  expect(text(comp)).toContain('2026-04-16 · 2 个案例每人¥2.50')
  await tap(comp, '.run', 0)
  expect(text(comp)).toContain('李* · 白血病¥300,000.00')
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
