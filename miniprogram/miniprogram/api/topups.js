const { call } = require('./request')

module.exports = {
  // → {order: {id, status, amount_fen, …}, payment: the wx.requestPayment parameters}
  createTopup: (membershipId, amountFen, options) =>
    call('createTopup', Object.assign({ params: { id: membershipId }, data: { amount_fen: amountFen } }, options)),
  // The sponsor token goes in the body (never the URL): access logs must not hold it.
  getSponsor: (token, options) => call('getSponsor', Object.assign({ data: { token } }, options)),
  sponsorTopup: (token, amountFen, options) =>
    call('sponsorTopup', Object.assign({ data: { token, amount_fen: amountFen } }, options)),
}
