import { parseArgs, type ParseArgsConfig } from 'node:util'

/** Bad usage: the dispatcher prints it as one line and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError'
  /** The command whose usage was wrong, for the "see token-broker <command> --help" hint. */
  command?: string
}

type Options = NonNullable<ParseArgsConfig['options']>

export interface Parsed {
  values: Record<string, string | boolean | undefined>
  positionals: string[]
}

/**
 * `node:util.parseArgs`, strict, with the errors a person can act on: an unknown option, an
 * option without its value, a positional the command does not take, and a single-value option
 * given twice (parseArgs would silently keep the last one).
 */
export function parseCommandArgs(args: string[], options: Options, maxPositionals: number): Parsed {
  const parsed = (() => {
    try {
      return parseArgs({ args, options, allowPositionals: true, strict: true, tokens: true })
    } catch (error) {
      throw new UsageError(describeParseError(error as Error & { code?: string }))
    }
  })()
  const seen = new Set<string>()
  for (const token of parsed.tokens) {
    if (token.kind !== 'option' || options[token.name]?.multiple) continue
    if (seen.has(token.name)) throw new UsageError(`--${token.name} is given more than once`)
    seen.add(token.name)
  }
  const extra = parsed.positionals[maxPositionals]
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`)
  return { values: parsed.values as Parsed['values'], positionals: parsed.positionals }
}

function describeParseError(error: Error & { code?: string }): string {
  const option = /'(-{1,2}[^' ]+)/.exec(error.message)?.[1]
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option ?? ''}`.trim()
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return `${option ?? 'an option'} needs a value`
    default:
      return error.message.split('\n')[0]!
  }
}
