// A plan as the pages show it: counts with thousands separators, who may join, the aid table,
// the fee in percent; every number from the API (nothing about the rules is written in a template).
const { formatFen, formatCount } = require('./money')

function ages(group) {
  const from = group.min_age_years !== null && group.min_age_years !== undefined ? `${group.min_age_years}周岁`
    : (group.min_age_days ? `出生满${group.min_age_days}天` : '')
  const to = group.max_age_years !== null && group.max_age_years !== undefined ? `${group.max_age_years}周岁` : ''
  const sex = group.sex === 'F' ? '女性' : (group.sex === 'M' ? '男性' : '')
  return [from && to ? `${from}至${to}` : from || (to ? `${to}以下` : ''), sex].filter(Boolean).join('，')
}

// 800 basis points → "8%", 850 → "8.5%"
const percent = bp => (Number.isInteger(bp) ? `${bp / 100}%` : '—')

function describePlan(plan) {
  const wind = plan.wind_down || null
  return Object.assign({}, plan, {
    membersText: formatCount(plan.counts && plan.counts.members),
    shareCapText: formatFen(plan.share_cap_fen),
    minPrepayText: formatFen(plan.min_prepay_fen),
    feeText: percent(plan.management_fee_bp),
    hasEstimate: Number.isInteger(plan.estimated_annual_fen),
    eligibilityRows: (plan.eligibility || []).map((g, i) => ({ key: i, label: g.label, text: ages(g) })),
    aidRows: (plan.aid_table || []).map(a => ({ key: a.code, name: a.name, max: formatFen(a.max_aid_fen) })),
    closing: plan.status === 'closing' || plan.status === 'closed' || Boolean(wind),
  })
}

module.exports = { describePlan, ages, percent }
