// Mounts one gallery scene with miniprogram-simulate (in jsdom, one module registry per scene) and
// returns what the browser needs: the page's DOM as HTML (with the attributes j-component keeps off it
// put back), its CSS (app, page and component WXSS), and the navigation/tab bar facts from app.json.
const fs = require('fs')
const path = require('path')
const { rpxToPx, selectors, inline } = require('./wxss')
const canvas = require('./canvas')

const MP_DIR = path.join(__dirname, '..', '..')
const ROOT = path.join(MP_DIR, 'miniprogram')
const APP = JSON.parse(fs.readFileSync(path.join(ROOT, 'app.json'), 'utf8'))

// attributes of built-in components that only j-component's virtual tree keeps
const KEPT_ATTRS = ['type', 'size', 'placeholder', 'value', 'disabled', 'checked', 'src', 'mode', 'plain', 'loading',
  'percent', 'password', 'style', 'color', 'active-color', 'show-info']

// the gallery's clock: pages that compare with "now" (publicity ends, observation left) look the same every run
const NOW = Date.parse('2026-04-05T02:00:00Z')
const RealDate = Date
class GalleryDate extends RealDate {
  constructor(...args) {
    if (args.length) super(...args)
    else super(NOW)
  }

  static now() { return NOW }
}

let simulate = null
const pageCss = new Map()
const missingComponents = new Set()

const exists = file => fs.existsSync(file)

// WeChat's lookup for a usingComponents path: relative to the file, else miniprogram_npm in this or any
// parent directory up to the root ("构建 npm" output); absolute paths are from the root.
function resolveComponent(fromDir, value) {
  if (/^plugin:/.test(value)) return value
  if (value.startsWith('/')) return value
  if (exists(path.join(fromDir, `${value}.json`))) return value
  if (!value.startsWith('.')) {
    for (let dir = fromDir; dir.startsWith(ROOT); dir = path.dirname(dir)) {
      for (const candidate of [value, `${value}/index`]) {
        const file = path.join(dir, 'miniprogram_npm', candidate)
        if (exists(`${file}.json`)) return `/${path.relative(ROOT, file).split(path.sep).join('/')}`
      }
      if (dir === ROOT) break
    }
  }
  missingComponents.add(`${path.relative(ROOT, fromDir)}: ${value}`)
  return value
}

function resolveUsing(file, using) {
  const resolved = {}
  const globals = file === path.join(ROOT, 'app.json') ? {} : (APP.usingComponents || {})
  Object.keys(globals).forEach(key => { resolved[key] = resolveComponent(ROOT, globals[key]) })
  Object.keys(using || {}).forEach(key => { resolved[key] = resolveComponent(path.dirname(file), using[key]) })
  return resolved
}

// What WeChat DevTools does that Node does not: ES modules compiled to CommonJS ("es6": true; TDesign ships
// ES modules), and a bare module name resolved in miniprogram_npm. Both only for the mini-program's files.
function moduleHooks() {
  const Module = require('module')
  const compileJs = Module._extensions['.js']
  const compiled = new Map() // a module loads again for every page: its CommonJS is made once
  Module._extensions['.js'] = (module, file) => {
    if (!file.startsWith(ROOT + path.sep)) return compileJs(module, file)
    if (!compiled.has(file)) {
      const source = fs.readFileSync(file, 'utf8')
      compiled.set(file, /(^|[;}\s])(import|export)\s*[\w{*"']/m.test(source)
        ? require('@babel/core').transformSync(source, { filename: file, babelrc: false, configFile: false,
          sourceType: 'unambiguous', plugins: [require.resolve('@babel/plugin-transform-modules-commonjs')] }).code
        : null)
    }
    const code = compiled.get(file)
    return code === null ? compileJs(module, file) : module._compile(code, file)
  }
  const resolve = Module._resolveFilename
  Module._resolveFilename = function resolveInMiniprogramNpm(request, parent, ...rest) {
    try {
      return resolve.call(this, request, parent, ...rest)
    } catch (err) {
      if (!parent || !parent.filename || !parent.filename.startsWith(ROOT) || /^[./]/.test(request)) throw err
      for (let dir = path.dirname(parent.filename); dir.startsWith(ROOT); dir = path.dirname(dir)) {
        const candidate = path.join(dir, 'miniprogram_npm', request)
        for (const file of [candidate, `${candidate}.js`, path.join(candidate, 'index.js')]) {
          if (exists(file) && fs.statSync(file).isFile()) return file
        }
      }
      throw err
    }
  }
}

// The WXML the page tests' harness supplies to miniprogram-simulate (wxs modules, TDesign's icon
// template), when the project has it: the gallery renders what the page tests render.
const SIMULATE_WXML = path.join(MP_DIR, 'test', 'simulate-wxml.js')

// TDesign's badge template called with a spread (<template is="badge" data="{{ ...props, content: …, tClass: … }}"/>,
// in t-tabs and t-side-bar-item): simulate cannot evaluate the spread, so the <t-badge> the template stands
// for is written in its place
const BADGE_TEMPLATE = /<template\s+is="badge"\s+data="\{\{\s*\.\.\.\s*([\w$.]+)\s*,\s*content:\s*([^,}]+?)\s*(?:,\s*tClass:\s*(.+?))?\s*\}\}"\s*\/>/g
function inlineBadgeTemplate(wxml) {
  if (!BADGE_TEMPLATE.test(wxml)) return wxml
  BADGE_TEMPLATE.lastIndex = 0
  return wxml.replace(/<import\s+src="[^"]*template\/badge(?:\.wxml)?"\s*\/>/g, '')
    .replace(BADGE_TEMPLATE, (whole, props, content, tClass) => `<t-badge color="{{${props}.color || ''}}" `
      + `content="{{${content} || ''}}" count="{{${props}.count || 0}}" dot="{{${props}.dot || false}}" `
      + `max-count="{{${props}.maxCount || 99}}" offset="{{${props}.offset || []}}" shape="{{${props}.shape || 'circle'}}" `
      + `show-zero="{{${props}.showZero || false}}" size="{{${props}.size || 'medium'}}"${tClass ? ` t-class="{{${tClass}}}"` : ''}/>`)
}

// WeChat: on a component with a virtual host (TDesign's), the class written on its tag is not the host's (there
// is none) but the external class named "class" (TDesign declares it and puts it on its root view), so
// <t-button class="button-block"> gets the page's margin. j-component sets it on the missing host only: here it
// becomes the external class too, as in WeChat.
function virtualHostClass() {
  const exparser = require('miniprogram-exparser')
  const proto = exparser.Component.prototype
  let owner = proto
  while (owner && !Object.getOwnPropertyDescriptor(owner, 'class')) owner = Object.getPrototypeOf(owner)
  const hostClass = Object.getOwnPropertyDescriptor(owner, 'class')
  Object.defineProperty(proto, 'class', {
    configurable: true,
    get() { return hostClass.get.call(this) },
    set(value) {
      hostClass.set.call(this, value) // still the node's class for selectors (act()'s taps find it by it)
      if (!this.$$ && this.hasExternalClass('class')) this.setExternalClass('class', value)
    },
  })
}

function setup() {
  if (simulate) return simulate
  moduleHooks()
  if (exists(SIMULATE_WXML)) require(SIMULATE_WXML)
  const { JSDOM } = require('jsdom')
  const dom = new JSDOM('<!doctype html><html><head></head><body></body></html>', { pretendToBeVisual: true })
  global.window = dom.window
  global.document = dom.window.document
  // jsdom's own classes (Node's global Event is not one jsdom's dispatchEvent accepts)
  for (const key of ['Node', 'Element', 'HTMLElement', 'Event', 'CustomEvent', 'getComputedStyle',
    'requestAnimationFrame', 'cancelAnimationFrame', 'MutationObserver']) global[key] = dom.window[key]
  if (!global.navigator) global.navigator = dom.window.navigator
  // rpx at 375 px wide, in stylesheets and in style attributes
  require('miniprogram-simulate/src/utils').transformRpx = rpxToPx
  require('j-component/src/tool/utils').transformRpx = rpxToPx
  const utils = require('miniprogram-simulate/src/utils')
  // object shorthand and a lone spread in a template expression ({{f({a,b})}}, {{f({ ...x })}}, as TDesign's
  // badge and tabs have) are beyond simulate's expression parser: written out, and as the object itself
  const readFile = utils.readFile
  utils.readFile = file => {
    const content = readFile(file)
    if (typeof content !== 'string' || !file.endsWith('.wxml')) return content
    return inlineBadgeTemplate(content).replace(/\(\{\s*([A-Za-z_$][\w$]*(?:\s*,\s*[A-Za-z_$][\w$]*)*)\s*\}\)/g,
      (whole, names) => `({${names.split(',').map(n => `${n.trim()}: ${n.trim()}`).join(', ')}})`)
      .replace(/\(\{\s*\.\.\.\s*([A-Za-z_$][\w$.]*)\s*\}\)/g, '($1)')
  }
  const readJson = utils.readJson
  utils.readJson = file => {
    const json = readJson(file)
    if (json && file.startsWith(ROOT)) json.usingComponents = resolveUsing(file, json.usingComponents)
    return json
  }
  const wxss = require('miniprogram-simulate/src/wxss')
  const compile = wxss.compile
  const stylesheets = new Map() // the same component's WXSS on every page: compiled once
  wxss.compile = (text, options = {}) => {
    const key = `${options.prefix || 'main'}\0${text || ''}`
    if (!stylesheets.has(key)) stylesheets.set(key, compile(selectors(text || '', options.prefix || 'main'), options))
    return stylesheets.get(key)
  }
  // the page's CSS is kept for the browser, not parsed by jsdom
  wxss.insert = (list, id) => { pageCss.set(id, rpxToPx([].concat(list).join(''))) }
  simulate = require('miniprogram-simulate')
  simulate.compileWxss = wxss.compile
  virtualHostClass()
  canvas.patchSelectorQuery()
  return simulate
}

const flush = () => new Promise(resolve => setImmediate(resolve))
const settle = async () => { for (let i = 0; i < 5; i += 1) await flush() } // eslint-disable-line no-await-in-loop

// wx for one scene: answers from scene.responses, storage from scene.storage, everything else recorded
function fakeWx(scene, problems) {
  const storage = Object.assign({}, scene.storage || {})
  const routes = {}
  Object.keys(scene.responses || {}).forEach(key => {
    const value = scene.responses[key]
    routes[key] = Array.isArray(value) ? value.slice() : value
  })
  const pending = new Set(scene.pending || [])
  const calls = []
  const requests = []
  const keyOf = (kind, options) => {
    const url = String(options.url || '').replace(/^[a-z]+:\/\/[^/]*/i, '').split('?')[0]
    const method = kind === 'request' ? (options.method || 'GET').toUpperCase() : kind === 'uploadFile' ? 'POST' : 'GET'
    return `${method} ${url}`
  }
  const answer = (kind, options) => {
    const key = keyOf(kind, options)
    requests.push(key)
    if (pending.has(key)) return undefined
    let route = routes[key] || (kind === 'uploadFile' ? routes[`UPLOAD ${key.slice(5)}`] : undefined)
    if (Array.isArray(route)) route = route.length > 1 ? route.shift() : route[0]
    if (typeof route === 'function') route = route(options)
    if (!route) {
      problems.push(`unexpected request ${key}`)
      if (options.fail) options.fail({ errMsg: `${kind}:fail no answer in the scene` })
      if (options.complete) options.complete({})
      return undefined
    }
    if (route.networkError) {
      if (options.fail) options.fail({ errMsg: `${kind}:fail ${route.networkError}` })
    } else {
      const response = Object.assign({ header: {} }, route)
      if (kind === 'uploadFile' && typeof response.data !== 'string') response.data = JSON.stringify(response.data)
      if (kind === 'downloadFile') response.tempFilePath = response.tempFilePath || 'wxfile://tmp/download'
      if (options.success) options.success(response)
    }
    if (options.complete) options.complete({})
    return { abort() {}, onProgressUpdate() {} }
  }
  const record = name => options => {
    calls.push({ name, options })
    const result = { errMsg: `${name}:ok` }
    if (name === 'showModal') Object.assign(result, { confirm: true, cancel: false })
    if (name === 'login') result.code = 'gallery-code'
    if (name === 'chooseMedia') result.tempFiles = [{ tempFilePath: 'wxfile://tmp/a.jpg', size: 120000 }]
    if (name === 'getSetting') result.authSetting = {}
    if (name === 'canvasToTempFilePath') result.tempFilePath = canvas.tempFilePath(options)
    if (options && typeof options.success === 'function') options.success(result)
    if (options && typeof options.complete === 'function') options.complete(result)
    return name.startsWith('get') || name.startsWith('create') ? undefined : Promise.resolve(result)
  }
  const windowInfo = {
    pixelRatio: 2, screenWidth: 375, screenHeight: 812, windowWidth: 375, windowHeight: 812 - 88, statusBarHeight: 44,
    safeArea: { left: 0, right: 375, top: 44, bottom: 778, width: 375, height: 734 }, screenTop: 88,
  }
  const own = {
    calls,
    requests,
    storage,
    request: options => answer('request', options),
    uploadFile: options => answer('uploadFile', options),
    downloadFile: options => answer('downloadFile', options),
    getStorageSync: key => (key in storage ? storage[key] : ''),
    setStorageSync: (key, value) => { storage[key] = value },
    removeStorageSync: key => { delete storage[key] },
    getAccountInfoSync: () => ({ miniProgram: { envVersion: 'develop', appId: 'wx-gallery', version: '' } }),
    getSystemInfoSync: () => Object.assign({ platform: 'ios', system: 'iOS 17', brand: 'iPhone', model: 'iPhone X',
      version: '8.0.50', SDKVersion: '3.5.0', language: 'zh_CN', theme: 'light', fontSizeSetting: 16 }, windowInfo),
    getWindowInfo: () => windowInfo,
    getDeviceInfo: () => ({ platform: 'ios', system: 'iOS 17', brand: 'iPhone', model: 'iPhone X', pixelRatio: 2 }),
    getAppBaseInfo: () => ({ SDKVersion: '3.5.0', language: 'zh_CN', theme: 'light', fontSizeSetting: 16, version: '8.0.50' }),
    getMenuButtonBoundingClientRect: () => ({ top: 48, bottom: 80, left: 281, right: 368, width: 87, height: 32 }),
  }
  const api = require('miniprogram-simulate/src/api')
  const recorded = new Set(['showToast', 'hideToast', 'showLoading', 'hideLoading', 'showModal', 'navigateTo', 'redirectTo',
    'switchTab', 'reLaunch', 'navigateBack', 'stopPullDownRefresh', 'startPullDownRefresh', 'showShareMenu', 'previewImage',
    'login', 'requestPayment', 'requestSubscribeMessage', 'chooseMedia', 'chooseImage', 'getGroupEnterInfo', 'getSetting',
    'authorize', 'openSetting', 'saveImageToPhotosAlbum', 'setClipboardData', 'vibrateShort', 'showActionSheet',
    'setNavigationBarTitle', 'pageScrollTo', 'canvasToTempFilePath'])
  return new Proxy(own, {
    get(target, name) {
      if (name in target) return target[name]
      if (typeof name !== 'string') return undefined
      if (recorded.has(name) || !(name in api)) return record(name)
      return api[name]
    },
  })
}

function pageJson(route) {
  const file = path.join(ROOT, `${route}.json`)
  return exists(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {}
}

// what the bars show for this page (window settings from app.json, overridden by the page's json)
function chrome(route, wx) {
  const json = Object.assign({}, APP.window || {}, pageJson(route))
  const titles = wx.calls.filter(c => c.name === 'setNavigationBarTitle')
  const tabBar = APP.tabBar && APP.tabBar.list.some(item => item.pagePath === route) ? APP.tabBar : null
  return {
    title: titles.length ? titles[titles.length - 1].options.title : json.navigationBarTitleText || '',
    custom: json.navigationStyle === 'custom',
    navBackground: json.navigationBarBackgroundColor || '#ffffff',
    navText: json.navigationBarTextStyle === 'white' ? '#ffffff' : '#000000',
    background: json.backgroundColor || '',
    tabBar: tabBar && {
      color: tabBar.color, selectedColor: tabBar.selectedColor, backgroundColor: tabBar.backgroundColor,
      borderStyle: tabBar.borderStyle,
      list: tabBar.list.map(item => ({ text: item.text, selected: item.pagePath === route,
        icon: iconData(item.pagePath === route ? item.selectedIconPath || item.iconPath : item.iconPath) })),
    },
    home: !!tabBar || route === APP.pages[0],
  }
}

function iconData(iconPath) {
  if (!iconPath) return null
  const file = path.join(ROOT, iconPath)
  if (!exists(file)) return null
  const type = /\.svg$/.test(file) ? 'svg+xml' : /\.jpe?g$/.test(file) ? 'jpeg' : 'png'
  return `data:image/${type};base64,${fs.readFileSync(file).toString('base64')}`
}

// put back what j-component keeps off the DOM (built-in components' attributes), local images as data URIs
function restoreAttributes(root) {
  const nodes = [root, ...root.querySelectorAll('*')]
  for (const node of nodes) {
    const element = node.__wxElement
    const attrs = element && element._vt && element._vt.attrs
    if (!attrs || !node.tagName.toLowerCase().startsWith('wx-')) continue
    for (const { name, value } of attrs) {
      if (!KEPT_ATTRS.includes(name) || value === false || value === undefined || value === null) continue
      let text = value === true ? '' : String(value)
      if (name === 'style') text = rpxToPx(text)
      if (name === 'src' && text.startsWith('/') && exists(path.join(ROOT, text))) text = iconData(text)
      node.setAttribute(name, text)
    }
  }
}

// the page's own modules (pages, components, api, utils); the npm packages stay loaded, as in WeChat,
// where one JS context serves every page
function clearRegistry() {
  const npm = path.join(ROOT, 'miniprogram_npm') + path.sep
  Object.keys(require.cache).forEach(key => {
    if (key.startsWith(ROOT + path.sep) && !key.startsWith(npm)) delete require.cache[key]
  })
}

let appCss = null
function appStyles() {
  if (appCss === null) appCss = rpxToPx(simulate.compileWxss(inline(path.join(ROOT, 'app.wxss'), ROOT), { prefix: 'main' }))
  return appCss
}

// one module registry per page: the page's modules load fresh when the gallery moves on to another page
const loaded = { route: null, id: null, missing: [] }
function loadPage(route) {
  if (loaded.route !== route) {
    missingComponents.clear()
    clearRegistry()
    loaded.id = simulate.load(path.join(ROOT, route), { compiler: 'simulate', rootPath: ROOT })
    loaded.route = route
    loaded.missing = [...missingComponents]
  }
  return loaded.id
}

async function mountScene(scene) {
  setup()
  const problems = []
  const wx = fakeWx(scene, problems)
  global.wx = wx
  global.getApp = () => ({ globalData: { loggedIn: Promise.resolve(true) } })
  global.getCurrentPages = () => []
  pageCss.clear()
  canvas.reset()
  let comp
  global.Date = GalleryDate
  // j-component reports an event it could not dispatch and a failed render on console.error, not by throwing
  const consoleError = console.error
  console.error = (...args) => problems.push(`console.error: ${args.map(a => (a && a.stack ? a.stack.split('\n').slice(0, 2).join(' | ') : String(a))).join(' ')}`)
  try {
    comp = simulate.render(loadPage(scene.page))
    const parent = document.createElement('parent-wrapper')
    document.body.appendChild(parent)
    comp.attach(parent)
    const page = comp.instance
    // a lifecycle method waiting on a pending request never resolves: give each a few turns, not forever
    if (typeof page.onLoad === 'function') await Promise.race([page.onLoad(Object.assign({}, scene.query || {})), settle()])
    if (typeof page.onShow === 'function') await Promise.race([page.onShow(), settle()])
    if (typeof page.onReady === 'function') await Promise.race([page.onReady(), settle()])
    await settle()
    if (scene.act) {
      let timer
      await Promise.race([scene.act(comp, tools(comp, wx)), new Promise((resolve, reject) => {
        timer = setTimeout(() => reject(new Error('act() did not finish within 10 s')), 10000)
      })]).finally(() => clearTimeout(timer))
      await settle()
    }
  } catch (err) {
    problems.push(`${err && err.stack ? err.stack.split('\n').slice(0, 3).join(' | ') : err}`)
  } finally {
    global.Date = RealDate
    console.error = consoleError
  }
  loaded.missing.forEach(entry => problems.push(`usingComponents path not found: ${entry}`))
  let html = ''
  if (comp && comp.dom) {
    restoreAttributes(comp.dom)
    canvas.serialise(comp.dom)
    html = comp.dom.outerHTML
  }
  const css = [...pageCss.values()].join('\n')
  document.body.innerHTML = ''
  const toasts = wx.calls.filter(c => c.name === 'showToast' || c.name === 'hideToast')
  const toast = toasts.length && toasts[toasts.length - 1].name === 'showToast' ? toasts[toasts.length - 1].options : null
  return { html, css: `${appStyles()}\n${css}`, chrome: chrome(scene.page, wx), problems, requests: wx.requests,
    toast: toast && { title: toast.title, icon: toast.icon || 'success' } }
}

// what a scene's act() gets besides the mounted page (the moves of test/harness.js)
function tools(comp, wx) {
  const exparser = require('miniprogram-exparser')
  const nodes = (selector, index) => {
    const found = comp.querySelectorAll(selector)
    if (!found[index]) throw new Error(`nothing at ${selector}[${index}]`)
    return found[index]
  }
  // a component with a virtual host (TDesign's, virtualHost: true) has no DOM node of its own for
  // j-component to dispatch on: the event goes to its exparser node, where the page's bind: handlers are
  const dispatch = async (node, name, detail = {}) => {
    if (node.dom) node.dispatchEvent(name, { detail })
    else {
      exparser.Event.dispatchEvent(node._exparserNode, exparser.Event.create(name, detail, {
        bubbles: true, composed: true, capturePhase: true, extraFields: { touches: {}, changedTouches: {} } }))
    }
    await settle()
  }
  const tagOf = node => (node.dom ? node.dom.tagName.toLowerCase()
    : require('j-component/src/tool/utils').getTagName(node._exparserNode.is) || '')
  const isLibrary = node => /^t-/.test(tagOf(node))
  return {
    wx,
    flush: settle,
    has: selector => comp.querySelectorAll(selector).length > 0,
    tap: (selector, index = 0) => dispatch(nodes(selector, index), 'tap'),
    // a native <input>/<textarea> fires input; TDesign's t-input/t-textarea fire change with the value
    input: (selector, value, index = 0) => {
      const node = nodes(selector, index)
      return dispatch(node, isLibrary(node) ? 'change' : 'input', { value })
    },
    change: (selector, detail, index = 0) => dispatch(nodes(selector, index), 'change', detail),
    event: (selector, name, detail = {}, index = 0) => dispatch(nodes(selector, index), name, detail),
    async call(method, ...args) { await comp.instance[method](...args); await settle() },
  }
}

module.exports = { mountScene, ROOT, APP, MP_DIR, NOW }
