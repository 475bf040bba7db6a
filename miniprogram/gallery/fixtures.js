// Answers for the gallery's scenes, as the API gives them: the page tests' fixtures (test/fixtures.js)
// plus what only the gallery needs. The gallery's test validates every scene's bodies against the
// API's OpenAPI document.
const base = require('../test/fixtures')

const API = '/api/v1'
const ok = (data, statusCode = 200) => ({ statusCode, data })
const fail = (statusCode, code, message, details = {}) => ({ statusCode, data: { error: { code, message, details } } })
const TOKEN = { token: 'gallery-token' }

module.exports = Object.assign({}, base, { API, ok, fail, TOKEN })
