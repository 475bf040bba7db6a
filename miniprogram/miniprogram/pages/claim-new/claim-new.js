// Report a claim: whose membership, what happened, when. Documents are added on the claim's page.
const { listMemberships } = require('../../api/memberships')
const { createClaim } = require('../../api/claims')
const { loadInto } = require('../../utils/load')
const { INCIDENTS } = require('../../utils/labels')
const { loadTemplates, askSubscriptions } = require('../../utils/pay')
const { SUBSCRIBE_KEYS } = require('../../config')
const consent = require('../../utils/consent')

Component({
  data: {
    status: 'loading', errorMessage: '', memberships: [], incidents: INCIDENTS,
    membershipId: null, incidentType: 'illness', incidentDate: '', diagnosis: '', diagnosisDate: '', hospital: '', city: '',
    description: '', submitting: false, submitError: '', policy: null, consentScopes: [], consents: {},
  },
  methods: {
    onLoad() {
      this.templates = []
      loadTemplates().then(templates => { this.templates = templates })
      return this.load()
    },
    load() {
      return loadInto(this, options => Promise.all([listMemberships(options), consent.getPolicy(options)])
        .then(([data, policy]) => Object.assign({
          // only protected members may claim (the API refuses one in observation: membership_in_observation)
          memberships: data.items.filter(m => m.state === 'protected'),
        }, consent.policyData(policy, 'claim_scopes'))), data => data.memberships.length === 0)
    },
    ...consent.methods,
    choose(event) {
      const { field, value } = event.currentTarget.dataset
      this.setData({ [field]: field === 'membershipId' ? Number(value) : value })
    },
    onInput(event) {
      this.setData({ [event.currentTarget.dataset.field]: event.detail.value })
    },
    problem() {
      if (!this.data.membershipId) return '请选择为谁申请'
      if (!/^\d{4}-\d{2}-\d{2}$/.test(this.data.incidentDate)) return '请选择发病或出险日期'
      if (!this.data.diagnosis.trim()) return '请填写诊断结果'
      if (!/^\d{4}-\d{2}-\d{2}$/.test(this.data.diagnosisDate)) return '请选择确诊日期'
      if (!this.data.hospital.trim()) return '请填写确诊医院'
      if (!this.data.city.trim()) return '请填写医院所在城市'
      return this.consentProblem()
    },
    async submit() {
      const problem = this.problem()
      if (problem) {
        this.setData({ submitError: problem })
        return
      }
      this.setData({ submitting: true, submitError: '' })
      // straight from the tap (WeChat's rule): progress notices for this claim; optional
      const asked = askSubscriptions(this.templates, SUBSCRIBE_KEYS.afterClaim)
      try {
        const d = this.data
        const claim = await createClaim({
          membership_id: d.membershipId, incident_type: d.incidentType, incident_date: d.incidentDate,
          diagnosis: d.diagnosis.trim(), diagnosis_date: d.diagnosisDate, hospital: d.hospital.trim(), city: d.city.trim(),
          description: d.description.trim(), consent: this.consentBody(),
        })
        await asked
        wx.redirectTo({ url: `/pages/claim/claim?id=${claim.id}` })
      } catch (error) {
        this.setData({ submitError: error.message })
        await this.refreshPolicyAfter(error, 'claim_scopes')
      } finally {
        this.setData({ submitting: false })
      }
    },
  },
})
