// Join, in three steps: who (relation, name, ID number) → the plan's conditions (eligibility questions,
// e.g. 常住中国大陆) and, separately, the health declaration → confirm (the consent box and the
// agreements, then "确认加入"). Each field's problem is shown next to it. After joining, from the same
// tap, the subscribe prompt for the membership's notices (optional), then the top-up.
const { getPlan } = require('../../api/plans')
const { join } = require('../../api/memberships')
const { loadInto } = require('../../utils/load')
const { RELATIONS } = require('../../utils/labels')
const { describePlan } = require('../../utils/plans')
const { loadTemplates, askSubscriptions } = require('../../utils/pay')
const { SUBSCRIBE_KEYS } = require('../../config')
const consent = require('../../utils/consent')
const a11y = require('../../utils/a11y')

const RELATION_CHOICES = Object.keys(RELATIONS).map(key => ({ key, label: RELATIONS[key] }))
const STEPS = [{ title: '填写资料' }, { title: '加入条件与健康告知' }, { title: '确认加入' }]

Component({
  behaviors: [a11y.behavior],
  data: {
    status: 'loading', errorMessage: '', code: '', plan: null, eligibilityQuestions: [], healthQuestions: [],
    relations: RELATION_CHOICES, steps: STEPS, step: 0,
    relation: 'self', name: '', idNumber: '', answers: {}, errors: {}, submitting: false, submitError: '',
    policy: null, consentScopes: [], consents: {},
  },
  methods: {
    onLoad(query) {
      this.setData({ code: query.code })
      this.templates = []
      loadTemplates().then(templates => { this.templates = templates })
      return this.load()
    },
    load() {
      return loadInto(this, options => Promise.all([getPlan(this.data.code, options), consent.getPolicy(options)])
        .then(([plan, policy]) => Object.assign({
          plan: describePlan(plan), eligibilityQuestions: plan.eligibility_questions, healthQuestions: plan.health_questions,
        }, consent.policyData(policy, 'join_scopes'))))
    },
    ...consent.methods,
    chooseRelation(event) {
      this.setData({ relation: event.currentTarget.dataset.key })
    },
    onName(event) {
      this.setData({ name: event.detail.value.trim(), 'errors.name': '' })
    },
    onIdNumber(event) {
      this.setData({ idNumber: event.detail.value.trim().toUpperCase(), 'errors.idNumber': '' })
    },
    answer(event) {
      const { key, value } = event.currentTarget.dataset
      this.setData({ [`answers.${key}`]: value === 'yes', [`errors.${key}`]: '' })
    },
    // {field: message} of the step's problems (empty when it may go on)
    problems(step) {
      const errors = {}
      if (step === 0) {
        if (!this.data.name) errors.name = '请填写姓名'
        if (!/^\d{17}[\dX]$/.test(this.data.idNumber)) errors.idNumber = '请填写18位身份证号'
      }
      if (step === 1) {
        this.data.eligibilityQuestions.concat(this.data.healthQuestions)
          .filter(q => typeof this.data.answers[q.key] !== 'boolean')
          .forEach(q => { errors[q.key] = '请选择“是”或“否”' })
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
      if (Object.keys(errors).length) return
      this.setData({ step: this.data.step + 1 })
      if (wx.pageScrollTo) wx.pageScrollTo({ scrollTop: 0, duration: 0 })
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
      // straight from the tap (WeChat's rule): notices about this membership; optional
      const asked = askSubscriptions(this.templates, SUBSCRIBE_KEYS.afterJoin)
      try {
        const membership = await join({
          plan_code: this.data.code, relation: this.data.relation,
          person: { name: this.data.name, id_number: this.data.idNumber }, answers: this.data.answers,
          consent: this.consentBody(),
        })
        await asked
        wx.redirectTo({ url: `/pages/topup/topup?id=${membership.id}` })
      } catch (error) {
        this.setData({ submitError: error.message })
        await this.refreshPolicyAfter(error, 'join_scopes')
      } finally {
        this.setData({ submitting: false })
      }
    },
  },
})
