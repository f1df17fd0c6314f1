import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, test } from 'node:test'
import { ConfigError } from '../../src/config-error.js'
import { KeyRing, SealError, generateKeyEntry, parseKeyRingSpec, type KeyEntry } from '../../src/crypto/key-ring.js'

const entry = (id: string, fill?: number): KeyEntry => ({ id, key: fill === undefined ? randomBytes(32) : Buffer.alloc(32, fill) })
const SECRET = 'ya29.a0AfH6SMB-super-secret-access-token'

function isSealError(reason: SealError['reason']) {
  return (error: unknown) => {
    assert.ok(error instanceof SealError, `expected a SealError, got ${String(error)}`)
    assert.equal(error.reason, reason)
    assert.ok(!error.message.includes(SECRET), 'the error never carries the plaintext')
    return true
  }
}

/** Flips one bit of byte `index` of a base64url part. */
function flipByte(part: string, index: number): string {
  const bytes = Buffer.from(part, 'base64url')
  bytes[index] = bytes[index]! ^ 0x01
  return bytes.toString('base64url')
}

describe('KeyRing seal/open', () => {
  const ring = new KeyRing([entry('k1')])

  test('round-trips values, empty and non-ASCII ones included', () => {
    for (const value of [SECRET, '', 'ü€😀 and spaces', 'x'.repeat(10_000)]) {
      assert.equal(ring.open('crm-prod', 'at', ring.seal('crm-prod', 'at', value)), value)
    }
  })

  test('has the form keyId.iv.ciphertext.tag with a 12-byte IV and a 16-byte tag', () => {
    const sealed = ring.seal('crm-prod', 'at', SECRET)
    const parts = sealed.split('.')
    assert.equal(parts.length, 4)
    const [id, iv, body, tag] = parts as [string, string, string, string]
    assert.equal(id, 'k1')
    for (const part of [iv, body, tag]) assert.match(part, /^[A-Za-z0-9_-]+$/, 'base64url without padding')
    assert.equal(Buffer.from(iv, 'base64url').length, 12)
    assert.equal(Buffer.from(tag, 'base64url').length, 16)
    assert.equal(Buffer.from(body, 'base64url').length, Buffer.byteLength(SECRET), 'GCM adds no padding')
    assert.equal(KeyRing.keyIdOf(sealed), 'k1')
  })

  test('two seals of one value differ, each with a fresh IV', () => {
    const sealed = Array.from({ length: 50 }, () => ring.seal('crm-prod', 'at', SECRET))
    assert.equal(new Set(sealed).size, sealed.length)
    assert.equal(new Set(sealed.map((s) => s.split('.')[1])).size, sealed.length, 'no IV repeats')
    for (const s of sealed) assert.equal(ring.open('crm-prod', 'at', s), SECRET)
  })

  test('the sealed string holds no trace of the plaintext', () => {
    const sealed = ring.seal('crm-prod', 'at', SECRET)
    for (const form of [
      SECRET,
      Buffer.from(SECRET).toString('base64'),
      Buffer.from(SECRET).toString('base64url'),
      Buffer.from(SECRET).toString('hex'),
    ]) {
      assert.ok(!sealed.includes(form))
    }
    for (let i = 0; i + 8 <= SECRET.length; i++) assert.ok(!sealed.includes(SECRET.slice(i, i + 8)), 'not even a fragment')
  })

  test('flipping any byte of the IV, the ciphertext or the tag fails authentication', () => {
    const sealed = ring.seal('crm-prod', 'rt', SECRET)
    const parts = sealed.split('.') as [string, string, string, string]
    for (const which of [1, 2, 3] as const) {
      const length = Buffer.from(parts[which], 'base64url').length
      for (let i = 0; i < length; i++) {
        const tampered = [...parts]
        tampered[which] = flipByte(parts[which], i)
        assert.throws(() => ring.open('crm-prod', 'rt', tampered.join('.')), isSealError('authentication'), `part ${which} byte ${i}`)
      }
    }
  })

  test('a truncated or extended ciphertext fails', () => {
    const [id, iv, body, tag] = ring.seal('crm-prod', 'at', SECRET).split('.') as [string, string, string, string]
    const bytes = Buffer.from(body, 'base64url')
    const shorter = bytes.subarray(0, bytes.length - 1).toString('base64url')
    const longer = Buffer.concat([bytes, Buffer.from([0])]).toString('base64url')
    for (const b of [shorter, longer]) {
      assert.throws(() => ring.open('crm-prod', 'at', [id, iv, b, tag].join('.')), isSealError('authentication'))
    }
  })

  test('a value moved to another account or another field does not open', () => {
    const sealed = ring.seal('crm-prod', 'at', SECRET)
    assert.throws(() => ring.open('crm-staging', 'at', sealed), isSealError('authentication'))
    assert.throws(() => ring.open('crm-prod', 'rt', sealed), isSealError('authentication'))
    assert.throws(() => ring.open('crm-pro', 'at', sealed), isSealError('authentication'))
    assert.throws(() => ring.open('crm-prod.', 'at', sealed), isSealError('authentication'))
  })

  test('the key id is authenticated: relabelling a value with another id of the same key fails', () => {
    const key = randomBytes(32)
    const twins = new KeyRing([
      { id: 'a', key },
      { id: 'b', key },
    ])
    const sealed = twins.seal('crm-prod', 'at', SECRET)
    assert.equal(KeyRing.keyIdOf(sealed), 'a')
    const relabelled = ['b', ...sealed.split('.').slice(1)].join('.')
    assert.throws(() => twins.open('crm-prod', 'at', relabelled), isSealError('authentication'))
  })

  test('a ring without the sealing key fails with unknown-key', () => {
    const sealed = new KeyRing([entry('old')]).seal('crm-prod', 'at', SECRET)
    assert.throws(() => new KeyRing([entry('new')]).open('crm-prod', 'at', sealed), isSealError('unknown-key'))
  })

  test('the same id with a different key fails authentication', () => {
    const sealed = new KeyRing([entry('k1', 1)]).seal('crm-prod', 'at', SECRET)
    assert.throws(() => new KeyRing([entry('k1', 2)]).open('crm-prod', 'at', sealed), isSealError('authentication'))
  })

  test('malformed values fail with malformed', () => {
    const [id, iv, body, tag] = ring.seal('crm-prod', 'at', SECRET).split('.') as [string, string, string, string]
    const shortIv = Buffer.from(iv, 'base64url').subarray(0, 11).toString('base64url')
    const shortTag = Buffer.from(tag, 'base64url').subarray(0, 15).toString('base64url')
    for (const bad of [
      '',
      'plaintext',
      'k1.a.b',
      `${id}.${iv}.${body}.${tag}.extra`,
      `${id}.${shortIv}.${body}.${tag}`,
      `${id}.${iv}.${body}.${shortTag}`,
    ]) {
      assert.throws(() => ring.open('crm-prod', 'at', bad), isSealError('malformed'), JSON.stringify(bad))
    }
  })

  test('rotation: an old value opens with [new, old], and new seals use the new key', () => {
    const oldKey = entry('2023')
    const newKey = entry('2024')
    const sealedWithOld = new KeyRing([oldKey]).seal('crm-prod', 'rt', SECRET)
    const rotated = new KeyRing([newKey, oldKey])
    assert.equal(rotated.open('crm-prod', 'rt', sealedWithOld), SECRET)

    const resealed = rotated.seal('crm-prod', 'rt', SECRET)
    assert.equal(KeyRing.keyIdOf(resealed), '2024')
    assert.equal(new KeyRing([newKey]).open('crm-prod', 'rt', resealed), SECRET, 'opens with the new key alone')
    assert.throws(() => new KeyRing([oldKey]).open('crm-prod', 'rt', resealed), isSealError('unknown-key'))
  })

  test('an empty ring is refused', () => {
    assert.throws(() => new KeyRing([]))
  })

  test('ephemeral rings are independent', () => {
    const sealed = KeyRing.ephemeral().seal('crm-prod', 'at', SECRET)
    assert.throws(() => KeyRing.ephemeral().open('crm-prod', 'at', sealed), SealError)
  })
})

describe('parseKeyRingSpec', () => {
  const b64 = (fill: number, length = 32) => Buffer.alloc(length, fill).toString('base64')

  test('parses an ordered list; the first entry seals', () => {
    const spec = parseKeyRingSpec(`k2:${b64(2)}, k1:${b64(1)}`)
    assert.deepEqual(
      spec.map((e) => e.id),
      ['k2', 'k1'],
    )
    assert.deepEqual(spec[0]!.key, Buffer.alloc(32, 2))
    assert.deepEqual(spec[1]!.key, Buffer.alloc(32, 1))
    const ring = new KeyRing(spec)
    assert.equal(KeyRing.keyIdOf(ring.seal('a', 'at', 'x')), 'k2')
  })

  test('accepts a generated entry', () => {
    const generated = generateKeyEntry('fresh')
    const [parsed] = parseKeyRingSpec(generated)
    assert.equal(parsed!.id, 'fresh')
    assert.equal(parsed!.key.length, 32)
    assert.equal(parseKeyRingSpec(generateKeyEntry())[0]!.key.length, 32)
  })

  const bad: [string, string][] = [
    ['empty', ''],
    ['only separators', ' , ,'],
    ['no colon', b64(1)],
    ['empty id', `:${b64(1)}`],
    ['id with a space', `my key:${b64(1)}`],
    ['id with a dot (the sealed-value separator)', `k.1:${b64(1)}`],
    ['id too long', `${'k'.repeat(33)}:${b64(1)}`],
    ['16-byte key', `k1:${b64(1, 16)}`],
    ['31-byte key', `k1:${b64(1, 31)}`],
    ['33-byte key', `k1:${b64(1, 33)}`],
    ['64-byte key', `k1:${b64(1, 64)}`],
    ['empty key', 'k1:'],
    ['not base64', 'k1:not base64 at all!!'],
    ['duplicate id', `k1:${b64(1)},k1:${b64(2)}`],
    ['one good, one bad', `k1:${b64(1)},k2:${b64(1, 16)}`],
  ]
  for (const [what, value] of bad) {
    test(`rejects ${what} with a ConfigError naming ENCRYPTION_KEYS`, () => {
      assert.throws(
        () => parseKeyRingSpec(value),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError, `got ${String(error)}`)
          assert.equal(error.variable, 'ENCRYPTION_KEYS')
          assert.match(error.message, /^ENCRYPTION_KEYS /)
          const material = value
            .split(',')
            .map((e) => e.slice(e.indexOf(':') + 1))
            .filter((m) => m.length >= 8)
          for (const m of material) assert.ok(!error.message.includes(m), 'key material never appears in the error')
          return true
        },
      )
    })
  }
})
