#!/usr/bin/env node
// make gallery: every scene of gallery/scenes/*.js mounted with miniprogram-simulate and screenshotted in
// Debian's Chromium (playwright-core, no browser download) at 375×812 @2x, plus a full-height picture when
// the page is taller; out/index.html shows them all, out/results.json holds what the jest test checks.
//   node gallery/render.js [page-dir ...]     (no argument: every scene file)
const fs = require('fs')
const path = require('path')
const { mountScene, APP } = require('./lib/mount')
const shell = require('./lib/shell')
const png = require('./lib/png')

const SCENES = path.join(__dirname, 'scenes')
const OUT = process.env.GALLERY_OUT || path.join(__dirname, 'out')
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'

const pageDir = route => route.split('/').slice(-2, -1)[0]
const fileName = (scene, suffix = '') => `${pageDir(scene.page)}--${scene.name}${suffix}.png`

function loadScenes(only = []) {
  const files = fs.readdirSync(SCENES).filter(f => f.endsWith('.js')).sort()
    .filter(f => !only.length || only.includes(f.replace(/\.js$/, '')))
  const order = APP.pages.map(pageDir)
  files.sort((a, b) => (order.indexOf(a.slice(0, -3)) + 1 || 999) - (order.indexOf(b.slice(0, -3)) + 1 || 999))
  return files.reduce((all, file) => all.concat(require(path.join(SCENES, file)).map(scene => Object.assign({ file }, scene))), [])
}

// measured in the page after it is laid out, and a blank picture detected from the PNG itself
async function measure(page) {
  return page.evaluate(({ top, tab }) => {
    const root = document.querySelector('.gallery-page')
    const visible = [...root.querySelectorAll('*')].filter(node => {
      const box = node.getBoundingClientRect()
      return box.width > 0 && box.height > 0 && getComputedStyle(node).visibility !== 'hidden'
    })
    return {
      scrollWidth: document.documentElement.scrollWidth,
      height: document.documentElement.scrollHeight,
      text: root.innerText.replace(/\s+/g, ' ').trim(),
      visibleElements: visible.length,
      // canvases whose replayed drawing left ink
      drawnCanvases: [...root.querySelectorAll('wx-canvas > canvas')].filter(canvas => canvas.width && canvas.height
        && canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data.some((v, i) => i % 4 === 3 && v > 0)).length,
      hasTabBar: !!document.querySelector('.g-tab'),
      contentTop: top,
      contentBottom: window.innerHeight - tab,
    }
  }, { top: shell.TOP, tab: shell.TAB_HEIGHT })
}

async function shoot(browser, jobs, results) {
  const context = await browser.newContext({ viewport: { width: shell.WIDTH, height: shell.HEIGHT }, deviceScaleFactor: 2 })
  await context.route(url => !/^(data|about|file):/.test(url.href), route => route.abort())
  const page = await context.newPage()
  const cdp = await context.newCDPSession(page)
  // Chromium's own capture with its fast PNG settings (Playwright's screenshot waits on fonts and restyles the page)
  const capture = async file => {
    const { data } = await cdp.send('Page.captureScreenshot', { format: 'png', optimizeForSpeed: true })
    const buffer = Buffer.from(data, 'base64')
    fs.writeFileSync(file, buffer)
    return buffer
  }
  for (let job = jobs.shift(); job; job = jobs.shift()) {
    const { scene, mounted, result } = job
    fs.writeFileSync(path.join(OUT, 'html', `${scene.control ? 'control' : pageDir(scene.page)}--${scene.name}.html`), mounted.document)
    await page.setViewportSize({ width: shell.WIDTH, height: shell.HEIGHT })
    await page.setContent(mounted.document, { waitUntil: 'load' })
    await page.evaluate(() => window.__galleryReady)
    const facts = await measure(page)
    const picture = await capture(path.join(OUT, result.png))
    facts.colours = png.colours(picture, mounted.chrome.custom ? 0 : shell.TOP, facts.contentBottom)
    if (facts.height > shell.HEIGHT && !scene.control) {
      result.full = fileName(scene, '--full')
      await page.setViewportSize({ width: shell.WIDTH, height: Math.min(facts.height, 12000) })
      await capture(path.join(OUT, result.full))
    }
    Object.assign(result, facts)
    results.push(result)
  }
  await context.close()
}

function indexHtml(results) {
  const byPage = {}
  results.forEach(r => { (byPage[r.page] = byPage[r.page] || []).push(r) })
  const esc = t => String(t).replace(/[&<>"]/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c])
  const sections = Object.keys(byPage).map(route => `<section><h2>${esc(route)}</h2><div class="row">${byPage[route].map(r => `
<figure><a href="${esc(r.full || r.png)}"><img src="${esc(r.png)}" width="375" height="812" loading="lazy" alt="${esc(r.name)}"></a>
<figcaption><b>${esc(r.name)}</b>${r.full ? ` · <a href="${esc(r.full)}">full height (${r.height}px)</a>` : ''}${r.problems.length ? ` · <span class="bad">${esc(r.problems.join('; '))}</span>` : ''}</figcaption></figure>`).join('')}</div></section>`).join('\n')
  return `<!doctype html><html><head><meta charset="utf-8"><title>一起互助 — page gallery</title><style>
body { font-family: "Noto Sans CJK SC", sans-serif; background: #e9ebef; margin: 24px; }
.row { display: flex; flex-wrap: wrap; gap: 24px; } figure { margin: 0; width: 375px; }
img { box-shadow: 0 2px 12px rgba(0,0,0,.15); border-radius: 24px; background: #fff; }
figcaption { margin-top: 8px; font-size: 14px; } .bad { color: #c00; } h2 { font-weight: 500; margin-top: 40px; }
</style></head><body><h1>一起互助 — every page in its states (${results.length} scenes)</h1>
<p>375×812 @2x; click a picture for its full height. Generated by <code>make gallery</code>; fixtures from gallery/fixtures.js.</p>
${sections}</body></html>`
}

// pages the checks must catch (gallery.test.js): one that renders nothing, one wider than the screen, and
// one whose canvas drawing must show
const CONTROLS = [
  { name: 'blank', page: '../gallery/controls/blank/blank', file: 'controls', control: true },
  { name: 'wide', page: '../gallery/controls/wide/wide', file: 'controls', control: true },
  { name: 'canvas', page: '../gallery/controls/canvas/canvas', file: 'controls', control: true },
]

async function renderGallery({ only = [], workers = 2 } = {}) {
  const started = Date.now()
  fs.rmSync(OUT, { recursive: true, force: true })
  fs.mkdirSync(path.join(OUT, 'html'), { recursive: true })
  fs.mkdirSync(path.join(OUT, 'controls'), { recursive: true })
  const scenes = loadScenes(only).concat(only.length ? [] : CONTROLS)
  const jobs = []
  for (const scene of scenes) {
    const mounted = await mountScene(scene) // eslint-disable-line no-await-in-loop
    mounted.document = shell.document(mounted)
    const png = scene.control ? `controls/${scene.name}.png` : fileName(scene)
    jobs.push({ scene, mounted, result: { page: scene.page, name: scene.name, file: scene.file, png, control: !!scene.control,
      full: null, problems: mounted.problems, requests: mounted.requests, htmlLength: mounted.html.length } })
  }
  const mountedAt = Date.now()
  const { chromium } = require('playwright-core')
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--font-render-hinting=none'] })
  const results = []
  try {
    await Promise.all(Array.from({ length: Math.min(workers, jobs.length) }, () => shoot(browser, jobs, results)))
  } finally {
    await browser.close()
  }
  const order = scenes.map(s => `${s.page}#${s.name}`)
  results.sort((a, b) => order.indexOf(`${a.page}#${a.name}`) - order.indexOf(`${b.page}#${b.name}`))
  const controls = results.filter(r => r.control)
  const pages = results.filter(r => !r.control)
  fs.writeFileSync(path.join(OUT, 'index.html'), indexHtml(pages))
  const timing = { scenes: pages.length, mountMs: mountedAt - started, totalMs: Date.now() - started }
  fs.writeFileSync(path.join(OUT, 'results.json'), JSON.stringify({ timing, results: pages, controls }, null, 1))
  return { timing, results: pages, controls }
}

module.exports = { renderGallery, loadScenes, OUT, SCENES, pageDir }

if (require.main === module) {
  renderGallery({ only: process.argv.slice(2) }).then(({ timing, results }) => {
    results.forEach(r => {
      const extra = r.problems.length ? `  PROBLEMS: ${r.problems.join('; ')}` : ''
      process.stdout.write(`gallery/out/${r.png}${r.full ? `  gallery/out/${r.full}` : ''}${extra}\n`)
    })
    process.stdout.write(`${timing.scenes} scenes in ${(timing.totalMs / 1000).toFixed(1)} s (mounting ${(timing.mountMs / 1000).toFixed(1)} s); index: gallery/out/index.html\n`)
  }).catch(err => {
    process.stderr.write(`${err.stack || err}\n`)
    process.exit(1)
  })
}
