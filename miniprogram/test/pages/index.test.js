const { load, mount, fakeWx, ok, fail, PENDING, text, tap, retry, emit } = require('../harness')
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
  expect(shown).toContain('1,234人互助中') // thousands separator
  expect(shown).toContain('¥120.00预计年均分摊')
  expect(shown).toContain('暂无预计年均分摊（还没有完成的分摊）')
  expect(shown).toContain('每案每人最多分摊 ¥3.00') // from the API
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

test('opened from a group chat: a cell to the group\'s summary; transparency, about and settings are cells', async () => {
  const wx = fakeWx({ 'GET /plans': ok({ items: [plan('adult_789')] }) })
  wx.storage.opengid = 'G-1'
  const comp = mount(page)
  comp.instance.onShow()
  await comp.instance.onLoad({})
  await emit(comp, '.group-cell', 'click')
  expect(wx.navigateTo).toHaveBeenLastCalledWith({ url: '/pages/group/group' })
  await emit(comp, '.about-link', 'click')
  expect(wx.navigateTo).toHaveBeenLastCalledWith({ url: '/pages/about/about' })
  await emit(comp, '.settings-link', 'click')
  expect(wx.navigateTo).toHaveBeenLastCalledWith({ url: '/pages/settings/settings' })
  await emit(comp, '.transparency-link', 'click')
  expect(wx.navigateTo).toHaveBeenLastCalledWith({ url: '/pages/transparency/transparency' })
  expect(wx.requestSubscribeMessage).not.toHaveBeenCalled() // never a subscribe prompt on launch
})

test('no group: no group cell', async () => {
  fakeWx({ 'GET /plans': ok({ items: [plan('adult_789')] }) })
  const comp = mount(page)
  comp.instance.onShow()
  await comp.instance.onLoad({})
  expect(comp.querySelector('.group-cell')).toBeFalsy()
})
