const { load, mount, fakeWx, ok, fail, PENDING, text, emit } = require('../harness')
const { proposal } = require('../fixtures')

const list = load('pages/proposals/proposals')

const mine = (id, overrides = {}) => Object.assign(proposal(id), { my_answer: null, can_answer: true, can_leave_with_full_refund: false }, overrides)

test('a plan\'s proposals (public): status and live tally; one opens', async () => {
  const wx = fakeWx({ 'GET /plans/adult_789/proposals': ok({ items: [proposal(2), proposal(1, { status: 'failed', title: '观察期改为90天' })] }) })
  const comp = mount(list)
  await comp.instance.onLoad({ code: 'adult_789' })
  expect(text(comp)).toContain('每案分摊上限从3元调整为5元同意 150 · 不同意 50 · 已答复 200/1,234（16%）表决中')
  expect(text(comp)).toContain('观察期改为90天')
  expect(text(comp)).toContain('未通过')
  await emit(comp, '.proposal', 'click', {}, 1)
  expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/proposal/proposal?id=1' })
})

test('a membership\'s proposals show my answer; opening keeps the membership; loading, empty, error', async () => {
  const wx = fakeWx({ 'GET /memberships/3/proposals': [PENDING, ok({ items: [mine(2, { my_answer: 'agree', can_answer: false })] }),
    ok({ items: [] }), fail(404, 'not_found', '没有找到')] })
  const comp = mount(list)
  comp.instance.onLoad({ membership: '3', code: 'adult_789' })
  expect(text(comp)).toContain('加载中')
  await comp.instance.onLoad({ membership: '3', code: 'adult_789' })
  expect(text(comp)).toContain('你已同意')
  await emit(comp, '.proposal', 'click')
  expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/proposal/proposal?id=2&membership=3' })
  await comp.instance.onLoad({ membership: '3', code: 'adult_789' })
  expect(text(comp)).toContain('这个计划没有规则变更')
  await comp.instance.onLoad({ membership: '3', code: 'adult_789' })
  expect(text(comp)).toContain('没有找到')
})
