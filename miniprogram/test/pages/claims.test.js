const { load, mount, fakeWx, ok, fail, PENDING, text, tap, emit } = require('../harness')
const { claim, membership } = require('../fixtures')

const FAMILY = ok({ items: [membership(1)] })

const page = load('pages/claims/claims')

test('my claims with their status; open one, report a new one', async () => {
  const wx = fakeWx({ 'GET /memberships': FAMILY, 'GET /claims': ok({ items: [claim(7), claim(8, { status: 'returned', status_text: '需补充材料' })] }) })
  const comp = mount(page)
  await comp.instance.onShow()
  expect(text(comp)).toContain('张* · 白血病2026-03-05 提交审核中')
  expect(text(comp)).toContain('需补充材料')
  expect(text(comp)).toContain('2026-03-05 提交')
  await emit(comp, '.claim', 'click', {}, 1)
  expect(wx.navigateTo).toHaveBeenLastCalledWith({ url: '/pages/claim/claim?id=8' })
  await tap(comp, '.report-button')
  expect(wx.navigateTo).toHaveBeenLastCalledWith({ url: '/pages/claim-new/claim-new' })
})

test('loading, empty, error', async () => {
  fakeWx({ 'GET /memberships': FAMILY, 'GET /claims': [PENDING, ok({ items: [] }), fail(502, 'bad_gateway', '网关错误')] })
  const comp = mount(page)
  comp.instance.onShow()
  expect(text(comp)).toContain('加载中')
  await comp.instance.onShow()
  expect(text(comp)).toContain('还没有互助申请')
  await comp.instance.onShow()
  expect(text(comp)).toContain('网关错误')
})
