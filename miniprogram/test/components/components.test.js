const { load, mount, text } = require('../harness')

const money = load('components/money/index')
const stateView = load('components/state-view/index')

test('<money> shows integer fen as yuan, and follows changes', () => {
  const comp = mount(money, { fen: 30000000 })
  expect(text(comp)).toBe('¥300,000.00')
  comp.setData({ fen: -5 })
  expect(text(comp)).toBe('-¥0.05')
  expect(comp.querySelector('.money-negative')).toBeTruthy()
  comp.setData({ fen: null })
  expect(text(comp)).toBe('—')
})

test('<state-view>: loading, empty, error with retry', () => {
  const comp = mount(stateView, { status: 'loading' })
  expect(text(comp)).toContain('加载中')
  comp.setData({ status: 'empty', emptyText: '空空如也' })
  expect(text(comp)).toContain('空空如也')
  comp.setData({ status: 'error', message: '网络不给力' })
  expect(text(comp)).toContain('网络不给力')
  const retried = jest.fn()
  comp.addEventListener('retry', retried)
  comp.querySelector('.state-retry').dispatchEvent('tap')
  return new Promise(resolve => setTimeout(resolve, 0)).then(() => expect(retried).toHaveBeenCalledTimes(1))
})
