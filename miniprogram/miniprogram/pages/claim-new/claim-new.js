// Report a claim: whose membership, what happened, when. Documents are added on the claim's page.
const { listMemberships } = require('../../api/memberships')
const { createClaim } = require('../../api/claims')
const { loadInto } = require('../../utils/load')
const { INCIDENTS } = require('../../utils/labels')
const { loadTemplates, askSubscriptions } = require('../../utils/pay')
const { SUBSCRIBE_KEYS } = require('../../config')
const consent = require('../../utils/consent')

const STEPS = [{ title: '为谁申请' }, { title: '发生了什么' }, { title: '确认提交' }]
const DATE = /^\d{4}-\d{2}-\d{2}$/

const a11y = require('../../utils/a11y')

Component({
  behaviors: [a11y.behavior],
  data: {
    status: 'loading', errorMessage: '', memberships: [], incidents: INCIDENTS,
    membershipId: null, incidentType: 'illness', incidentDate: '', diagnosis: '', diagnosisDate: '', hospital: '', city: '',
    description: '', submitting: false, submitError: '', policy: null, consentScopes: [], consents: {},
    steps: STEPS, step: 0, errors: {},
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
      this.setData({ [field]: field === 'membershipId' ? Number(value) : value, [`errors.${field}`]: '' })
    },
    onInput(event) {
      const field = event.currentTarget.dataset.field
      this.setData({ [field]: event.detail.value, [`errors.${field}`]: '' })
    },
    // {field: message} for one step: shown next to each field
    problems(step) {
      const d = this.data
      const errors = {}
      if (step === 0 && !d.membershipId) errors.membershipId = '请选择为谁申请'
      if (step === 1) {
        if (!DATE.test(d.incidentDate)) errors.incidentDate = '请选择发病或出险日期'
        if (!d.diagnosis.trim()) errors.diagnosis = '请填写诊断结果'
        if (!DATE.test(d.diagnosisDate)) errors.diagnosisDate = '请选择确诊日期'
        if (!d.hospital.trim()) errors.hospital = '请填写确诊医院'
        if (!d.city.trim()) errors.city = '请填写医院所在城市'
      }
      if (step === 2) {
        const problem = this.consentProblem()
        if (problem) errors.consent = problem
      }
      return errors
    },
    next() {
      const errors = this.problems(this.data.step)
      this.setData({ errors })
      if (!Object.keys(errors).length) this.setData({ step: this.data.step + 1 })
    },
    back() {
      this.setData({ step: Math.max(0, this.data.step - 1), errors: {}, submitError: '' })
    },
    async submit() {
      if (this.data.submitting) return
      for (let step = 0; step < STEPS.length; step += 1) {
        const errors = this.problems(step)
        if (Object.keys(errors).length) {
          this.setData({ step, errors })
          return
        }
      }
      this.setData({ submitting: true, submitError: '', errors: {} })
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
