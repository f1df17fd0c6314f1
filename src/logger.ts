import type { DestinationStream, LoggerOptions } from 'pino'

/**
 * Paths pino replaces with "[redacted]" wherever a log object carries them. Nothing we
 * log on purpose holds a secret; this is the net under mistakes.
 */
export const REDACT_PATHS = [
  'req.headers.authorization', 'headers.authorization', 'authorization',
  'access_token', 'refresh_token', 'id_token', 'client_secret', 'code', 'code_verifier', 'state', 'token',
  '*.access_token', '*.refresh_token', '*.id_token', '*.client_secret', '*.code', '*.code_verifier',
  '*.state', '*.token', '*.authorization', '*.secret', '*.key', '*.keys',
]

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'token-broker' },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
  }
}

export type LogDestination = DestinationStream
