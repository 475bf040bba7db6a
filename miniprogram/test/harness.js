// Pages and components rendered by miniprogram-simulate, with a fake `wx` whose network answers
// come from per-test routes ("GET /plans" → {statusCode, data}) and whose other APIs are jest.fn.
const path = require('path')
require('./simulate-wxml')
const simulate = require('miniprogram-simulate')

// Styles play no part in what the tests check (what is shown, what is sent); compiling the library's
// WXSS (less + postcss + csso, per component, per test file) was most of the suite's time. Skipped here,
// not in simulate-wxml.js, which the gallery shares: the gallery renders with the library's styles.
const wxss = require('miniprogram-simulate/src/wxss')
const getContent = wxss.getContent
wxss.getContent = file => (file.includes(`${path.sep}miniprogram_npm${path.sep}`) ? '' : getContent(file))

const ROOT = path.join(__dirname, '..', 'miniprogram')
const API = 'http://127.0.0.1:8000/api/v1'

// The simulate compiler is plain JS (the official one is an x86-64 binary).
function load(route) {
  return simulate.load(path.join(ROOT, route), { compiler: 'simulate', rootPath: ROOT })
}

function mount(id, properties) {
  const comp = simulate.render(id, properties)
  comp.attach(document.createElement('parent-wrapper'))
  return comp
}

const ok = (data, statusCode = 200) => ({ statusCode, data })
const fail = (statusCode, code, message, details) => ({ statusCode, data: { error: { code, message, details } } })
const SCREEN = { windowWidth: 375, windowHeight: 812, screenWidth: 375, screenHeight: 812, pixelRatio: 2, statusBarHeight: 44,
  safeArea: { top: 44, bottom: 778, left: 0, right: 375, width: 375, height: 734 } }
const PENDING = Symbol('pending') // the request never answers: the page stays loading

function routeKey(options) {
  const url = options.url.startsWith(API) ? options.url.slice(API.length) : options.url
  return `${(options.method || 'GET').toUpperCase()} ${url.split('?')[0]}`
}

// routes: {"GET /plans": response | (options) => response | PENDING | [responses, one per call]}
function fakeWx(routes = {}) {
  const storage = { token: 'tok-1' }
  const requests = []
  const answer = (kind, options) => {
    const key = kind === 'uploadFile' ? `UPLOAD ${routeKey({ url: options.url, method: 'POST' }).slice(5)}` : routeKey(options)
    requests.push({ kind, key, options })
    let route = routes[key]
    if (Array.isArray(route)) route = route.length > 1 ? route.shift() : route[0]
    if (typeof route === 'function') route = route(options)
    if (route === PENDING) return
    if (!route) throw new Error(`unexpected request ${key}`)
    if (route.networkError) return options.fail({ errMsg: `${kind}:fail ${route.networkError}` })
    const response = Object.assign({}, route)
    if (kind === 'uploadFile') response.data = JSON.stringify(response.data)
    options.success(response)
  }
  const wx = {
    storage,
    requests,
    request: jest.fn(options => answer('request', options)),
    uploadFile: jest.fn(options => answer('uploadFile', options)),
    downloadFile: jest.fn(options => answer('downloadFile', options)),
    getStorageSync: jest.fn(key => (key in storage ? storage[key] : '')),
    setStorageSync: jest.fn((key, value) => { storage[key] = value }),
    getAccountInfoSync: () => ({ miniProgram: { envVersion: 'develop' } }),
    login: jest.fn(({ success }) => success({ code: 'wx-code' })),
    showToast: jest.fn(),
    showModal: jest.fn(({ success }) => success && success({ confirm: true, cancel: false })),
    showLoading: jest.fn(),
    hideLoading: jest.fn(),
    navigateTo: jest.fn(),
    redirectTo: jest.fn(),
    switchTab: jest.fn(),
    stopPullDownRefresh: jest.fn(),
    showShareMenu: jest.fn(),
    requestPayment: jest.fn(({ success }) => success({ errMsg: 'requestPayment:ok' })),
    requestMerchantTransfer: jest.fn(({ success }) => success({ errMsg: 'requestMerchantTransfer:ok' })),
    canIUse: jest.fn(() => true),
    requestSubscribeMessage: jest.fn(({ success }) => success({ errMsg: 'requestSubscribeMessage:ok' })),
    chooseMedia: jest.fn(({ success }) => success({ tempFiles: [{ tempFilePath: 'wxfile://tmp/a.jpg' }] })),
    getGroupEnterInfo: jest.fn(({ success }) => success({ encryptedData: 'enc', iv: 'iv' })),
    previewImage: jest.fn(),
    pageScrollTo: jest.fn(),
    setClipboardData: jest.fn(),
    // TDesign's notice bar scrolls by wx.createAnimation
    createAnimation: () => {
      const animation = new Proxy({}, { get: (target, name) => (name === 'export' ? () => [] : () => animation) })
      return animation
    },
    // what TDesign reads when its modules load and its components attach
    getWindowInfo: () => SCREEN, getAppBaseInfo: () => ({ SDKVersion: '2.19.1', fontSizeSetting: 16, theme: 'light' }),
    getDeviceInfo: () => ({ platform: 'devtools', system: 'iOS 17' }), getSystemInfoSync: () => SCREEN,
  }
  global.wx = wx
  return wx
}

// let pending promise chains (request → setData) run
const flush = () => new Promise(resolve => setTimeout(resolve, 0))

const text = comp => comp.dom.textContent.replace(/\s+/g, ' ')
const tap = async (comp, selector, index = 0) => {
  const nodes = comp.querySelectorAll(selector)
  if (!nodes[index]) throw new Error(`nothing to tap at ${selector}[${index}]`)
  nodes[index].dispatchEvent('tap')
  await flush()
}
// a native <input>/<textarea> fires input; TDesign's t-input/t-textarea fire change with the value
const input = async (comp, selector, value, index = 0) => {
  const node = comp.querySelectorAll(selector)[index]
  if (!node) throw new Error(`nothing to type into at ${selector}[${index}]`)
  const tag = node.dom && node.dom.tagName ? node.dom.tagName.toLowerCase() : ''
  node.dispatchEvent(tag.startsWith('t-') ? 'change' : 'input', { detail: { value } })
  await flush()
}
// the retry button of the page's <state-view id="state">
const retry = async comp => {
  comp.querySelector('#state').querySelector('.state-retry').dispatchEvent('tap')
  await flush()
}
// the empty state's action button of the page's <state-view id="state">
const emptyAction = async comp => {
  comp.querySelector('#state').querySelector('.state-action').dispatchEvent('tap')
  await flush()
}
// a TDesign component's own event, as it would emit it (t-cell: click; t-input/t-textarea: change)
const emit = async (comp, selector, name, detail = {}, index = 0) => {
  const nodes = comp.querySelectorAll(selector)
  if (!nodes[index]) throw new Error(`nothing at ${selector}[${index}]`)
  nodes[index].dispatchEvent(name, { detail })
  await flush()
}
const toasts = wx => wx.showToast.mock.calls.map(([options]) => options.title)

global.getApp = global.getApp || (() => ({ globalData: {} }))
fakeWx() // TDesign's modules read wx when they load, before a test sets its own

module.exports = { load, mount, fakeWx, ok, fail, PENDING, flush, text, tap, input, retry, emptyAction, emit, toasts, API }
