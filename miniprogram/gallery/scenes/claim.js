const { API, ok, fail, TOKEN, claim } = require('../fixtures')

const page = 'pages/claim/claim'
const query = { id: '7' }
const get = `GET ${API}/claims/7`
const upload = `POST ${API}/claims/7/documents`
const DOCUMENT = { id: 2, content_type: 'image/jpeg', size_bytes: 1000, created_at: '2026-03-07T02:00:00+00:00' }
module.exports = [
  { name: 'loading', page, query, storage: TOKEN, pending: [get] },
  { name: 'loaded', page, query, storage: TOKEN, responses: { [get]: ok(claim(7)) } },
  { name: 'returned', page, query, storage: TOKEN,
    responses: { [get]: ok(claim(7, { status: 'returned', status_text: '需补充材料', missing_items: '出院小结、费用清单' })) } },
  { name: 'paid', page, query, storage: TOKEN, responses: { [get]: ok(claim(7, { status: 'paid', status_text: '已打款',
    approved_aid_fen: 5000000, collected_aid_fen: 5000000 })) } },
  { name: 'error', page, query, storage: TOKEN, responses: { [get]: fail(404, 'not_found', '没有找到这份申请') } },
  { name: 'after-upload', page, query, storage: TOKEN, responses: { [get]: ok(claim(7)), [upload]: [ok(DOCUMENT, 201), ok(Object.assign({}, DOCUMENT, { id: 3 }), 201)] },
    act: async (comp, { tap }) => { await tap('.upload-button') } },
  { name: 'after-upload-refused', page, query, storage: TOKEN,
    responses: { [get]: ok(claim(7)), [upload]: fail(413, 'body_too_large', '请求内容太大') },
    act: async (comp, { tap }) => { await tap('.upload-button') } },
]
