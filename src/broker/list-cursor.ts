import type { KeyRing } from '../crypto/key-ring.js'
import { InvalidInputError } from '../errors.js'

/**
 * `GET /accounts` cursors are the last id scanned, sealed (AES-GCM with the current key):
 * a scan budget may stop on an id outside the caller's `accounts` claim, and the cursor
 * must not reveal it. A cursor that does not open is a 400, never a position guessed.
 * Sealed values are `a.b.c.d`; the cursor re-encodes them as one base64url word.
 */
const AAD_ACCOUNT = '-' // not a valid account id: a cursor never opens as an account's field, nor the reverse
const FIELD = 'list-cursor'

export const sealCursor = (keyRing: KeyRing, id: string): string =>
  Buffer.from(keyRing.seal(AAD_ACCOUNT, FIELD, id), 'utf8').toString('base64url')

export function openCursor(keyRing: KeyRing, cursor: string): string {
  try {
    return keyRing.open(AAD_ACCOUNT, FIELD, Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw new InvalidInputError('cursor', 'is not a cursor this service issued')
  }
}
