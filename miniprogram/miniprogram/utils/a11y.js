// Font scaling: the page's base font size follows the member's WeChat font setting
// (wx.getAppBaseInfo().fontSizeSetting, px), clamped to what the layouts hold; text sizes in
// app.wxss are em of it. Mixed into every page as a behavior: <view class="page" style="{{fontStyle}}">.
const MIN_PX = 16
const MAX_PX = 24

function fontPx() {
  try {
    const info = wx.getAppBaseInfo ? wx.getAppBaseInfo() : wx.getSystemInfoSync()
    const px = Number(info && info.fontSizeSetting)
    return Number.isFinite(px) && px > 0 ? Math.min(MAX_PX, Math.max(MIN_PX, px)) : MIN_PX
  } catch (error) {
    return MIN_PX
  }
}

const fontStyle = () => `font-size: ${fontPx()}px`

const definition = {
  data: { fontStyle: `font-size: ${MIN_PX}px` },
  lifetimes: {
    attached() {
      this.setData({ fontStyle: fontStyle() })
    },
  },
}
// Behavior exists in the mini-program (and in miniprogram-simulate); plain Node gets the definition
const behavior = typeof Behavior === 'function' ? Behavior(definition) : definition

module.exports = { behavior, fontPx, fontStyle, MIN_PX, MAX_PX }
