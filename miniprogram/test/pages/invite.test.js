const { load, mount, fakeWx, ok, fail, PENDING, text, tap } = require('../harness')

const fixtures = require('../fixtures')

const page = load('pages/invite/invite')
const invite = fixtures.invite({ code: 'AB12CD', share_path: '/pages/index/index?inviter=AB12CD', qrcode_scene: 'AB12CD' })

test('people joined; the share card carries my inviter code', async () => {
  fakeWx({ 'GET /invites/me': ok(invite) })
  const comp = mount(page)
  await comp.instance.onShow()
  expect(text(comp)).toContain('已有 3 人通过你加入')
  expect(comp.instance.onShareAppMessage()).toEqual(expect.objectContaining({ path: '/pages/index/index?inviter=AB12CD' }))
})

test('the poster: the mini-program code downloaded with my token and shown', async () => {
  const wx = fakeWx({ 'GET /invites/me': ok(invite), 'GET /invites/me/qrcode': ok(undefined) })
  wx.downloadFile.mockImplementation(options => options.success({ statusCode: 200, tempFilePath: 'wxfile://qr.png', header: options.header }))
  const comp = mount(page)
  await comp.instance.onShow()
  await tap(comp, '.poster-button')
  expect(wx.downloadFile.mock.calls[0][0].header.Authorization).toBe('Bearer tok-1')
  expect(comp.querySelector('.poster')).toBeTruthy()
  expect(comp.instance.data.posterPath).toBe('wxfile://qr.png')
})

test('a poster failure is shown; loading, error', async () => {
  const wx = fakeWx({ 'GET /invites/me': [PENDING, ok(invite), fail(503, 'unavailable', '微信服务暂时不可用')] })
  wx.downloadFile.mockImplementation(options => options.success({ statusCode: 503, data: '' }))
  const comp = mount(page)
  comp.instance.onShow()
  expect(text(comp)).toContain('加载中')
  await comp.instance.onShow()
  await tap(comp, '.poster-button')
  expect(text(comp)).toContain('服务暂时不可用（503）')
  await comp.instance.onShow()
  expect(text(comp)).toContain('微信服务暂时不可用')
})
