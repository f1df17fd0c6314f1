import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { brokerApi, type BrokerApi } from './broker-api.js'
import { CommandError, environment, publicUrlOf, reportErrors, usageError, type CommandIo } from './io.js'
import { mintCallerJwt } from './mint.js'
import { ProgressLine } from './progress.js'

export const HELP = `  token-broker connect <provider> <account> [--scope "a b"] [--token-file PATH]
      Start linking <account> with <provider>: prints the authorization URL to open in a
      browser, then waits (a live progress line) until the account is linked, the provider
      refuses, or the link expires (10 minutes). Talks to PUBLIC_URL with a token minted from
      AUTH_JWT_SECRET (accounts:write accounts:read, this account only), or the JWT in --token-file.
`

const ACCOUNT = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/
const PROVIDER = /^[a-z0-9][a-z0-9_-]{0,63}$/
const POLL_MS = 1000
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Started {
  authorization_url: string
  expires_at: string
}
interface AuditPage {
  entries: { sub: string | null; outcome: string | null; detail: string | null }[]
}
interface Account {
  provider: string
  scope: string | null
  expires_at: string | null
}

/** `token-broker connect <provider> <account>`; exit 0 once linked, 1 when refused or expired, 2 on bad usage. */
export async function run(args: string[], io: CommandIo): Promise<number> {
  return reportErrors(io, async () => {
    const { provider, account, scope, tokenFile } = parse(args)
    const env = environment(io)
    // A minted token has a `sub` of its own, which the audit trail records on this link's events.
    const sub = tokenFile === undefined ? `cli-connect-${randomBytes(6).toString('hex')}` : null
    const jwt =
      sub === null
        ? readToken(tokenFile!)
        : mintCallerJwt(env, { sub, scopes: ['accounts:write', 'accounts:read'], accounts: [account] }, 15 * 60)
    const api = brokerApi(publicUrlOf(env), jwt)
    const now = io.now ?? Date.now

    const started = await api<Started>('POST', `/connect/${provider}`, { account, ...(scope ? { scope } : {}) })
    io.stdout.write(`Open this URL in a browser to link ${account} with ${provider}:\n\n${started.body.authorization_url}\n\n`)
    // The broker's clock decides: events since just before it started, until its state expires.
    const since = new Date(started.date - 1000).toISOString()
    const begin = now()
    const progress = new ProgressLine(io.stderr, begin, begin + Date.parse(started.body.expires_at) - started.date)
    for (;;) {
      const outcome = await linkOutcome(api, account, since, sub)
      if (outcome !== undefined) {
        progress.end()
        if (outcome.outcome === 'denied')
          throw new CommandError(`the provider did not authorize the link (${outcome.detail ?? 'denied'})`, 1)
        const linked = (await api<Account>('GET', `/accounts/${encodeURIComponent(account)}`)).body
        io.stdout.write(`Linked ${account} with ${linked.provider}${linked.scope ? ` (scope: ${linked.scope})` : ''}.\n`)
        return 0
      }
      const t = now()
      if (t >= begin + Date.parse(started.body.expires_at) - started.date) {
        progress.end()
        throw new CommandError('the link expired before the provider sent the browser back; run connect again', 1)
      }
      progress.update(t)
      await sleep(POLL_MS)
    }
  })
}

/** This link's `account.linked` event, once there is one: linked (created/replaced) or denied. */
async function linkOutcome(api: BrokerApi, account: string, since: string, sub: string | null) {
  const q = new URLSearchParams({ account, event: 'account.linked', since, limit: '100' })
  return (await api<AuditPage>('GET', `/audit?${q}`)).body.entries.find((e) => sub === null || e.sub === sub)
}

function parse(args: string[]) {
  const parsed = (() => {
    try {
      return parseArgs({
        args,
        options: { scope: { type: 'string' }, 'token-file': { type: 'string' } },
        allowPositionals: true,
        strict: true,
      })
    } catch (error) {
      throw usageError(`connect: ${(error as Error).message}`)
    }
  })()
  const [provider, account, ...extra] = parsed.positionals
  if (!provider || !account || extra.length > 0) throw usageError('usage: token-broker connect <provider> <account> (see --help)')
  if (!PROVIDER.test(provider)) throw usageError(`not a provider name: ${provider}`)
  if (!ACCOUNT.test(account)) throw usageError(`not an account id: ${account} (letters, digits and . _ : @ -, at most 128)`)
  return { provider, account, scope: parsed.values.scope, tokenFile: parsed.values['token-file'] }
}

function readToken(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim()
  } catch {
    throw usageError(`--token-file: cannot read ${path}`)
  }
}
