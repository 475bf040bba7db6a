const { fakeWx, ok, fail, toasts, API } = require('../harness')
const request = require('../../miniprogram/api/request')
const { listMemberships } = require('../../miniprogram/api/memberships')
const launch = require('../../miniprogram/utils/launch')

const login = ok({ token: 'tok-2', token_type: 'Bearer', expires_in: 604800, user: { id: 1, invite_code: 'ME', is_new: false } })

test('success is decided by statusCode; the bearer token comes from storage', async () => {
  const wx = fakeWx({ 'GET /memberships': ok({ items: [] }) })
  await expect(listMemberships()).resolves.toEqual({ items: [] })
  expect(wx.request.mock.calls[0][0]).toMatchObject({ url: `${API}/memberships`, method: 'GET', header: { Authorization: 'Bearer tok-1' } })
})

test('the error envelope becomes an ApiError and a readable toast', async () => {
  const wx = fakeWx({ 'GET /memberships': fail(409, 'conflict_x', '与当前状态冲突', { field: 'x' }) })
  await expect(listMemberships()).rejects.toMatchObject({ status: 409, code: 'conflict_x', message: '与当前状态冲突', details: { field: 'x' } })
  expect(toasts(wx)).toEqual(['与当前状态冲突'])
})

test('a non-JSON 5xx and a network failure still read well', async () => {
  const wx = fakeWx({ 'GET /memberships': [{ statusCode: 502, data: '<html>Bad Gateway</html>' }, { networkError: 'timeout' }] })
  await expect(listMemberships()).rejects.toMatchObject({ status: 502, code: 'server_error' })
  await expect(listMemberships()).rejects.toMatchObject({ status: 0, code: 'network_error' })
  expect(toasts(wx)).toEqual(['服务暂时不可用（502），请稍后再试', '网络不给力，请稍后再试'])
})

test('401: one silent re-login (wx.login → /auth/login), then the retry carries the new token', async () => {
  const wx = fakeWx({ 'GET /memberships': [fail(401, 'token_invalid', '请重新登录'), ok({ items: [] })], 'POST /auth/login': login })
  await expect(listMemberships()).resolves.toEqual({ items: [] })
  expect(wx.login).toHaveBeenCalledTimes(1)
  expect(wx.requests.map(r => r.key)).toEqual(['GET /memberships', 'POST /auth/login', 'GET /memberships'])
  expect(wx.requests[1].options.data).toEqual({ code: 'wx-code' })
  expect(wx.requests[2].options.header.Authorization).toBe('Bearer tok-2')
  expect(toasts(wx)).toEqual([])
})

test('401 again after re-login: no loop, the error is reported', async () => {
  const wx = fakeWx({ 'GET /memberships': fail(401, 'token_invalid', '登录凭证无效，请重新登录'), 'POST /auth/login': login })
  await expect(listMemberships()).rejects.toMatchObject({ status: 401 })
  expect(wx.login).toHaveBeenCalledTimes(1)
  expect(wx.requests.length).toBe(3)
})

test('concurrent 401s share one re-login', async () => {
  const wx = fakeWx({ 'GET /memberships': [fail(401, 'a', 'a'), fail(401, 'a', 'a'), ok({ items: [] })], 'POST /auth/login': login })
  await Promise.all([listMemberships(), listMemberships()])
  expect(wx.login).toHaveBeenCalledTimes(1)
})

test('launch: the inviter code from a share card or a poster scene is sent at login; the group is reported', async () => {
  expect(launch.inviterFrom({ query: { inviter: 'AB12' } })).toBe('AB12')
  // the poster's scene is the invite code itself (GET /invites/me/qrcode: getUnlimited(scene=code))
  expect(launch.inviterFrom({ query: { scene: encodeURIComponent('CD34') } })).toBe('CD34')
  expect(launch.inviterFrom({ query: {} })).toBe('')
  const wx = fakeWx({ 'POST /auth/login': login, 'POST /groups/enter': ok({}) })
  await expect(launch.start({ query: { inviter: 'AB12' }, shareTicket: 'ticket-1' })).resolves.toBe(true)
  expect(wx.requests[0].options.data).toEqual({ code: 'wx-code', inviter: 'AB12' })
  expect(wx.storage.token).toBe('tok-2')
  expect(wx.getGroupEnterInfo.mock.calls[0][0].shareTicket).toBe('ticket-1')
  expect(wx.requests[1].options.data).toEqual({ encryptedData: 'enc', iv: 'iv' })
})

test('launch: a failed login is toasted, no inviter is sent when there is none', async () => {
  const wx = fakeWx({ 'POST /auth/login': fail(400, 'wechat_login_failed', '微信登录失败，请重试') })
  await expect(launch.start({ query: {} })).resolves.toBe(false)
  expect(wx.requests[0].options.data).toEqual({ code: 'wx-code' })
  expect(toasts(wx)).toEqual(['微信登录失败，请重试'])
})

test('the API base comes from config, with a develop-only override', () => {
  const config = require('../../miniprogram/config')
  const wx = fakeWx()
  expect(request.urlFor('getPlan', { code: 'a b' })).toBe(`${API}/plans/a%20b`)
  wx.storage.apiBase = 'http://10.0.0.2:8000/api/v1/'
  expect(config.apiBase()).toBe('http://10.0.0.2:8000/api/v1')
  wx.getAccountInfoSync = () => ({ miniProgram: { envVersion: 'release' } })
  expect(config.apiBase()).toBe(config.ENVIRONMENTS.release.apiBase)
})
