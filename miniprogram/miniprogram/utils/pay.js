// wx.requestPayment and the subscribe prompt that follows a payment.
const { SUBSCRIBE_TEMPLATES } = require('../config')
const { subscribe } = require('../api/invites')

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

// Allowed right after a payment (or from a tap). Tells the API which template keys were accepted;
// resolves with them ([] when none, or when the prompt itself failed: subscribing is optional).
function askSubscriptions() {
  const keys = Object.keys(SUBSCRIBE_TEMPLATES)
  return new Promise(resolve => {
    wx.requestSubscribeMessage({
      tmplIds: keys.map(key => SUBSCRIBE_TEMPLATES[key]),
      success: res => resolve(keys.filter(key => res[SUBSCRIBE_TEMPLATES[key]] === 'accept')),
      fail: () => resolve([]),
    })
  }).then(accepted => (accepted.length
    ? subscribe(accepted, { silent: true }).then(() => accepted, () => accepted)
    : accepted))
}

module.exports = { requestPayment, askSubscriptions }
