// The phone around a mounted page: status bar, navigation bar (title, capsule), the page, the tab bar
// from app.json, a toast when the page left one showing; and WeChat's default look of built-in components.
const WIDTH = 375
const HEIGHT = 812
const STATUS = 44
const NAV = 44
const TAB = 50
const SAFE_BOTTOM = 34

const escape = text => String(text).replace(/[&<>"]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c])

// approximations of WeChat's built-in components (style v2)
const BUILTIN_CSS = `
wx-view, wx-scroll-view, wx-swiper, wx-swiper-item, wx-form, wx-navigator, wx-picker, wx-rich-text, wx-cover-view,
wx-movable-area, wx-checkbox-group, wx-radio-group, wx-picker-view { display: block; }
wx-text, wx-label { display: inline; white-space: pre-wrap; }
wx-scroll-view, wx-swiper { overflow: hidden; }
wx-swiper { height: 150px; }
wx-image { display: inline-block; width: 320px; height: 240px; overflow: hidden; background: center / 100% 100% no-repeat; }
wx-image[mode=aspectFit] { background-size: contain; } wx-image[mode=aspectFill] { background-size: cover; }
wx-image[mode=widthFix] { height: auto; }
wx-image > img { width: 100%; height: 100%; object-fit: fill; display: block; }
wx-image[mode=aspectFit] > img { object-fit: contain; } wx-image[mode=aspectFill] > img { object-fit: cover; }
wx-image[mode=widthFix] > img { height: auto; }
wx-button { position: relative; display: block; margin-left: auto; margin-right: auto; padding: 8px 24px; box-sizing: border-box;
  width: 184px; font-size: 17px; font-weight: 700; text-align: center; line-height: 1.41176471; border-radius: 8px;
  color: #000; background-color: #f2f2f2; overflow: hidden; }
wx-button[type=primary] { color: #fff; background-color: #07c160; }
wx-button[type=warn] { color: #fa5151; background-color: #f2f2f2; }
wx-button[plain] { background-color: transparent; border: 1px solid rgba(0,0,0,.2); }
wx-button[type=primary][plain] { color: #07c160; border-color: #07c160; }
wx-button[size=mini] { display: inline-block; width: auto; padding: 0 1.34em; line-height: 2.3; font-size: 13px; border-radius: 4px; }
wx-button[disabled] { color: rgba(0,0,0,.18); background-color: rgba(0,0,0,.05); }
wx-button[type=primary][disabled] { color: rgba(255,255,255,.6); background-color: #9ed99d; }
wx-input { display: block; height: 1.4rem; min-height: 1.4rem; line-height: 1.4rem; overflow: hidden; white-space: nowrap; }
wx-textarea { display: block; width: 300px; height: 150px; white-space: pre-wrap; overflow: hidden; }
wx-input::before, wx-textarea::before { content: attr(value); }
wx-input[password]::before { content: "••••••"; }
wx-input:not([value])::before, wx-input[value=""]::before, wx-textarea:not([value])::before, wx-textarea[value=""]::before {
  content: attr(placeholder); color: #808080; }
wx-input[disabled], wx-textarea[disabled] { color: #999; }
wx-checkbox, wx-radio { display: inline-block; vertical-align: middle; }
wx-checkbox::before, wx-radio::before { content: ""; display: inline-block; box-sizing: border-box; width: 22px; height: 22px;
  margin-right: 5px; vertical-align: middle; border: 1px solid #d1d1d1; border-radius: 3px; background: #fff;
  text-align: center; line-height: 20px; font-size: 16px; color: #07c160; }
wx-radio::before { border-radius: 50%; }
wx-checkbox[checked]::before { content: "✓"; }
wx-radio[checked]::before { content: "✓"; color: #fff; background: #07c160; border-color: #07c160; }
wx-switch { display: inline-block; width: 52px; height: 32px; border-radius: 16px; background: #e5e5e5; position: relative; vertical-align: middle; }
wx-switch::after { content: ""; position: absolute; top: 2px; left: 2px; width: 28px; height: 28px; border-radius: 50%; background: #fff;
  box-shadow: 0 1px 3px rgba(0,0,0,.4); }
wx-switch[checked] { background: #07c160; } wx-switch[checked]::after { left: 22px; }
wx-progress { display: flex; align-items: center; }
wx-progress > .g-bar { flex: 1; height: 6px; background: #ebebeb; }
wx-progress > .g-bar > i { display: block; height: 100%; background: #09bb07; }
wx-canvas { display: block; width: 300px; height: 150px; background: repeating-linear-gradient(45deg, #f4f4f4 0 8px, #fafafa 8px 16px); }
wx-canvas:not([data-g-canvas])::after { content: "canvas"; display: block; padding: 4px; font-size: 11px; color: #aaa; }
wx-canvas[data-g-canvas] { background: none; }
wx-canvas > canvas { display: block; width: 100%; height: 100%; }
wx-icon { display: inline-block; vertical-align: middle; }
[data-g-icon]::before { content: attr(data-g-icon) !important; font-family: "DejaVu Sans", "Noto Sans CJK SC", sans-serif !important; }
wx-icon[type]::before { content: "●"; color: #07c160; }
`

const FRAME_CSS = `
html, body { margin: 0; padding: 0; }
body { width: ${WIDTH}px; font-family: -apple-system, "PingFang SC", "Noto Sans CJK SC", "Noto Sans SC", sans-serif;
  font-size: 16px; line-height: 1.4; color: #000; background: #fff; -webkit-font-smoothing: antialiased; }
.g-top { position: fixed; top: 0; left: 0; width: ${WIDTH}px; z-index: 1000; }
.g-status { height: ${STATUS}px; display: flex; justify-content: space-between; align-items: center; padding: 0 26px 0 32px;
  box-sizing: border-box; font-size: 15px; font-weight: 600; }
.g-status b { letter-spacing: 1px; font-size: 12px; }
.g-nav { height: ${NAV}px; position: relative; display: flex; align-items: center; justify-content: center; font-size: 17px; font-weight: 600; }
.g-nav .g-title { max-width: 180px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.g-nav .g-back { position: absolute; left: 12px; top: 10px; width: 12px; height: 12px; border-left: 2px solid currentColor;
  border-bottom: 2px solid currentColor; transform: translate(4px, 3px) rotate(45deg); }
.g-capsule { position: absolute; right: 7px; top: 4px; width: 87px; height: 32px; box-sizing: border-box; border-radius: 16px;
  border: 0.5px solid rgba(0,0,0,.15); background: rgba(255,255,255,.6); display: flex; align-items: center; }
.g-capsule i { flex: 1; text-align: center; font-style: normal; font-size: 14px; letter-spacing: 1px; color: #000; }
.g-capsule s { width: 0.5px; height: 18px; background: rgba(0,0,0,.2); }
.g-body { position: relative; }
.gallery-page { display: block; box-sizing: border-box; font-size: 16px; }
.g-tab { position: fixed; left: 0; bottom: 0; width: ${WIDTH}px; height: ${TAB + SAFE_BOTTOM}px; padding-bottom: ${SAFE_BOTTOM}px;
  box-sizing: border-box; display: flex; z-index: 1000; }
.g-tab .g-item { flex: 1; display: flex; flex-direction: column; align-items: center; justify-content: center; font-size: 10px; }
.g-tab .g-item img { width: 24px; height: 24px; margin-bottom: 2px; }
.g-tab .g-item.g-text-only { font-size: 14px; }
.g-home { position: fixed; left: 120px; bottom: 8px; width: 134px; height: 5px; border-radius: 3px; background: #000; z-index: 1001; }
.g-toast { position: fixed; left: 50%; top: 45%; transform: translate(-50%, -50%); min-width: 120px; max-width: 240px; z-index: 2000;
  padding: 14px 16px; border-radius: 10px; background: rgba(17,17,17,.75); color: #fff; font-size: 15px; text-align: center; }
.g-toast .g-icon { display: block; font-size: 34px; line-height: 44px; }
`

// TDesign's icon font is loaded from a CDN, which the gallery does not reach: icons are drawn as look-alike
// characters of the installed fonts (DejaVu, Noto CJK), a dot for a name not listed here
const ICON_GLYPHS = {
  'chevron-right': '›', 'chevron-left': '‹', 'chevron-up': '˄', 'chevron-down': '˅', 'arrow-right': '→', 'arrow-left': '←',
  check: '✓', checked: '✓', 'check-circle': '✓', 'check-circle-filled': '✔', 'check-rectangle-filled': '✔',
  close: '✕', 'close-btn': '✕', 'close-circle': '⊗', 'close-circle-filled': '⊗',
  'error-circle': '⚠', 'error-circle-filled': '⚠', error: '!', 'info-circle': 'ⓘ', 'info-circle-filled': 'ⓘ',
  'help-circle': '?', 'help-circle-filled': '?', add: '+', remove: '−', 'add-circle': '⊕', 'minus-circle': '⊖',
  search: '⌕', loading: '⟳', refresh: '⟳', share: '↗', secured: '◈', notification: '✉', mail: '✉', usergroup: '⚇',
  user: '☺', 'user-add': '☺', 'file-paste': '▤', file: '▤', 'chart-bar': '▥', chart: '▥', image: '▣', download: '⬇',
  upload: '⬆', camera: '◉', wallet: '▭', home: '⌂', setting: '⚙', time: '◷', calendar: '▦', location: '◎',
  call: '☎', star: '★', 'star-filled': '★', heart: '♥', 'heart-filled': '♥', lock: '⊡', 'lock-on': '⊡', edit: '✎',
  link: '∞', money: '¥', 'money-circle': '¥', gift: '◇', flag: '⚑', qrcode: '▩', scan: '⊞', ellipsis: '…', more: '…',
}

function tabBar(bar) {
  if (!bar) return ''
  const items = bar.list.map(item => {
    const color = item.selected ? bar.selectedColor || '#000' : bar.color || '#7a7e83'
    const icon = item.icon ? `<img src="${item.icon}" alt="">` : ''
    return `<div class="g-item${icon ? '' : ' g-text-only'}" style="color:${escape(color)}${item.selected ? ';font-weight:600' : ''}">${icon}<span>${escape(item.text)}</span></div>`
  }).join('')
  const border = bar.borderStyle === 'white' ? 'rgba(255,255,255,.33)' : 'rgba(0,0,0,.15)'
  return `<div class="g-tab" style="background:${escape(bar.backgroundColor || '#f7f7f7')};border-top:0.5px solid ${border}">${items}</div>`
}

function toastHtml(toast) {
  if (!toast || !toast.title) return ''
  const icon = toast.icon === 'none' ? '' : `<span class="g-icon">${toast.icon === 'error' ? '✕' : toast.icon === 'loading' ? '…' : '✓'}</span>`
  return `<div class="g-toast">${icon}${escape(toast.title)}</div>`
}

function document({ html, css, chrome, toast }) {
  const top = chrome.custom ? 0 : STATUS + NAV
  const bottom = chrome.tabBar ? TAB + SAFE_BOTTOM : SAFE_BOTTOM
  const bar = chrome.custom
    ? `<div class="g-top"><div class="g-status"><span>9:41</span><b>▮▮▮ ◔ ▭</b></div><div class="g-nav"><div class="g-capsule"><i>•••</i><s></s><i>◉</i></div></div></div>`
    : `<div class="g-top" style="background:${escape(chrome.navBackground)};color:${escape(chrome.navText)}">
  <div class="g-status"><span>9:41</span><b>▮▮▮ ◔ ▭</b></div>
  <div class="g-nav">${chrome.home ? '' : '<span class="g-back"></span>'}<span class="g-title">${escape(chrome.title)}</span><div class="g-capsule"><i>•••</i><s></s><i>◉</i></div></div>
</div>`
  return `<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=${WIDTH}">
<style>${FRAME_CSS}${BUILTIN_CSS}
.gallery-page { min-height: calc(100vh - ${top + bottom}px); ${chrome.background ? `background-color: ${chrome.background};` : ''} }
.g-body { padding-top: ${top}px; padding-bottom: ${bottom}px; }
</style>
<style>${css}</style></head>
<body>${bar}
<div class="g-body"><div class="gallery-page" gallery-page>${html}</div></div>
${tabBar(chrome.tabBar)}${chrome.tabBar ? '' : '<div class="g-home"></div>'}${toastHtml(toast)}
<script>
// the page's background fills the phone; images and progress bars from their kept attributes
(function () {
  var ICONS = ${JSON.stringify(ICON_GLYPHS)}
  document.querySelectorAll('[class*="icon-"]').forEach(function (node) {
    node.classList.forEach(function (name) {
      var match = /(?:^|--)t-icon-([a-z0-9][a-z0-9-]*)$/.exec(name)
      if (match && match[1] !== 'base') node.setAttribute('data-g-icon', ICONS[match[1]] || '•')
    })
  })
  var page = document.querySelector('.gallery-page')
  var bg = getComputedStyle(page).backgroundColor
  if (bg && bg !== 'rgba(0, 0, 0, 0)') document.body.style.background = bg
  document.querySelectorAll('wx-image[src]').forEach(function (node) {
    var img = document.createElement('img'); img.src = node.getAttribute('src'); node.insertBefore(img, node.firstChild)
  })
  // canvases: the page's drawing, recorded in the simulator, replayed here once its images have loaded
  var drawings = [].slice.call(document.querySelectorAll('wx-canvas[data-g-canvas]')).map(function (node) {
    var record = JSON.parse(node.getAttribute('data-g-canvas'))
    var canvas = document.createElement('canvas')
    canvas.setAttribute('data-g-id', record.id)
    canvas.width = record.width; canvas.height = record.height
    node.insertBefore(canvas, node.firstChild)
    var images = {}
    var loads = record.ops.filter(function (op) { return op[0] === 'image' }).map(function (op) {
      var image = new Image(); images[op[1]] = image; image.src = op[2]
      return image.decode().catch(function () {})
    })
    return Promise.all(loads).then(function () {
      var ctx = canvas.getContext('2d')
      var made = {}
      var value = function (v) { return v && typeof v === 'object' && v.ref !== undefined ? (made[v.ref] || images[v.ref]) : v }
      record.ops.forEach(function (op) {
        try {
          if (op[0] === 'set') ctx[op[1]] = value(op[2])
          else if (op[0] === 'call' && typeof ctx[op[1]] === 'function') ctx[op[1]].apply(ctx, op[2].map(value))
          else if (op[0] === 'make') made[op[1]] = ctx[op[2]].apply(ctx, op[3].map(value))
          else if (op[0] === 'stop') made[op[1]].addColorStop.apply(made[op[1]], op[2])
        } catch (e) { /* one bad call does not stop the drawing */ }
      })
    })
  })
  // an image made from a canvas (wx.canvasToTempFilePath) shows that canvas's picture
  window.__galleryReady = Promise.all(drawings).then(function () {
    document.querySelectorAll('wx-image[src^="gallery-canvas:"] > img').forEach(function (img) {
      var source = document.querySelector('canvas[data-g-id="' + img.parentNode.getAttribute('src').split(':')[1] + '"]')
      if (source) img.src = source.toDataURL()
      return img.decode ? img.decode().catch(function () {}) : null
    })
  })
  document.querySelectorAll('wx-progress[percent]').forEach(function (node) {
    var bar = document.createElement('span'); bar.className = 'g-bar'
    var fill = document.createElement('i'); fill.style.width = Math.max(0, Math.min(100, +node.getAttribute('percent'))) + '%'
    if (node.getAttribute('active-color') || node.getAttribute('color')) fill.style.background = node.getAttribute('active-color') || node.getAttribute('color')
    bar.appendChild(fill); node.insertBefore(bar, node.firstChild)
  })
})()
</script></body></html>`
}

module.exports = { document, WIDTH, HEIGHT, TOP: STATUS + NAV, TAB_HEIGHT: TAB + SAFE_BOTTOM, SAFE_BOTTOM }
