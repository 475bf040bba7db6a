const { API, ok, TOKEN, announcement } = require('../fixtures')

const page = 'pages/announcements/announcements'
const list = `GET ${API}/announcements`
module.exports = [
  { name: 'loading', page, storage: TOKEN, pending: [list] },
  { name: 'loaded', page, storage: TOKEN, responses: { [list]: ok({ items: [announcement(4), announcement(5, {
    person: '赵*', age_years: 8, sex: 'F', illness: '急性淋巴细胞白血病', hospital_city: '成都', approved_aid_fen: 25000000,
    plan_code: 'children', plan_name: '少儿互助计划' })] }) } },
  { name: 'empty', page, storage: TOKEN, responses: { [list]: ok({ items: [] }) } },
  { name: 'error', page, storage: TOKEN, responses: { [list]: { networkError: 'timeout' } } },
]
