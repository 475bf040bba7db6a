// A closing plan (?code=, and ?membership= for the member's own refund): where the wind-down is
// (announced → final run → refunding → closed), which claims may still be made, the refunds' progress,
// the surplus rule, the closing report; the member's balance on its way back.
const { getWindDown } = require('../../api/proposals')
const { getMembership } = require('../../api/memberships')
const { loadInto } = require('../../utils/load')
const { formatDate } = require('../../utils/time')
const { formatFen, formatCount, percentOf } = require('../../utils/money')
const a11y = require('../../utils/a11y')
const { apiBase } = require('../../config')

const STAGES = [
  { key: 'announced', title: '已公告' }, { key: 'final_run', title: '最后一期分摊' },
  { key: 'refunding', title: '退回余额' }, { key: 'closed', title: '已结束' },
]
const RETURN_STATUS = { pending: '待退回', returning: '退回中', done: '已全部退回', failed: '退回失败，我们会联系你' }

function describeWindDown(w) {
  const p = w.progress
  return Object.assign({}, w, {
    stage: Math.max(0, STAGES.findIndex(s => s.key === w.status)),
    closing: formatDate(`${w.closing_date}T00:00:00+08:00`),
    refundedPercent: percentOf(p.refunded, p.members_total),
    progressText: `已退回 ${formatCount(p.refunded)}/${formatCount(p.members_total)} 人 · 待退回 ${formatCount(p.pending)} 人${p.failed ? ` · 失败 ${formatCount(p.failed)} 人` : ''}`,
    returnedText: formatFen(p.returned_fen), remainingText: formatFen(p.remaining_fen),
  })
}

function describeReturn(r) {
  if (!r) return null
  return Object.assign({}, r, {
    statusText: RETURN_STATUS[r.status] || r.status,
    percent: r.amount_fen > 0 ? percentOf(r.returned_fen, r.amount_fen) : 100,
  })
}

Component({
  behaviors: [a11y.behavior],
  data: { status: 'loading', errorMessage: '', code: '', membership: null, windDown: null, mine: null, stages: STAGES },
  methods: {
    onLoad(query) {
      this.setData({ code: query.code, membership: query.membership ? Number(query.membership) : null })
      return this.load()
    },
    load() {
      return loadInto(this, options => Promise.all([
        getWindDown(this.data.code, options),
        this.data.membership ? getMembership(this.data.membership, options) : Promise.resolve(null),
      ]).then(([w, m]) => ({ windDown: describeWindDown(w), mine: m ? describeReturn(m.balance_return) : null })))
    },
    openReport() {
      // the API gives the report's path on its own host ("/api/v1/plans/…/wind-down/report")
      const url = this.data.windDown.closing_report_url
      wx.setClipboardData({ data: /^https?:/.test(url) ? url : apiBase().replace(/\/api\/v\d+$/, '') + url })
    },
  },
})
