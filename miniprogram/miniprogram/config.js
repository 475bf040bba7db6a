// The one place that says where the API is. envVersion comes from WeChat:
// develop = DevTools / preview, trial = 体验版, release = 正式版.
const ENVIRONMENTS = {
  develop: { apiBase: 'http://127.0.0.1:8000/api/v1' },
  trial: { apiBase: 'https://api-staging.yiqi.example/api/v1' },
  release: { apiBase: 'https://api.yiqi.example/api/v1' },
}

// Debugging on a phone against a laptop: in DevTools' console run
//   wx.setStorageSync('apiBase', 'http://192.168.1.20:8000/api/v1')
// (develop builds only; trial and release ignore it).
const API_BASE_OVERRIDE_KEY = 'apiBase'

// Subscribe-message templates the member is asked for, by the key the API knows them by
// (config/subscribe_templates.toml); their ids come from GET /subscriptions, so a template
// replaced in the WeChat console needs no new release. WeChat shows at most 3 per prompt.
// Asked only at moments members accept them (after joining, after a top-up, when reporting or
// following a case), never on launch.
const SUBSCRIBE_KEYS = {
  afterJoin: ['observation_over', 'membership_status', 'balance_low'],
  afterTopup: ['topup_credited', 'share_deducted', 'balance_low'],
  afterClaim: ['claim_status', 'aid_paid'],
  followCase: ['case_publicity', 'case_announced'],
}

// Who runs the platform and where the money is (pages/about). The legal entity and the custodian are
// facts of the deployment: set them here before a release (the about page shows what is set).
const OPERATOR = {
  name: '一起互助',
  entity: '',        // the operating company's registered name
  custodian: '',     // the bank holding the custodial account
  contact: '',       // customer service: phone or WeChat
}

function envVersion() {
  try {
    return wx.getAccountInfoSync().miniProgram.envVersion || 'develop'
  } catch (err) {
    return 'develop'
  }
}

function apiBase() {
  const env = envVersion()
  const override = env === 'develop' ? wx.getStorageSync(API_BASE_OVERRIDE_KEY) : ''
  return (override || (ENVIRONMENTS[env] || ENVIRONMENTS.develop).apiBase).replace(/\/+$/, '')
}

module.exports = { ENVIRONMENTS, SUBSCRIBE_KEYS, OPERATOR, API_BASE_OVERRIDE_KEY, envVersion, apiBase }
