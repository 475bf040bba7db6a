// Who runs the platform and where the money is held, in plain words; the agreements to read.
const { OPERATOR } = require('../../config')
const { getPolicy } = require('../../api/privacy')
const a11y = require('../../utils/a11y')

Component({
  behaviors: [a11y.behavior],
  data: { operator: OPERATOR, documents: [] },
  methods: {
    onLoad() {
      return getPolicy({ silent: true }).then(policy => this.setData({ documents: policy.documents }), () => null)
    },
    openDocument(event) {
      const doc = this.data.documents.find(d => d.key === event.currentTarget.dataset.key)
      wx.showModal({ title: doc.title, content: doc.text, showCancel: false, confirmText: '我知道了', success: () => {} })
    },
    openTransparency() {
      wx.navigateTo({ url: '/pages/transparency/transparency' })
    },
  },
})
