// Scenes for pages/about/about: who runs the platform, where the money is held
const { API, ok, TOKEN, policy } = require('../fixtures')

module.exports = [
  { name: 'loaded', page: 'pages/about/about', storage: TOKEN, responses: { [`GET ${API}/privacy/policy`]: ok(policy()) } },
]
