const { load, mount, fakeWx, ok, fail, PENDING, text, tap, emit, emptyAction } = require('../harness')
const { membership } = require('../fixtures')

const page = load('pages/family/family')

test('states, balances, observation countdown, suspended warning with a top-up button', async () => {
  const wx = fakeWx({ 'GET /memberships': ok({ items: [
    membership(1, { observation_days_left: 42 }),
    membership(2, { state: 'suspended', relation: 'parent', person_name: '李*', balance_fen: 120, grace_ends_at: '2026-05-01T02:00:00+00:00' }),
    membership(3, { state: 'pending', balance_fen: 0 }),
  ] }) })
  const comp = mount(page)
  await comp.instance.onShow()
  const shown = text(comp)
  expect(shown).toContain('观察期还剩 42 天')
  expect(shown).toContain('李*（父母）')
  expect(shown).toContain('余额¥1.20')
  await emit(comp, '.membership-cell', 'click', {}, 1)
  expect(wx.navigateTo).toHaveBeenLastCalledWith({ url: '/pages/membership/membership?id=2' })
  expect(shown).toContain('余额不足，保障已暂停。请在 2026-05-01 前充值恢复保障')
  expect(shown).toContain('预存 ¥3.00 后开始观察期')
  await tap(comp, '.topup-button', 1)
  expect(wx.navigateTo).toHaveBeenLastCalledWith({ url: '/pages/topup/topup?id=2' })
  await tap(comp, '.deductions-button', 0)
  expect(wx.navigateTo).toHaveBeenLastCalledWith({ url: '/pages/deductions/deductions?id=1' })
})

test('loading, empty, error', async () => {
  fakeWx({ 'GET /memberships': [PENDING, ok({ items: [] }), fail(401, 'token_invalid', '请重新登录')] })
  const comp = mount(page)
  comp.instance.onShow()
  expect(text(comp)).toContain('加载中')
  await comp.instance.onShow()
  expect(text(comp)).toContain('家里还没有人加入互助')
  await emptyAction(comp)
  expect(global.wx.switchTab).toHaveBeenCalledWith({ url: '/pages/index/index' })
})

test('an error that re-login cannot fix is shown', async () => {
  const wx = fakeWx({ 'GET /memberships': fail(401, 'token_invalid', '登录凭证无效'), 'POST /auth/login': fail(400, 'wechat_login_failed', '微信登录失败') })
  const comp = mount(page)
  await comp.instance.onShow()
  expect(text(comp)).toContain('微信登录失败')
  expect(wx.login).toHaveBeenCalledTimes(1)
})
