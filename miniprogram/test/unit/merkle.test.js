const path = require('path')
const fs = require('fs')
const merkle = require('../../miniprogram/utils/merkle')

// The same file the Python side writes and checks (tests/support/merkle_vectors.py).
const vectors = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'tests', 'vectors', 'merkle.json'), 'utf8'))
const { fromHex, toHex } = merkle
const ascii = text => Uint8Array.from(text, c => c.charCodeAt(0))

test('SHA-256 and HMAC-SHA256 known answers (FIPS 180-2, RFC 4231 case 2)', () => {
  expect(toHex(merkle.sha256(new Uint8Array()))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  const abc = new Uint8Array([0x61, 0x62, 0x63])
  expect(toHex(merkle.sha256(abc))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  const long = ascii('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')
  expect(toHex(merkle.sha256(long))).toBe('248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1')
  const mac = merkle.hmacSha256(ascii('Jefe'), ascii('what do ya want for nothing?'))
  expect(toHex(mac)).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843')
})

// MTH by the RFC's recursion, from the module's leaf and node hashes: CT's reference roots.
const mth = leaves => {
  if (leaves.length === 1) return merkle.leafHash(leaves[0])
  let k = 1
  while (k * 2 < leaves.length) k *= 2
  return merkle.nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)))
}

test.each(vectors.ct.map(v => [v.leaves.length, v]))('the CT tree of %i leaves has the reference root', (n, v) => {
  expect(toHex(mth(v.leaves.map(fromHex)))).toBe(v.root)
})

test.each(vectors.proofs.map(p => [p.tree_size, p.leaf_index, p]))('a member verifies their debit: tree of %i, leaf %i', (size, index, proof) => {
  expect(merkle.verifyDebitProof(proof)).toEqual({ ok: true, reason: '' })
})

test('a tree of 100,001 payers: first, middle and last all verify', () => {
  const big = vectors.proofs.filter(p => p.tree_size === 100001).map(p => p.leaf_index)
  expect(big).toEqual([0, 50000, 100000])
})

test.each([
  ['amount', p => ({ ...p, amount_fen: p.amount_fen + 1 }), 'leaf'],
  ['secret', p => ({ ...p, member_secret: p.member_secret.replace(/^./, c => (c === '0' ? '1' : '0')) }), 'pseudonym'],
  ['index', p => ({ ...p, leaf_index: (p.leaf_index + 1) % p.tree_size }), 'path'],
  ['root', p => ({ ...p, root: p.root.replace(/^./, c => (c === '0' ? '1' : '0')) }), 'path'],
  ['path', p => ({ ...p, audit_path: p.audit_path.slice(1) }), 'path'],
  ['hex', p => ({ ...p, root: 'XYZ' }), 'malformed'],
])('a proof changed in its %s does not verify', (_, change, reason) => {
  const proof = vectors.proofs.find(p => p.tree_size === 7 && p.leaf_index === 3)
  expect(merkle.verifyDebitProof(change(proof))).toEqual({ ok: false, reason })
})
