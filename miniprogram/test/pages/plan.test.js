const { load, mount, fakeWx, ok, fail, PENDING, text, tap, retry } = require('../harness')
const { plan } = require('../fixtures')

const page = load('pages/plan/plan')

test('loading, then the rules in plain words; join goes to the form', async () => {
  const wx = fakeWx({ 'GET /plans/adult_789': [PENDING, ok(plan('adult_789'))] })
  const comp = mount(page)
  comp.instance.onLoad({ code: 'adult_789' })
  expect(text(comp)).toContain('加载中')
  await comp.instance.onLoad({ code: 'adult_789' })
  expect(text(comp)).toContain('观察期：180天')
  expect(text(comp)).toContain('最高互助金¥300,000.00')
  expect(text(comp)).toContain('预计年均分摊¥120.00')
  await tap(comp, '.join-button')
  expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/join/join?code=adult_789' })
})

test('before the plan\'s first executed run the estimated annual cost is 暂无', async () => {
  fakeWx({ 'GET /plans/children': ok(plan('children', { estimated_annual_fen: null })) })
  const comp = mount(page)
  await comp.instance.onLoad({ code: 'children' })
  expect(text(comp)).toContain('预计年均分摊 暂无')
  expect(text(comp)).not.toContain('预计年均分摊¥')
})

test('unknown plan: the API message, and retry', async () => {
  fakeWx({ 'GET /plans/nope': [fail(404, 'plan_not_found', '没有这个互助计划'), ok(plan('nope'))] })
  const comp = mount(page)
  await comp.instance.onLoad({ code: 'nope' })
  expect(text(comp)).toContain('没有这个互助计划')
  await retry(comp)
  expect(text(comp)).toContain('规则')
})
