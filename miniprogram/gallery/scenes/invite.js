const { API, ok, fail, TOKEN, invite, plan, QR_CODE } = require('../fixtures')

const page = 'pages/invite/invite'
const me = `GET ${API}/invites/me`
const qrcode = `GET ${API}/invites/me/qrcode`
const mine = invite({ code: 'AB12CD', share_path: '/pages/index/index?inviter=AB12CD', qrcode_scene: 'AB12CD' })
// the reworked page lists the plans for the poster
const plans = { [`GET ${API}/plans`]: ok({ items: [plan('adult_789'), plan('children')] }) }
module.exports = [
  { name: 'loading', page, storage: TOKEN, responses: plans, pending: [me] },
  { name: 'loaded', page, storage: TOKEN, responses: { ...plans, [me]: ok(mine) } },
  { name: 'error', page, storage: TOKEN, responses: { ...plans, [me]: fail(401, 'token_invalid', '登录已过期'), [`POST ${API}/auth/login`]: fail(400, 'wechat_login_failed', '微信登录失败，请稍后再试') } },
  { name: 'after-poster', page, storage: TOKEN, responses: { ...plans, [me]: ok(mine), [qrcode]: { statusCode: 200, tempFilePath: QR_CODE } },
    act: async (comp, { tap }) => { await tap('.poster-button') } },
  { name: 'after-poster-failed', page, storage: TOKEN, responses: { ...plans, [me]: ok(mine), [qrcode]: fail(503, 'qrcode_unavailable', '微信暂时无法生成小程序码') },
    act: async (comp, { tap }) => { await tap('.poster-button') } },
]
