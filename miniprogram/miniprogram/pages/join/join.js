// Join: for yourself or a family member, name + ID number, the health declaration.
const { getPlan } = require('../../api/plans')
const { join } = require('../../api/memberships')
const { loadInto } = require('../../utils/load')
const { RELATIONS } = require('../../utils/labels')
const consent = require('../../utils/consent')

const RELATION_CHOICES = Object.keys(RELATIONS).map(key => ({ key, label: RELATIONS[key] }))

Component({
  data: {
    status: 'loading', errorMessage: '', code: '', plan: null, questions: [], relations: RELATION_CHOICES,
    relation: 'self', name: '', idNumber: '', answers: {}, submitting: false, submitError: '',
    policy: null, consentScopes: [], consents: {},
  },
  methods: {
    onLoad(query) {
      this.setData({ code: query.code })
      return this.load()
    },
    load() {
      return loadInto(this, options => Promise.all([getPlan(this.data.code, options), consent.getPolicy(options)])
        .then(([plan, policy]) => Object.assign({
          plan, questions: plan.eligibility_questions.concat(plan.health_questions),
        }, consent.policyData(policy, 'join_scopes'))))
    },
    ...consent.methods,
    chooseRelation(event) {
      this.setData({ relation: event.currentTarget.dataset.key })
    },
    onName(event) {
      this.setData({ name: event.detail.value.trim() })
    },
    onIdNumber(event) {
      this.setData({ idNumber: event.detail.value.trim().toUpperCase() })
    },
    answer(event) {
      const { key, value } = event.currentTarget.dataset
      this.setData({ [`answers.${key}`]: value === 'yes' })
    },
    problem() {
      if (!this.data.name) return '请填写姓名'
      if (!/^\d{17}[\dX]$/.test(this.data.idNumber)) return '请填写18位身份证号'
      const unanswered = this.data.questions.find(q => typeof this.data.answers[q.key] !== 'boolean')
      return unanswered ? `请回答：${unanswered.text}` : this.consentProblem()
    },
    async submit() {
      if (this.data.submitting) return
      const problem = this.problem()
      if (problem) {
        this.setData({ submitError: problem })
        return
      }
      this.setData({ submitting: true, submitError: '' })
      try {
        const membership = await join({
          plan_code: this.data.code, relation: this.data.relation,
          person: { name: this.data.name, id_number: this.data.idNumber }, answers: this.data.answers,
          consent: this.consentBody(),
        })
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
