// The only place that talks HTTP. wx.request "succeeds" on every HTTP status, so success is
// decided here from statusCode; failures become ApiError with the API's own message
// ({"error": {"code", "message", "details"}}) and, unless {silent: true}, a toast.
// A 401 triggers one silent re-login (wx.login → POST /auth/login) and one retry.
const config = require('../config')
const endpoints = require('./endpoints')

const TOKEN_KEY = 'token'
const USER_KEY = 'user'
const INVITER_KEY = 'inviter'
const TIMEOUT_MS = 15000

class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.details = details || {}
  }
}

const NETWORK_MESSAGE = '网络不给力，请稍后再试'

function fillPath(path, params = {}) {
  return path.replace(/\{(\w+)\}/g, (whole, name) => {
    const value = params[name]
    if (value === undefined || value === null || value === '') throw new Error(`missing path parameter ${name} for ${path}`)
    return encodeURIComponent(String(value))
  })
}

function queryString(query) {
  const pairs = Object.keys(query || {})
    .filter(key => query[key] !== undefined && query[key] !== null)
    .map(key => `${encodeURIComponent(key)}=${encodeURIComponent(String(query[key]))}`)
  return pairs.length ? `?${pairs.join('&')}` : ''
}

function urlFor(name, params, query) {
  const endpoint = endpoints[name]
  if (!endpoint) throw new Error(`unknown endpoint ${name}`)
  return config.apiBase() + fillPath(endpoint.path, params) + queryString(query)
}

function parseBody(data) {
  if (typeof data !== 'string') return data
  try {
    return JSON.parse(data)
  } catch (err) {
    return data
  }
}

function errorFrom(response) {
  const body = parseBody(response.data)
  const error = body && typeof body === 'object' ? body.error : null
  if (error && error.code) {
    return new ApiError(response.statusCode, error.code, error.message || '请求失败', error.details)
  }
  if (response.statusCode >= 500) return new ApiError(response.statusCode, 'server_error', `服务暂时不可用（${response.statusCode}），请稍后再试`)
  return new ApiError(response.statusCode, `http_${response.statusCode}`, `请求失败（${response.statusCode}）`)
}

function showError(error) {
  wx.showToast({ title: (error && error.message) || '请求失败', icon: 'none', duration: 3000 })
}

// wx.request / wx.uploadFile / wx.downloadFile as a promise of {statusCode, data|tempFilePath};
// a network failure (no HTTP answer at all) rejects with an ApiError of status 0.
function transport(kind, options) {
  return new Promise((resolve, reject) => {
    wx[kind](Object.assign({}, options, {
      timeout: TIMEOUT_MS,
      success: resolve,
      fail: res => reject(new ApiError(0, 'network_error', NETWORK_MESSAGE, { errMsg: res && res.errMsg })),
    }))
  })
}

function wxLogin() {
  return new Promise((resolve, reject) => {
    wx.login({
      success: res => (res.code ? resolve(res.code) : reject(new ApiError(0, 'wx_login_failed', '微信登录失败，请重试'))),
      fail: () => reject(new ApiError(0, 'wx_login_failed', '微信登录失败，请重试')),
    })
  })
}

// wx.login → POST /auth/login (with the inviter code we were opened with, if any) → token stored.
async function login() {
  const code = await wxLogin()
  const data = { code }
  const inviter = wx.getStorageSync(INVITER_KEY)
  if (inviter) data.inviter = inviter
  const response = await transport('request', {
    url: urlFor('login'), method: endpoints.login.method, data, header: { 'content-type': 'application/json' },
  })
  if (response.statusCode !== 200) throw errorFrom(response)
  wx.setStorageSync(TOKEN_KEY, response.data.token)
  wx.setStorageSync(USER_KEY, response.data.user)
  return response.data
}

let loginInFlight = null
// Concurrent 401s share one re-login.
function relogin() {
  if (!loginInFlight) {
    loginInFlight = login().then(
      result => { loginInFlight = null; return result },
      error => { loginInFlight = null; throw error },
    )
  }
  return loginInFlight
}

function authHeader(extra) {
  const token = wx.getStorageSync(TOKEN_KEY)
  return Object.assign({}, extra, token ? { Authorization: `Bearer ${token}` } : {})
}

async function withAuth(send, options) {
  try {
    let response = await send(authHeader())
    if (response.statusCode === 401) {
      await relogin()
      response = await send(authHeader())
    }
    if (response.statusCode >= 200 && response.statusCode < 300) return response
    throw errorFrom(response)
  } catch (error) {
    if (!options.silent) showError(error)
    throw error
  }
}

// call('getMembership', {params: {id: 3}}) → the parsed JSON body of a 2xx answer.
async function call(name, options = {}) {
  const endpoint = endpoints[name]
  const url = urlFor(name, options.params, options.query)
  const response = await withAuth(header => transport('request', {
    url, method: endpoint.method, data: options.data, header: Object.assign({ 'content-type': 'application/json' }, header),
  }), options)
  return parseBody(response.data)
}

// multipart upload of one local file (field `file`) with form fields.
async function upload(name, options) {
  const url = urlFor(name, options.params)
  const response = await withAuth(header => transport('uploadFile', {
    url, filePath: options.filePath, name: 'file', formData: options.formData || {}, header,
  }), options)
  return parseBody(response.data)
}

// a binary answer (an image) saved to a temporary file: resolves with its path.
async function download(name, options = {}) {
  const url = urlFor(name, options.params, options.query)
  const response = await withAuth(header => transport('downloadFile', { url, header }), options)
  return response.tempFilePath
}

module.exports = {
  ApiError, call, upload, download, login, relogin, showError, urlFor,
  TOKEN_KEY, USER_KEY, INVITER_KEY,
}
