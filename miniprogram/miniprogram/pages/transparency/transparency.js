// Transparency, per plan: members, balances held, aid paid; the month's report (where the money is
// held, both sides balanced; a chart of the share per run); every apportionment run with its numbers
// and cases; the frozen months with their hashes; and the way to verify one's own deduction.
const { listPlans, listRuns, getRun, getReport, listReports } = require('../../api/plans')
const { loadInto } = require('../../utils/load')
const { formatDate } = require('../../utils/time')
const { formatCount } = require('../../utils/money')
const { describeReport, currentPeriod } = require('../../utils/reports')
const a11y = require('../../utils/a11y')

// a public run is published (members see the share before it is taken), executing, or executed
const RUN_STATUS_TEXT = { published: '公示中', executing: '扣款中', executed: '已完成' }
const describeRun = run => Object.assign({}, run, {
  date: formatDate(run.executed_at || run.published_at), statusText: RUN_STATUS_TEXT[run.status] || run.status,
  payersText: formatCount(run.payer_count),
})

Component({
  behaviors: [a11y.behavior],
  data: {
    status: 'loading', errorMessage: '', plans: [], selected: '', plan: null, runs: [], runsError: '', openRun: null,
    report: null, reportError: '', months: [],
  },
  methods: {
    onLoad(query) {
      this.wanted = (query && query.code) || ''
      return this.load()
    },
    onPullDownRefresh() {
      return this.load().then(() => wx.stopPullDownRefresh())
    },
    load() {
      return loadInto(this, options => listPlans(options).then(data => ({
        plans: data.items.map(p => Object.assign({}, p, { membersText: formatCount(p.counts.members) })),
        selected: (data.items.find(p => p.code === this.wanted) || data.items[0] || {}).code || '',
      })), data => data.plans.length === 0).then(() => (this.data.selected ? this.showPlan(this.data.selected) : null))
    },
    select(event) {
      return this.showPlan(event.currentTarget.dataset.code)
    },
    async showPlan(code) {
      const plan = this.data.plans.find(p => p.code === code)
      this.setData({ selected: code, plan, runs: [], runsError: '', openRun: null, report: null, reportError: '', months: [] })
      await Promise.all([
        listRuns(code, { silent: true }).then(data => this.setData({ runs: data.items.map(describeRun) }),
          error => this.setData({ runsError: error.message })),
        getReport(code, currentPeriod(), { silent: true }).then(entry => this.setData({ report: describeReport(entry) }),
          error => this.setData({ reportError: error.message })),
        listReports(code, { silent: true }).then(data => this.setData({
          months: data.items.map(m => Object.assign({}, m, { hashText: `${m.sha256.slice(0, 16)}…` })),
        }), () => null),
      ])
    },
    async openRunDetail(event) {
      const id = Number(event.currentTarget.dataset.id)
      if (this.data.openRun && this.data.openRun.id === id) {
        this.setData({ openRun: null })
        return
      }
      const run = await getRun(this.data.selected, id)
      this.setData({ openRun: Object.assign({}, run, { payersText: formatCount(run.payer_count), paidText: formatCount(run.paid_count) }) })
    },
    // the member's own proof is checked on the deductions page of a membership
    verifyMine() {
      wx.switchTab({ url: '/pages/family/family' })
    },
  },
})
