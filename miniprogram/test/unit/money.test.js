const { formatFen, parseYuan } = require('../../miniprogram/utils/money')

test.each([
  [300, '¥3.00'], [0, '¥0.00'], [5, '¥0.05'], [1999, '¥19.99'], [30000000, '¥300,000.00'], [-250, '-¥2.50'],
  [Number.MAX_SAFE_INTEGER, '¥90,071,992,547,409.91'],
])('formatFen(%p) = %s', (fen, text) => expect(formatFen(fen)).toBe(text))

test.each([[null], [undefined], ['300'], [3.5], [NaN]])('formatFen(%p) refuses non-integer fen', value => {
  expect(formatFen(value)).toBe('—')
})

test.each([
  ['3', 300], ['3.5', 350], ['3.05', 305], ['0.1', 10], [' 12.30 ', 1230], ['3.', 300],
  ['3.005', null], ['-1', null], ['abc', null], ['', null], ['1e3', null],
])('parseYuan(%p) = %p fen, by string parsing', (text, fen) => expect(parseYuan(text)).toBe(fen))

test('no float arithmetic on money in the mini-program sources', () => {
  const fs = require('fs')
  const path = require('path')
  const root = path.join(__dirname, '..', '..', 'miniprogram')
  const offenders = []
  const walk = dir => fs.readdirSync(dir, { withFileTypes: true }).forEach(entry => {
    const file = path.join(dir, entry.name)
    if (entry.isDirectory()) return entry.name === 'miniprogram_npm' ? null : walk(file) // third-party code
    if (!/\.(js|wxml)$/.test(entry.name)) return
    fs.readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
      // dividing or multiplying a *_fen value by 100 (yuan as a float), or toFixed on money
      if (/_fen[^\n]*[/*]\s*100\b|\/\s*100\s*\)|toFixed\(|parseFloat\(/.test(line)) offenders.push(`${file}:${i + 1}: ${line.trim()}`)
    })
  })
  walk(root)
  expect(offenders).toEqual([])
})
