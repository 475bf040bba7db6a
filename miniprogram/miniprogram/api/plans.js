const { call } = require('./request')

module.exports = {
  listPlans: options => call('listPlans', options),
  getPlan: (code, options) => call('getPlan', Object.assign({ params: { code } }, options)),
  listRuns: (code, options) => call('listRuns', Object.assign({ params: { code } }, options)),
  getRun: (code, id, options) => call('getRun', Object.assign({ params: { code, id } }, options)),
  listReports: (code, options) => call('listReports', Object.assign({ params: { code } }, options)),
  // period "YYYY-MM" (China time): live while the month runs, frozen and hashed once it is over
  getReport: (code, period, options) => call('getReport', Object.assign({ params: { code, period } }, options)),
}
