// wx.requestPayment and the subscribe prompt that follows a payment.
const { SUBSCRIBE_KEYS } = require('../config')
const { listSubscriptions, subscribe } = require('../api/invites')

// Resolves 'paid' or 'cancelled' (the member closed the sheet); rejects on a real failure.
function requestPayment(payment) {
  return new Promise((resolve, reject) => {
    wx.requestPayment({
      timeStamp: payment.timeStamp,
      nonceStr: payment.nonceStr,
      package: payment.package,
      signType: payment.signType,
      paySign: payment.paySign,
      success: () => resolve('paid'),
      fail: res => {
        const errMsg = (res && res.errMsg) || ''
        if (/cancel/i.test(errMsg)) resolve('cancelled')
        else reject(new Error(`支付失败：${errMsg.replace(/^requestPayment:fail\s*/, '') || '请稍后再试'}`))
      },
    })
  })
}

// The subscribe-message templates (GET /subscriptions: key, template_id, remaining), fetched when a
// page loads: wx.requestSubscribeMessage must run straight from a tap or a payment callback, with no
// request in between. [] when the API cannot say (subscribing is optional).
function loadTemplates() {
  return listSubscriptions({ silent: true }).then(data => data.items, () => [])
}

// Asks for the templates of `keys` and tells the API which keys were accepted. Resolves with them
// ([] when none, or when anything failed: subscribing never blocks the member).
function askSubscriptions(templates, keys = SUBSCRIBE_KEYS.afterTopup) {
  const wanted = (templates || []).filter(t => keys.indexOf(t.key) >= 0)
  if (!wanted.length) return Promise.resolve([])
  return new Promise(resolve => {
    wx.requestSubscribeMessage({
      tmplIds: wanted.map(t => t.template_id),
      success: res => resolve(wanted.filter(t => res[t.template_id] === 'accept').map(t => t.key)),
      fail: () => resolve([]),
    })
  }).then(accepted => (accepted.length
    ? subscribe(accepted, { silent: true }).then(() => accepted, () => accepted)
    : accepted))
}

module.exports = { requestPayment, loadTemplates, askSubscriptions }
