// One rule-change proposal: the differences in plain words (before → after), the quorum, the live
// tally, what happens next; a member (?membership=) agrees or disagrees once, after a confirmation.
const { getProposal, listMembershipProposals, answerProposal } = require('../../api/proposals')
const { loadInto } = require('../../utils/load')
const { describeProposal } = require('../../utils/proposals')
const a11y = require('../../utils/a11y')

Component({
  behaviors: [a11y.behavior],
  data: { status: 'loading', errorMessage: '', id: null, membership: null, proposal: null, answering: false, answerError: '' },
  methods: {
    onLoad(query) {
      this.setData({ id: Number(query.id), membership: query.membership ? Number(query.membership) : null })
      return this.load()
    },
    load() {
      // a member's view (my_answer, can_answer) comes from the membership's list; anyone else's from the public one
      const fetch = options => (this.data.membership
        ? listMembershipProposals(this.data.membership, options).then(data => {
          const mine = data.items.find(p => p.id === this.data.id)
          return mine || getProposal(this.data.id, options)
        })
        : getProposal(this.data.id, options))
      return loadInto(this, options => fetch(options).then(p => ({ proposal: describeProposal(p) })))
    },
    answer(event) {
      const answer = event.currentTarget.dataset.answer
      const agree = answer === 'agree'
      wx.showModal({
        title: agree ? '确认同意这项变更？' : '确认不同意这项变更？',
        content: agree ? '每个保障只能答复一次，提交后不能更改。'
          : '每个保障只能答复一次。如果变更仍获通过，你可以在生效前退出，余额全额退回。',
        confirmText: '提交', cancelText: '再想想',
        success: res => { if (res.confirm) this.send(answer) },
      })
    },
    async send(answer) {
      this.setData({ answering: true, answerError: '' })
      try {
        const result = await answerProposal(this.data.membership, this.data.id, answer, { silent: true })
        this.setData({ proposal: describeProposal(Object.assign({}, this.data.proposal, {
          tally: result.tally, my_answer: result.answer, can_answer: false,
        })) })
      } catch (error) {
        this.setData({ answerError: error.message })
        if (error.code === 'already_answered' || error.code === 'proposal_closed') await this.load()
      } finally {
        this.setData({ answering: false })
      }
    },
    leave() {
      wx.navigateTo({ url: `/pages/membership/membership?id=${this.data.membership}` })
    },
  },
})
