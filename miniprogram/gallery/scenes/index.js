const { API, ok, TOKEN, plan } = require('../fixtures')

const page = 'pages/index/index'
const plans = `GET ${API}/plans`
module.exports = [
  { name: 'loading', page, storage: TOKEN, pending: [plans] },
  { name: 'loaded', page, storage: TOKEN,
    responses: { [plans]: ok({ items: [plan('adult_789'), plan('children', { estimated_annual_fen: null, counts: { members: 218432, observing: 20000, protected: 198432 } })] }) } },
  { name: 'empty', page, storage: TOKEN, responses: { [plans]: ok({ items: [] }) } },
  { name: 'error', page, storage: TOKEN, responses: { [plans]: { networkError: 'timeout' } } },
]
