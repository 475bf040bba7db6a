// Every endpoint and field the mini-program uses (api/endpoints.js) exists in the API's OpenAPI
// document, generated from the Python app on this checkout. Known gaps are explicit (known-gaps.js).
const endpoints = require('../miniprogram/api/endpoints')
const gaps = require('./known-gaps')
const fixtures = require('./fixtures')
const fs = require('fs')
const path = require('path')
const { REPO, exportDocument, operation, hasField, requestSchema, responseSchema, queryParams, fieldPaths } = require('./openapi')

const doc = exportDocument()
const names = Object.keys(endpoints)
const served = names.filter(name => !(name in gaps.endpoints))

function missingFields(name, endpoint = endpoints[name]) {
  const op = operation(doc, endpoint.method, endpoint.path)
  const wanted = [
    ...(endpoint.body || []).map(f => ['body', f]),
    ...(endpoint.query || []).map(f => ['query', f]),
    ...(endpoint.response || []).map(f => ['response', f]),
  ]
  const present = ([where, field]) => {
    if (where === 'query') return queryParams(op).includes(field)
    const schema = where === 'body' ? requestSchema(doc, op) : responseSchema(doc, op)
    return Boolean(schema) && hasField(doc, schema, field)
  }
  return wanted.filter(entry => !present(entry)).map(([where, field]) => `${name} ${where} ${field}`)
}

// Allowed gaps that are not (or no longer) gaps: each must be removed from known-gaps.js.
function staleGaps(allowed) {
  const stale = Object.keys(allowed.endpoints).filter(name => !endpoints[name]
    || operation(doc, endpoints[name].method, endpoints[name].path))
    .map(name => `endpoint ${name}`)
  return stale.concat(Object.keys(allowed.fields).filter(entry => {
    const name = entry.split(' ')[0]
    return !endpoints[name] || name in allowed.endpoints || !missingFields(name).includes(entry)
  }).map(entry => `field ${entry}`))
}

test('the generated document is the API (sanity: the foundation endpoints are there)', () => {
  expect(operation(doc, 'POST', '/auth/login')).toBeTruthy()
  expect(operation(doc, 'GET', '/plans/{code}')).toBeTruthy()
})

describe.each(served)('%s', name => {
  test(`${endpoints[name].method} ${endpoints[name].path} exists with every field the mini-program uses`, () => {
    expect(operation(doc, endpoints[name].method, endpoints[name].path)).toBeTruthy()
    const missing = missingFields(name).filter(entry => !(entry in gaps.fields))
    expect(missing).toEqual([])
  })
})

describe('known gaps (test/known-gaps.js: each entry is an explicit allowance; empty on main)', () => {
  test('every allowed gap is still a gap (an endpoint or field that landed must be removed, so its fields are checked)', () => {
    expect(staleGaps(gaps)).toEqual([])
  })
  test('the mechanism: a landed endpoint or field listed as a gap is reported, a real gap is not', () => {
    const added = {
      inventedForecast: { method: 'GET', path: '/plans/{code}/forecast', response: ['total_fen'] }, // not in the API
      inventedPlan: { method: 'GET', path: '/plans/{code}', response: ['code', 'invented_field'] }, // a field it lacks
    }
    Object.assign(endpoints, added)
    try {
      expect(staleGaps({ endpoints: { deductions: 'x', inventedForecast: 'x' }, fields: {
        'getPlan response estimated_annual_fen': 'x', 'getPlan response unused_field': 'x', 'inventedPlan response invented_field': 'x',
      } })).toEqual(['endpoint deductions', 'field getPlan response estimated_annual_fen', 'field getPlan response unused_field'])
    } finally {
      Object.keys(added).forEach(name => delete endpoints[name])
    }
  })
  test('the mechanism: a renamed response field is reported missing', () => {
    const renamed = Object.assign({}, endpoints.deductions, { response: ['items[].cases[].part'] })
    expect(missingFields('deductions', renamed)).toEqual(['deductions response items[].cases[].part'])
  })
})

// The page tests feed the pages these answers; a renamed field in the API fails here even though
// the page tests (which use the old name) still pass.
const EXAMPLES = [
  ['listPlans', { items: [fixtures.plan('adult_789')] }],
  ['getMembership', fixtures.membership(1)],
  ['ledger', fixtures.ledgerPage([fixtures.ledgerEntry(1)])],
  ['createTopup', fixtures.payment],
  ['listSubscriptions', fixtures.templates()],
  ['myInvite', fixtures.invite()],
  ['listClaims', { items: [fixtures.claim(1)] }],
  ['listAnnouncements', { items: [fixtures.announcement(1)] }],
  ['deductions', fixtures.deductions],
  ['getAnnouncement', fixtures.announcement(1)],
  ['getClaim', fixtures.claim(1)],
  ['getRun', fixtures.run(1)],
  ['listRuns', { items: [fixtures.run(1, { status: 'published', executed_at: null })] }],
  ['getPlan', fixtures.plan('adult_789', { estimated_annual_fen: null })],
  ['getPrivacyPolicy', fixtures.policy()],
  ['getReport', fixtures.report()],
  ['listReports', fixtures.frozenReports],
  ['groupSummary', fixtures.groupSummary()],
  // issue 14 (checked once its endpoints land: known gaps until then)
  ['getProposal', fixtures.proposal(1)],
  ['listPlanProposals', { items: [fixtures.proposal(1)] }],
  ['listMembershipProposals', { items: [Object.assign(fixtures.proposal(1), { my_answer: null, can_answer: true, can_leave_with_full_refund: false })] }],
  ['answerProposal', { proposal_id: 1, membership_id: 1, answer: 'agree', answered_at: '2026-04-05T02:00:00+00:00', tally: fixtures.proposal(1).tally }],
  ['getWindDown', fixtures.windDown()],
]

test.each(EXAMPLES.filter(([name]) => !(name in gaps.endpoints)))('the page tests\' %s answers use only fields of the API', (name, example) => {
  const endpoint = endpoints[name]
  const schema = responseSchema(doc, operation(doc, endpoint.method, endpoint.path))
  const unknown = fieldPaths(example)
    .filter(field => !hasField(doc, schema, field))
    .filter(field => !(`${name} response ${field}` in gaps.fields))
  expect(unknown).toEqual([])
})

// The template keys the mini-program asks for, and those the fixtures stand for, are the API's
// (config/subscribe_templates.toml, the file GET /subscriptions lists).
test('subscribe template keys are those of config/subscribe_templates.toml', () => {
  const toml = fs.readFileSync(path.join(REPO, 'config', 'subscribe_templates.toml'), 'utf8')
  const keys = [...toml.matchAll(/^\[(\w+)\]\s*$/gm)].map(m => m[1])
  const { SUBSCRIBE_KEYS } = require('../miniprogram/config')
  Object.values(SUBSCRIBE_KEYS).forEach(asked => asked.forEach(key => expect(keys).toContain(key)))
  expect([...fixtures.TEMPLATE_KEYS].sort()).toEqual([...keys].sort())
  // a tapped notice opens a page the mini-program has
  const pages = require('../miniprogram/app.json').pages
  const opened = [...toml.matchAll(/^page\s*=\s*"([^"]+)"/gm)].map(m => m[1])
  expect(opened.length).toBe(keys.length)
  opened.forEach(page => expect(pages).toContain(page))
})

test('every example answer belongs to a known endpoint', () => {
  EXAMPLES.forEach(([name]) => expect(names).toContain(name))
})

// Error codes. The mini-program branches on codes (utils/consent.js: *_consent_required) and its page
// tests answer with them (fail(status, code) for 'METHOD /path'): each must be one the API documents
// for that operation and status (x-error-codes, from app/api/error_docs.py). 5xx are not documented
// (a 5xx is a bug); the mini-program treats any of them alike.
const TEST_DIRS = ['pages', 'components'].map(dir => path.join(__dirname, dir))
const ANSWER = /'(GET|POST|PUT|PATCH|DELETE|UPLOAD|DOWNLOAD) ([^'?]+)[^']*'\s*:\s*(\[[^\]]*\]|fail\([^)]*\))/g
const FAIL = /fail\((\d+),\s*'([^']+)'/g

function operationFor(method, concrete) {
  const wanted = ('/api/v1' + concrete).split('/')
  const verb = { UPLOAD: 'post', DOWNLOAD: 'get' }[method] || method.toLowerCase()
  const candidates = Object.keys(doc.paths).filter(p => doc.paths[p][verb]).map(p => p.split('/'))
    .filter(parts => parts.length === wanted.length && parts.every((part, i) => part.startsWith('{') || part === wanted[i]))
    .sort((a, b) => a.filter(p => p.startsWith('{')).length - b.filter(p => p.startsWith('{')).length)
  return candidates.length ? doc.paths[candidates[0].join('/')][verb] : null
}

function documentedCodes(op, status) {
  const response = op && op.responses && op.responses[String(status)]
  return (response && response['x-error-codes']) || []
}

function answeredErrors(text, file) {
  return [...text.matchAll(ANSWER)].flatMap(([, method, apiPath, answers]) => [...answers.matchAll(FAIL)]
    .map(([, status, code]) => ({ where: `${file}: ${method} ${apiPath}`, method, apiPath, status: Number(status), code })))
}

function undocumented(answers) {
  return answers.filter(a => a.status < 500 && !documentedCodes(operationFor(a.method, a.apiPath), a.status).includes(a.code))
    .map(a => `${a.where} ${a.status} ${a.code}`)
}

test('every error code the page tests answer with is one the API documents for that operation and status', () => {
  const answers = TEST_DIRS.flatMap(dir => fs.readdirSync(dir).filter(f => f.endsWith('.js'))
    .flatMap(f => answeredErrors(fs.readFileSync(path.join(dir, f), 'utf8'), `${path.basename(dir)}/${f}`)))
  expect(answers.length).toBeGreaterThan(10)
  expect(undocumented(answers)).toEqual([])
})

test('the mechanism: an invented code, a wrong status or an unknown path is reported', () => {
  const text = `{ 'POST /memberships/1/topups': fail(400, 'invented_code', 'x'), 'GET /memberships/1': [ok(1), fail(404, 'not_found', 'x')],
    'POST /memberships': fail(418, 'not_eligible', 'x'), 'GET /nowhere/2': fail(404, 'not_found', 'x') }`
  expect(undocumented(answeredErrors(text, 't'))).toEqual([
    't: POST /memberships/1/topups 400 invented_code', 't: POST /memberships 418 not_eligible', 't: GET /nowhere/2 404 not_found'])
})

test('the codes the mini-program branches on exist: utils/consent.js refreshes the policy on *_consent_required', () => {
  const all = new Set(Object.values(doc.paths).flatMap(item => Object.values(item))
    .flatMap(op => Object.values((op && op.responses) || {})).flatMap(r => r['x-error-codes'] || []))
  const consent = fs.readFileSync(path.join(__dirname, '..', 'miniprogram', 'utils', 'consent.js'), 'utf8')
  const pattern = new RegExp(consent.match(/const REQUIRED = \/(.+)\//)[1])
  expect([...all].filter(code => pattern.test(code)).sort()).toEqual(
    ['medical_documents_consent_required', 'privacy_policy_consent_required', 'sensitive_data_consent_required'])
  expect(documentedCodes(operationFor('POST', '/memberships'), 403)).toContain('privacy_policy_consent_required')
  expect(documentedCodes(operationFor('POST', '/claims'), 403)).toContain('medical_documents_consent_required')
})
