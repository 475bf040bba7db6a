// Report a claim: whose membership, what happened, when. Documents are added on the claim's page.
const { listMemberships } = require('../../api/memberships')
const { createClaim } = require('../../api/claims')
const { loadInto } = require('../../utils/load')
const { INCIDENTS } = require('../../utils/labels')

Component({
  data: {
    status: 'loading', errorMessage: '', memberships: [], incidents: INCIDENTS,
    membershipId: null, incident: 'illness', illness: '', occurredOn: '', description: '', submitting: false, submitError: '',
  },
  methods: {
    onLoad() {
      return this.load()
    },
    load() {
      return loadInto(this, options => listMemberships(options).then(data => ({
        memberships: data.items.filter(m => m.state === 'protected' || m.state === 'observing'),
      })), data => data.memberships.length === 0)
    },
    choose(event) {
      const { field, value } = event.currentTarget.dataset
      this.setData({ [field]: field === 'membershipId' ? Number(value) : value })
    },
    onInput(event) {
      this.setData({ [event.currentTarget.dataset.field]: event.detail.value })
    },
    problem() {
      if (!this.data.membershipId) return '请选择为谁申请'
      if (!this.data.illness.trim()) return '请填写疾病或意外名称'
      if (!/^\d{4}-\d{2}-\d{2}$/.test(this.data.occurredOn)) return '请选择确诊或出险日期'
      return ''
    },
    async submit() {
      const problem = this.problem()
      if (problem) {
        this.setData({ submitError: problem })
        return
      }
      this.setData({ submitting: true, submitError: '' })
      try {
        const claim = await createClaim({
          membership_id: this.data.membershipId, incident: this.data.incident, illness: this.data.illness.trim(),
          occurred_on: this.data.occurredOn, description: this.data.description.trim(),
        })
        wx.redirectTo({ url: `/pages/claim/claim?id=${claim.id}` })
      } catch (error) {
        this.setData({ submitError: error.message })
      } finally {
        this.setData({ submitting: false })
      }
    },
  },
})
