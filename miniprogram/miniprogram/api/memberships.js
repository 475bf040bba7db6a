const { call } = require('./request')

module.exports = {
  // {plan_code, relation, person: {name, id_number}, answers: {key: bool}}
  join: (body, options) => call('join', Object.assign({ data: body }, options)),
  listMemberships: options => call('listMemberships', options),
  getMembership: (id, options) => call('getMembership', Object.assign({ params: { id } }, options)),
  ledger: (id, page, perPage, options) =>
    call('ledger', Object.assign({ params: { id }, query: { page, per_page: perPage } }, options)),
  // after wx.requestMerchantTransfer succeeded (balance_return.transfer)
  confirmBalanceReturn: (id, options) => call('confirmBalanceReturn', Object.assign({ params: { id }, data: {} }, options)),
  leave: (id, options) => call('leave', Object.assign({ params: { id }, data: {} }, options)),
  deductions: (id, options) => call('deductions', Object.assign({ params: { id } }, options)),
  deductionProof: (id, run, options) => call('deductionProof', Object.assign({ params: { id, run } }, options)),
}
