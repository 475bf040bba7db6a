const { load, mount, fakeWx, ok, fail, PENDING, text } = require('../harness')
const { deductions } = require('../fixtures')

const page = load('pages/deductions/deductions')

test('each run with the cases it funded', async () => {
  fakeWx({ 'GET /memberships/3/deductions': ok(deductions) })
  const comp = mount(page)
  await comp.instance.onLoad({ id: '3' })
  expect(text(comp)).toContain('2026-04-16 分摊¥2.50')
  expect(text(comp)).toContain('李* · 白血病¥1.50')
  expect(text(comp)).toContain('王* · 脑出血¥1.00')
})

test('loading, empty, error', async () => {
  fakeWx({ 'GET /memberships/3/deductions': [PENDING, ok({ items: [] }), fail(403, 'forbidden', '没有权限')] })
  const comp = mount(page)
  comp.instance.onLoad({ id: '3' })
  expect(text(comp)).toContain('加载中')
  await comp.instance.onLoad({ id: '3' })
  expect(text(comp)).toContain('还没有分摊记录')
  await comp.instance.onLoad({ id: '3' })
  expect(text(comp)).toContain('没有权限')
})
