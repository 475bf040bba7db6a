const { load, mount, fakeWx, ok, fail, PENDING, text, tap, input, toasts } = require('../harness')
const { plan, membership, policy, templates } = require('../fixtures')

const page = load('pages/join/join')
const ID = '110101199001011237'

async function open(routes = {}) {
  const wx = fakeWx(Object.assign({ 'GET /plans/adult_789': ok(plan('adult_789')), 'GET /privacy/policy': ok(policy()),
    'GET /subscriptions': ok(templates()), 'POST /subscriptions': ok(templates(1)) }, routes))
  const comp = mount(page)
  await comp.instance.onLoad({ code: 'adult_789' })
  return { wx, comp }
}

// step 1 (who) → step 2 (conditions, health) → step 3 (consents)
async function fill(comp) {
  await tap(comp, '.relation', 1) // 子女
  await input(comp, '.name-input', ' 张小宝 ')
  await input(comp, '.id-input', ID.toLowerCase())
  await tap(comp, '.next-button')
  await tap(comp, '.answer-no', 0)
  await tap(comp, '.answer-no', 1)
  await tap(comp, '.next-button')
  await tap(comp, '.consent', 0)
  await tap(comp, '.consent', 1)
}

test('loading (skeleton) and load error', async () => {
  fakeWx({ 'GET /plans/adult_789': PENDING, 'GET /privacy/policy': ok(policy()), 'GET /subscriptions': ok(templates()) })
  const comp = mount(page)
  comp.instance.onLoad({ code: 'adult_789' })
  expect(text(comp)).toContain('加载中')
  const { comp: failed } = await open({ 'GET /plans/adult_789': fail(500, 'internal_error', '服务器出了点问题') })
  expect(text(failed)).toContain('服务器出了点问题')
})

test('three steps; 常住中国大陆 is a condition, not health; submitting sends the declaration, asks for notices, goes to top up', async () => {
  const { wx, comp } = await open({ 'POST /memberships': ok(membership(9, { state: 'pending' }), 201) })
  expect(text(comp)).toContain('1填写资料2加入条件与健康告知3确认加入')
  await tap(comp, '.relation', 1)
  await input(comp, '.name-input', ' 张小宝 ')
  await input(comp, '.id-input', ID.toLowerCase())
  await tap(comp, '.next-button')
  const conditions = comp.querySelector('.eligibility-questions')
  const health = comp.querySelector('.health-questions')
  expect(text(conditions)).toContain('是否常住中国大陆？')
  expect(text(health)).toContain('是否患有重大疾病？')
  expect(text(health)).not.toContain('常住中国大陆')
  await tap(comp, '.answer-no', 0)
  await tap(comp, '.answer-no', 1)
  await tap(comp, '.next-button')
  expect(text(comp)).toContain('被保障人张小宝')
  await tap(comp, '.consent', 0)
  await tap(comp, '.consent', 1)
  await tap(comp, '.submit')
  expect(wx.requests.find(r => r.key === 'POST /memberships').options.data).toEqual({
    plan_code: 'adult_789', relation: 'child', person: { name: '张小宝', id_number: ID },
    answers: { lives_in_china: false, has_major_illness: false },
    consent: { policy_version: '2026-03-01', scopes: ['privacy_policy', 'sensitive_personal_data'] },
  })
  // the subscribe prompt comes after joining (from the tap), never before
  expect(wx.requestSubscribeMessage.mock.calls[0][0].tmplIds).toEqual(
    ['yiqi-balance-low-dev', 'yiqi-observation-over-dev', 'yiqi-membership-status-dev'])
  expect(wx.redirectTo).toHaveBeenCalledWith({ url: '/pages/topup/topup?id=9' })
})

test('each step says what is missing next to the field and does not go on; nothing is sent', async () => {
  const { wx, comp } = await open()
  await tap(comp, '.next-button')
  expect(text(comp.querySelector('.name-input'))).toContain('请填写姓名')
  expect(text(comp.querySelector('.id-input'))).toContain('请填写18位身份证号')
  await input(comp, '.name-input', '张三')
  expect(text(comp.querySelector('.name-input'))).not.toContain('请填写姓名') // cleared as the field is fixed
  await input(comp, '.id-input', '1234')
  await tap(comp, '.next-button')
  expect(text(comp.querySelector('.id-input'))).toContain('请填写18位身份证号')
  await input(comp, '.id-input', ID)
  await tap(comp, '.next-button')
  await tap(comp, '.next-button')
  expect(text(comp.querySelector('.eligibility-questions'))).toContain('请选择“是”或“否”')
  await tap(comp, '.back-button')
  expect(comp.instance.data.step).toBe(0)
  expect(wx.requests.filter(r => r.key === 'POST /memberships')).toEqual([])
})

test('a refusal from the API is toasted and shown in the form', async () => {
  const { wx, comp } = await open({ 'POST /memberships': fail(400, 'not_eligible', '年龄不符合本计划的加入条件') })
  await fill(comp)
  await tap(comp, '.submit')
  expect(toasts(wx)).toEqual(['年龄不符合本计划的加入条件'])
  expect(text(comp)).toContain('年龄不符合本计划的加入条件')
  expect(wx.redirectTo).not.toHaveBeenCalled()
})

test('the two consents are separate boxes before 确认加入; joining waits for both, and the agreement opens', async () => {
  const { wx, comp } = await open({ 'POST /memberships': ok(membership(9, { state: 'pending' }), 201) })
  await fill(comp)
  expect(text(comp)).toContain('我单独同意处理被保障人的身份证号码和健康告知答案')
  expect(text(comp)).not.toContain('我单独同意处理我上传的医疗材料') // the claim's consent is not asked here
  expect(comp.querySelectorAll('.consent-box.ticked').length).toBe(2)
  await tap(comp, '.consent', 1) // untick the separate consent
  await tap(comp, '.submit')
  expect(text(comp)).toContain('请阅读并勾选「单独同意：处理被保障人的身份证号和健康告知」')
  expect(wx.requests.filter(r => r.key === 'POST /memberships')).toEqual([])
  await tap(comp, '.document-link', 1)
  expect(wx.showModal.mock.calls[0][0]).toMatchObject({ title: '服务协议', content: '# 一起互助服务协议' })
})

test('a policy changed since the page loaded: the new version is shown unticked', async () => {
  const { wx, comp } = await open({
    'POST /memberships': fail(403, 'privacy_policy_consent_required', '隐私政策已更新，请重新阅读并勾选'),
    'GET /privacy/policy': [ok(policy()), ok(policy({ version: '2026-09-01' }))],
  })
  await fill(comp)
  await tap(comp, '.submit')
  expect(text(comp)).toContain('隐私政策已更新')
  expect(comp.instance.data.policy.version).toBe('2026-09-01')
  expect(comp.instance.data.consents).toEqual({})
  expect(wx.redirectTo).not.toHaveBeenCalled()
})
