// What happens on launch: remember who invited us (share card ?inviter=CODE, or the poster's
// mini-program code, whose scene is the invite code itself, as GET /invites/me/qrcode makes it), log in, and report the group chat we came from.
const { relogin, INVITER_KEY } = require('../api/request')
const { enterGroup } = require('../api/auth')

// the group chat the mini-program was last opened from (its opengid): the home page offers its summary
const GROUP_KEY = 'opengid'

function inviterFrom(options) {
  const query = (options && options.query) || {}
  if (query.inviter) return String(query.inviter)
  if (query.scene) return decodeURIComponent(String(query.scene))
  return ''
}

function groupEnterInfo(shareTicket) {
  return new Promise(resolve => {
    wx.getGroupEnterInfo({ shareTicket, success: resolve, fail: () => resolve(null) })
  })
}

async function start(options) {
  const inviter = inviterFrom(options)
  if (inviter) wx.setStorageSync(INVITER_KEY, inviter)
  try {
    await relogin() // shared with any page request that meets a 401 meanwhile
  } catch (error) {
    wx.showToast({ title: error.message || '登录失败', icon: 'none' })
    return false
  }
  const shareTicket = options && options.shareTicket
  if (shareTicket) {
    const info = await groupEnterInfo(shareTicket)
    if (info && info.encryptedData) {
      const entered = await enterGroup({ encryptedData: info.encryptedData, iv: info.iv }, { silent: true }).catch(() => null)
      if (entered && entered.opengid) wx.setStorageSync(GROUP_KEY, entered.opengid)
    }
  }
  return true
}

module.exports = { start, inviterFrom, GROUP_KEY }
