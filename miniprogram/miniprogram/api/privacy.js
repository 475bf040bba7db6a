const { call } = require('./request')

module.exports = {
  // the current privacy policy, service agreement and consent texts, with their version
  getPolicy: options => call('getPrivacyPolicy', options),
  // the `consent` a join or claim sends: the version read and the boxes ticked
  consentFor: (policy, scopes) => ({ policy_version: policy.version, scopes }),
}
