// Checks the scenes' answers against the API's OpenAPI 3.0 document: the operation must exist, the
// status must be documented for it, and a JSON body must match that status's schema (types, required,
// additionalProperties, enum, nullable, allOf, items, lengths and bounds).
const normalise = p => p.replace(/\{[^}]+\}/g, '{}')

function findOperation(doc, method, apiPath) {
  const wanted = normalise(apiPath)
  const key = Object.keys(doc.paths).find(p => normalise(p) === wanted)
    || Object.keys(doc.paths).find(p => new RegExp(`^${p.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(apiPath))
  return key ? (doc.paths[key][method.toLowerCase()] || null) : null
}

function deref(doc, schema) {
  let current = schema || {}
  while (current.$ref) current = current.$ref.split('/').slice(1).reduce((node, part) => node[part], doc)
  return current
}

const typeOf = value => {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (Number.isInteger(value)) return 'integer'
  return typeof value
}

// the problems of value against schema, as "where: what" strings
function validate(doc, schemaIn, value, where = 'body', problems = []) {
  const schema = deref(doc, schemaIn)
  if (schema.allOf) schema.allOf.forEach(sub => validate(doc, sub, value, where, problems))
  if (schema.anyOf || schema.oneOf) {
    const options = schema.anyOf || schema.oneOf
    if (!options.some(sub => validate(doc, sub, value, where, []).length === 0)) problems.push(`${where}: matches none of its alternatives`)
  }
  if (value === null) {
    if (!schema.nullable && schema.type) problems.push(`${where}: null but not nullable`)
    return problems
  }
  const actual = typeOf(value)
  if (schema.type && !(schema.type === actual || (schema.type === 'number' && actual === 'integer'))) {
    problems.push(`${where}: ${actual}, the schema says ${schema.type}`)
    return problems
  }
  if (schema.enum && !schema.enum.includes(value)) problems.push(`${where}: ${JSON.stringify(value)} not one of ${schema.enum.join(', ')}`)
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) problems.push(`${where}: shorter than ${schema.minLength}`)
    if (schema.maxLength !== undefined && value.length > schema.maxLength) problems.push(`${where}: longer than ${schema.maxLength}`)
    if (schema.format === 'date-time' && Number.isNaN(Date.parse(value))) problems.push(`${where}: not a date-time`)
    if (schema.format === 'date' && !/^\d{4}-\d{2}-\d{2}$/.test(value)) problems.push(`${where}: not a date`)
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) problems.push(`${where}: below ${schema.minimum}`)
    if (schema.maximum !== undefined && value > schema.maximum) problems.push(`${where}: above ${schema.maximum}`)
  }
  if (actual === 'array' && schema.items) value.forEach((item, i) => validate(doc, schema.items, item, `${where}[${i}]`, problems))
  if (actual === 'object') {
    const props = schema.properties || {}
    ;(schema.required || []).forEach(name => { if (!(name in value)) problems.push(`${where}.${name}: required, missing`) })
    Object.keys(value).forEach(name => {
      if (name in props) validate(doc, props[name], value[name], `${where}.${name}`, problems)
      else if (schema.additionalProperties === false) problems.push(`${where}.${name}: not in the schema`)
      else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
        validate(doc, schema.additionalProperties, value[name], `${where}.${name}`, problems)
      }
    })
  }
  return problems
}

// one answer of a scene ("METHOD /api/v1/…" → {statusCode, data}) against the document
function checkAnswer(doc, key, answer) {
  const [verb, apiPath] = key.split(' ')
  const method = verb === 'UPLOAD' ? 'POST' : verb
  const op = findOperation(doc, method, apiPath)
  if (!op) return [`${key}: no such operation in the OpenAPI document`]
  if (!answer || typeof answer !== 'object' || answer.networkError) return []
  const status = String(answer.statusCode || 200)
  const response = (op.responses || {})[status]
  if (!response) return [`${key}: status ${status} is not documented (${Object.keys(op.responses || {}).join(', ')})`]
  const media = response.content && response.content['application/json']
  if (!media) return [] // an image or other binary answer
  return validate(doc, media.schema, answer.data, `${key} ${status}`)
}

module.exports = { validate, checkAnswer, findOperation }
