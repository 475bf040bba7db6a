// The theme in one place (app.wxss): one accent colour everywhere, text contrast that passes WCAG AA,
// tappable things at least 44 px high.
const fs = require('fs')
const path = require('path')

const ROOT = path.join(__dirname, '..', '..', 'miniprogram')
const css = fs.readFileSync(path.join(ROOT, 'app.wxss'), 'utf8')
const app = require(path.join(ROOT, 'app.json'))
const variable = name => new RegExp(`${name}:\\s*(#[0-9a-f]{6})`, 'i').exec(css)[1].toLowerCase()

// WCAG 2.1 relative luminance and contrast ratio
const luminance = hex => {
  const [r, g, b] = [1, 3, 5].map(i => parseInt(hex.slice(i, i + 2), 16) / 255)
    .map(c => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4))
  return 0.2126 * r + 0.7152 * g + 0.0722 * b
}
const contrast = (a, b) => {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x)
  return (hi + 0.05) / (lo + 0.05)
}

test('one accent colour: ours, TDesign\'s brand colour and the tab bar\'s selected colour are the same', () => {
  const accent = variable('--accent')
  expect(variable('--td-brand-color')).toBe(accent)
  expect(variable('--td-primary-color')).toBe(accent)
  expect(app.tabBar.selectedColor.toLowerCase()).toBe(accent)
  expect(app.window.navigationBarBackgroundColor.toLowerCase()).toBe('#ffffff')
})

test.each([
  ['accent on white (links, selected choices, buttons\' text on the accent)', '--accent', '#ffffff'],
  ['body text on the page', '--text-primary', '#f5f6f7'],
  ['secondary text on white', '--text-secondary', '#ffffff'],
  ['secondary text on the page', '--text-secondary', '#f5f6f7'],
  ['danger on white', '--danger', '#ffffff'],
  ['success on white', '--success', '#ffffff'],
  ['warning text on its background', '--warning-text', '--warning-bg'],
])('contrast of %s is at least 4.5:1 (WCAG AA)', (what, fg, bg) => {
  expect(contrast(variable(fg), bg.startsWith('#') ? bg : variable(bg))).toBeGreaterThanOrEqual(4.5)
})

test('tappable rows, choices, consent boxes and links are at least 44 px high', () => {
  ['.row', '.choice', '.consent-row', '.link'].forEach(selector => {
    const rule = new RegExp(`\\${selector}\\s*{([^}]*)}`).exec(css)
    expect(rule && rule[1]).toMatch(/min-height:\s*(44px|88rpx)/)
  })
})
