/** The longest access-token lifetime the broker believes; longer ones are clamped. */
export const MAX_LIFETIME_SECONDS = 365 * 86_400

/** What was wrong with a lifetime a provider or an import gave. */
export type LifetimeAnomaly = 'not_a_number' | 'not_positive' | 'too_long'

export interface Lifetime {
  /** Seconds from now; 0 = expired now (refresh on next use); null = none given. */
  seconds: number | null
  anomaly: LifetimeAnomaly | null
}

/**
 * An `expires_in` as providers and imports send it (number or numeric string), made safe:
 * absent is "none given"; unparseable, zero or negative is "expired now", so the token is
 * refreshed on its next use instead of being served forever; a fraction rounds up to a whole
 * second; anything above a year is clamped to a year.
 */
export function sanitizeLifetime(value: unknown): Lifetime {
  if (value === undefined || value === null || value === '') return { seconds: null, anomaly: null }
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*[-+]?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : NaN
  if (!Number.isFinite(n)) return { seconds: 0, anomaly: 'not_a_number' }
  if (n <= 0) return { seconds: 0, anomaly: 'not_positive' }
  if (n > MAX_LIFETIME_SECONDS) return { seconds: MAX_LIFETIME_SECONDS, anomaly: 'too_long' }
  return { seconds: Math.ceil(n), anomaly: null }
}
