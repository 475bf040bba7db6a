// Money is integer fen everywhere. This is the one formatter, and it never divides a float:
// yuan and fen come from integer division and modulo.

function groupThousands(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',')
}

// {sign: true}: a credit shows its "+" (ledger entries); a debit always shows its "-".
function formatFen(fen, options = {}) {
  if (typeof fen !== 'number' || !Number.isSafeInteger(fen)) return '—'
  const sign = fen < 0 ? '-' : (options.sign && fen > 0 ? '+' : '')
  const abs = Math.abs(fen)
  const cents = abs % 100
  const yuan = (abs - cents) / 100 // exact: abs - cents is a multiple of 100
  return `${sign}¥${groupThousands(String(yuan))}.${cents < 10 ? '0' : ''}${cents}`
}

// "3", "3.5", "3.05" (yuan typed by a person) → fen, by string parsing; null if not a valid amount.
function parseYuan(text) {
  const match = /^\s*(\d{1,7})(?:\.(\d{0,2}))?\s*$/.exec(String(text == null ? '' : text))
  if (!match) return null
  const fraction = (match[2] || '').padEnd(2, '0')
  return Number(match[1]) * 100 + Number(fraction)
}

// counts of people, members, payers: 218432 → "218,432"
function formatCount(n) {
  return typeof n === 'number' && Number.isSafeInteger(n) ? `${n < 0 ? '-' : ''}${groupThousands(String(Math.abs(n)))}` : '—'
}

// a whole percentage of two integers (progress bars): 1 of 3 → 33
function percentOf(part, whole) {
  return whole > 0 ? Math.round((part * 100) / whole) : 0
}

module.exports = { formatFen, formatCount, parseYuan, percentOf }
