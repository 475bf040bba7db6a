const { API, ok, fail, TOKEN, claim, waitingPayout } = require('../fixtures')

const page = 'pages/claim/claim'
const query = { id: '7' }
const get = `GET ${API}/claims/7`
const upload = `POST ${API}/claims/7/documents`
const DOCUMENT = { id: 2, content_type: 'image/jpeg', size_bytes: 1000, created_at: '2026-03-07T02:00:00+00:00' }
const AID = { status: 'collected', status_text: '已筹集，待打款', approved_aid_fen: 5000000, collected_aid_fen: 5000000 }
const WAITING = claim(7, Object.assign({}, AID, { payout: waitingPayout() }))
const PAID = claim(7, Object.assign({}, AID, { status: 'paid', status_text: '已打款',
  payout: waitingPayout({ status: 'succeeded', package_info: null, transfer: null, paid_at: '2026-04-02T02:00:00+00:00' }) }))
module.exports = [
  { name: 'loading', page, query, storage: TOKEN, pending: [get] },
  { name: 'loaded', page, query, storage: TOKEN, responses: { [get]: ok(claim(7)) } },
  { name: 'returned', page, query, storage: TOKEN,
    responses: { [get]: ok(claim(7, { status: 'returned', status_text: '需补充材料', missing_items: '出院小结、费用清单' })) } },
  { name: 'paid', page, query, storage: TOKEN, responses: { [get]: ok(claim(7, { status: 'paid', status_text: '已打款',
    approved_aid_fen: 5000000, collected_aid_fen: 5000000 })) } },
  // 商家转账: the aid waits for the claimant to confirm receipt (wx.requestMerchantTransfer)
  { name: 'awaiting-receipt', page, query, storage: TOKEN, responses: { [get]: ok(WAITING) } },
  { name: 'after-confirming-receipt', page, query, storage: TOKEN,
    responses: { [get]: [ok(WAITING), ok(PAID)], [`POST ${API}/claims/7/payout/confirmed`]: ok(PAID) },
    act: async (comp, { tap }) => { await tap('.confirm-receipt-button') } },
  { name: 'error', page, query, storage: TOKEN, responses: { [get]: fail(404, 'not_found', '没有找到这份申请') } },
  { name: 'after-upload', page, query, storage: TOKEN, responses: { [get]: ok(claim(7)), [upload]: [ok(DOCUMENT, 201), ok(Object.assign({}, DOCUMENT, { id: 3 }), 201)] },
    act: async (comp, { tap }) => { await tap('.upload-button') } },
  { name: 'after-upload-refused', page, query, storage: TOKEN,
    responses: { [get]: ok(claim(7)), [upload]: fail(413, 'body_too_large', '请求内容太大') },
    act: async (comp, { tap }) => { await tap('.upload-button') } },
]
