// The consent boxes a join or a claim asks for (PIPL: the policy, and separately the sensitive data).
// A page mixes these methods in; its data holds `policy`, `consentScopes` and `consents` ({key: ticked}).
const { getPolicy, consentFor } = require('../api/privacy')

// scopesKey: 'join_scopes' or 'claim_scopes' of GET /privacy/policy
function policyData(policy, scopesKey) {
  const wanted = policy[scopesKey]
  return { policy, consentScopes: policy.scopes.filter(s => wanted.includes(s.key)), consents: {} }
}

const REQUIRED = /_consent_required$/

const methods = {
  toggleConsent(event) {
    const key = event.currentTarget.dataset.key
    this.setData({ [`consents.${key}`]: !this.data.consents[key] })
  },
  openDocument(event) {
    const doc = this.data.policy.documents.find(d => d.key === event.currentTarget.dataset.key)
    wx.showModal({ title: doc.title, content: doc.text, showCancel: false, confirmText: '我知道了', success: () => {} })
  },
  consentProblem() {
    const missing = this.data.consentScopes.find(s => !this.data.consents[s.key])
    return missing ? `请阅读并勾选「${missing.title}」` : ''
  },
  consentBody() {
    return consentFor(this.data.policy, this.data.consentScopes.map(s => s.key))
  },
  // the policy changed since the page loaded: show the new version's boxes, unticked
  async refreshPolicyAfter(error, scopesKey) {
    if (!REQUIRED.test(error.code || '')) return
    try {
      this.setData(policyData(await getPolicy({ silent: true }), scopesKey))
    } catch (ignored) {
      // the error message already asks to tick the boxes again
    }
  },
}

module.exports = { policyData, methods, getPolicy }
