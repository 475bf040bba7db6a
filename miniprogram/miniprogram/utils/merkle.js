// Verifies a member's own deduction proof on the phone, with nothing but the proof: the member's
// secret gives the pseudonym (HMAC-SHA256), the pseudonym, run id and amount give the leaf, and the
// audit path must lead from the leaf to the published root (RFC 6962 tree, RFC 9162 §2.1.3.2 check).
// Pure JS: mini-programs have no WebCrypto. Tested on the vectors the Python side writes
// (tests/vectors/merkle.json).

const K = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]

const rotr = (x, n) => (x >>> n) | (x << (32 - n))

// SHA-256 of a Uint8Array (FIPS 180-4), returning a Uint8Array of 32 bytes.
function sha256(bytes) {
  const bitLength = bytes.length * 8
  const padded = new Uint8Array(((bytes.length + 9 + 63) >> 6) << 6)
  padded.set(bytes)
  padded[bytes.length] = 0x80
  const view = new DataView(padded.buffer)
  view.setUint32(padded.length - 8, Math.floor(bitLength / 0x100000000))
  view.setUint32(padded.length - 4, bitLength >>> 0)
  const h = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
  const w = new Uint32Array(64)
  for (let offset = 0; offset < padded.length; offset += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(offset + i * 4)
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3)
      const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10)
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0
    }
    let [a, b, c, d, e, f, g, hh] = h
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) >>> 0
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0
      hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0
    }
    ;[a, b, c, d, e, f, g, hh].forEach((v, i) => { h[i] = (h[i] + v) >>> 0 })
  }
  const out = new Uint8Array(32)
  const outView = new DataView(out.buffer)
  h.forEach((v, i) => outView.setUint32(i * 4, v))
  return out
}

const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  parts.forEach(p => { out.set(p, at); at += p.length })
  return out
}

function hmacSha256(key, message) {
  let k = key.length > 64 ? sha256(key) : key
  k = concat(k, new Uint8Array(64 - k.length))
  const inner = k.map(b => b ^ 0x36)
  const outer = k.map(b => b ^ 0x5c)
  return sha256(concat(outer, sha256(concat(inner, message))))
}

const fromHex = hex => {
  if (typeof hex !== 'string' || !/^([0-9a-f]{2})*$/.test(hex)) throw new Error('not lowercase hex')
  return new Uint8Array(hex.match(/../g) ? hex.match(/../g).map(b => parseInt(b, 16)) : [])
}
const toHex = bytes => Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('')
const utf8 = text => new Uint8Array(unescape(encodeURIComponent(text)).split('').map(c => c.charCodeAt(0)))

const leafHash = leaf => sha256(concat(new Uint8Array([0]), leaf))
const nodeHash = (left, right) => sha256(concat(new Uint8Array([1]), left, right))

function pseudonym(secret, runId) {
  return hmacSha256(secret, utf8(`yiqi/run-pseudonym/v1:${runId}`))
}

// run id (8 bytes) ‖ pseudonym (32) ‖ amount in fen (8, signed), big-endian. Integers are safe
// integers (ids and fen amounts), written through BigInt so no precision is lost.
function leafBytes(runId, nym, amountFen) {
  const head = new DataView(new ArrayBuffer(8))
  head.setBigUint64(0, BigInt(runId))
  const tail = new DataView(new ArrayBuffer(8))
  tail.setBigInt64(0, BigInt(amountFen))
  return concat(new Uint8Array(head.buffer), nym, new Uint8Array(tail.buffer))
}

// RFC 9162 §2.1.3.2: does `path` (leaf upwards) prove `leaf` at `index` in the tree of `size` with `root`?
function verifyInclusion(leaf, index, size, path, root) {
  if (!(Number.isSafeInteger(index) && Number.isSafeInteger(size) && index >= 0 && index < size)) return false
  let fn = index
  let sn = size - 1
  let r = leafHash(leaf)
  for (const p of path) {
    if (sn === 0) return false
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r)
      while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2) }
    } else {
      r = nodeHash(r, p)
    }
    fn = Math.floor(fn / 2)
    sn = Math.floor(sn / 2)
  }
  return sn === 0 && toHex(r) === toHex(root)
}

// The whole check of GET /memberships/{id}/deductions/{run}/proof: { ok, reason }.
function verifyDebitProof(proof) {
  try {
    const nym = pseudonym(fromHex(proof.member_secret), proof.run_id)
    if (toHex(nym) !== proof.pseudonym) return { ok: false, reason: 'pseudonym' }
    const leaf = leafBytes(proof.run_id, nym, proof.amount_fen)
    if (toHex(leaf) !== proof.leaf) return { ok: false, reason: 'leaf' }
    const path = proof.audit_path.map(fromHex)
    if (!verifyInclusion(leaf, proof.leaf_index, proof.tree_size, path, fromHex(proof.root))) return { ok: false, reason: 'path' }
    return { ok: true, reason: '' }
  } catch (error) {
    return { ok: false, reason: 'malformed' }
  }
}

module.exports = { sha256, hmacSha256, fromHex, toHex, leafHash, nodeHash, pseudonym, leafBytes, verifyInclusion, verifyDebitProof }
