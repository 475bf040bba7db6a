const { describeProposal } = require('../../miniprogram/utils/proposals')

const base = {
  id: 3, status: 'open', effective_on: '2027-01-20', window_closes_at: '2027-01-05T00:00:00+00:00',
  tally: { agree: 2, disagree: 1, answered: 3, eligible: 10, turnout_percent: 30 },
}

test('a proposal withdrawn because the plan winds down says so, in the words the API gave', () => {
  const text = '已撤回：计划将于2027年02月01日停止运行，规则不再变更，全部余额按停止计划退回。'
  const p = describeProposal(Object.assign({}, base, { status: 'withdrawn', outcome_text: text }))
  expect(p.statusText).toBe('已撤回')
  expect(p.nextText).toBe(text)
  expect(describeProposal(Object.assign({}, base, { status: 'withdrawn', outcome_text: null })).nextText)
    .toContain('规则不变')
})

test('statuses read in words; an open one says when the vote ends', () => {
  expect(describeProposal(base).statusText).toBe('表决中')
  expect(describeProposal(base).nextText).toContain('表决于')
  expect(describeProposal(Object.assign({}, base, { status: 'failed' })).nextText).toBe('未通过，规则不变。')
})
