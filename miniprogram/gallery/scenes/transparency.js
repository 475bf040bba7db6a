const fixtures = require('../fixtures')

const { API, ok, TOKEN, plan, run } = fixtures

const page = 'pages/transparency/transparency'
const plans = `GET ${API}/plans`
// the reworked page shows the month's report with charts: answered with the page tests' report fixtures
// when the project has them (test/fixtures.js report, frozenReports)
const reports = code => (fixtures.report ? {
  [`GET ${API}/plans/${code}/reports`]: ok(fixtures.frozenReports),
  [`GET ${API}/plans/${code}/reports/2026-04`]: ok(fixtures.report('2026-04', code === 'adult_789' ? {}
    : { report: Object.assign({}, fixtures.report('2026-04').report, { plan: code, plan_name: '少儿互助计划', runs: [], history: [] }) })),
} : {})
const loaded = {
  ...reports('adult_789'),
  ...reports('children'),
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
