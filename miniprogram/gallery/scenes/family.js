const { API, ok, fail, TOKEN, membership } = require('../fixtures')

const page = 'pages/family/family'
const list = `GET ${API}/memberships`
module.exports = [
  { name: 'loading', page, storage: TOKEN, pending: [list] },
  { name: 'loaded', page, storage: TOKEN, responses: { [list]: ok({ items: [
    membership(1, { observation_days_left: 42 }),
    membership(2, { state: 'suspended', relation: 'parent', person_name: '李*', balance_fen: 120, grace_ends_at: '2026-05-01T02:00:00+00:00' }),
    membership(3, { state: 'pending', relation: 'child', person_name: '张小*', balance_fen: 0, plan_code: 'children', plan_name: '少儿互助计划' }),
    membership(4, { state: 'protected', relation: 'spouse', person_name: '王*', balance_fen: 2550, observation_days_left: 0, protected_at: '2026-02-01T02:00:00+00:00' }),
  ] }) } },
  { name: 'empty', page, storage: TOKEN, responses: { [list]: ok({ items: [] }) } },
  { name: 'error', page, storage: TOKEN, responses: {
    [list]: fail(401, 'token_invalid', '登录凭证无效'),
    [`POST ${API}/auth/login`]: fail(400, 'wechat_login_failed', '微信登录失败，请稍后再试'),
  } },
]
