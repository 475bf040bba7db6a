const { load, mount, fakeWx, ok, PENDING, text, emit } = require('../harness')
const { announcement } = require('../fixtures')

const page = load('pages/announcements/announcements')

test('the cases in publicity; tap opens one', async () => {
  const wx = fakeWx({ 'GET /announcements': ok({ items: [announcement(4), announcement(5, { person: '赵*' })] }) })
  const comp = mount(page)
  await comp.instance.onShow()
  expect(text(comp)).toContain('李* · 白血病成人互助计划 · 公示至 2026-04-10¥300,000.00')
  expect(text(comp)).toContain('公示至 2026-04-10')
  await emit(comp, '.announcement', 'click', {}, 1)
  expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/announcement/announcement?id=5' })
})

test('loading, empty, error', async () => {
  fakeWx({ 'GET /announcements': [PENDING, ok({ items: [] }), { networkError: 'timeout' }] })
  const comp = mount(page)
  comp.instance.onShow()
  expect(text(comp)).toContain('加载中')
  await comp.instance.onShow()
  expect(text(comp)).toContain('目前没有公示中的案例')
  await comp.instance.onShow()
  expect(text(comp)).toContain('网络不给力')
})

test('pull to refresh loads again and stops the indicator', async () => {
  const wx = fakeWx({ 'GET /announcements': ok({ items: [announcement(4)] }) })
  const comp = mount(page)
  await comp.instance.onShow()
  await comp.instance.onPullDownRefresh()
  expect(wx.requests.filter(r => r.key === 'GET /announcements').length).toBe(2)
  expect(wx.stopPullDownRefresh).toHaveBeenCalledTimes(1)
})
