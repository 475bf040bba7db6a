const launch = require('./utils/launch')

App({
  globalData: { loggedIn: null },
  onLaunch(options) {
    wx.showShareMenu({ withShareTicket: true, menus: ['shareAppMessage', 'shareTimeline'] })
    this.globalData.loggedIn = launch.start(options)
  },
})
