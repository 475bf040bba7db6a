const { load, mount, fakeWx, ok, fail, text, emit } = require('../harness')
const { policy } = require('../fixtures')

const page = load('pages/about/about')

test('who runs the platform, where the money is held, the agreements to read', async () => {
  const wx = fakeWx({ 'GET /privacy/policy': ok(policy()) })
  const comp = mount(page)
  await comp.instance.onLoad()
  expect(text(comp)).toContain('谁在运营')
  expect(text(comp)).toContain('一起互助运营“一起互助”小程序')
  expect(text(comp)).toContain('钱存放在哪里你预存的钱属于你，存放在专用托管账户中')
  expect(text(comp)).toContain('《服务协议》')
  await emit(comp, '.document-cell', 'click', {}, 1)
  expect(wx.showModal.mock.calls[0][0]).toMatchObject({ title: '服务协议', content: '# 一起互助服务协议' })
  await emit(comp, '.transparency-cell', 'click')
  expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/transparency/transparency' })
})

test('the agreements failing to load leaves the rest', async () => {
  fakeWx({ 'GET /privacy/policy': fail(503, 'unavailable', '暂不可用') })
  const comp = mount(page)
  await comp.instance.onLoad()
  expect(text(comp)).toContain('钱存放在哪里')
  expect(comp.querySelector('.document-cell')).toBeFalsy()
})
