const { API, ok, fail, TOKEN, plan, run } = require('../fixtures')

const page = 'pages/transparency/transparency'
const plans = `GET ${API}/plans`
const loaded = {
  [plans]: ok({ items: [plan('adult_789'), plan('children', { counts: { members: 7, observing: 7, protected: 0 } })] }),
  [`GET ${API}/plans/adult_789/runs`]: ok({ items: [run(6, { status: 'published', executed_at: null, published_at: '2026-05-11T02:00:00+00:00' }), run(5)] }),
  [`GET ${API}/plans/children/runs`]: ok({ items: [] }),
  [`GET ${API}/plans/adult_789/runs/5`]: ok(run(5)),
}
module.exports = [
  { name: 'loading', page, storage: TOKEN, pending: [plans] },
  { name: 'loaded', page, storage: TOKEN, responses: loaded },
  { name: 'after-opening-a-run', page, storage: TOKEN, responses: loaded, act: async (comp, { tap }) => { await tap('.run', 1) } },
  { name: 'no-runs-yet', page, storage: TOKEN, responses: loaded, act: async (comp, { tap }) => { await tap('.plan-tab', 1) } },
  { name: 'empty', page, storage: TOKEN, responses: { [plans]: ok({ items: [] }) } },
  { name: 'error', page, storage: TOKEN, responses: { [plans]: { networkError: 'timeout' } } },
]
