// Dates from the API are ISO 8601 with an offset; shown in China time as YYYY-MM-DD or YYYY-MM-DD HH:mm.
const CHINA_OFFSET_MS = 8 * 3600 * 1000

function parts(iso) {
  const ms = Date.parse(iso)
  if (!iso || Number.isNaN(ms)) return null
  const d = new Date(ms + CHINA_OFFSET_MS)
  const pad = n => (n < 10 ? `0${n}` : `${n}`)
  return {
    date: `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`,
    time: `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`,
  }
}

function formatDate(iso) {
  const p = parts(iso)
  return p ? p.date : ''
}

function formatDateTime(iso) {
  const p = parts(iso)
  return p ? `${p.date} ${p.time}` : ''
}

module.exports = { formatDate, formatDateTime }
