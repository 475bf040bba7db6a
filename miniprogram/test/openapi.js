// The API's OpenAPI document, generated from the Python app on this checkout
// (scripts/export_openapi.py), and helpers to look fields up in it.
const { execFileSync } = require('child_process')
const fs = require('fs')
const path = require('path')

const REPO = path.join(__dirname, '..', '..')
const API_PREFIX = '/api/v1'

function python() {
  if (process.env.PYTHON) return process.env.PYTHON
  const venv = path.join(REPO, '.venv', 'bin', 'python')
  return fs.existsSync(venv) ? venv : 'python3'
}

function exportDocument() {
  const out = execFileSync(python(), [path.join(REPO, 'scripts', 'export_openapi.py')], { cwd: REPO, encoding: 'utf8' })
  return JSON.parse(out)
}

const normalise = p => p.replace(/\{[^}]+\}/g, '{}')

function operation(doc, method, apiPath) {
  const wanted = normalise(API_PREFIX + apiPath)
  const key = Object.keys(doc.paths).find(p => normalise(p) === wanted)
  return key ? doc.paths[key][method.toLowerCase()] || null : null
}

function resolve(doc, schema) {
  let current = schema || {}
  while (current.$ref) current = current.$ref.split('/').slice(1).reduce((node, part) => node[part], doc)
  // a nullable nested schema: apispec writes anyOf [the $ref, {nullable: true, type: object}]; the fields
  // are those of the branches that list any
  const branches = current.anyOf || current.oneOf
  if (branches) {
    const listed = branches.map(s => resolve(doc, s)).filter(s => s.properties || s.items)
    if (listed.length) return resolve(doc, { allOf: listed })
  }
  if (current.allOf) {
    return current.allOf.map(s => resolve(doc, s)).reduce((all, s) => ({
      type: all.type || s.type, properties: Object.assign({}, all.properties, s.properties), items: all.items || s.items,
    }), {})
  }
  return current
}

// "items[].counts.members" → true when every step exists in the schema
function hasField(doc, schema, fieldPath) {
  let current = resolve(doc, schema)
  for (const step of fieldPath.split('.')) {
    // a free-form object (a Dict field: no properties listed) holds whatever is under it
    if (current.type === 'object' && !current.properties && current.additionalProperties !== false) return true
    const list = step.endsWith('[]')
    const name = list ? step.slice(0, -2) : step
    const props = current.properties || {}
    if (!(name in props)) return false
    current = resolve(doc, props[name])
    if (list) {
      if (current.type !== 'array') return false
      current = resolve(doc, current.items)
    }
  }
  return true
}

function requestSchema(doc, op) {
  const content = (op.requestBody && op.requestBody.content) || {}
  const media = content['application/json'] || content['multipart/form-data'] || null
  return media ? media.schema : null
}

function responseSchema(doc, op) {
  const code = Object.keys(op.responses || {}).find(c => /^2\d\d$/.test(c))
  const content = code && op.responses[code].content
  return content && content['application/json'] ? content['application/json'].schema : null
}

const queryParams = op => (op.parameters || []).filter(p => p.in === 'query').map(p => p.name)

// every key of an example answer, as field paths ("items[].cases[].person")
function fieldPaths(value, prefix = '') {
  if (Array.isArray(value)) return value.length ? fieldPaths(value[0], `${prefix}[]`) : []
  if (value === null || typeof value !== 'object') return prefix ? [prefix] : []
  return Object.keys(value).reduce((all, key) => {
    const here = prefix ? `${prefix}.${key}` : key
    const nested = fieldPaths(value[key], here)
    return all.concat(nested.length ? nested : [here])
  }, [])
}

module.exports = { REPO, python, exportDocument, operation, hasField, requestSchema, responseSchema, queryParams, fieldPaths, resolve }
