// WXSS → CSS for the gallery: 1rpx = 0.5px (750rpx = 375px), `page` → the page's root box ([gallery-page]), `:host` → the
// component's host tag, built-in tags → the wx-* elements miniprogram-simulate renders.
const fs = require('fs')
const path = require('path')

const RPX = 375 / 750

function rpxToPx(text) {
  return String(text).replace(/(-?\d*\.?\d+)rpx/gi, (whole, number) => `${+(parseFloat(number) * RPX).toFixed(3)}px`)
}

const BUILTIN_TAGS = ['cover-image', 'cover-view', 'movable-area', 'movable-view', 'scroll-view', 'swiper-item', 'swiper',
  'view', 'icon', 'progress', 'rich-text', 'text', 'button', 'checkbox-group', 'checkbox', 'editor', 'form', 'input',
  'label', 'picker-view-column', 'picker-view', 'picker', 'radio-group', 'radio', 'slider', 'switch', 'textarea',
  'navigator', 'image', 'video', 'canvas', 'web-view', 'map', 'open-data']
const TAG_RE = new RegExp(`(^|[\\s>+~(,])(${BUILTIN_TAGS.join('|')})(?![-\\w])`, 'g')
const PAGE_RE = /(^|[\s>+~(,])page(?![-\w])/g

// one selector, before simulate prefixes its class names
function selector(text, hostTag) {
  return text
    .replace(/:host\(([^)]*)\)/g, (whole, inner) => `${hostTag}${inner}`)
    .replace(/:host/g, hostTag)
    .replace(PAGE_RE, '$1[gallery-page]')
    .replace(TAG_RE, '$1wx-$2')
}

// selectors of every rule (postcss is miniprogram-simulate's own dependency)
function selectors(css, hostTag) {
  const postcss = require('postcss')
  const root = postcss.parse(css)
  root.walkRules(rule => {
    if (rule.parent && rule.parent.type === 'atrule' && /keyframes/i.test(rule.parent.name)) return
    rule.selectors = rule.selectors.map(s => selector(s, hostTag))
  })
  return root.toString()
}

// @import inlined: relative to the file, or absolute from the mini-program's root
function inline(file, root, seen = new Set()) {
  if (seen.has(file) || !fs.existsSync(file)) return ''
  seen.add(file)
  return fs.readFileSync(file, 'utf8').replace(/@import\s+(?:"([^"]+)"|'([^']+)')\s*;?/g, (whole, a, b) => {
    const target = a || b
    const resolved = target.startsWith('/') ? path.join(root, target) : path.join(path.dirname(file), target)
    return inline(/\.wxss$/.test(resolved) ? resolved : `${resolved}.wxss`, root, seen)
  })
}

module.exports = { rpxToPx, selectors, selector, inline, BUILTIN_TAGS }
