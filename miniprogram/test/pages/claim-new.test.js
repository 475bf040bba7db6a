const { load, mount, fakeWx, ok, fail, PENDING, text, tap, input, toasts } = require('../harness')
const { membership, templates, claim, policy } = require('../fixtures')

const page = load('pages/claim-new/claim-new')

async function open(routes) {
  const wx = fakeWx(Object.assign({ 'GET /subscriptions': ok(templates()), 'GET /privacy/policy': ok(policy()), 'GET /memberships': ok({ items: [membership(1, { state: 'protected' }), membership(2, { state: 'left', person_name: '退*' }), membership(3, { state: 'observing', person_name: '观*' })] }) }, routes))
  const comp = mount(page)
  await comp.instance.onLoad()
  return { wx, comp }
}

async function fill(comp) {
  await tap(comp, '.member', 0)
  await tap(comp, '.incident', 1)
  await tap(comp, '.next-button')
  const pick = (field, value) => comp.instance.onInput({ currentTarget: { dataset: { field } }, detail: { value } })
  pick('incidentDate', '2026-02-27')
  await input(comp, '.diagnosis-input', '骨折')
  pick('diagnosisDate', '2026-03-01')
  await input(comp, '.hospital-input', '市第一医院')
  await input(comp, '.city-input', '杭州')
  await tap(comp, '.next-button')
  await tap(comp, '.consent', 0)
  await tap(comp, '.consent', 1)
}

test('only members who can claim are offered; the claim is sent and opened', async () => {
  const { wx, comp } = await open({ 'POST /claims': ok(claim(7, { status: 'submitted' }), 201) })
  expect(text(comp)).not.toContain('退*')
  expect(text(comp)).not.toContain('观*')
  await fill(comp)
  await tap(comp, '.submit')
  expect(wx.requests.find(r => r.key === 'POST /claims').options.data).toEqual({
    membership_id: 1, incident_type: 'accident', incident_date: '2026-02-27', diagnosis: '骨折', diagnosis_date: '2026-03-01',
    hospital: '市第一医院', city: '杭州', description: '',
    consent: { policy_version: '2026-03-01', scopes: ['privacy_policy', 'medical_documents'] },
  })
  expect(wx.requestSubscribeMessage.mock.calls[0][0].tmplIds).toEqual(['yiqi-claim-status-dev', 'yiqi-aid-paid-dev'])
  expect(wx.redirectTo).toHaveBeenCalledWith({ url: '/pages/claim/claim?id=7' })
})

test('three steps; missing fields are named next to them; an API refusal is shown', async () => {
  const { wx, comp } = await open({ 'POST /claims': fail(400, 'membership_in_observation', '观察期内发生的不在互助范围内') })
  expect(text(comp)).toContain('1为谁申请2发生了什么3确认提交')
  await tap(comp, '.next-button')
  expect(text(comp)).toContain('请选择为谁申请')
  await tap(comp, '.member', 0)
  await tap(comp, '.next-button')
  await tap(comp, '.next-button')
  expect(text(comp)).toContain('请选择发病或出险日期')
  expect(text(comp.querySelector('.hospital-input'))).toContain('请填写确诊医院')
  expect(text(comp.querySelector('.city-input'))).toContain('请填写医院所在城市')
  await tap(comp, '.back-button')
  await fill(comp)
  await tap(comp, '.submit')
  expect(toasts(wx)).toEqual(['观察期内发生的不在互助范围内'])
  expect(text(comp)).toContain('观察期内发生的不在互助范围内')
})

test('loading, empty (nobody protected), error', async () => {
  fakeWx({ 'GET /subscriptions': fail(503, 'unavailable', '暂不可用'), 'GET /privacy/policy': ok(policy()), 'GET /memberships': [PENDING, ok({ items: [] }), fail(500, 'internal_error', '服务器出了点问题')] })
  const comp = mount(page)
  comp.instance.onLoad()
  expect(text(comp)).toContain('加载中')
  await comp.instance.onLoad()
  expect(text(comp)).toContain('家里还没有在保障中的成员')
  await comp.instance.onLoad()
  expect(text(comp)).toContain('服务器出了点问题')
})

test('the medical-documents consent is its own box, asked before sending', async () => {
  const { wx, comp } = await open({ 'POST /claims': ok(claim(7, { status: 'submitted' }), 201) })
  await fill(comp)
  expect(text(comp)).toContain('我单独同意处理我上传的医疗材料')
  await tap(comp, '.consent', 1)
  await tap(comp, '.submit')
  expect(text(comp)).toContain('请阅读并勾选「单独同意：处理病历和诊断材料」')
  expect(wx.requests.filter(r => r.key === 'POST /claims')).toEqual([])
})
