const { API, ok, fail, TOKEN, membership, ledgerPage, ledgerEntry, leave, balanceReturn, merchantTransfer } = require('../fixtures')

const page = 'pages/membership/membership'
const query = { id: '1' }
const get = `GET ${API}/memberships/1`
const ledger = `GET ${API}/memberships/1/ledger`
const entries = [
  ledgerEntry(3, { amount_fen: 500, sponsored: true, created_at: '2026-04-17T02:00:00+00:00' }),
  ledgerEntry(2, { amount_fen: -250, reason: '分摊', reference_type: 'run', reference_id: '5', created_at: '2026-04-16T02:00:00+00:00' }),
  ledgerEntry(1, { created_at: '2026-03-02T02:00:00+00:00' }),
]
const leaveTap = async (comp, { has, tap }) => { await tap(has('.leave-button') ? '.leave-button' : '.leave-link') }
// 商家转账: the money paid over a year ago comes back by transfer, waiting for the member's confirmation
const LEFT = { state: 'left', balance_fen: 0, ended_at: '2026-04-05T02:00:00+00:00' }
const WAITING_RETURN = balanceReturn({ reason: 'leave', transfer_package_info: merchantTransfer().package_info, transfer: merchantTransfer() })
const DONE_RETURN = balanceReturn({ reason: 'leave', status: 'done', status_text: '余额已全部退回', returned_fen: 1200 })
module.exports = [
  { name: 'loading', page, query, storage: TOKEN, pending: [get, ledger] },
  { name: 'loaded', page, query, storage: TOKEN, responses: { [get]: ok(membership(1)), [ledger]: ok(ledgerPage(entries)) } },
  { name: 'empty', page, query, storage: TOKEN, responses: { [get]: ok(membership(1, { balance_fen: 0, state: 'pending' })), [ledger]: ok(ledgerPage([])) } },
  { name: 'error', page, query, storage: TOKEN, responses: { [get]: fail(404, 'not_found', '没有找到这份保障'), [ledger]: ok(ledgerPage([])) } },
  { name: 'after-leave-refused', page, query, storage: TOKEN, responses: { [get]: ok(membership(1)), [ledger]: ok(ledgerPage(entries)),
    [`POST ${API}/memberships/1/leave`]: fail(409, 'leave_refused', '有进行中的互助申请，暂不能退出') },
  act: leaveTap },
  { name: 'after-leaving', page, query, storage: TOKEN, responses: {
    [get]: [ok(membership(1)), ok(membership(1, { state: 'left', balance_fen: 0, ended_at: '2026-04-05T02:00:00+00:00' }))],
    [ledger]: ok(ledgerPage(entries)),
    [`POST ${API}/memberships/1/leave`]: ok(leave(membership(1, { state: 'left', balance_fen: 0, ended_at: '2026-04-05T02:00:00+00:00' }), 1000)) },
  act: leaveTap },
  { name: 'balance-return-awaiting-receipt', page, query, storage: TOKEN, responses: {
    [get]: ok(membership(1, Object.assign({ balance_return: WAITING_RETURN }, LEFT))), [ledger]: ok(ledgerPage(entries)) } },
  { name: 'after-confirming-balance-return', page, query, storage: TOKEN, responses: {
    [get]: [ok(membership(1, Object.assign({ balance_return: WAITING_RETURN }, LEFT))),
      ok(membership(1, Object.assign({ balance_return: DONE_RETURN }, LEFT)))],
    [ledger]: ok(ledgerPage(entries)), [`POST ${API}/memberships/1/balance-return/confirmed`]: ok(DONE_RETURN) },
  act: async (comp, { tap }) => { await tap('.confirm-receipt-button') } },
]
