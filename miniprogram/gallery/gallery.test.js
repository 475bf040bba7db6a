// The page gallery as a test: renders every scene (node gallery/render.js, the same as `make gallery`,
// pictures in gallery/out/), then fails when a page of app.json has no scene file, a scene renders nothing
// (empty body or a blank picture), a page is wider than the screen, a scene hits a request it does not
// answer, or an answer does not match the API's OpenAPI document. The pictures are for people to look
// at, not pixel baselines.
const { execFileSync } = require('child_process')
const fs = require('fs')
const path = require('path')
const { exportDocument, operation, hasField, responseSchema } = require('../test/openapi')
const endpoints = require('../miniprogram/api/endpoints')
const { checkAnswer, findOperation, validate } = require('./lib/schema')
const { endpointGap, splitFieldGaps } = require('./lib/gaps')
const knownGaps = require('../test/known-gaps')
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

// every answer of every scene, against the document: { problems: [problem, …], skipped: [what, …] }; an answer
// is skipped only for an operation or response field listed in test/known-gaps.js (not served by the API yet)
function answerProblems(doc, scene, gaps = knownGaps) {
  const problems = []
  const skipped = []
  const gapped = key => {
    const name = endpointGap(gaps, key)
    if (name) skipped.push({ text: `${key}: not validated, ${name} is a known gap (${gaps.endpoints[name]})`, name, field: null })
    return Boolean(name)
  }
  Object.keys(scene.responses || {}).forEach(key => {
    if (gapped(key)) return
    ;[].concat(scene.responses[key]).forEach(answer => {
      if (typeof answer === 'function') problems.push(`${key}: a function answer cannot be checked; give the data`)
      else {
        const split = splitFieldGaps(gaps, key, checkAnswer(doc, key, answer))
        problems.push(...split.problems)
        skipped.push(...split.skipped)
      }
    })
  })
  ;(scene.pending || []).forEach(key => {
    const [method, apiPath] = key.split(' ')
    if (!gapped(key) && !findOperation(doc, method, apiPath)) problems.push(`${key}: no such operation in the OpenAPI document`)
  })
  const where = p => `${scene.file} ${scene.name}: ${p}`
  return { problems: problems.map(where), skipped: skipped.map(s => Object.assign(s, { text: where(s.text) })) }
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

  const checked = scenes.map(scene => answerProblems(doc, scene))
  test('every answer: the operation exists, its status is documented, its body matches the schema', () => {
    expect(checked.reduce((all, c) => all.concat(c.problems), [])).toEqual([])
  })

  // Answers of operations (or fields) the API does not serve yet: named here, one test each, not validated.
  const skipped = checked.reduce((all, c) => all.concat(c.skipped), [])
  if (skipped.length) {
    test.each(skipped.map(s => [s.text, s]))('NOT VALIDATED, a known gap of test/known-gaps.js: %s', (text, { name, field }) => {
      // still a gap: the operation (or the field of its answer) is not in the document
      const op = operation(doc, endpoints[name].method, endpoints[name].path)
      if (field === null) expect(op).toBeFalsy()
      else expect(hasField(doc, responseSchema(doc, op), field)).toBe(false)
    })
  }

  test('the mechanism: only operations and fields listed in known-gaps.js are skipped, everything else is reported', () => {
    const gaps = { endpoints: { getWindDown: 'issue N' }, fields: { 'getMembership response invented_field': 'issue N' } }
    const scene = { file: 'x.js', name: 'y', pending: ['GET /api/v1/plans/p/wind-down'], responses: {
      'GET /api/v1/plans/p/wind-down': { statusCode: 200, data: {} },
      'GET /api/v1/plans/p/invented': { statusCode: 200, data: {} },
      'GET /api/v1/memberships/1': { statusCode: 200, data: { invented_field: 1, other_invented: 2 } },
    } }
    const { problems, skipped: left } = answerProblems(doc, scene, gaps)
    expect(problems).toEqual(expect.arrayContaining([expect.stringContaining('/plans/p/invented: no such operation'),
      expect.stringContaining('.other_invented: not in the schema')]))
    expect(problems.join('\n')).not.toMatch(/wind-down|\.invented_field/)
    expect(left.map(s => s.text)).toEqual([
      expect.stringContaining('wind-down: not validated, getWindDown is a known gap (issue N)'),
      expect.stringContaining('.invented_field: not in the schema (field getMembership response invented_field: issue N)'),
      expect.stringContaining('wind-down: not validated, getWindDown is a known gap (issue N)'),
    ])
    expect(answerProblems(doc, scene, { endpoints: {}, fields: {} }).skipped).toEqual([])
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
