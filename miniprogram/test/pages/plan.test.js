const { load, mount, fakeWx, ok, fail, PENDING, text, tap, retry } = require('../harness')
const { plan } = require('../fixtures')

const page = load('pages/plan/plan')

test('loading (a skeleton), then the plan: figures, who may join, the aid table, exclusions, the fee; join goes to the form', async () => {
  const wx = fakeWx({ 'GET /plans/adult_789': [PENDING, ok(plan('adult_789'))] })
  const comp = mount(page)
  comp.instance.onLoad({ code: 'adult_789' })
  expect(text(comp)).toContain('加载中')
  expect(comp.querySelector('#state').querySelector('.state-loading')).toBeTruthy()
  await comp.instance.onLoad({ code: 'adult_789' })
  const shown = text(comp)
  expect(shown).toContain('观察期：180天')
  expect(shown).toContain('1,234人互助中')
  expect(shown).toContain('¥300,000.00最高互助金')
  expect(shown).toContain('预计年均分摊¥120.00')
  expect(shown).toContain('成人18周岁至59周岁') // eligibility
  expect(shown).toContain('重大疾病最高 ¥300,000.00') // the aid table
  expect(shown).toContain('既往症') // exclusions
  expect(shown).toContain('管理费：每案互助金的 8%')
  expect(shown).toContain('加入 · 预存 ¥3.00 起')
  await tap(comp, '.join-button')
  expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/join/join?code=adult_789' })
})

test('the share cap comes from the API, not the template', async () => {
  fakeWx({ 'GET /plans/adult_789': ok(plan('adult_789', { share_cap_fen: 500 })) })
  const comp = mount(page)
  await comp.instance.onLoad({ code: 'adult_789' })
  expect(text(comp)).toContain('¥5.00每案每人最多分摊')
  expect(comp.instance.onShareAppMessage().title).toBe('成人互助计划：每案每人最多分摊¥5.00')
})

test('before the plan\'s first executed run the estimated annual cost is 暂无', async () => {
  fakeWx({ 'GET /plans/children': ok(plan('children', { estimated_annual_fen: null })) })
  const comp = mount(page)
  await comp.instance.onLoad({ code: 'children' })
  expect(text(comp)).toContain('预计年均分摊暂无')
  expect(text(comp)).not.toContain('预计年均分摊¥')
})

test('a closing plan says so and offers its wind-down instead of joining', async () => {
  const wx = fakeWx({ 'GET /plans/adult_789': ok(plan('adult_789', { status: 'closing' })) })
  const comp = mount(page)
  await comp.instance.onLoad({ code: 'adult_789' })
  expect(text(comp)).toContain('此计划正在终止')
  expect(comp.querySelector('.join-button')).toBeFalsy()
  await tap(comp, '.wind-down-button')
  expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/wind-down/wind-down?code=adult_789' })
})

test('unknown plan: the API message, and retry', async () => {
  fakeWx({ 'GET /plans/nope': [fail(404, 'plan_not_found', '没有这个互助计划'), ok(plan('nope'))] })
  const comp = mount(page)
  await comp.instance.onLoad({ code: 'nope' })
  expect(text(comp)).toContain('没有这个互助计划')
  await retry(comp)
  expect(text(comp)).toContain('规则')
})

test('the share card: drawn from the plan\'s own numbers; with my inviter code; none drawn, WeChat\'s screenshot', async () => {
  const wx = fakeWx({ 'GET /plans/adult_789': ok(plan('adult_789', { counts: { members: 218432, observing: 0, protected: 218432 } })) })
  wx.storage.user = { invite_code: 'AB12CD' }
  wx.canvasToTempFilePath = jest.fn(({ success }) => success({ tempFilePath: 'wxfile://card.png' }))
  const texts = []
  const canvas = { getContext: () => new Proxy({}, { get: (t, name) => (name === 'fillText' ? text_ => texts.push(text_) : () => {}), set: () => true }) }
  const comp = mount(page)
  comp.instance.getCanvas = () => Promise.resolve(canvas)
  await comp.instance.onLoad({ code: 'adult_789' })
  expect(texts).toEqual(['一起互助', '成人互助计划', '218,432人正在互助', '每案每人最多分摊¥3.00', '每一期的钱都公开，可在手机上核验'])
  expect(comp.instance.onShareAppMessage()).toEqual({ title: '成人互助计划：每案每人最多分摊¥3.00',
    path: '/pages/plan/plan?code=adult_789&inviter=AB12CD', imageUrl: 'wxfile://card.png' })
  expect(comp.instance.onShareTimeline()).toEqual({ title: '成人互助计划 · 218,432人互助中', query: 'code=adult_789', imageUrl: 'wxfile://card.png' })
  const plain = mount(page)
  plain.instance.getCanvas = () => Promise.resolve(null)
  await plain.instance.onLoad({ code: 'adult_789' })
  expect(plain.instance.onShareAppMessage().imageUrl).toBeUndefined()
})
