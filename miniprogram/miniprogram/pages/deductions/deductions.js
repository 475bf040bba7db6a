// Deductions: each apportionment run that took money from this membership, with the cases it funded.
const { deductions } = require('../../api/memberships')
const { loadInto } = require('../../utils/load')
const { formatDate } = require('../../utils/time')

Component({
  data: { status: 'loading', errorMessage: '', id: null, items: [] },
  methods: {
    onLoad(query) {
      this.setData({ id: Number(query.id) })
      return this.load()
    },
    load() {
      return loadInto(this, options => deductions(this.data.id, options).then(data => ({
        items: data.items.map(run => Object.assign({}, run, { date: formatDate(run.deducted_at) })),
      })), data => data.items.length === 0)
    },
  },
})
