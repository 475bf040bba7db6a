// <money fen="{{m.balance_fen}}" sign size="large"/>: an amount in integer fen shown as ¥3.00
// (utils/money.formatFen, the one formatter). sign: credits get "+"; size: body | large (a balance).
const { formatFen } = require('../../utils/money')

Component({
  properties: {
    // any type: a missing amount (null) must show as —, not be coerced to ¥0.00
    fen: { type: null, value: null, observer: 'render' },
    sign: { type: Boolean, value: false, observer: 'rerender' },
    size: { type: String, value: 'body' },
  },
  data: { text: '—', tone: '' },
  lifetimes: {
    attached() {
      this.render(this.data.fen)
    },
  },
  methods: {
    rerender() {
      this.render(this.data.fen)
    },
    render(fen) {
      const number = typeof fen === 'number'
      const tone = number && fen < 0 ? 'money-negative' : (number && this.data.sign && fen > 0 ? 'money-positive' : '')
      this.setData({ text: formatFen(fen, { sign: this.data.sign }), tone })
    },
  },
})
