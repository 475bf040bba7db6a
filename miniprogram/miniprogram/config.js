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

// Subscribe-message templates (ids from the WeChat console) by the key the API knows them by.
const SUBSCRIBE_TEMPLATES = {
  deduction: 'TEMPLATE_ID_DEDUCTION',
  low_balance: 'TEMPLATE_ID_LOW_BALANCE',
  claim_status: 'TEMPLATE_ID_CLAIM_STATUS',
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

module.exports = { ENVIRONMENTS, SUBSCRIBE_TEMPLATES, API_BASE_OVERRIDE_KEY, envVersion, apiBase }
