const { load, mount, fakeWx, ok, fail, PENDING, text, tap, input, toasts } = require('../harness')
const { membership, payment, templates, plan } = require('../fixtures')

const page = load('pages/topup/topup')

async function open(routes, query = { id: '1' }) {
  const wx = fakeWx(Object.assign({ 'GET /subscriptions': ok(templates()), 'GET /memberships/1': ok(membership(1, { balance_fen: 300 })),
    'GET /plans/adult_789': ok(plan('adult_789', { share_cap_fen: 500 })) }, routes))
  const comp = mount(page)
  await comp.instance.onLoad(query)
  return { wx, comp }
}

test('loading, then whose balance is topped up', async () => {
  fakeWx({ 'GET /subscriptions': PENDING, 'GET /memberships/1': PENDING })
  const comp = mount(page)
  comp.instance.onLoad({ id: '1' })
  expect(text(comp)).toContain('加载中')
  const { comp: loaded } = await open({})
  expect(text(loaded)).toContain('张* · 成人互助计划')
  expect(text(loaded)).toContain('当前余额¥3.00')
  expect(text(loaded)).toContain('每案每人最多分摊 ¥5.00') // the plan's own cap, from the API
})

test('load error is shown', async () => {
  const { comp } = await open({ 'GET /memberships/1': fail(404, 'not_found', '没有找到这份保障') })
  expect(text(comp)).toContain('没有找到这份保障')
})

test('pay: order in fen, wx.requestPayment with its parameters, subscribe prompt (ids from GET /subscriptions), balance reloaded', async () => {
  const { wx, comp } = await open({
    'POST /memberships/1/topups': ok(payment, 201),
    'GET /memberships/1': [ok(membership(1, { balance_fen: 300 })), ok(membership(1, { balance_fen: 3300 }))],
    'POST /subscriptions': ok(templates(1)),
  })
  wx.requestSubscribeMessage.mockImplementation(({ tmplIds, success }) => success({ [tmplIds[0]]: 'accept', [tmplIds[1]]: 'reject' }))
  await tap(comp, '.amount', 2) // ¥30.00
  await tap(comp, '.pay-button')
  const order = wx.requests.find(r => r.key === 'POST /memberships/1/topups')
  expect(order.options.data).toEqual({ amount_fen: 3000 })
  expect(wx.requestPayment.mock.calls[0][0]).toMatchObject(payment.payment)
  expect(wx.requestSubscribeMessage).toHaveBeenCalledTimes(1)
  expect(wx.requestSubscribeMessage.mock.calls[0][0].tmplIds).toEqual(['yiqi-share-deducted-dev', 'yiqi-balance-low-dev', 'yiqi-topup-credited-dev'])
  expect(wx.requests.find(r => r.key === 'POST /subscriptions').options.data).toEqual({ accepted: ['share_deducted'] })
  expect(text(comp)).toContain('已支付 ¥30.00')
  expect(text(comp)).toContain('¥33.00')
})

test('a custom amount in yuan is sent as integer fen', async () => {
  const { wx, comp } = await open({ 'POST /memberships/1/topups': ok(payment, 201), 'POST /subscriptions': ok(templates(1)) })
  await input(comp, '.custom-amount', '12.5')
  await tap(comp, '.pay-button')
  expect(wx.requests.find(r => r.key === 'POST /memberships/1/topups').options.data).toEqual({ amount_fen: 1250 })
})

test('an invalid amount is refused before any request', async () => {
  const { wx, comp } = await open({})
  await input(comp, '.custom-amount', '1.234')
  expect(text(comp.querySelector('.custom-amount'))).toContain('请输入正确的金额') // next to the field, as typed
  await tap(comp, '.pay-button')
  expect(text(comp)).toContain('请输入正确的金额')
  expect(wx.requests.map(r => r.key).filter(key => key !== 'GET /subscriptions')).toEqual(['GET /memberships/1', 'GET /plans/adult_789'])
})

test('no templates from the API (it failed): paid all the same, no prompt', async () => {
  const { wx, comp } = await open({ 'GET /subscriptions': fail(500, 'internal_error', '服务器出了点问题'), 'POST /memberships/1/topups': ok(payment, 201) })
  await tap(comp, '.pay-button')
  expect(text(comp)).toContain('已支付 ¥10.00')
  expect(wx.requestSubscribeMessage).not.toHaveBeenCalled()
  expect(toasts(wx)).toEqual([])
})

test('payment cancelled: shown, no subscribe prompt, nothing reloaded', async () => {
  const { wx, comp } = await open({ 'POST /memberships/1/topups': ok(payment, 201) })
  wx.requestPayment.mockImplementation(({ fail: failed }) => failed({ errMsg: 'requestPayment:fail cancel' }))
  await tap(comp, '.pay-button')
  expect(text(comp)).toContain('已取消支付，没有扣款')
  expect(wx.requestSubscribeMessage).not.toHaveBeenCalled()
  expect(comp.instance.data.paying).toBe(false)
})

test('payment failure: the reason is shown', async () => {
  const { wx, comp } = await open({ 'POST /memberships/1/topups': ok(payment, 201) })
  wx.requestPayment.mockImplementation(({ fail: failed }) => failed({ errMsg: 'requestPayment:fail 余额不足' }))
  await tap(comp, '.pay-button')
  expect(text(comp)).toContain('支付失败：余额不足')
})

test('the API refuses the order: its message is toasted and shown', async () => {
  const { wx, comp } = await open({ 'POST /memberships/1/topups': fail(400, 'amount_above_ceiling', '单次充值不能超过500元') })
  await tap(comp, '.pay-button')
  expect(toasts(wx)).toEqual(['单次充值不能超过500元'])
  expect(text(comp)).toContain('单次充值不能超过500元')
  expect(wx.requestPayment).not.toHaveBeenCalled()
})

test('sponsor link: tops up someone else\'s membership through its token', async () => {
  const { wx, comp } = await open({
    'POST /sponsor/lookup': ok({ plan_code: 'child_123', plan_name: '少儿互助计划', person_name: '王*', state: 'suspended', balance_fen: 0, min_prepay_fen: 300, is_own: false }),
    'POST /sponsor/topups': ok(payment, 201),
    'POST /subscriptions': ok(templates(1)),
  }, { sponsor: 'sp-tok' })
  expect(text(comp)).toContain('王* · 少儿互助计划')
  await tap(comp, '.amount', 0)
  await tap(comp, '.pay-button')
  expect(wx.requests.find(r => r.key === 'POST /sponsor/lookup').options.data).toEqual({ token: 'sp-tok' })
  expect(wx.requests.find(r => r.key === 'POST /sponsor/topups').options.data).toEqual({ token: 'sp-tok', amount_fen: 300 })
  expect(wx.requests.every(r => !r.options.url.includes('sp-tok'))).toBe(true)
})
