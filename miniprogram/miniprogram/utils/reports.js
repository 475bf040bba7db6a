// A month's financial report (GET /plans/{code}/reports/{period}) in words and figures: where the
// money is held (custody, both sides), the month's flows, and the share per run for the chart.
const { formatFen, formatCount } = require('./money')
const { formatDate } = require('./time')

const CHINA_OFFSET_MS = 8 * 3600 * 1000
// the month now, China time: "2026-04"
function currentPeriod(nowMs = Date.now()) {
  const d = new Date(nowMs + CHINA_OFFSET_MS)
  return `${d.getUTCFullYear()}-${d.getUTCMonth() < 9 ? '0' : ''}${d.getUTCMonth() + 1}`
}

const HELD = [
  ['member_balances_fen', '成员预存余额'], ['surplus_fen', '计划结余'], ['aid_payable_fen', '待发放互助金'],
  ['pool_in_run_fen', '分摊中的资金'], ['refunds_on_their_way_fen', '退款途中'],
]
const FLOWS = [
  ['money_received_fen', '收到充值'], ['deductions_fen', '分摊扣款'], ['aid_paid_fen', '发放互助金'],
  ['refunds_fen', '退款'], ['fees_fen', '管理费'],
]

function describeReport(entry) {
  const report = entry.report || {}
  const held = (report.custody && report.custody.held) || {}
  const flows = report.flows || {}
  const history = report.history || []
  return {
    period: entry.period,
    frozen: entry.frozen,
    sha256: entry.sha256 || '',
    balanced: Boolean(report.custody && report.custody.balanced),
    heldRows: HELD.filter(([key]) => Number.isInteger(held[key])).map(([key, label]) => ({ key, label, fen: held[key] })),
    heldTotalFen: held.total_fen,
    flowRows: FLOWS.filter(([key]) => Number.isInteger(flows[key])).map(([key, label]) => ({ key, label, fen: flows[key] })),
    membersText: formatCount(report.members_with_balance_at_close),
    // the chart: each run's share per person, oldest first
    chart: history.map(r => ({ label: formatDate(r.executed_at).slice(5), value: r.share_fen })),
    runs: (report.runs || []).map(r => Object.assign({}, r, {
      date: formatDate(r.executed_at), payersText: formatCount(r.payers), collectedText: formatFen(r.collected_fen),
    })),
  }
}

module.exports = { describeReport, currentPeriod }
