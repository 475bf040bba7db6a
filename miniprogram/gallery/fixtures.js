// Answers for the gallery's scenes, as the API gives them: the page tests' fixtures (test/fixtures.js)
// plus what only the gallery needs. gallery.test.js validates every scene's answers against the API's
// OpenAPI document (operation, documented status, body schema).
const fs = require('fs')
const path = require('path')
const base = require('../test/fixtures')

const API = '/api/v1'
const ok = (data, statusCode = 200) => ({ statusCode, data })
const fail = (statusCode, code, message, details = {}) => ({ statusCode, data: { error: { code, message, details } } })
const TOKEN = { token: 'gallery-token' }

// the Python Merkle vectors: the phone's verifier accepts their proofs
const vectors = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'tests', 'vectors', 'merkle.json'), 'utf8'))

// stands in for the mini-program code image GET /invites/me/qrcode downloads (a drawing, not a real code)
const QR_CODE = `data:image/svg+xml;base64,${Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">
<circle cx="50" cy="50" r="48" fill="#fff" stroke="#ddd"/>${Array.from({ length: 36 }, (_, i) => {
  const a = (i / 36) * 2 * Math.PI
  const r = 26 + (i * 7) % 16
  return `<line x1="${50 + 22 * Math.cos(a)}" y1="${50 + 22 * Math.sin(a)}" x2="${50 + r * Math.cos(a)}" y2="${50 + r * Math.sin(a)}" stroke="#111" stroke-width="3" stroke-linecap="round"/>`
}).join('')}<circle cx="50" cy="50" r="16" fill="#07c160"/></svg>`).toString('base64')}`

// test/fixtures.js gives the fields the pages read; the gallery's answers are whole (every required field
// of the schema), so these complete the shared ones
const withDue = c => Object.assign({ due_aid_fen: c.limited_aid_fen }, c)
const runCase = (caseId, overrides = {}) => withDue(base.runCase(caseId, overrides))
const run = (id, overrides = {}) => {
  const r = base.run(id, overrides)
  return Object.assign({
    notes: [`${r.payer_count} 位成员每人分摊 ¥${(r.share_fen / 100).toFixed(2)}，不超过每案每人上限`],
    payer_rounds: [{ share_fen: r.share_fen, payers: r.payer_count, able: r.payer_count - r.low_balance_count }],
    payer_set_settled: true, withheld_count: 0,
  }, r, { cases: r.cases.map(withDue) })
}
const deductions = { items: base.deductions.items.map(item => Object.assign({}, item, { cases: item.cases.map(withDue) })) }
const ledgerEntry = (transactionId, overrides = {}) => {
  const entry = base.ledgerEntry(transactionId, overrides)
  const words = entry.reference_type === 'run' ? `第 ${entry.reference_id} 期分摊` : entry.sponsored ? '家人代充' : '微信支付充值'
  return Object.assign({ description: words }, entry)
}
const leave = (membership, refundedFen) => ({ membership, refunded_fen: refundedFen, refunds: [], withheld_fen: 0, withheld_run_id: null,
  message: `已退出，余额 ¥${(refundedFen / 100).toFixed(2)} 原路退回` })

// the proof as GET …/deductions/{run}/proof gives it: the vector, its plan and the run's record in the chain
const proof = vectors.proofs.find(p => p.tree_size === 100001 && p.leaf_index === 50000)
const MERKLE_PROOF = Object.assign({ plan_code: 'adult_789', computed_root: proof.root, record: {
  v: 1, kind: 'run', plan: 'adult_789', sequence: 3, previous: '0'.repeat(64), record_hash: 'a1'.repeat(32),
  created_at: '2026-04-16T02:00:00+00:00', run_id: proof.run_id, root: proof.root, tree_size: proof.tree_size, total_fen: 25000250,
} }, proof)

module.exports = Object.assign({}, base, { API, ok, fail, TOKEN, MERKLE_PROOF, QR_CODE, runCase, run, deductions, ledgerEntry, leave })
