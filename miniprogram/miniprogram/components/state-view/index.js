// A page's states: loading (a skeleton of its rows), error (the message + retry), empty (a line of
// text and an optional action), and its content (the slot).
Component({
  options: { multipleSlots: true },
  properties: {
    status: { type: String, value: 'loading' },
    message: { type: String, value: '' },
    emptyText: { type: String, value: '这里还没有内容' },
    // the empty state's button ("去看看互助计划"); none when ''
    emptyAction: { type: String, value: '' },
    // skeleton rows while loading
    rows: { type: Number, value: 4 },
  },
  data: { rowCol: [] },
  observers: {
    rows(n) {
      this.setData({ rowCol: Array.from({ length: n }, (_, i) => [{ width: i % 3 === 2 ? '60%' : '100%', height: '40rpx' }]) })
    },
  },
  lifetimes: {
    attached() {
      this.setData({ rowCol: Array.from({ length: this.data.rows }, (_, i) => [{ width: i % 3 === 2 ? '60%' : '100%', height: '40rpx' }]) })
    },
  },
  methods: {
    onRetry() {
      this.triggerEvent('retry')
    },
    onAction() {
      this.triggerEvent('action')
    },
  },
})
