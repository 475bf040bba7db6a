// A claim's timeline and documents; adding documents: wx.chooseMedia → wx.uploadFile (one per file).
const { getClaim, uploadClaimDocument } = require('../../api/claims')
const { loadInto } = require('../../utils/load')
const { CLAIM_STATUSES, DOCUMENT_KINDS, label } = require('../../utils/labels')
const { formatDateTime } = require('../../utils/time')

const KIND_LABELS = DOCUMENT_KINDS.reduce((all, k) => Object.assign(all, { [k.key]: k.label }), {})
const UPLOADABLE = ['submitted', 'under_review', 'returned', 'investigating']

Component({
  data: {
    status: 'loading', errorMessage: '', id: null, claim: null, kinds: DOCUMENT_KINDS, kind: 'diagnosis',
    uploading: false, uploadMessage: '', uploadError: '',
  },
  methods: {
    onLoad(query) {
      this.setData({ id: Number(query.id) })
      return this.load()
    },
    load() {
      return loadInto(this, options => getClaim(this.data.id, options).then(claim => ({
        claim: Object.assign({}, claim, {
          statusText: label(CLAIM_STATUSES, claim.status),
          canUpload: UPLOADABLE.indexOf(claim.status) >= 0,
          hasAid: Number.isInteger(claim.approved_aid_fen),
          timeline: claim.timeline.map(t => Object.assign({}, t, { statusText: label(CLAIM_STATUSES, t.status), when: formatDateTime(t.at) })),
          documents: claim.documents.map(d => Object.assign({}, d, { kindText: KIND_LABELS[d.kind] || d.kind })),
        }),
      })))
    },
    chooseKind(event) {
      this.setData({ kind: event.currentTarget.dataset.kind })
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
          await uploadClaimDocument(this.data.id, path, this.data.kind)
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
