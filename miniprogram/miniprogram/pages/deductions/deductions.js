// Deductions: each apportionment run that took money from this membership, with the cases it funded,
// and a check, on the phone, that the debit is in the run's published Merkle root.
const { deductions, deductionProof } = require('../../api/memberships')
const { verifyDebitProof } = require('../../utils/merkle')
const { loadInto } = require('../../utils/load')
const { formatDate } = require('../../utils/time')
const a11y = require('../../utils/a11y')

Component({
  behaviors: [a11y.behavior],
  data: { status: 'loading', errorMessage: '', id: null, items: [], checks: {} },
  methods: {
    onLoad(query) {
      this.setData({ id: Number(query.id) })
      return this.load()
    },
    onPullDownRefresh() {
      return this.load().then(() => wx.stopPullDownRefresh())
    },
    load() {
      return loadInto(this, options => deductions(this.data.id, options).then(data => ({
        items: data.items.map(run => Object.assign({}, run, { date: formatDate(run.deducted_at) })),
      })), data => data.items.length === 0)
    },
    // Fetches this membership's proof for the run and verifies it here: nothing is taken on trust.
    async verify(event) {
      const run = event.currentTarget.dataset.run
      this.setData({ [`checks.${run}`]: { state: 'checking', text: '核验中…' } })
      try {
        const proof = await deductionProof(this.data.id, run, { silent: true })
        const result = verifyDebitProof(proof)
        this.setData({ [`checks.${run}`]: result.ok
          ? { state: 'ok', text: `已核验：你的扣款是公开记录第 ${proof.leaf_index + 1}/${proof.tree_size} 条，与公布的根一致`,
            root: `根 ${proof.root.slice(0, 16)}…` }
          : { state: 'bad', text: '核验失败：证明与公布的记录不符，请联系我们' } })
      } catch (error) {
        this.setData({ [`checks.${run}`]: { state: 'bad', text: error.message } })
      }
    },
  },
})
