// The page gallery as a test: renders every scene (node gallery/render.js, the same as `make gallery`,
// pictures in gallery/out/), then fails when a page of app.json has no scene file, a scene renders nothing
// (empty body or a blank picture), a page is wider than the screen, a scene hits a request it does not
// answer, or an answer does not match the API's OpenAPI document. The pictures are for people to look
// at, not pixel baselines.
const { execFileSync } = require('child_process')
const fs = require('fs')
const path = require('path')
const { exportDocument } = require('../test/openapi')
const { checkAnswer, findOperation, validate } = require('./lib/schema')
const { loadScenes, SCENES, OUT, pageDir } = require('./render')

const APP = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'miniprogram', 'app.json'), 'utf8'))
const SCREEN_WIDTH = 375
const SCREEN_HEIGHT = 812

execFileSync(process.execPath, [path.join(__dirname, 'render.js')], { stdio: 'pipe', timeout: 180000 })
const { results, controls } = JSON.parse(fs.readFileSync(path.join(OUT, 'results.json'), 'utf8'))
const scenes = loadScenes()

const pagesWithoutScenes = (pages, files) => pages.filter(route => !files.includes(`${pageDir(route)}.js`))
const blank = r => r.htmlLength === 0 || r.text === '' || r.visibleElements === 0 || r.colours <= 2
const tooWide = r => r.scrollWidth > SCREEN_WIDTH

// every answer of every scene, against the document: [problem, …]
function answerProblems(doc, scene) {
  const problems = []
  Object.keys(scene.responses || {}).forEach(key => {
    ;[].concat(scene.responses[key]).forEach(answer => {
      if (typeof answer === 'function') problems.push(`${key}: a function answer cannot be checked; give the data`)
      else problems.push(...checkAnswer(doc, key, answer))
    })
  })
  ;(scene.pending || []).forEach(key => {
    const [method, apiPath] = key.split(' ')
    if (!findOperation(doc, method, apiPath)) problems.push(`${key}: no such operation in the OpenAPI document`)
  })
  return problems.map(p => `${scene.file} ${scene.name}: ${p}`)
}

test('every page in app.json has a scene file, and every scene shows a page of app.json', () => {
  const files = fs.readdirSync(SCENES).filter(f => f.endsWith('.js'))
  expect(pagesWithoutScenes(APP.pages, files)).toEqual([])
  const stray = scenes.filter(s => !APP.pages.includes(s.page) || `${pageDir(s.page)}.js` !== s.file)
  expect(stray.map(s => `${s.file} ${s.name}: ${s.page}`)).toEqual([])
  const names = scenes.map(s => `${s.page}#${s.name}`)
  expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([])
  expect(scenes.filter(s => !/^[a-z0-9]+(-[a-z0-9]+)*$/.test(s.name)).map(s => s.name)).toEqual([])
})

test('every page has a loaded or after-an-action scene, and every scene was rendered', () => {
  APP.pages.forEach(route => {
    expect(scenes.filter(s => s.page === route && !['loading', 'error', 'empty'].includes(s.name)).length).toBeGreaterThan(0)
  })
  expect(results.map(r => `${r.page}#${r.name}`)).toEqual(scenes.map(s => `${s.page}#${s.name}`))
})

describe.each(results.map(r => [r.png, r]))('%s', (png, r) => {
  test('mounted without problems (errors, unanswered requests, missing components)', () => {
    expect(r.problems).toEqual([])
  })
  test('renders something and is no wider than the screen', () => {
    expect(blank(r)).toBe(false)
    expect(r.scrollWidth).toBeLessThanOrEqual(SCREEN_WIDTH)
  })
  test('its pictures exist (a full-height one when the page is taller than the screen)', () => {
    expect(fs.statSync(path.join(OUT, png)).size).toBeGreaterThan(1000)
    if (r.height > SCREEN_HEIGHT) expect(fs.existsSync(path.join(OUT, r.full))).toBe(true)
    else expect(r.full).toBeNull()
  })
})

describe('the answers the scenes give match the API', () => {
  const doc = exportDocument()

  test('every answer: the operation exists, its status is documented, its body matches the schema', () => {
    expect(scenes.reduce((all, scene) => all.concat(answerProblems(doc, scene)), [])).toEqual([])
  })

  test('the mechanism: a renamed field, a wrong type, an undocumented status and an unknown path are reported', () => {
    const plan = { items: [] }
    expect(checkAnswer(doc, 'GET /api/v1/plans', { statusCode: 200, data: plan })).toEqual([])
    expect(checkAnswer(doc, 'GET /api/v1/plans', { statusCode: 200, data: { items: [], invented: 1 } }).length).toBeGreaterThan(0)
    expect(checkAnswer(doc, 'GET /api/v1/plans', { statusCode: 200, data: { items: 'none' } }).length).toBeGreaterThan(0)
    expect(checkAnswer(doc, 'GET /api/v1/plans', { statusCode: 418, data: {} })).toEqual([expect.stringContaining('418 is not documented')])
    expect(checkAnswer(doc, 'GET /api/v1/invented', { statusCode: 200, data: {} })).toEqual([expect.stringContaining('no such operation')])
    expect(validate(doc, { type: 'object', required: ['a'], additionalProperties: false, properties: { a: { type: 'integer' } } },
      { a: 1.5, b: 1 })).toEqual(['body.a: number, the schema says integer', 'body.b: not in the schema'])
  })
})

describe('the checks catch what they are for (controls rendered with the scenes)', () => {
  test('a page that renders nothing is blank; a page wider than the screen is too wide', () => {
    const byName = Object.fromEntries(controls.map(c => [c.name, c]))
    expect(blank(byName.blank)).toBe(true)
    expect(tooWide(byName.blank)).toBe(false)
    expect(blank(byName.wide)).toBe(false)
    expect(tooWide(byName.wide)).toBe(true)
  })
  test('a drawing on <canvas type="2d"> is recorded in the simulator and shows in the picture', () => {
    const drawn = controls.find(c => c.name === 'canvas')
    expect(drawn.problems).toEqual([])
    expect(drawn.drawnCanvases).toBe(1)
    expect(controls.find(c => c.name === 'wide').drawnCanvases).toBe(0)
  })
  test('a page of app.json without a scene file is reported', () => {
    expect(pagesWithoutScenes(['pages/plan/plan', 'pages/new/new'], ['plan.js'])).toEqual(['pages/new/new'])
  })
})
