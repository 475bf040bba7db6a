// A page's four states: loading, error (message + retry), empty, and its content (the slot).
Component({
  properties: {
    status: { type: String, value: 'loading' },
    message: { type: String, value: '' },
    emptyText: { type: String, value: '这里还没有内容' },
  },
  methods: {
    onRetry() {
      this.triggerEvent('retry')
    },
  },
})
