const { API, ok, fail, TOKEN, deductions, MERKLE_PROOF } = require('../fixtures')

const page = 'pages/deductions/deductions'
const query = { id: '3' }
const list = `GET ${API}/memberships/3/deductions`
const [run] = deductions.items
const verifiable = { items: [Object.assign({}, run, { run_id: MERKLE_PROOF.run_id, status: 'executed' })] }
module.exports = [
  { name: 'loading', page, query, storage: TOKEN, pending: [list] },
  { name: 'loaded', page, query, storage: TOKEN, responses: { [list]: ok(deductions) } },
  { name: 'empty', page, query, storage: TOKEN, responses: { [list]: ok({ items: [] }) } },
  { name: 'error', page, query, storage: TOKEN, responses: { [list]: fail(404, 'not_found', '没有找到这份保障') } },
  { name: 'after-verify', page, query, storage: TOKEN, responses: {
    [list]: ok(verifiable), [`GET ${API}/memberships/3/deductions/${MERKLE_PROOF.run_id}/proof`]: ok(MERKLE_PROOF) },
  act: async (comp, { call }) => { await call('verify', { currentTarget: { dataset: { run: MERKLE_PROOF.run_id } } }) } },
]
