// Plan detail: the rules in plain words (who may join, observation, maximum aid, share cap, exclusions).
const { getPlan } = require('../../api/plans')
const { loadInto } = require('../../utils/load')

Component({
  data: { status: 'loading', errorMessage: '', code: '', plan: null, hasEstimate: false },
  methods: {
    onLoad(query) {
      this.setData({ code: query.code })
      return this.load()
    },
    load() {
      return loadInto(this, options => getPlan(this.data.code, options).then(plan => ({
        plan, hasEstimate: Number.isInteger(plan.estimated_annual_fen),
      })))
    },
    join() {
      wx.navigateTo({ url: `/pages/join/join?code=${this.data.code}` })
    },
  },
})
