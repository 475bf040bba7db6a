const { call } = require('./request')

module.exports = {
  // → {order: {id, status, amount_fen, …}, payment: the wx.requestPayment parameters}
  createTopup: (membershipId, amountFen, options) =>
    call('createTopup', Object.assign({ params: { id: membershipId }, data: { amount_fen: amountFen } }, options)),
  getSponsor: (token, options) => call('getSponsor', Object.assign({ params: { token } }, options)),
  sponsorTopup: (token, amountFen, options) =>
    call('sponsorTopup', Object.assign({ params: { token }, data: { amount_fen: amountFen } }, options)),
}
