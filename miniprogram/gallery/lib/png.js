// Enough of PNG to count colours in a screenshot: 8-bit RGB/RGBA, not interlaced (what Chromium writes).
const zlib = require('zlib')

function decode(buffer) {
  let offset = 8
  let width = 0
  let height = 0
  let channels = 0
  const data = []
  while (offset < buffer.length) {
    const length = buffer.readUInt32BE(offset)
    const type = buffer.toString('ascii', offset + 4, offset + 8)
    const chunk = buffer.subarray(offset + 8, offset + 8 + length)
    if (type === 'IHDR') {
      width = chunk.readUInt32BE(0)
      height = chunk.readUInt32BE(4)
      const [depth, colourType, , , interlace] = chunk.subarray(8, 13)
      if (depth !== 8 || interlace || ![2, 6].includes(colourType)) throw new Error('unsupported PNG')
      channels = colourType === 6 ? 4 : 3
    } else if (type === 'IDAT') data.push(chunk)
    offset += 12 + length
  }
  const raw = zlib.inflateSync(Buffer.concat(data))
  const stride = width * channels
  const pixels = Buffer.alloc(stride * height)
  for (let y = 0; y < height; y += 1) {
    const filter = raw[y * (stride + 1)]
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1))
    const out = y * stride
    for (let x = 0; x < stride; x += 1) {
      const a = x >= channels ? pixels[out + x - channels] : 0
      const b = y ? pixels[out - stride + x] : 0
      const c = x >= channels && y ? pixels[out - stride + x - channels] : 0
      let value = line[x]
      if (filter === 1) value += a
      else if (filter === 2) value += b
      else if (filter === 3) value += (a + b) >> 1
      else if (filter === 4) {
        const p = a + b - c
        const pa = Math.abs(p - a)
        const pb = Math.abs(p - b)
        const pc = Math.abs(p - c)
        value += pa <= pb && pa <= pc ? a : pb <= pc ? b : c
      }
      pixels[out + x] = value & 255
    }
  }
  return { width, height, channels, pixels }
}

// distinct colours among rows top..bottom (CSS px at scale), sampled on a grid, up to `cap`
function colours(buffer, top, bottom, cap = 64) {
  const { width, height, channels, pixels } = decode(buffer)
  const scale = width / 375
  const seen = new Set()
  for (let y = Math.floor(top * scale); y < Math.min(height, bottom * scale) && seen.size < cap; y += 3) {
    for (let x = 0; x < width && seen.size < cap; x += 3) {
      const i = (y * width + x) * channels
      seen.add((pixels[i] << 16) | (pixels[i + 1] << 8) | pixels[i + 2])
    }
  }
  return seen.size
}

module.exports = { decode, colours }
