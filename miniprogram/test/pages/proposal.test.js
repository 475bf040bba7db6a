const { load, mount, fakeWx, ok, fail, text, tap, emit, toasts } = require('../harness')
const { proposal } = require('../fixtures')

const detail = load('pages/proposal/proposal')

const mine = (id, overrides = {}) => Object.assign(proposal(id), { my_answer: null, can_answer: true, can_leave_with_full_refund: false }, overrides)

test('one proposal: the differences in plain words, the quorum, the tally, what happens next (public: no vote)', async () => {
  fakeWx({ 'GET /proposals/2': ok(proposal(2)) })
  const comp = mount(detail)
  await comp.instance.onLoad({ id: '2' })
  const shown = text(comp)
  expect(shown).toContain('每个案例你最多分摊的金额从 3 元变为 5 元现在：每案每人最多分摊 ¥3.00变更后：每案每人最多分摊 ¥5.00')
  expect(shown).toContain('通过条件：同意者不少于答复者的三分之二，且答复者不少于全体成员的 10%')
  expect(shown).toContain('同意 150 · 不同意 50 · 已答复 200/1,234（16%）')
  expect(shown).toContain('表决于 2026-04-15 截止。通过后，新规则 2026-05-01 起对所有成员生效；不同意的成员可在生效前退出，余额全额退回。')
  expect(comp.querySelector('.agree-button')).toBeFalsy()
  expect(comp.instance.data.proposal.agreePercent).toBe(75) // of those who answered: the progress bar
})

test('a member answers once, after a confirmation; the tally updates; declined: nothing sent', async () => {
  const tally = { agree: 151, disagree: 50, answered: 201, eligible: 1234, turnout_percent: 16 }
  const wx = fakeWx({ 'GET /memberships/3/proposals': ok({ items: [mine(2)] }),
    'POST /memberships/3/proposals/2/answer': ok({ proposal_id: 2, membership_id: 3, answer: 'agree', answered_at: '2026-04-05T02:00:00+00:00', tally }) })
  const comp = mount(detail)
  await comp.instance.onLoad({ id: '2', membership: '3' })
  wx.showModal.mockImplementationOnce(({ success }) => success({ confirm: false, cancel: true }))
  await tap(comp, '.agree-button')
  expect(wx.requests.filter(r => r.key.endsWith('/answer'))).toEqual([])
  await tap(comp, '.agree-button')
  expect(wx.showModal.mock.calls[1][0].title).toBe('确认同意这项变更？')
  expect(wx.requests.find(r => r.key.endsWith('/answer')).options.data).toEqual({ answer: 'agree' })
  expect(text(comp)).toContain('同意 151 · 不同意 50 · 已答复 201/1,234（16%）')
  expect(text(comp)).toContain('你已同意')
  expect(comp.querySelector('.agree-button')).toBeFalsy()
})

test('the window closed meanwhile (409 proposal_closed): said, and reloaded; passed: the way out with a full refund', async () => {
  const wx = fakeWx({ 'GET /memberships/3/proposals': [ok({ items: [mine(2)] }),
    ok({ items: [mine(2, { status: 'passed', can_answer: false, my_answer: 'disagree', can_leave_with_full_refund: true, outcome_text: '已通过：同意 70%，答复 16%' })] })],
  'POST /memberships/3/proposals/2/answer': fail(409, 'proposal_closed', '表决已结束') })
  const comp = mount(detail)
  await comp.instance.onLoad({ id: '2', membership: '3' })
  await tap(comp, '.disagree-button')
  expect(wx.showModal.mock.calls[0][0].content).toContain('可以在生效前退出，余额全额退回')
  expect(text(comp)).toContain('表决已结束')
  expect(toasts(wx)).toEqual([]) // shown in the page, not toasted
  expect(text(comp)).toContain('已通过：同意 70%，答复 16%')
  await emit(comp, '.leave-cell', 'click')
  expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/membership/membership?id=3' })
})

test('loading, and a proposal that does not exist', async () => {
  const { PENDING } = require('../harness')
  fakeWx({ 'GET /proposals/9': [PENDING, fail(404, 'not_found', '没有这个变更')] })
  const comp = mount(detail)
  comp.instance.onLoad({ id: '9' })
  expect(text(comp)).toContain('加载中')
  await comp.instance.onLoad({ id: '9' })
  expect(text(comp)).toContain('没有这个变更')
})

test('a member\'s list without this proposal (another plan\'s): the public view, no vote', async () => {
  const wx = fakeWx({ 'GET /memberships/3/proposals': ok({ items: [] }), 'GET /proposals/2': ok(proposal(2)) })
  const comp = mount(detail)
  await comp.instance.onLoad({ id: '2', membership: '3' })
  expect(wx.requests.map(r => r.key)).toEqual(['GET /memberships/3/proposals', 'GET /proposals/2'])
  expect(text(comp)).toContain('每案分摊上限从3元调整为5元')
  expect(comp.querySelector('.agree-button')).toBeFalsy()
})
