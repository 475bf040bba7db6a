// The scenes' answers the gallery does not validate: operations and response fields the API does not serve
// yet, and ONLY those listed in test/known-gaps.js (the contract test fails once one of them lands, so the
// list only shrinks). Everything else is checked against the OpenAPI document (lib/schema.js).
const endpoints = require('../../miniprogram/api/endpoints')

const API = '/api/v1'
const pathPattern = p => new RegExp(`^${API}${p.replace(/\{[^}]+\}/g, '[^/]+')}$`)
const matches = (name, method, apiPath) => Boolean(endpoints[name]) && endpoints[name].method === method
  && pathPattern(endpoints[name].path).test(apiPath)

// the endpoint name of a scene's key ("GET /api/v1/plans/x/wind-down") when it is a known gap, else null
function endpointGap(gaps, key) {
  const [method, apiPath] = key.split(' ')
  return Object.keys(gaps.endpoints).find(name => matches(name, method, apiPath)) || null
}

// the response fields of key's endpoint listed as known gaps ('getMembership response balance_return')
function fieldGaps(gaps, key) {
  const [method, apiPath] = key.split(' ')
  return Object.keys(gaps.fields).map(entry => entry.split(' '))
    .filter(([name, where]) => where === 'response' && matches(name, method, apiPath))
    .map(([name, , field]) => ({ name, field, entry: `${name} response ${field}` }))
}

// split checkAnswer's problems for key into those that count and those about a known-gap field
// (skipped: [{ text, name, field }])
function splitFieldGaps(gaps, key, problems) {
  const fields = fieldGaps(gaps, key)
  const escaped = key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const gapOf = problem => fields.find(({ field }) => new RegExp(`^${escaped} \\d+\\.${field}[.:\\[]`).test(problem))
  return {
    problems: problems.filter(p => !gapOf(p)),
    skipped: problems.filter(p => gapOf(p)).map(p => {
      const gap = gapOf(p)
      return { text: `${p} (field ${gap.entry}: ${gaps.fields[gap.entry]})`, name: gap.name, field: gap.field }
    }),
  }
}

module.exports = { endpointGap, splitFieldGaps }
