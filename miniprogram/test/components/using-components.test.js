// Every usingComponents path of the project resolves the way WeChat resolves it — app.json, every
// page in app.json, every component they use, and the components those use (TDesign's own too) —
// so the project opens in WeChat DevTools with no missing component. miniprogram_npm must be built
// first (make miniprogram-npm; make test-miniprogram does it before jest).
const fs = require('fs')
const os = require('os')
const path = require('path')

const ROOT = path.join(__dirname, '..', '..', 'miniprogram')

// WeChat's resolution: "/x" from the mini-program root; "./x", "../x" from the file's folder; a bare
// "pkg/x" from the nearest miniprogram_npm folder, looking upwards from the file's folder to the root.
function resolve(root, fromDir, value) {
  if (value.startsWith('plugin://')) return { skip: true }
  if (value.startsWith('/')) return { file: path.join(root, value) }
  if (value.startsWith('.')) return { file: path.join(fromDir, value) }
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'miniprogram_npm', value)
    if (fs.existsSync(`${candidate}.json`) || fs.existsSync(path.join(candidate, 'index.json'))) {
      return { file: fs.existsSync(`${candidate}.json`) ? candidate : path.join(candidate, 'index') }
    }
    if (path.relative(root, dir) === '' || dir === path.dirname(dir)) return { file: path.join(root, 'miniprogram_npm', value) }
  }
}

// → [problem, …] for the whole project under root
function walk(root) {
  const problems = []
  const seen = new Set()
  const app = JSON.parse(fs.readFileSync(path.join(root, 'app.json'), 'utf8'))
  const visit = (file, usedBy, isPage) => {
    if (seen.has(file)) return
    seen.add(file)
    const missing = ['.json', '.js', '.wxml'].filter(ext => !fs.existsSync(file + ext))
    if (missing.length) {
      problems.push(`${path.relative(root, file)} (${isPage ? 'page' : `used by ${usedBy}`}): no ${missing.join(', ')}`)
      return
    }
    const json = JSON.parse(fs.readFileSync(`${file}.json`, 'utf8'))
    if (!isPage && json.component !== true) problems.push(`${path.relative(root, file)}.json: not a component`)
    usingOf(json, path.dirname(file), path.relative(root, file) + '.json')
  }
  const usingOf = (json, dir, name) => Object.entries(json.usingComponents || {}).forEach(([tag, value]) => {
    const target = resolve(root, dir, value)
    if (!target.skip) visit(target.file, `${name} <${tag}>`, false)
  })
  usingOf(app, root, 'app.json')
  app.pages.forEach(page => visit(path.join(root, page), 'app.json', true))
  ;(app.tabBar ? app.tabBar.list : []).forEach(tab => {
    if (!app.pages.includes(tab.pagePath)) problems.push(`tabBar ${tab.pagePath}: not a page in app.json`)
  })
  return { problems, visited: seen.size }
}

test('every usingComponents path (app.json, pages, components, the library\'s own) resolves to a component', () => {
  if (!fs.existsSync(path.join(ROOT, 'miniprogram_npm', 'tdesign-miniprogram'))) {
    throw new Error('miniprogram/miniprogram_npm is not built: run `make miniprogram-npm` (WeChat DevTools: 构建 npm)')
  }
  const { problems, visited } = walk(ROOT)
  expect(problems).toEqual([])
  // the pages, our three components and at least ten TDesign components were walked
  const pages = require(path.join(ROOT, 'app.json')).pages.length
  expect(visited).toBeGreaterThanOrEqual(pages + 3 + 10)
})

test('the walk finds a missing component, a missing file, a non-component and an npm path that is not built', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-walk-'))
  const write = (file, content) => { fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true }); fs.writeFileSync(path.join(root, file), content) }
  try {
    write('app.json', JSON.stringify({ pages: ['pages/a/a'], usingComponents: { 'g-x': '/components/gone/index' } }))
    write('pages/a/a.json', JSON.stringify({ usingComponents: { 'c-half': '../../components/half/index', 'c-page': '/pages/a/a',
      't-button': 'tdesign-miniprogram/button/button', 'p-x': 'plugin://x/y' } }))
    write('pages/a/a.js', '')
    write('pages/a/a.wxml', '')
    write('components/half/index.json', JSON.stringify({ component: true }))
    write('components/half/index.js', '')
    expect(walk(root).problems).toEqual([
      'components/gone/index (used by app.json <g-x>): no .json, .js, .wxml',
      'components/half/index (used by pages/a/a.json <c-half>): no .wxml',
      'miniprogram_npm/tdesign-miniprogram/button/button (used by pages/a/a.json <t-button>): no .json, .js, .wxml',
    ])
    write('miniprogram_npm/tdesign-miniprogram/button/button.json', JSON.stringify({ component: true }))
    write('miniprogram_npm/tdesign-miniprogram/button/button.js', '')
    write('miniprogram_npm/tdesign-miniprogram/button/button.wxml', '')
    write('components/half/index.wxml', '')
    write('components/gone/index.json', '{}')
    write('components/gone/index.js', '')
    write('components/gone/index.wxml', '')
    expect(walk(root).problems).toEqual(['components/gone/index.json: not a component'])
  } finally {
    fs.rmSync(root, { recursive: true, force: true })
  }
})

test('WeChat DevTools\' own 构建 npm writes where `make miniprogram-npm` does (project.config.json)', () => {
  const project = require(path.join(ROOT, '..', 'project.config.json'))
  expect(project.miniprogramRoot).toBe('miniprogram/')
  expect(project.setting.packNpmManually).toBe(true)
  expect(project.setting.packNpmRelationList).toEqual([{ packageJsonPath: './package.json', miniprogramNpmDistDir: './miniprogram/' }])
  const script = fs.readFileSync(path.join(ROOT, '..', 'scripts', 'pack-npm.js'), 'utf8')
  expect(script).toContain("miniprogramNpmDistDir: path.join(ROOT, 'miniprogram')")
  expect(script).toContain("packageJsonPath: path.join(ROOT, 'package.json')")
})
