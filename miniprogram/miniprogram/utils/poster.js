// The invite poster (750 × 1200 canvas px): the plan, a line of text, the inviter's mini-program code
// (GET /invites/me/qrcode, its scene is the invite code) and how to open it. The layout is data (tested);
// drawPoster replays it on a canvas 2d context.
const WIDTH = 750
const HEIGHT = 1200
const ACCENT = '#0b6e4f'

function posterSpec({ planName, shareCapText, membersText, code }) {
  return {
    width: WIDTH,
    height: HEIGHT,
    texts: [
      { text: '一起互助', x: 60, y: 120, size: 56, color: '#ffffff', bold: true },
      { text: planName || '大病互助计划', x: 60, y: 200, size: 40, color: '#ffffff' },
      { text: `${membersText || '很多'}人正在互助`, x: 60, y: 330, size: 34, color: '#1f2329' },
      { text: shareCapText ? `每案每人最多分摊${shareCapText}` : '每期公开每一分钱', x: 60, y: 390, size: 34, color: '#1f2329' },
      { text: '一人有难，大家分担；每一期的钱都能在手机上核验。', x: 60, y: 460, size: 28, color: '#5f6368' },
      { text: '长按识别小程序码，和我一起加入', x: 375, y: 1080, size: 30, color: '#1f2329', align: 'center' },
      { text: `邀请码 ${code}`, x: 375, y: 1130, size: 26, color: '#5f6368', align: 'center' },
    ],
    header: { x: 0, y: 0, w: WIDTH, h: 260, color: ACCENT },
    qrcode: { x: 215, y: 620, size: 320 },
  }
}

// The share card of a plan (500 × 400, WeChat's 5:4): its name, members and cap, from the API.
function cardSpec({ planName, membersText, shareCapText }) {
  return {
    width: 500,
    height: 400,
    header: { x: 0, y: 0, w: 500, h: 150, color: ACCENT },
    texts: [
      { text: '一起互助', x: 40, y: 70, size: 34, color: '#ffffff', bold: true },
      { text: planName, x: 40, y: 120, size: 30, color: '#ffffff' },
      { text: `${membersText}人正在互助`, x: 40, y: 230, size: 34, color: '#1f2329', bold: true },
      { text: `每案每人最多分摊${shareCapText}`, x: 40, y: 290, size: 30, color: '#1f2329' },
      { text: '每一期的钱都公开，可在手机上核验', x: 40, y: 350, size: 24, color: '#5f6368' },
    ],
    qrcode: null,
  }
}

function drawPoster(ctx, spec, qrcodeImage) {
  ctx.fillStyle = '#ffffff'
  ctx.fillRect(0, 0, spec.width, spec.height)
  ctx.fillStyle = spec.header.color
  ctx.fillRect(spec.header.x, spec.header.y, spec.header.w, spec.header.h)
  spec.texts.forEach(t => {
    ctx.fillStyle = t.color
    ctx.font = `${t.bold ? 'bold ' : ''}${t.size}px sans-serif`
    ctx.textAlign = t.align || 'left'
    ctx.fillText(t.text, t.x, t.y)
  })
  if (qrcodeImage && spec.qrcode) ctx.drawImage(qrcodeImage, spec.qrcode.x, spec.qrcode.y, spec.qrcode.size, spec.qrcode.size)
}

// Saving to the album with the permission flow: asked once (wx.authorize); refused before → the
// settings page (wx.openSetting) after saying why. Resolves 'saved' | 'denied'; rejects on failure.
function saveToAlbum(filePath) {
  const save = () => new Promise((resolve, reject) => wx.saveImageToPhotosAlbum({
    filePath, success: () => resolve('saved'), fail: err => reject(new Error(`保存失败：${(err && err.errMsg) || ''}`)),
  }))
  const openSettings = () => new Promise(resolve => wx.showModal({
    title: '需要保存到相册的权限', content: '海报要保存到手机相册，请在设置中允许“保存到相册”。', confirmText: '去设置',
    success: res => {
      if (!res.confirm) return resolve('denied')
      wx.openSetting({ success: s => resolve(s.authSetting && s.authSetting['scope.writePhotosAlbum'] ? 'granted' : 'denied'),
        fail: () => resolve('denied') })
    },
  }))
  return new Promise(resolve => wx.getSetting({ success: s => resolve(s.authSetting || {}), fail: () => resolve({}) }))
    .then(auth => {
      if (auth['scope.writePhotosAlbum'] === false) return openSettings()
      if (auth['scope.writePhotosAlbum'] === true) return 'granted'
      return new Promise(resolve => wx.authorize({ scope: 'scope.writePhotosAlbum',
        success: () => resolve('granted'), fail: () => resolve(openSettings()) }))
    })
    .then(outcome => (outcome === 'granted' ? save() : 'denied'))
}

module.exports = { posterSpec, cardSpec, drawPoster, saveToAlbum, WIDTH, HEIGHT }
