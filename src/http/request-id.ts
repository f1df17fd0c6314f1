import { randomFillSync } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

/** A client's x-request-id is kept only when it is short and plain; otherwise one is generated. */
const GIVEN = /^[A-Za-z0-9._:-]{1,64}$/

export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id']
  return typeof given === 'string' && GIVEN.test(given) ? given : newRequestId()
}

// Random bytes drawn 1,024 ids at a time (crypto.randomUUID() draws 128: the call, not the bytes, is what costs).
const POOL_IDS = 1024
const pool = Buffer.alloc(16 * POOL_IDS)
let used = POOL_IDS
const HEX = Buffer.from('0123456789abcdef', 'latin1')
/** Where each of the 16 bytes' two hex digits go in `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`. */
const AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34]
const text = Buffer.from('00000000-0000-0000-0000-000000000000', 'latin1')

/**
 * A random (version 4) UUID, as `crypto.randomUUID()` makes it, but written into a buffer and
 * read out as one flat string. randomUUID() joins 21 pieces into a rope that V8 flattens on first
 * use, in the header check's regular expression (a call into the runtime on every request:
 * about 0.2 µs, bench/README.md).
 */
export function newRequestId(): string {
  if (used === POOL_IDS) {
    randomFillSync(pool)
    used = 0
  }
  const at = 16 * used++
  pool[at + 6] = (pool[at + 6]! & 0x0f) | 0x40 // version 4
  pool[at + 8] = (pool[at + 8]! & 0x3f) | 0x80 // RFC 9562 variant
  for (let i = 0; i < 16; i++) {
    const byte = pool[at + i]!
    text[AT[i]!] = HEX[byte >> 4]!
    text[AT[i]! + 1] = HEX[byte & 0x0f]!
  }
  return text.toString('latin1')
}
