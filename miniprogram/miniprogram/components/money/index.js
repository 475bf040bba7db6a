// <money fen="{{m.balance_fen}}"/>: an amount in integer fen shown as ¥3.00 (utils/money.formatFen).
const { formatFen } = require('../../utils/money')

Component({
  properties: {
    // any type: a missing amount (null) must show as —, not be coerced to ¥0.00
    fen: { type: null, value: null, observer: 'render' },
  },
  data: { text: '—', negative: false },
  lifetimes: {
    attached() {
      this.render(this.data.fen)
    },
  },
  methods: {
    render(fen) {
      this.setData({ text: formatFen(fen), negative: typeof fen === 'number' && fen < 0 })
    },
  },
})
