import { ConfigError } from '../config-error.js'
import { SCOPES, isScope } from '../scopes.js'
import { parseCommandArgs, UsageError } from './args.js'

const MAX_TTL = 31 * 86400

export const help = `Usage: token-broker token <scope...> [--sub NAME] [--accounts a,b*] [--ttl SECONDS]

Mint a caller JWT signed with AUTH_JWT_SECRET (HS256), for development and tests.
The broker verifies it with the same AUTH_JWT_SECRET. A scope named twice counts once.

Scopes: ${SCOPES.join(' ')}

Options:
  --sub NAME        the caller's name, the JWT's sub (default: cli)
  --accounts LIST   comma-separated account ids the caller is limited to; a trailing *
                    matches a prefix (default: no accounts claim, every account)
  --ttl SECONDS     lifetime, 1 to ${MAX_TTL} (default: 3600)
  -h, --help        this text

Environment: AUTH_JWT_SECRET (required); AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE are
added as iss and aud when set.
`

export async function run(args: string[]): Promise<void> {
  const { values, positionals } = parseCommandArgs(
    args,
    {
      sub: { type: 'string' },
      accounts: { type: 'string' },
      ttl: { type: 'string' },
    },
    Infinity,
  )
  if (positionals.length === 0) throw new UsageError('name at least one scope')
  const scopes = [...new Set(positionals)]
  for (const s of scopes) if (!isScope(s)) throw new UsageError(`unknown scope "${s}" (one of: ${SCOPES.join(', ')})`)
  const ttlText = (values.ttl as string | undefined) ?? '3600'
  const ttl = Number(ttlText)
  if (!/^\d+$/.test(ttlText) || ttl < 1 || ttl > MAX_TTL) throw new UsageError(`--ttl must be whole seconds, 1 to ${MAX_TTL}`)
  const sub = (values.sub as string | undefined) ?? 'cli'
  if (sub === '') throw new UsageError('--sub must not be empty')

  const [{ readEnv }, { mintCallerJwt }] = await Promise.all([import('../config.js'), import('../cli-commands/mint.js')])
  const env = readEnv()
  if (!env.AUTH_JWT_SECRET)
    throw new ConfigError('AUTH_JWT_SECRET', 'is required to mint a token (the broker verifies callers with the same secret)')
  const accounts = values.accounts as string | undefined
  const claims = {
    sub,
    scopes,
    ...(accounts === undefined
      ? {}
      : {
          accounts: [
            ...new Set(
              accounts
                .split(',')
                .map((a) => a.trim())
                .filter(Boolean),
            ),
          ],
        }),
  }
  process.stdout.write(`${mintCallerJwt(env, claims, ttl)}\n`)
}
