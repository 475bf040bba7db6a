// <canvas type="2d"> for the gallery: the node a page gets from createSelectorQuery().fields({ node: true })
// records what is drawn on it, and the browser replays the record onto a real canvas (lib/shell.js), so
// charts and posters drawn by the pages show in the pictures.
const DEFAULT_WIDTH = 343 // jsdom has no layout: a canvas without a width in its style is taken as a card's width

function styleSize(element) {
  const style = element.getAttribute('style') || ''
  const px = name => {
    const match = new RegExp(`(?:^|;)\\s*${name}\\s*:\\s*([\\d.]+)px`).exec(style)
    return match ? parseFloat(match[1]) : null
  }
  return { width: px('width') || DEFAULT_WIDTH, height: px('height') || 150 }
}

// width of text in the context's font: CJK characters a full em, others about half
function measure(text, font) {
  const size = parseFloat((/([\d.]+)px/.exec(font || '') || [0, 10])[1])
  return [...String(text)].reduce((sum, ch) => sum + (/[\u2e80-\uffff]/.test(ch) ? size : size * 0.55), 0)
}

let canvases = 0
// the canvases of the scene being mounted (the element a query found may be another wrapper of the one
// serialised: they are matched by class, in order)
let drawn = []
const reset = () => { drawn = [] }

function recordingCanvas(element) {
  if (element.__galleryCanvas) return element.__galleryCanvas
  const size = styleSize(element)
  const ops = []
  let objects = 0
  const state = { font: '10px sans-serif' }
  const reference = value => (value && value.__galleryRef !== undefined ? { ref: value.__galleryRef } : value)
  const context = new Proxy(state, {
    get(target, name) {
      if (name === 'canvas') return canvas
      if (name === 'measureText') return text => ({ width: measure(text, target.font) })
      if (['createLinearGradient', 'createRadialGradient', 'createPattern'].includes(name)) {
        return (...args) => {
          const id = objects += 1
          ops.push(['make', id, name, args.map(reference)])
          return { __galleryRef: id, addColorStop: (...stop) => ops.push(['stop', id, stop]) }
        }
      }
      if (name in target) return target[name]
      if (typeof name !== 'string') return undefined
      return (...args) => { ops.push(['call', name, args.map(reference)]) }
    },
    set(target, name, value) {
      target[name] = value
      ops.push(['set', name, reference(value)])
      return true
    },
  })
  const canvas = {
    _id: canvases += 1,
    width: size.width,
    height: size.height,
    _size: size,
    _ops: ops,
    getContext: () => context,
    createImage() {
      const image = { __galleryRef: objects += 1, onload: null, onerror: null, width: 100, height: 100 }
      let src = ''
      Object.defineProperty(image, 'src', {
        get: () => src,
        set(value) {
          src = value
          ops.push(['image', image.__galleryRef, value])
          setImmediate(() => { if (typeof image.onload === 'function') image.onload() })
        },
      })
      return image
    },
    requestAnimationFrame: callback => setImmediate(() => callback(Date.now())),
    cancelAnimationFrame() {},
  }
  element.__galleryCanvas = canvas
  drawn.push({ className: element.className, canvas })
  return canvas
}

// createSelectorQuery().select(…).fields({ node: true, size: true }) → the recording canvas and its size
function patchSelectorQuery() {
  const SelectorQuery = require('j-component/src/tool/selectorquery')
  const push = SelectorQuery.prototype._push
  SelectorQuery.prototype._push = function pushWithNode(selector, exparserNode, isSelectSingle, fields, callback) {
    if (!fields || !fields.node || !exparserNode) return push.call(this, selector, exparserNode, isSelectSingle, fields, callback)
    const withNode = item => {
      if (!item) return item
      const found = Array.from(exparserNode.shadowRoot.querySelectorAll(selector))
      const element = found.find(node => node.$$ && node.$$.tagName.toLowerCase() === 'wx-canvas')
      if (!element) return item
      const canvas = recordingCanvas(element.$$)
      return Object.assign(item, { node: canvas }, fields.size ? canvas._size : {})
    }
    return push.call(this, selector, exparserNode, isSelectSingle, fields, result => {
      const answer = Array.isArray(result) ? result.map(withNode) : withNode(result)
      if (typeof callback === 'function') callback(answer)
    })
  }
}

// before the DOM is serialised: each drawn canvas carries its record
function serialise(root) {
  const unused = drawn.slice()
  root.querySelectorAll('wx-canvas').forEach(element => {
    const at = unused.findIndex(d => d.className === element.className)
    const canvas = element.__galleryCanvas || (at >= 0 ? unused.splice(at, 1)[0].canvas : null)
    if (canvas && canvas._ops.length) {
      element.setAttribute('data-g-canvas', JSON.stringify({ id: canvas._id, width: canvas.width, height: canvas.height, ops: canvas._ops }))
    }
  })
}

// wx.canvasToTempFilePath({ canvas }): a path the browser turns into the replayed canvas's picture
const tempFilePath = options => (options && options.canvas && options.canvas._id
  ? `gallery-canvas:${options.canvas._id}` : 'wxfile://tmp/canvas.png')

module.exports = { recordingCanvas, patchSelectorQuery, serialise, measure, tempFilePath, reset }
