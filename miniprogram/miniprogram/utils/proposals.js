// A rule-change proposal in words: its status, the tally as shares, and what happens next.
const { formatDate } = require('./time')
const { formatCount, percentOf } = require('./money')

const STATUS = {
  open: { text: '表决中', theme: 'primary' }, passed: { text: '已通过', theme: 'success' },
  failed: { text: '未通过', theme: 'default' }, in_force: { text: '已生效', theme: 'success' },
  withdrawn: { text: '已撤回', theme: 'default' },
}

function nextText(p) {
  const effective = formatDate(`${p.effective_on}T00:00:00+08:00`)
  if (p.status === 'open') {
    return `表决于 ${formatDate(p.window_closes_at)} 截止。通过后，新规则 ${effective} 起对所有成员生效；不同意的成员可在生效前退出，余额全额退回。未通过则规则不变。`
  }
  if (p.status === 'passed') return `已通过，新规则 ${effective} 起生效。不同意的成员可在此之前退出，余额全额退回。`
  if (p.status === 'in_force') return `新规则已于 ${effective} 生效。`
  if (p.status === 'withdrawn') return p.outcome_text || '计划停止运行，这项规则变更已撤回，规则不变。'
  return '未通过，规则不变。'
}

function describeProposal(p) {
  const status = STATUS[p.status] || { text: p.status, theme: 'default' }
  const t = p.tally || { agree: 0, disagree: 0, answered: 0, eligible: 0, turnout_percent: 0 }
  return Object.assign({}, p, {
    statusText: status.text, statusTheme: status.theme,
    closes: formatDate(p.window_closes_at),
    agreePercent: percentOf(t.agree, t.answered),
    tallyText: `同意 ${formatCount(t.agree)} · 不同意 ${formatCount(t.disagree)} · 已答复 ${formatCount(t.answered)}/${formatCount(t.eligible)}（${t.turnout_percent}%）`,
    quorumText: p.quorum ? `通过条件：${p.quorum.agree_ratio_text}，且答复者不少于全体成员的 ${p.quorum.min_turnout_percent}%` : '',
    nextText: nextText(p),
    myAnswerText: p.my_answer === 'agree' ? '你已同意' : (p.my_answer === 'disagree' ? '你已表示不同意' : ''),
  })
}

module.exports = { describeProposal, nextText }
