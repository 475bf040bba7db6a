const { load, mount, fakeWx, ok, fail, PENDING, text, tap, input, toasts } = require('../harness')
const { announcement } = require('../fixtures')

const page = load('pages/announcement/announcement')

async function open(routes, a = announcement(4)) {
  const wx = fakeWx(Object.assign({ 'GET /announcements/4': ok(a) }, routes))
  const comp = mount(page)
  await comp.instance.onLoad({ id: '4' })
  return { wx, comp }
}

// "now" is 2026-04-05 (China time): the fixture's publicity runs to 2026-04-10
beforeEach(() => jest.useFakeTimers({ now: Date.parse('2026-04-05T02:00:00Z'), doNotFake: ['setTimeout', 'setImmediate', 'nextTick', 'queueMicrotask'] }))
afterEach(() => jest.useRealTimers())

test('loading and error', async () => {
  fakeWx({ 'GET /announcements/4': PENDING })
  const comp = mount(page)
  comp.instance.onLoad({ id: '4' })
  expect(text(comp)).toContain('加载中')
  const { comp: failed } = await open({ 'GET /announcements/4': fail(404, 'not_found', '公示不存在') })
  expect(text(failed)).toContain('公示不存在')
})

test('object with a reason', async () => {
  const { wx, comp } = await open({ 'POST /announcements/4/objections': ok({ id: 1, reason: '他去年就确诊了，隐瞒了病史', status: 'pending', resolution: null, created_at: '2026-04-05T02:00:00+00:00', resolved_at: null }, 201) })
  expect(text(comp)).toContain('42岁 · 杭州 · 成人互助计划')
  expect(text(comp)).toContain('公示截止2026-04-10')
  expect(text(comp)).toContain('调查机构某调查机构') // the investigating organisation
  expect(text(comp)).toContain('核定互助金¥300,000.00')
  expect(text(comp)).toContain('已核实诊断证明与病历')
  await input(comp, '.reason', '  他去年就确诊了，隐瞒了病史  ')
  await tap(comp, '.object-button')
  expect(wx.requests.find(r => r.key === 'POST /announcements/4/objections').options.data).toEqual({ reason: '他去年就确诊了，隐瞒了病史' })
  expect(text(comp)).toContain('已提交异议')
})

test('a reason is required; an API refusal is shown', async () => {
  const { wx, comp } = await open({ 'POST /announcements/4/objections': fail(409, 'objection_exists', '您已对这个案例提出过异议') })
  await tap(comp, '.object-button')
  expect(text(comp)).toContain('请写明异议的理由')
  expect(wx.requests.filter(r => r.key.endsWith('/objections'))).toEqual([])
  await input(comp, '.reason', '情况与公示不符的理由')
  await tap(comp, '.object-button')
  expect(toasts(wx)).toEqual(['您已对这个案例提出过异议'])
  expect(text(comp)).toContain('您已对这个案例提出过异议')
})

test('publicity over (its end has passed, or the case moved on): no form', async () => {
  for (const a of [announcement(4, { publicity_ends_at: '2026-04-04T02:00:00+00:00' }), announcement(4, { status: 'ready' })]) {
    const { comp } = await open({}, a)
    expect(text(comp)).toContain('公示已结束')
    expect(comp.querySelector('.object-button')).toBeFalsy()
  }
})

test('following a case asks for its notices from the tap, and says so', async () => {
  const { templates } = require('../fixtures')
  const wx = fakeWx({ 'GET /announcements/4': ok(announcement(4)), 'GET /subscriptions': ok(templates()),
    'POST /subscriptions': ok(templates(1)) })
  wx.requestSubscribeMessage.mockImplementation(({ tmplIds, success }) => success(Object.assign({}, ...tmplIds.map(id => ({ [id]: 'accept' })))))
  const comp = mount(page)
  await comp.instance.onLoad({ id: '4' })
  expect(wx.requestSubscribeMessage).not.toHaveBeenCalled()
  await tap(comp, '.follow-button')
  expect(wx.requestSubscribeMessage.mock.calls[0][0].tmplIds).toEqual(['yiqi-case-announced-dev', 'yiqi-case-publicity-dev'])
  expect(wx.requests.find(r => r.key === 'POST /subscriptions').options.data).toEqual({ accepted: ['case_announced', 'case_publicity'] })
  expect(text(comp)).toContain('已关注此案例')
})
