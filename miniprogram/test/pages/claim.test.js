const { load, mount, fakeWx, ok, fail, PENDING, text, tap } = require('../harness')
const { claim, waitingPayout } = require('../fixtures')

const page = load('pages/claim/claim')

async function open(routes) {
  const wx = fakeWx(Object.assign({ 'GET /claims/7': ok(claim(7)) }, routes))
  const comp = mount(page)
  await comp.instance.onLoad({ id: '7' })
  return { wx, comp }
}

test('the timeline of its status and its documents', async () => {
  const { comp } = await open({})
  expect(text(comp)).toContain('审核中2026-03-06 10:00 材料齐全，开始审核')
  expect(text(comp)).toContain('材料齐全，开始审核')
  expect(text(comp)).toContain('材料（1）图片 1')
  expect(text(comp)).toContain('白血病审核中市第一医院 · 确诊 2026-03-01')
})

const DOCUMENT = { id: 2, content_type: 'image/jpeg', size_bytes: 1000, created_at: '2026-03-07T02:00:00+00:00' }

test('documents: wx.chooseMedia, then one wx.uploadFile per file (field "file")', async () => {
  const { wx, comp } = await open({ 'UPLOAD /claims/7/documents': ok(DOCUMENT, 201) })
  wx.chooseMedia.mockImplementation(({ success }) => success({ tempFiles: [{ tempFilePath: 'wxfile://a.jpg' }, { tempFilePath: 'wxfile://b.jpg' }] }))
  await tap(comp, '.upload-button')
  expect(wx.chooseMedia.mock.calls[0][0]).toMatchObject({ mediaType: ['image'] })
  const uploads = wx.uploadFile.mock.calls.map(([o]) => [o.filePath, o.name, o.formData, o.header.Authorization])
  expect(uploads).toEqual([['wxfile://a.jpg', 'file', {}, 'Bearer tok-1'], ['wxfile://b.jpg', 'file', {}, 'Bearer tok-1']])
  expect(text(comp)).toContain('已上传 2 份材料')
})

test('an upload refused by the API: what was uploaded and why the rest failed', async () => {
  const { wx, comp } = await open({ 'UPLOAD /claims/7/documents': [ok(DOCUMENT, 201), fail(413, 'body_too_large', '请求内容太大')] })
  wx.chooseMedia.mockImplementation(({ success }) => success({ tempFiles: [{ tempFilePath: 'wxfile://a.jpg' }, { tempFilePath: 'wxfile://b.jpg' }] }))
  await tap(comp, '.upload-button')
  expect(text(comp)).toContain('已上传 1 份，其余失败：请求内容太大')
})

test('choosing nothing uploads nothing; a closed claim takes no documents', async () => {
  const { wx, comp } = await open({})
  wx.chooseMedia.mockImplementation(({ fail: failed }) => failed({ errMsg: 'chooseMedia:fail cancel' }))
  await tap(comp, '.upload-button')
  expect(wx.uploadFile).not.toHaveBeenCalled()
  const { comp: returned } = await open({ 'GET /claims/7': ok(claim(7, { status: 'returned', status_text: '需补充材料', missing_items: '出院小结' })) })
  expect(text(returned)).toContain('需补充：出院小结')
  const { comp: paid } = await open({ 'GET /claims/7': ok(claim(7, { status: 'paid', status_text: '已打款', approved_aid_fen: 5000000 })) })
  expect(text(paid)).toContain('核定互助金¥50,000.00')
  expect(paid.querySelector('.upload-button')).toBeFalsy()
})

test('loading and error', async () => {
  fakeWx({ 'GET /claims/7': PENDING })
  const comp = mount(page)
  comp.instance.onLoad({ id: '7' })
  expect(text(comp)).toContain('加载中')
  const { comp: failed } = await open({ 'GET /claims/7': fail(404, 'not_found', '没有找到这份申请') })
  expect(text(failed)).toContain('没有找到这份申请')
})

// 商家转账 (issues 14 and 17): the aid waits for the claimant to confirm receipt in WeChat
const WAITING = claim(7, { status: 'collected', status_text: '已筹集', approved_aid_fen: 5000000, collected_aid_fen: 5000000,
  payout: waitingPayout() })
const PAID = claim(7, { status: 'paid', status_text: '已打款', approved_aid_fen: 5000000, collected_aid_fen: 5000000,
  payout: waitingPayout({ status: 'succeeded', package_info: null, transfer: null, paid_at: '2026-04-02T02:00:00+00:00' }) })

test('confirming receipt: wx.requestMerchantTransfer with mchId/appId/package, then POST …/payout/confirmed, then reloaded', async () => {
  const { wx, comp } = await open({ 'GET /claims/7': [ok(WAITING), ok(PAID)], 'POST /claims/7/payout/confirmed': ok(PAID) })
  expect(text(comp)).toContain('互助金已转出，待您确认收款¥50,000.00')
  await tap(comp, '.confirm-receipt-button')
  expect(wx.canIUse).toHaveBeenCalledWith('requestMerchantTransfer')
  expect(wx.requestMerchantTransfer.mock.calls[0][0]).toMatchObject(
    { mchId: '1900000001', appId: 'wx-test-app', package: WAITING.payout.transfer.package_info })
  expect(wx.requests.map(r => r.key)).toEqual(['GET /claims/7', 'POST /claims/7/payout/confirmed', 'GET /claims/7'])
  expect(wx.showToast).toHaveBeenCalledWith({ title: '已确认收款', icon: 'success' })
  expect(comp.querySelector('.confirm-receipt-button')).toBeFalsy()
  expect(text(comp)).toContain('已打款')
})

test('confirming receipt cancelled: a message, the API is not told, the button stays', async () => {
  const { wx, comp } = await open({ 'GET /claims/7': ok(WAITING) })
  wx.requestMerchantTransfer.mockImplementation(({ fail: failed }) => failed({ errMsg: 'requestMerchantTransfer:fail cancel' }))
  await tap(comp, '.confirm-receipt-button')
  expect(wx.showToast.mock.calls[0][0].title).toContain('已取消')
  expect(wx.requests.map(r => r.key)).toEqual(['GET /claims/7'])
  expect(comp.querySelector('.confirm-receipt-button')).toBeTruthy()
})

test('confirming receipt failed: WeChat\'s reason is shown, the API is not told', async () => {
  const { wx, comp } = await open({ 'GET /claims/7': ok(WAITING) })
  wx.requestMerchantTransfer.mockImplementation(({ fail: failed }) => failed({ errMsg: 'requestMerchantTransfer:fail 系统繁忙' }))
  await tap(comp, '.confirm-receipt-button')
  expect(wx.showToast).toHaveBeenCalledWith({ title: '确认收款失败：系统繁忙', icon: 'none' })
  expect(wx.requests.map(r => r.key)).toEqual(['GET /claims/7'])
  expect(comp.querySelector('.confirm-receipt-button')).toBeTruthy()
})

test('an old WeChat without wx.requestMerchantTransfer: asked to update, nothing called', async () => {
  const { wx, comp } = await open({ 'GET /claims/7': ok(WAITING) })
  wx.canIUse.mockImplementation(() => false)
  await tap(comp, '.confirm-receipt-button')
  expect(wx.requestMerchantTransfer).not.toHaveBeenCalled()
  expect(wx.showModal.mock.calls[0][0]).toMatchObject({ title: '请升级微信', showCancel: false })
  expect(wx.showModal.mock.calls[0][0].content).toContain('升级微信')
  expect(wx.requests.map(r => r.key)).toEqual(['GET /claims/7'])
})

test('no button when nothing waits: no payout, or a payout not (or no longer) waiting', async () => {
  const { comp } = await open({})
  expect(comp.querySelector('.confirm-receipt-button')).toBeFalsy()
  const { comp: paid } = await open({ 'GET /claims/7': ok(PAID) })
  expect(paid.querySelector('.confirm-receipt-button')).toBeFalsy()
  const { comp: pending } = await open({ 'GET /claims/7': ok(claim(7, { status: 'collected', payout: waitingPayout({ status: 'pending', package_info: null, transfer: null }) })) })
  expect(pending.querySelector('.confirm-receipt-button')).toBeFalsy()
})
