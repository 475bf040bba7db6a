const { load, mount, fakeWx, ok, fail, PENDING, text, tap } = require('../harness')

const fixtures = require('../fixtures')

const page = load('pages/invite/invite')
const invite = fixtures.invite({ code: 'AB12CD', share_path: '/pages/index/index?inviter=AB12CD', qrcode_scene: 'AB12CD' })
const PLANS = ok({ items: [fixtures.plan('adult_789', { counts: { members: 218432, observing: 0, protected: 218432 } })] })

// a canvas 2d that records what is drawn (no real canvas in the simulated renderer)
function fakeCanvas() {
  const calls = []
  const ctx = new Proxy({}, { get: (target, name) => (name in target ? target[name] : (...args) => calls.push([name, ...args])),
    set: (target, name, value) => { calls.push([`set ${name}`, value]); return true } })
  const image = {}
  return {
    calls, image,
    getContext: () => ctx,
    // the image loads once its src is set
    createImage: () => Object.defineProperty(image, 'src', { set(v) { image.loaded = v; Promise.resolve().then(() => image.onload()) }, configurable: true }),
  }
}

async function withPoster(routes = {}) {
  const wx = fakeWx(Object.assign({ 'GET /invites/me': ok(invite), 'GET /plans': PLANS, 'GET /invites/me/qrcode': ok(undefined) }, routes))
  wx.downloadFile.mockImplementation(options => options.success({ statusCode: 200, tempFilePath: 'wxfile://qr.png', header: options.header }))
  wx.canvasToTempFilePath = jest.fn(({ success }) => success({ tempFilePath: 'wxfile://poster.png' }))
  const comp = mount(page)
  const canvas = fakeCanvas()
  comp.instance.getCanvas = () => Promise.resolve(canvas)
  await comp.instance.onShow()
  return { wx, comp, canvas }
}

test('people joined; the share card carries my inviter code and the plan\'s cap from the API', async () => {
  fakeWx({ 'GET /invites/me': ok(invite), 'GET /plans': PLANS })
  const comp = mount(page)
  await comp.instance.onShow()
  expect(text(comp)).toContain('3人通过你加入')
  expect(comp.instance.onShareAppMessage()).toEqual({ path: '/pages/index/index?inviter=AB12CD',
    title: '一起互助：每案每人最多分摊¥3.00，帮一个家渡过难关' })
  expect(comp.instance.onShareTimeline()).toEqual({ title: '一起互助：每期公开每一分钱', query: 'inviter=AB12CD' })
})

test('the poster is drawn on canvas: the plan, a line of text, my mini-program code (downloaded with my token)', async () => {
  const { wx, comp, canvas } = await withPoster()
  await tap(comp, '.poster-button')
  expect(wx.downloadFile.mock.calls[0][0].header.Authorization).toBe('Bearer tok-1')
  expect(canvas.image.loaded).toBe('wxfile://qr.png')
  const texts = canvas.calls.filter(c => c[0] === 'fillText').map(c => c[1])
  expect(texts).toEqual(expect.arrayContaining(['成人互助计划', '218,432人正在互助', '每案每人最多分摊¥3.00', '长按识别小程序码，和我一起加入', '邀请码 AB12CD']))
  expect(canvas.calls.find(c => c[0] === 'drawImage').slice(2)).toEqual([215, 620, 320, 320])
  expect(wx.canvasToTempFilePath.mock.calls[0][0].canvas).toBe(canvas)
  expect(comp.instance.data.posterPath).toBe('wxfile://poster.png')
  expect(comp.querySelector('.poster')).toBeTruthy()
})

test('saving: asked once (wx.authorize), then saved to the album', async () => {
  const { wx, comp } = await withPoster()
  wx.getSetting = jest.fn(({ success }) => success({ authSetting: {} }))
  wx.authorize = jest.fn(({ success }) => success())
  wx.saveImageToPhotosAlbum = jest.fn(({ success }) => success())
  await tap(comp, '.poster-button')
  await tap(comp, '.save-button')
  expect(wx.authorize.mock.calls[0][0].scope).toBe('scope.writePhotosAlbum')
  expect(wx.saveImageToPhotosAlbum.mock.calls[0][0].filePath).toBe('wxfile://poster.png')
  expect(text(comp)).toContain('已保存到相册')
})

test('refused before: the reason, then the settings page; still refused → not saved, and said so', async () => {
  const { wx, comp } = await withPoster()
  wx.getSetting = jest.fn(({ success }) => success({ authSetting: { 'scope.writePhotosAlbum': false } }))
  wx.authorize = jest.fn()
  wx.openSetting = jest.fn(({ success }) => success({ authSetting: { 'scope.writePhotosAlbum': false } }))
  wx.saveImageToPhotosAlbum = jest.fn()
  await tap(comp, '.poster-button')
  await tap(comp, '.save-button')
  expect(wx.showModal.mock.calls[0][0]).toMatchObject({ title: '需要保存到相册的权限', confirmText: '去设置' })
  expect(wx.openSetting).toHaveBeenCalledTimes(1)
  expect(wx.authorize).not.toHaveBeenCalled()
  expect(wx.saveImageToPhotosAlbum).not.toHaveBeenCalled()
  expect(text(comp)).toContain('没有相册权限，海报未保存')
  // allowed in the settings page this time: saved
  wx.openSetting.mockImplementation(({ success }) => success({ authSetting: { 'scope.writePhotosAlbum': true } }))
  wx.saveImageToPhotosAlbum.mockImplementation(({ success }) => success())
  await tap(comp, '.save-button')
  expect(text(comp)).toContain('已保存到相册')
})

test('a poster failure is shown; loading, error', async () => {
  const wx = fakeWx({ 'GET /invites/me': [PENDING, ok(invite), fail(503, 'unavailable', '微信服务暂时不可用')], 'GET /plans': PLANS })
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
