// A claim's timeline and documents; adding documents: wx.chooseMedia → wx.uploadFile (one per file);
// receiving the aid: "确认收款" → wx.requestMerchantTransfer (payout.transfer) → POST …/payout/confirmed.
const { confirmPayout, getClaim, uploadClaimDocument } = require('../../api/claims')
const { confirmReceipt } = require('../../utils/transfer')
const { loadInto } = require('../../utils/load')
const { CLAIM_STATUSES, label } = require('../../utils/labels')
const { formatDateTime } = require('../../utils/time')

// the statuses in which the API takes documents (app/services/claims.py MEMBER_EDITABLE)
const UPLOADABLE = ['submitted', 'under_review', 'returned', 'investigating']
const documentText = d => (d.content_type === 'application/pdf' ? 'PDF 文件' : '图片')

const a11y = require('../../utils/a11y')

Component({
  behaviors: [a11y.behavior],
  data: { status: 'loading', errorMessage: '', id: null, claim: null, uploading: false, uploadMessage: '', uploadError: '',
    confirming: false },
  methods: {
    onLoad(query) {
      this.setData({ id: Number(query.id) })
      return this.load()
    },
    load() {
      return loadInto(this, options => getClaim(this.data.id, options).then(claim => ({
        claim: Object.assign({}, claim, {
          canUpload: UPLOADABLE.indexOf(claim.status) >= 0,
          hasAid: Number.isInteger(claim.approved_aid_fen),
          // the aid transferred, waiting for the member to confirm receipt in WeChat
          awaitingReceipt: Boolean(claim.payout && claim.payout.status === 'wait_user_confirm' && claim.payout.transfer),
          timeline: claim.timeline.map((t, index) => Object.assign({}, t, {
            key: index, statusText: label(CLAIM_STATUSES, t.to_status), when: formatDateTime(t.created_at),
          })),
          documents: claim.documents.map((d, index) => Object.assign({}, d, { text: `${documentText(d)} ${index + 1}` })),
        }),
      })))
    },
    async confirmReceipt() {
      if (this.data.confirming) return
      this.setData({ confirming: true })
      try {
        await confirmReceipt(this.data.claim.payout.transfer, () => confirmPayout(this.data.id), () => this.load())
      } finally {
        this.setData({ confirming: false })
      }
    },
    chooseFiles() {
      return new Promise(resolve => {
        wx.chooseMedia({
          count: 9, mediaType: ['image'], sourceType: ['album', 'camera'],
          success: res => resolve(res.tempFiles.map(f => f.tempFilePath)),
          fail: () => resolve([]), // closed without choosing
        })
      })
    },
    async addDocuments() {
      const paths = await this.chooseFiles()
      if (!paths.length) return
      this.setData({ uploading: true, uploadMessage: '', uploadError: '' })
      let done = 0
      try {
        for (const path of paths) {
          await uploadClaimDocument(this.data.id, path)
          done += 1
        }
        this.setData({ uploadMessage: `已上传 ${done} 份材料` })
      } catch (error) {
        this.setData({ uploadError: `已上传 ${done} 份，其余失败：${error.message}` })
      } finally {
        this.setData({ uploading: false })
      }
      await this.load()
    },
  },
})
