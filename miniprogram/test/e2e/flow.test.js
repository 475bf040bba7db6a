// End to end: the mini-program's own api/ modules, through a Node `wx` doing real HTTP, against the
// Python API and the WeChat emulator started here. Log in, join, top up, see the balance, see a
// deduction. Steps whose endpoints are known gaps (test/known-gaps.js) are listed as skipped by name.
const path = require('path')
const { startStack } = require('./stack')
const { makeWx } = require('./wx-shim')
const gaps = require('../known-gaps')

const MP = path.join(__dirname, '..', '..', 'miniprogram')
jest.setTimeout(60000)

const needs = (...names) => {
  const missing = names.filter(name => name in gaps.endpoints)
  return missing.length ? [test.skip, ` [skipped: known gap ${missing.join(', ')}]`] : [test, '']
}
const step = (title, names, fn) => {
  const [run, note] = needs(...names)
  run(title + note, fn)
}

// a synthetic, checksum-valid ID number (nobody real)
function idNumber(birth, serial) {
  const body = `110101${birth}${String(serial).padStart(3, '0')}`
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
  const sum = body.split('').reduce((total, digit, i) => total + Number(digit) * weights[i], 0)
  return body + '10X98765432'[sum % 11]
}

let stack
let wx
let api
const state = {}

beforeAll(async () => {
  stack = await startStack()
  wx = makeWx({ apiBase: stack.apiBase, emulatorUrl: stack.emulatorUrl, openid: `o-e2e-${process.pid}` })
  global.wx = wx
  api = {
    request: require(path.join(MP, 'api/request')),
    plans: require(path.join(MP, 'api/plans')),
    memberships: require(path.join(MP, 'api/memberships')),
    topups: require(path.join(MP, 'api/topups')),
    pay: require(path.join(MP, 'utils/pay')),
  }
})

afterAll(async () => {
  if (stack) await stack.stop()
})

test('log in with a wx.login code', async () => {
  const result = await api.request.login()
  expect(result.token).toBeTruthy()
  expect(result.user.invite_code).toBeTruthy()
  expect(wx.getStorageSync('token')).toBe(result.token)
})

test('join a plan for myself; it is pending with a zero balance', async () => {
  const plan = await api.plans.getPlan('adult_789')
  const answers = {}
  plan.eligibility_questions.concat(plan.health_questions).forEach(q => { answers[q.key] = false })
  const body = { plan_code: 'adult_789', relation: 'self', person: { name: '测试甲', id_number: idNumber('19900101', 123) }, answers }
  const membership = await api.memberships.join(body)
  expect(membership.state).toBe('pending')
  expect(membership.balance_fen).toBe(0)
  state.membershipId = membership.id
  state.joinBody = body
  const mine = await api.memberships.listMemberships()
  expect(mine.items.map(m => m.id)).toEqual([membership.id])
})

test('a refusal comes back as the API\'s error code and message, toasted', async () => {
  await expect(api.memberships.join(state.joinBody)).rejects.toMatchObject({ status: 409, code: 'already_member' })
  expect(wx.toasts.length).toBe(1)
  expect(wx.toasts[0]).toMatch(/[\u4e00-\u9fa5]/)
})

test('an expired or forged token is replaced by one silent re-login', async () => {
  wx.setStorageSync('token', 'forged')
  const membership = await api.memberships.getMembership(state.membershipId)
  expect(membership.id).toBe(state.membershipId)
  expect(wx.getStorageSync('token')).not.toBe('forged')
})

step('top up ¥10.00 with wx.requestPayment', ['createTopup'], async () => {
  const order = await api.topups.createTopup(state.membershipId, 1000)
  expect(order.payment.signType).toBe('RSA')
  expect(await api.pay.requestPayment(order.payment)).toBe('paid')
  state.order = order
})

step('see the balance once the payment notification arrives', ['createTopup', 'ledger'], async () => {
  let membership
  for (let i = 0; i < 100; i += 1) { // the emulator notifies the API asynchronously
    membership = await api.memberships.getMembership(state.membershipId)
    if (membership.balance_fen === 1000) break
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  expect(membership.balance_fen).toBe(1000)
  expect(membership.state).toBe('observing')
  const page = await api.memberships.ledger(state.membershipId, 1, 20)
  expect(page.items.map(e => e.amount_fen)).toContain(1000)
})

step('see a deduction with the cases it funded', ['createTopup', 'deductions', 'listRuns'], async () => {
  // Needs an executed apportionment run that includes this membership: at merge, wire issue 4's way
  // of producing one (its CLI, on this stack's database: stack.env) here before reading.
  const data = await api.memberships.deductions(state.membershipId)
  expect(data.items.length).toBeGreaterThan(0)
  const [run] = data.items
  expect(run.cases.reduce((sum, c) => sum + c.part_fen, 0)).toBe(run.share_fen)
})
