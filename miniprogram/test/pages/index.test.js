const { load, mount, fakeWx, ok, fail, PENDING, text, tap, retry } = require('../harness')
const { plan } = require('../fixtures')

const page = load('pages/index/index')

test('loading, then the plans with member counts and estimated annual cost', async () => {
  const wx = fakeWx({ 'GET /plans': [PENDING, ok({ items: [plan('adult_789'), plan('children', { estimated_annual_fen: null })] })] })
  const comp = mount(page)
  comp.instance.onLoad({})
  expect(text(comp)).toContain('加载中')
  await comp.instance.onLoad({})
  const shown = text(comp)
  expect(shown).toContain('成人互助计划')
  expect(shown).toContain('1234 人互助中')
  expect(shown).toContain('预计年均分摊¥120.00')
  expect(shown).toContain('预计年均分摊 暂无')
  expect(shown.match(/预计年均分摊/g).length).toBe(2)
  expect(wx.request.mock.calls[0][0].header.Authorization).toBe('Bearer tok-1')
  await tap(comp, '.plan-card', 1)
  expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/plan/plan?code=children' })
})

test('empty catalogue', async () => {
  fakeWx({ 'GET /plans': ok({ items: [] }) })
  const comp = mount(page)
  await comp.instance.onLoad({})
  expect(text(comp)).toContain('暂无互助计划')
})

test('an error shows the API message and retry loads again', async () => {
  const wx = fakeWx({ 'GET /plans': [fail(503, 'unavailable', '服务维护中'), ok({ items: [plan('adult_789')] })] })
  const comp = mount(page)
  await comp.instance.onLoad({})
  expect(text(comp)).toContain('服务维护中')
  expect(wx.showToast).not.toHaveBeenCalled() // a load failure is shown in the page, not toasted
  await retry(comp)
  expect(text(comp)).toContain('成人互助计划')
})
