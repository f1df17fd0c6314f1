import { pino, type DestinationStream, type LoggerOptions } from 'pino'

/**
 * Paths pino replaces with "[redacted]" wherever a log object carries them. Nothing we
 * log on purpose holds a secret; this is the net under mistakes.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'access_token',
  'refresh_token',
  'id_token',
  'client_secret',
  'code_verifier',
  'state',
  'token',
  '*.access_token',
  '*.refresh_token',
  '*.id_token',
  '*.client_secret',
  '*.code_verifier',
  '*.state',
  '*.token',
  '*.authorization',
  '*.secret',
  '*.key',
  '*.keys',
  // The OAuth authorization code where it travels (the callback's query, a token request's
  // body), not every field named `code`: error logs must keep `"code":"PROVIDER_ERROR"`.
  'query.code',
  'body.code',
  'params.code',
  '*.query.code',
  '*.body.code',
  '*.params.code',
]

let lastMs = 0
let lastTime = ''

/** `,"time":"<ISO 8601>"`, formatted once per millisecond: a busy instance writes many lines in one. */
function isoTime(): string {
  const now = Date.now()
  if (now !== lastMs) {
    lastMs = now
    lastTime = `,"time":"${new Date(now).toISOString()}"`
  }
  return lastTime
}

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'token-broker' },
    timestamp: isoTime,
  }
}

export type LogDestination = DestinationStream

/**
 * Standard output through sonic-boom (pino.destination: straight to fd 1, no Node stream,
 * asynchronous, flushed on exit), in its buffer mode. Lines that arrive while a write is in
 * flight go out together; in its default string mode sonic-boom measures the whole pending
 * chunk again (Buffer.byteLength of a growing string) for every line, so a busy instance
 * copied kilobytes per access line. Buffer mode counts bytes as it goes.
 */
export function stdoutDestination(): LogDestination {
  const boom = pino.destination({ dest: 1, sync: false, contentMode: 'buffer' })
  // Its types know only the string mode; in buffer mode write() takes a Buffer.
  return { write: (line: string) => boom.write(Buffer.from(line) as unknown as string) }
}

/** The same lines without the redaction pass: only for log objects whose every field is known safe. */
export function plainLoggerOptions(level: string): LoggerOptions {
  const { redact: _unused, ...rest } = loggerOptions(level)
  return rest
}
