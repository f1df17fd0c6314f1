import { createHmac, timingSafeEqual } from 'node:crypto'

/**
 * The webhook signature scheme, for receivers:
 *
 *   x-token-broker-timestamp: <unix seconds at sending>
 *   x-token-broker-signature: v1=<hex HMAC-SHA256(secret, `${timestamp}.${raw body}`)>
 *
 * where secret is the receiver's own (a WEBHOOK_URLS entry `url|secret`) or else WEBHOOK_SECRET.
 *
 * Verify the raw body bytes as received (before parsing JSON), compare in constant time,
 * and reject timestamps far from your clock so a captured request cannot be replayed
 * later. Each attempt is signed afresh; the delivery id stays the same across attempts:
 * deduplicate on the body's `delivery_id` (signed; equal to `x-token-broker-delivery`),
 * since delivery is at least once. The header may list several
 * comma-separated `v1=` values; any one matching is enough.
 */
export const SIGNATURE_VERSION = 'v1'

export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `${SIGNATURE_VERSION}=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`
}

export interface VerifyOptions {
  /** Largest accepted distance between the timestamp and `now`, seconds; default 300. */
  toleranceSeconds?: number
  /** Epoch ms; default Date.now(). */
  now?: number
}

/** True when `header` holds a valid signature of `body` at `timestamp` that is recent enough. */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string | undefined,
  body: string,
  header: string | undefined,
  o: VerifyOptions = {},
): boolean {
  if (!timestamp || !header || !/^\d{1,12}$/.test(timestamp)) return false
  const age = Math.abs((o.now ?? Date.now()) / 1000 - Number(timestamp))
  if (age > (o.toleranceSeconds ?? 300)) return false
  const expected = Buffer.from(signWebhook(secret, timestamp, body))
  return header.split(',').some((candidate) => {
    const given = Buffer.from(candidate.trim())
    return given.length === expected.length && timingSafeEqual(given, expected)
  })
}
