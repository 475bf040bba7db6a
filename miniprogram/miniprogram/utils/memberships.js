// What a membership's state means to the family, in words.
const { MEMBERSHIP_STATES, RELATIONS, label } = require('./labels')
const { formatDate } = require('./time')
const { formatFen } = require('./money')

function describe(m) {
  let note = ''
  let warning = ''
  if (m.state === 'pending') note = `预存 ${formatFen(m.min_prepay_fen)} 后开始观察期`
  if (m.state === 'observing') note = `观察期还剩 ${m.observation_days_left} 天`
  if (m.state === 'protected') note = '保障中'
  if (m.state === 'suspended') {
    warning = m.grace_ends_at
      ? `余额不足，保障已暂停。请在 ${formatDate(m.grace_ends_at)} 前充值恢复保障`
      : '余额不足，保障已暂停，请充值恢复保障'
  }
  return Object.assign({}, m, {
    stateText: label(MEMBERSHIP_STATES, m.state),
    relationText: label(RELATIONS, m.relation),
    note,
    warning,
    canTopUp: m.state !== 'left' && m.state !== 'lapsed',
  })
}

module.exports = { describe }
