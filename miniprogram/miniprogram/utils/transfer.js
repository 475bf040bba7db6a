// wx.requestMerchantTransfer (商家转账, issues 14 and 17): the member confirms receipt of money the
// platform transfers to them — a claim's aid (GET /claims/{id} payout.transfer) or a balance returned
// by transfer (GET /memberships/{id} balance_return.transfer). The API gives {mch_id, app_id, package_info}
// while the transfer waits for the member.

const UPDATE_MESSAGE = '当前微信版本过低，无法确认收款，请升级微信到最新版本后再试'
const CANCEL_MESSAGE = '已取消，钱款仍为您保留，可稍后再点“确认收款”'

// Resolves 'confirmed', 'cancelled' (the member closed the sheet) or 'unsupported' (an old WeChat);
// rejects on a real failure.
function requestMerchantTransfer(transfer) {
  if (typeof wx.requestMerchantTransfer !== 'function' || (wx.canIUse && !wx.canIUse('requestMerchantTransfer'))) {
    return Promise.resolve('unsupported')
  }
  return new Promise((resolve, reject) => {
    wx.requestMerchantTransfer({
      mchId: transfer.mch_id,
      appId: transfer.app_id,
      package: transfer.package_info,
      success: () => resolve('confirmed'),
      fail: res => {
        const errMsg = (res && res.errMsg) || ''
        if (/cancel/i.test(errMsg)) resolve('cancelled')
        else reject(new Error(`确认收款失败：${errMsg.replace(/^requestMerchantTransfer:fail\s*/, '') || '请稍后再试'}`))
      },
    })
  })
}

// The page's "确认收款": the WeChat sheet, then `tellApi()` (POST …/confirmed) and `reload()`.
// Cancel: a message, nothing else. Returns the outcome ('confirmed', 'cancelled', 'unsupported', 'failed').
async function confirmReceipt(transfer, tellApi, reload) {
  let outcome
  try {
    outcome = await requestMerchantTransfer(transfer)
  } catch (error) {
    wx.showToast({ title: error.message, icon: 'none' })
    return 'failed'
  }
  if (outcome === 'unsupported') {
    wx.showModal({ title: '请升级微信', content: UPDATE_MESSAGE, showCancel: false, confirmText: '知道了' })
    return outcome
  }
  if (outcome === 'cancelled') {
    wx.showToast({ title: CANCEL_MESSAGE, icon: 'none' })
    return outcome
  }
  try {
    await tellApi()
    wx.showToast({ title: '已确认收款', icon: 'success' })
  } catch (error) {
    // request.js has shown the reason; the sweep settles the transfer anyway
  }
  await reload()
  return outcome
}

module.exports = { requestMerchantTransfer, confirmReceipt, UPDATE_MESSAGE, CANCEL_MESSAGE }
