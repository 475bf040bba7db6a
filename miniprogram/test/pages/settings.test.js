const { load, mount, fakeWx, ok, fail, PENDING, text, tap } = require('../harness')
const { templates, TEMPLATE_KEYS } = require('../fixtures')

const page = load('pages/settings/settings')

const some = () => ({ items: templates().items.map(t => Object.assign({}, t, { title: `通知 ${t.key}`, remaining: t.key === 'topup_credited' ? 2 : 0 })) })

test('which messages are on (sends allowed and unused) and which are off', async () => {
  const wx = fakeWx({ 'GET /subscriptions': ok(some()) })
  const comp = mount(page)
  await comp.instance.onShow()
  expect(text(comp)).toContain('通知 topup_credited已开启 · 可通知2次')
  expect(text(comp)).toContain('通知 aid_paid未开启')
  expect(comp.querySelectorAll('.template-on').length).toBe(1)
  expect(comp.querySelectorAll('.template-off').length).toBe(TEMPLATE_KEYS.length - 1)
  expect(wx.requestSubscribeMessage).not.toHaveBeenCalled() // never asked on opening
})

test('turning on: from the tap, at most three that are off per prompt; the accepted keys are sent; reloaded', async () => {
  const wx = fakeWx({ 'GET /subscriptions': [ok(some()), ok(templates(1))], 'POST /subscriptions': ok(templates(1)) })
  wx.requestSubscribeMessage.mockImplementation(({ tmplIds, success }) => success(Object.assign({}, ...tmplIds.map(id => ({ [id]: 'accept' })))))
  const comp = mount(page)
  await comp.instance.onShow()
  await tap(comp, '.turn-on')
  expect(wx.requestSubscribeMessage.mock.calls[0][0].tmplIds).toEqual(['yiqi-case-announced-dev', 'yiqi-case-publicity-dev', 'yiqi-share-deducted-dev'])
  expect(wx.requests.find(r => r.key === 'POST /subscriptions').options.data).toEqual({ accepted: ['case_announced', 'case_publicity', 'share_deducted'] })
  expect(comp.querySelector('.turn-on')).toBeFalsy() // all on now
})

test('loading, error', async () => {
  fakeWx({ 'GET /subscriptions': [PENDING, fail(503, 'unavailable', '暂不可用')] })
  const comp = mount(page)
  comp.instance.onShow()
  expect(text(comp)).toContain('加载中')
  await comp.instance.onShow()
  expect(text(comp)).toContain('暂不可用')
})

test('no templates configured: said so', async () => {
  fakeWx({ 'GET /subscriptions': ok({ items: [] }) })
  const comp = mount(page)
  await comp.instance.onShow()
  expect(text(comp)).toContain('暂无可订阅的通知')
})
