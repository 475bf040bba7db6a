// Transparency, per plan: members, balances held, aid paid, and every apportionment run with its cases.
const { listPlans, listRuns, getRun } = require('../../api/plans')
const { loadInto } = require('../../utils/load')
const { formatDate } = require('../../utils/time')

// a public run is published (members see the share before it is taken), executing, or executed
const RUN_STATUS_TEXT = { published: '公示中', executing: '扣款中', executed: '已完成' }
const describeRun = run => Object.assign({}, run, {
  date: formatDate(run.executed_at || run.published_at), statusText: RUN_STATUS_TEXT[run.status] || run.status,
})

Component({
  data: { status: 'loading', errorMessage: '', plans: [], selected: '', plan: null, runs: [], runsError: '', openRun: null },
  methods: {
    onLoad() {
      return this.load()
    },
    load() {
      return loadInto(this, options => listPlans(options).then(data => ({
        plans: data.items, selected: data.items.length ? data.items[0].code : '',
      })), data => data.plans.length === 0).then(() => (this.data.selected ? this.showPlan(this.data.selected) : null))
    },
    select(event) {
      return this.showPlan(event.currentTarget.dataset.code)
    },
    async showPlan(code) {
      const plan = this.data.plans.find(p => p.code === code)
      this.setData({ selected: code, plan, runs: [], runsError: '', openRun: null })
      try {
        const data = await listRuns(code, { silent: true })
        this.setData({ runs: data.items.map(describeRun) })
      } catch (error) {
        this.setData({ runsError: error.message })
      }
    },
    async openRunDetail(event) {
      const run = await getRun(this.data.selected, event.currentTarget.dataset.id)
      this.setData({ openRun: run })
    },
  },
})
