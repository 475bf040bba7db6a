// Top-up: own membership (?id=) or a relative's through their sponsor link (?sponsor=TOKEN).
// amount → POST …/topups → wx.requestPayment → subscribe prompt. Cancel and failure are shown.
const { getMembership } = require('../../api/memberships')
const { createTopup, getSponsor, sponsorTopup } = require('../../api/topups')
const { loadInto } = require('../../utils/load')
const { parseYuan, formatFen } = require('../../utils/money')
const { getPlan } = require('../../api/plans')
const { requestPayment, loadTemplates, askSubscriptions } = require('../../utils/pay')
const a11y = require('../../utils/a11y')

const AMOUNTS_FEN = [300, 1000, 3000, 5000]

Component({
  behaviors: [a11y.behavior],
  data: {
    shareCapText: '',
    status: 'loading', errorMessage: '', id: null, sponsor: '', target: null,
    amounts: AMOUNTS_FEN, amountFen: 1000, custom: '', customError: '', paying: false, payState: '', payMessage: '',
  },
  methods: {
    onLoad(query) {
      this.setData({ id: query.id ? Number(query.id) : null, sponsor: query.sponsor || '' })
      this.templates = loadTemplates()
      return this.load()
    },
    load() {
      // the share cap in the plan's own number (own membership: its plan; a sponsor link names no plan code)
      return loadInto(this, options => (this.data.sponsor
        ? getSponsor(this.data.sponsor, options).then(target => ({ target, shareCapText: '' }))
        : getMembership(this.data.id, options).then(target => getPlan(target.plan_code, options)
          .then(plan => ({ target, shareCapText: formatFen(plan.share_cap_fen) })))))
    },
    chooseAmount(event) {
      this.setData({ amountFen: Number(event.currentTarget.dataset.fen), custom: '' })
    },
    onCustom(event) {
      const fen = parseYuan(event.detail.value)
      this.setData({ custom: event.detail.value, amountFen: fen,
        customError: event.detail.value && fen === null ? '请输入正确的金额（最多两位小数）' : '' })
    },
    async pay() {
      if (this.data.paying) return
      const amount = this.data.amountFen
      if (!Number.isInteger(amount) || amount <= 0) {
        this.setData({ payState: 'failed', payMessage: '请输入正确的金额（最多两位小数）' })
        return
      }
      this.setData({ paying: true, payState: '', payMessage: '' })
      try {
        const order = this.data.sponsor
          ? await sponsorTopup(this.data.sponsor, amount)
          : await createTopup(this.data.id, amount)
        const outcome = await requestPayment(order.payment)
        if (outcome === 'cancelled') {
          this.setData({ payState: 'cancelled', payMessage: '已取消支付，没有扣款' })
          return
        }
        this.setData({ payState: 'paid', payMessage: `已支付 ${formatFen(amount)}，到账后余额自动更新` })
        await askSubscriptions(await this.templates)
        await this.load()
      } catch (error) {
        this.setData({ payState: 'failed', payMessage: error.message })
      } finally {
        this.setData({ paying: false })
      }
    },
  },
})
