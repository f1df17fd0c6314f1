import type { FastifyBaseLogger } from 'fastify'
import type { Bindings, ChildLoggerOptions, LevelWithSilent as LogLevel } from 'pino'

/**
 * A request's logger, made only when the request logs something. Fastify makes a child logger
 * (bindings serialized, redaction set up) for every request; most requests log nothing but the
 * access line, which has its own logger, so the child is built on first use instead.
 */
class LazyChildLogger implements FastifyBaseLogger {
  private made: FastifyBaseLogger | undefined

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  /** The child logger, made on first use. */
  get log(): FastifyBaseLogger {
    this.made ??= this.parent.child(this.bindings, this.options)
    return this.made
  }

  get level(): LogLevel {
    return (this.made ?? this.parent).level as LogLevel
  }

  set level(level: LogLevel) {
    this.log.level = level
  }

  declare fatal: FastifyBaseLogger['fatal']
  declare error: FastifyBaseLogger['error']
  declare warn: FastifyBaseLogger['warn']
  declare info: FastifyBaseLogger['info']
  declare debug: FastifyBaseLogger['debug']
  declare trace: FastifyBaseLogger['trace']
  declare silent: FastifyBaseLogger['silent']

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.log.child(bindings, options)
  }
}

// The log methods live on the prototype: a request that never logs allocates nothing for them.
for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const) {
  Object.defineProperty(LazyChildLogger.prototype, level, {
    value(this: { log: FastifyBaseLogger }, ...args: unknown[]) {
      ;(this.log[level] as (...a: unknown[]) => void)(...args)
    },
  })
}

export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyChildLogger(logger, bindings, options)
}
