// A small `wx` for Node: wx.request / wx.login / wx.requestPayment do real HTTP, against the API and
// against the emulator (which plays the phone: it mints login codes and "pays").
const fs = require('fs')
const os = require('os')
const path = require('path')

function makeWx({ apiBase, emulatorUrl, openid, tmpDir = os.tmpdir() }) {
  const storage = { apiBase }
  const toasts = []
  const transfers = []

  async function http(options) {
    const method = (options.method || 'GET').toUpperCase()
    const headers = Object.assign({}, options.header)
    const init = { method, headers }
    if (method !== 'GET' && options.data !== undefined) init.body = JSON.stringify(options.data)
    const response = await fetch(options.url, init)
    const body = await response.text()
    let data = body
    try { data = JSON.parse(body) } catch (err) { /* not JSON: as wx.request, leave the string */ }
    return { statusCode: response.status, data, header: Object.fromEntries(response.headers) }
  }

  const call = (promise, { success, fail }) => promise.then(res => success && success(res), err => fail && fail({ errMsg: `fail ${err.message}` }))

  return {
    storage,
    toasts,
    getStorageSync: key => (key in storage ? storage[key] : ''),
    setStorageSync: (key, value) => { storage[key] = value },
    getAccountInfoSync: () => ({ miniProgram: { envVersion: 'develop' } }),
    showToast: ({ title }) => toasts.push(title),
    request: options => call(http(options), options),
    login: options => call(http({ url: `${emulatorUrl}_emulator/codes`, method: 'POST', data: { openid },
      header: { 'content-type': 'application/json' } }).then(res => ({ code: res.data.code })), options),
    // the member taps "pay": the emulator checks paySign, marks the order paid and notifies the API
    requestPayment: options => call(http({ url: `${emulatorUrl}_emulator/pay`, method: 'POST', header: { 'content-type': 'application/json' },
      data: { timeStamp: options.timeStamp, nonceStr: options.nonceStr, package: options.package, signType: options.signType, paySign: options.paySign } })
      .then(res => { if (res.statusCode !== 200) throw new Error(JSON.stringify(res.data)); return { errMsg: 'requestPayment:ok' } }), options),
    // wx.requestMerchantTransfer (商家转账): the member accepts the money; the emulator settles the transfer bill
    transfers,
    canIUse(name) { return typeof this[name] === 'function' },
    requestMerchantTransfer: options => {
      transfers.push({ mchId: options.mchId, appId: options.appId, package: options.package })
      return call(http({ url: `${emulatorUrl}_emulator/transfer/confirm`, method: 'POST', header: { 'content-type': 'application/json' },
        data: { package_info: options.package } })
        .then(res => { if (res.statusCode !== 200) throw new Error(JSON.stringify(res.data)); return { errMsg: 'requestMerchantTransfer:ok' } }), options)
    },
    // the member accepts every template offered
    requestSubscribeMessage: ({ tmplIds, success }) => success(Object.assign({ errMsg: 'requestSubscribeMessage:ok' },
      ...tmplIds.map(id => ({ [id]: 'accept' })))),
    // opened from a group chat: the emulator seals the group's opengid with this user's session_key,
    // as WeChat does for wx.getGroupEnterInfo (the shareTicket stands for the group here: opengid G-<ticket>)
    getGroupEnterInfo: options => call(http({ url: `${emulatorUrl}_emulator/groups/encrypt`, method: 'POST',
      header: { 'content-type': 'application/json' }, data: { openid, opengid: `G-${options.shareTicket}` } })
      .then(res => { if (res.statusCode !== 200) throw new Error(JSON.stringify(res.data)); return res.data }), options),
    // a binary answer saved to a temporary file, as WeChat does
    downloadFile: options => call(fetch(options.url, { headers: options.header }).then(async response => {
      const file = path.join(fs.mkdtempSync(path.join(tmpDir, 'wx-download-')), 'download')
      fs.writeFileSync(file, Buffer.from(await response.arrayBuffer()))
      return { statusCode: response.status, tempFilePath: file }
    }), options),
  }
}

module.exports = { makeWx }
