// What miniprogram-simulate's plain-JS compiler (j-component) lacks and TDesign's templates use,
// supplied when a .wxml file is read (the source files are not changed):
//   <wxs src="x.wxs" module="m"/>  → an inline <wxs module="m"> whose module is x.wxs run by Node
//                                    (its require('y.wxs') too), with WXS's getRegExp/getDate;
//   <import src="…/icon.wxml"/> + <template is="icon" data="{{tClass: …, ...icon}}"/>
//                                  → the <t-icon> the template stands for, inline.
// Used by test/harness.js and by the gallery (gallery/lib/mount.js); nothing here decides a test outcome.
const fs = require('fs')
const path = require('path')
const utils = require('miniprogram-simulate/src/utils')

const modules = {}

function runWxs(file) {
  if (modules[file]) return modules[file].exports
  const module = { exports: {} }
  modules[file] = module
  // WXS's x.constructor is a string ('Array', 'Object', …)
  const source = fs.readFileSync(file, 'utf8').replace(/([\w$.[\]]+)\.constructor\b/g, '__constructorName($1)')
  const requireWxs = name => runWxs(path.resolve(path.dirname(file), name))
  const getRegExp = (pattern, flags) => new RegExp(pattern, flags)
  const getDate = (...args) => new Date(...args)
  const constructorName = value => (value == null ? undefined : Object.prototype.toString.call(value).slice(8, -1))
  // eslint-disable-next-line no-new-func
  new Function('require', 'module', 'exports', 'getRegExp', 'getDate', '__constructorName', source)(
    requireWxs, module, module.exports, getRegExp, getDate, constructorName)
  return module.exports
}
global.__simulateWxs = runWxs

const ICON_TEMPLATE = /<template\s+(?:wx:if="([^"]*)"\s+)?is="icon"\s+data="\{\{\s*tClass:\s*([^,]+),\s*\.\.\.\s*(\w+)\s*\}\}"\s*\/>/g

function rewrite(wxml, file) {
  return wxml
    .replace(/<wxs\s+src="([^"]+)"\s+module="(\w+)"\s*\/>/g, (whole, src, name) => {
      const abs = JSON.stringify(path.resolve(path.dirname(file), src))
      return `<wxs module="${name}">module.exports = __simulateWxs(${abs})</wxs>`
    })
    .replace(/<import\s+src="[^"]*template\/icon\.wxml"\s*\/>/g, '')
    .replace(ICON_TEMPLATE, (whole, cond, tClass, icon) => `<t-icon${cond ? ` wx:if="${cond}"` : ''} t-class="{{${tClass}}}" `
      + `name="{{${icon}.name}}" size="{{${icon}.size}}" color="{{${icon}.color}}" prefix="{{${icon}.prefix}}"/>`)
}

const readFile = utils.readFile
utils.readFile = file => {
  const content = readFile(file)
  return typeof content === 'string' && file.endsWith('.wxml') ? rewrite(content, file) : content
}

module.exports = { rewrite, runWxs }
