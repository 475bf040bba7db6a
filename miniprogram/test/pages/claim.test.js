const { load, mount, fakeWx, ok, fail, PENDING, text, tap } = require('../harness')
const { claim } = require('../fixtures')

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
