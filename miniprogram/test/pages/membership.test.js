const { load, mount, fakeWx, ok, fail, PENDING, text, tap, emit, toasts } = require('../harness')
const { balanceReturn, membership, ledgerPage: page_, ledgerEntry, merchantTransfer } = require('../fixtures')

const page = load('pages/membership/membership')
const ledgerPage = items => ok(page_(items))

test('balance and ledger; sharing gives the sponsor link', async () => {
  const wx = fakeWx({ 'GET /memberships/1': ok(membership(1)), 'GET /memberships/1/ledger': ledgerPage([
    ledgerEntry(1, { created_at: '2026-03-02T02:00:00+00:00' }),
    ledgerEntry(2, { amount_fen: -250, reason: '分摊', reference_type: 'run', reference_id: '5', created_at: '2026-04-16T02:00:00+00:00' }),
    ledgerEntry(3, { amount_fen: 500, sponsored: true, created_at: '2026-04-17T02:00:00+00:00' }),
  ]) })
  const comp = mount(page)
  await comp.instance.onLoad({ id: '1' })
  expect(text(comp)).toContain('收支明细（3）')
  expect(text(comp)).toContain('余额¥10.00') // large: the balance is the page's main figure
  expect(comp.querySelector('.balance').dom.innerHTML).toContain('money-large')
  expect(text(comp)).toContain('充值（家人代充）2026-04-17 10:00+¥5.00') // credits with "+"
  expect(text(comp)).toContain('充值2026-03-02 10:00+¥10.00')
  expect(text(comp)).toContain('分摊2026-04-16 10:00-¥2.50')
  expect(wx.requests[1].options.url).toContain('/memberships/1/ledger?page=1&per_page=20')
  expect(comp.instance.onShareAppMessage()).toEqual({ title: '帮张*充值互助金', path: '/pages/topup/topup?sponsor=sp-tok' })
  await tap(comp, '.topup-button')
  expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/topup/topup?id=1' })
})

test('loading, empty ledger, error', async () => {
  fakeWx({ 'GET /memberships/1': [PENDING, ok(membership(1)), fail(404, 'not_found', '没有找到')], 'GET /memberships/1/ledger': ledgerPage([]) })
  const comp = mount(page)
  comp.instance.onLoad({ id: '1' })
  expect(text(comp)).toContain('加载中')
  await comp.instance.onLoad({ id: '1' })
  expect(text(comp)).toContain('还没有收支')
  await comp.instance.onLoad({ id: '1' })
  expect(text(comp)).toContain('没有找到')
})

test('leaving asks first; a refusal (open claim) is toasted', async () => {
  const wx = fakeWx({ 'GET /memberships/1': ok(membership(1)), 'GET /memberships/1/ledger': ledgerPage([]),
    'POST /memberships/1/leave': fail(409, 'leave_refused', '有进行中的互助申请，暂不能退出') })
  const comp = mount(page)
  await comp.instance.onLoad({ id: '1' })
  await tap(comp, '.leave-button')
  expect(wx.showModal).toHaveBeenCalledTimes(1)
  expect(wx.showModal.mock.calls[0][0]).toMatchObject({ title: '确认退出此计划？', confirmText: '退出', confirmColor: '#c5221f' })
  expect(wx.showModal.mock.calls[0][0].content).toContain('余额 ¥10.00 按规则退回')
  expect(comp.querySelector('.leave-button').dom.innerHTML).toContain('t-button--danger') // a destructive action
  expect(toasts(wx)).toEqual(['有进行中的互助申请，暂不能退出'])
})

test('leaving confirmed: done and reloaded; declined: nothing sent', async () => {
  const wx = fakeWx({ 'GET /memberships/1': [ok(membership(1)), ok(membership(1, { state: 'left' }))],
    'GET /memberships/1/ledger': ledgerPage([]),
    'POST /memberships/1/leave': ok({ membership: membership(1, { state: 'left' }), refunded_fen: 1000, refunds: [] }) })
  const comp = mount(page)
  await comp.instance.onLoad({ id: '1' })
  wx.showModal.mockImplementationOnce(({ success }) => success({ confirm: false, cancel: true }))
  await tap(comp, '.leave-button')
  expect(wx.requests.filter(r => r.key.endsWith('/leave'))).toEqual([])
  await tap(comp, '.leave-button')
  expect(toasts(wx)).toEqual(['已退出，退回 ¥10.00'])
  expect(text(comp)).toContain('已退出')
})

test('paging: the next ledger page is appended when the member reaches the bottom', async () => {
  const first = Array.from({ length: 20 }, (_, i) => ledgerEntry(i + 1))
  const wx = fakeWx({ 'GET /memberships/1': ok(membership(1)),
    'GET /memberships/1/ledger': [ok(page_(first, { total: 21 })), ok(page_([ledgerEntry(21, { amount_fen: -250, reason: '分摊' })], { page: 2, total: 21 }))] })
  const comp = mount(page)
  await comp.instance.onLoad({ id: '1' })
  expect(comp.querySelectorAll('.entry').length).toBe(20)
  await comp.instance.onReachBottom()
  expect(wx.requests[2].options.url).toContain('/memberships/1/ledger?page=2&per_page=20')
  expect(comp.querySelectorAll('.entry').length).toBe(21)
  expect(text(comp)).toContain('没有更多了')
  await comp.instance.onReachBottom() // all loaded: nothing more is asked
  expect(wx.requests.length).toBe(3)
})

test('a balance on its way back (wind-down or leaving) is shown with its progress', async () => {
  fakeWx({ 'GET /memberships/1': ok(membership(1, { state: 'left', balance_return: { reason: 'wind_down', status: 'returning',
    amount_fen: 1000, returned_fen: 400, by_refund_fen: 400, by_transfer_fen: 0 } })), 'GET /memberships/1/ledger': ledgerPage([]) })
  const comp = mount(page)
  await comp.instance.onLoad({ id: '1' })
  expect(text(comp)).toContain('计划终止，余额 ¥10.00 退回中（已退回 ¥4.00）')
  await emit(comp, '.wind-down-cell', 'click')
  expect(global.wx.navigateTo).toHaveBeenLastCalledWith({ url: '/pages/wind-down/wind-down?code=adult_789&membership=1' })
  await emit(comp, '.proposals-cell', 'click')
  expect(global.wx.navigateTo).toHaveBeenLastCalledWith({ url: '/pages/proposals/proposals?membership=1&code=adult_789' })
  await emit(comp, '.deductions-cell', 'click')
  expect(global.wx.navigateTo).toHaveBeenLastCalledWith({ url: '/pages/deductions/deductions?id=1' })
})

// 商家转账 (issues 14 and 17): money paid over a year ago comes back by transfer, confirmed by the member
const LEFT = { state: 'left', balance_fen: 0, ended_at: '2026-04-05T02:00:00+00:00' }
const WAITING = membership(1, Object.assign({}, LEFT, { balance_return: balanceReturn({ reason: 'leave',
  transfer_package_info: merchantTransfer().package_info, transfer: merchantTransfer() }) }))
const DONE_RETURN = balanceReturn({ reason: 'leave', status: 'done', returned_fen: 1200, transfer: null,
  status_text: '余额已全部退回' })
const DONE = membership(1, Object.assign({}, LEFT, { balance_return: DONE_RETURN }))

async function openWaiting(routes = {}) {
  const wx = fakeWx(Object.assign({ 'GET /memberships/1': ok(WAITING), 'GET /memberships/1/ledger': ledgerPage([]) }, routes))
  const comp = mount(page)
  await comp.instance.onLoad({ id: '1' })
  return { wx, comp }
}
const keys = wx => wx.requests.map(r => r.key)

test('a balance returned by transfer: 确认收款 → wx.requestMerchantTransfer → POST …/balance-return/confirmed → reloaded', async () => {
  const { wx, comp } = await openWaiting({ 'GET /memberships/1': [ok(WAITING), ok(DONE)],
    'POST /memberships/1/balance-return/confirmed': ok(DONE_RETURN) })
  expect(text(comp)).toContain('需您确认收款')
  await tap(comp, '.confirm-receipt-button')
  expect(wx.requestMerchantTransfer.mock.calls[0][0]).toMatchObject(
    { mchId: '1900000001', appId: 'wx-test-app', package: merchantTransfer().package_info })
  expect(keys(wx)).toEqual(['GET /memberships/1', 'GET /memberships/1/ledger', 'POST /memberships/1/balance-return/confirmed',
    'GET /memberships/1', 'GET /memberships/1/ledger'])
  expect(wx.showToast).toHaveBeenCalledWith({ title: '已确认收款', icon: 'success' })
  expect(comp.querySelector('.confirm-receipt-button')).toBeFalsy()
  expect(text(comp)).toContain('已退回')
})

test('a balance return: cancel → a message, nothing sent; failure → the reason; old WeChat → update', async () => {
  const { wx, comp } = await openWaiting()
  wx.requestMerchantTransfer.mockImplementation(({ fail: failed }) => failed({ errMsg: 'requestMerchantTransfer:fail cancel' }))
  await tap(comp, '.confirm-receipt-button')
  expect(wx.showToast.mock.calls[0][0].title).toContain('已取消')
  wx.requestMerchantTransfer.mockImplementation(({ fail: failed }) => failed({ errMsg: 'requestMerchantTransfer:fail 参数错误' }))
  await tap(comp, '.confirm-receipt-button')
  expect(wx.showToast).toHaveBeenLastCalledWith({ title: '确认收款失败：参数错误', icon: 'none' })
  wx.canIUse.mockImplementation(() => false)
  await tap(comp, '.confirm-receipt-button')
  expect(wx.requestMerchantTransfer).toHaveBeenCalledTimes(2)
  expect(wx.showModal.mock.calls[0][0]).toMatchObject({ title: '请升级微信', showCancel: false })
  expect(keys(wx)).toEqual(['GET /memberships/1', 'GET /memberships/1/ledger'])
  expect(comp.querySelector('.confirm-receipt-button')).toBeTruthy()
})

test('no button when no transfer waits', async () => {
  const { comp } = await openWaiting({ 'GET /memberships/1': ok(DONE) })
  expect(comp.querySelector('.confirm-receipt-button')).toBeFalsy()
})
