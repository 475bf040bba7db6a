const { call } = require('./request')

module.exports = {
  listPlans: options => call('listPlans', options),
  getPlan: (code, options) => call('getPlan', Object.assign({ params: { code } }, options)),
  listRuns: (code, options) => call('listRuns', Object.assign({ params: { code } }, options)),
  getRun: (code, id, options) => call('getRun', Object.assign({ params: { code, id } }, options)),
}
