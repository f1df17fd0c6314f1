import { SealError, type KeyRing } from '../crypto/key-ring.js'
import { CredentialUnreadableError } from '../errors.js'

/** Field names double as AAD, so a sealed access token cannot be passed off as a refresh token. */
export const ACCESS_FIELD = 'at'
export const REFRESH_FIELD = 'rt'

export function sealOptional(keyRing: KeyRing, account: string, field: string, value: string | undefined | null) {
  return value ? keyRing.seal(account, field, value) : null
}

/** Opens a sealed value; a tampered, moved or unknown-key value fails closed. */
export function openSealed(keyRing: KeyRing, account: string, field: string, sealed: string): string {
  try {
    return keyRing.open(account, field, sealed)
  } catch (error) {
    if (error instanceof SealError) throw Object.assign(new CredentialUnreadableError(), { cause: error, account })
    throw error
  }
}
