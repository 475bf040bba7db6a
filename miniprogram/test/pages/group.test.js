const { load, mount, fakeWx, ok, fail, PENDING, text, tap, emptyAction } = require('../harness')
const { groupSummary } = require('../fixtures')

const page = load('pages/group/group')

test('the group we came from: counts only, per plan', async () => {
  const wx = fakeWx({ 'GET /groups/G-1/summary': ok(groupSummary({ members_seen: 1234 })) })
  wx.storage.opengid = 'G-1'
  const comp = mount(page)
  await comp.instance.onLoad({})
  expect(text(comp)).toContain('1,234人用过一起互助')
  expect(text(comp)).toContain('5人已在保障中')
  expect(text(comp)).toContain('成人互助计划4 人保障中')
  await tap(comp, '.browse-plans')
  expect(wx.switchTab).toHaveBeenCalledWith({ url: '/pages/index/index' })
})

test('no group: said so, with the way to the plans; loading; a group this user was not seen in', async () => {
  const wx = fakeWx({ 'GET /groups/G-2/summary': [PENDING, fail(404, 'group_not_found', '没有找到这个群')] })
  const comp = mount(page)
  await comp.instance.onLoad({})
  expect(text(comp)).toContain('从微信群里打开小程序')
  await emptyAction(comp)
  expect(wx.switchTab).toHaveBeenCalledWith({ url: '/pages/index/index' })
  comp.instance.onLoad({ opengid: 'G-2' })
  expect(text(comp)).toContain('加载中')
  await comp.instance.onLoad({ opengid: 'G-2' })
  expect(text(comp)).toContain('没有找到这个群')
})
