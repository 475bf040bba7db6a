const { load, mount, fakeWx, ok, fail, PENDING, text, tap } = require('../harness')
const { deductions } = require('../fixtures')

const page = load('pages/deductions/deductions')

test('each run with the cases it funded', async () => {
  fakeWx({ 'GET /memberships/3/deductions': ok(deductions) })
  const comp = mount(page)
  await comp.instance.onLoad({ id: '3' })
  expect(text(comp)).toContain('2026-04-16 分摊¥2.50')
  expect(text(comp)).toContain('第 5 期 · 资助 2 个案例')
  expect(text(comp)).toContain('李* · 42岁 · 白血病¥1.50')
  expect(text(comp)).toContain('王* · 42岁 · 脑出血¥1.00')
})

test('what I paid is shown, not the run\'s share', async () => {
  const [run] = deductions.items
  const partial = Object.assign({}, run, { paid_fen: 120, cases: [Object.assign({}, run.cases[0], { part_fen: 120 })] })
  fakeWx({ 'GET /memberships/3/deductions': ok({ items: [partial] }) })
  const comp = mount(page)
  await comp.instance.onLoad({ id: '3' })
  expect(text(comp)).toContain('2026-04-16 分摊¥1.20')
  expect(text(comp)).not.toContain('¥2.50')
})

test('loading, empty, error', async () => {
  fakeWx({ 'GET /memberships/3/deductions': [PENDING, ok({ items: [] }), fail(403, 'forbidden', '没有权限')] })
  const comp = mount(page)
  comp.instance.onLoad({ id: '3' })
  expect(text(comp)).toContain('加载中')
  await comp.instance.onLoad({ id: '3' })
  expect(text(comp)).toContain('还没有分摊记录')
  await comp.instance.onLoad({ id: '3' })
  expect(text(comp)).toContain('没有权限')
})

test('the member verifies a deduction on the phone, and a forged proof fails', async () => {
  const vectors = require('../../../tests/vectors/merkle.json')
  const proof = vectors.proofs.find(p => p.tree_size === 100001 && p.leaf_index === 50000)
  const [run] = deductions.items
  const executed = Object.assign({}, run, { run_id: proof.run_id, status: 'executed' })
  const forged = Object.assign({}, proof, { amount_fen: proof.amount_fen - 1 })
  fakeWx({
    'GET /memberships/3/deductions': ok({ items: [executed] }),
    [`GET /memberships/3/deductions/${proof.run_id}/proof`]: [ok(proof), ok(forged)],
  })
  const comp = mount(page)
  await comp.instance.onLoad({ id: '3' })
  await tap(comp, '.verify-button')
  expect(text(comp)).toContain('已核验：你的扣款是公开记录第 50001/100001 条')
  expect(text(comp)).toContain(`根 ${proof.root.slice(0, 16)}…`)
  expect(comp.querySelector('.verify-result.success-text')).toBeTruthy()
  await tap(comp, '.verify-button')
  expect(text(comp)).toContain('核验失败')
  expect(comp.querySelector('.verify-result.error-text')).toBeTruthy()
})
