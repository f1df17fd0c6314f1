import type { Scope } from '../scopes.js'
import { parseArgs } from 'node:util'
import { environment, publicUrlOf, reportErrors, usageError, type CommandIo } from './io.js'
import { mintCallerJwt, ttlOption } from './mint.js'

export const CONSOLE_SCOPES: readonly Scope[] = ['accounts:read', 'accounts:write', 'tokens:revoke']
const DEFAULT_TTL = 900
const MAX_TTL = 12 * 3600

export const HELP = `  token-broker console [--sub NAME] [--ttl SECONDS]
      Print the admin console's address with a short-lived admin token in its fragment
      (${'`'}#token=...${'`'}, never sent to the server). Signed with AUTH_JWT_SECRET; scopes
      ${CONSOLE_SCOPES.join(' ')}; --ttl default ${DEFAULT_TTL} (15 minutes), --sub default console.
`

/** `token-broker console`: mints an admin JWT and prints `${PUBLIC_URL}/console#token=...`. */
export async function run(args: string[], io: CommandIo): Promise<number> {
  return reportErrors(io, async () => {
    const { values } = (() => {
      try {
        return parseArgs({ args, options: { sub: { type: 'string' }, ttl: { type: 'string' } }, strict: true, allowPositionals: false })
      } catch (error) {
        throw usageError(`console: ${(error as Error).message}`)
      }
    })()
    const ttl = ttlOption(values.ttl, DEFAULT_TTL, MAX_TTL)
    const env = environment(io)
    const token = mintCallerJwt(env, { sub: values.sub ?? 'console', scopes: [...CONSOLE_SCOPES] }, ttl)
    io.stdout.write(`${publicUrlOf(env)}/console#token=${token}\n`)
    io.stderr.write(
      `Open this address in a browser within ${Math.round(ttl / 60)} minutes. It grants admin access until then: do not share it.\n`,
    )
    return 0
  })
}
