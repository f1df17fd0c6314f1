/**
 * An error fit for a log line: the same class (so pino's `err` serializer names its type),
 * message, code and stack, and its cause likewise, but none of the other own properties an
 * error may carry, such as a Redis driver error's command arguments or a response body.
 */
export function safeError(error: Error & { code?: unknown; cause?: unknown }): Error {
  const safe = Object.create(Object.getPrototypeOf(error) as object) as Error & { code?: unknown; cause?: unknown }
  Object.defineProperty(safe, 'message', { value: error.message, enumerable: false })
  Object.defineProperty(safe, 'stack', { value: error.stack, enumerable: false })
  if (typeof error.code === 'string') safe.code = error.code
  if (error.cause instanceof Error) safe.cause = safeError(error.cause)
  return safe
}
