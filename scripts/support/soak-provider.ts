import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * The soak's authorization server: per account a lineage (a link), and in it numbered
 * tokens `at-<account>.<lineage>-<n>` / `rt-...-<n>`. Refresh tokens rotate strictly: only the
 * newest is accepted, so a lost or stale grant shows up as a rejected refresh, except the
 * one before it for `graceMs` after its successor was issued (the reuse grace of Okta, Auth0
 * and others): the successor is then orphaned, never to be used. It remembers when each token
 * was issued, which is what the soak's invariants are checked against.
 */
export interface Issued {
  n: number
  at: number
  /** The client id the token was issued to (from Basic auth or the body); null for generation 0. */
  client: string | null
  orphaned?: boolean
}

export interface Lineage {
  id: number
  /** Issue times by generation; generation 0 came with the link. */
  issued: Issued[]
  /** Each refresh: the generation it replaced and when. */
  refreshes: { from: number; at: number }[]
  /** When the link was revoked or replaced (null: current). */
  endedAt: number | null
}

export interface SoakProvider {
  url: string
  lifetimeMs: number
  /** While true, every token request is answered 503 (an injected outage). */
  down: boolean
  /** Awaited before a refresh is answered (its token not issued yet), with the client's id: tests stop or kill that client there. */
  beforeAnswer: ((client: string | null) => Promise<void> | void) | null
  lineages: Map<string, Lineage[]>
  /** The newest lineage of the account. */
  current(account: string): Lineage | undefined
  /**
   * A new lineage for the account (a relink): its generation-0 tokens. Older lineages stay
   * valid until `confirmLink` (the broker stored the new one) or `endAll` (revoked): a failed
   * or unanswered import may or may not have been stored.
   */
  link(account: string, now: number): { lineage: number; accessToken: string; refreshToken: string }
  confirmLink(account: string, lineage: number, now: number): void
  endAll(account: string, now: number): void
  /** Successful refreshes of the account, over all its lineages. */
  refreshesOf(account: string): number
  counts: { refreshes: number; failedInOutage: number; rejected: number }
  /** The first few rejected refresh tokens, with why. */
  rejections: string[]
  close(): Promise<void>
}

const TOKEN = /^(at|rt)-(.+)\.(\d+)-(\d+)$/

export function parseToken(token: string): { account: string; lineage: number; n: number } | null {
  const m = TOKEN.exec(token)
  return m ? { account: m[2]!, lineage: Number(m[3]), n: Number(m[4]) } : null
}

/** The requesting client's id: HTTP Basic (form-encoded parts, RFC 6749 §2.3.1) or `client_id` in the body. */
function clientOf(authorization: string | undefined, form: URLSearchParams): string | null {
  const basic = /^Basic (.+)$/i.exec(authorization ?? '')?.[1]
  if (!basic) return form.get('client_id')
  const id = Buffer.from(basic, 'base64').toString('utf8').split(':')[0]!
  return decodeURIComponent(id.replace(/\+/g, ' '))
}

export async function startSoakProvider(lifetimeMs: number, graceMs: number): Promise<SoakProvider> {
  const lineages = new Map<string, Lineage[]>()
  const current = (account: string) => lineages.get(account)?.at(-1)
  const provider: SoakProvider = {
    url: '',
    lifetimeMs,
    down: false,
    beforeAnswer: null,
    lineages,
    current,
    counts: { refreshes: 0, failedInOutage: 0, rejected: 0 },
    rejections: [],
    link(account, now) {
      const list = lineages.get(account) ?? []
      const id = list.length
      list.push({ id, issued: [{ n: 0, at: now, client: null }], refreshes: [], endedAt: null })
      lineages.set(account, list)
      return { lineage: id, accessToken: `at-${account}.${id}-0`, refreshToken: `rt-${account}.${id}-0` }
    },
    confirmLink(account, lineage, now) {
      for (const l of lineages.get(account) ?? []) if (l.id < lineage && l.endedAt === null) l.endedAt = now
    },
    endAll(account, now) {
      for (const l of lineages.get(account) ?? []) if (l.endedAt === null) l.endedAt = now
    },
    refreshesOf: (account) => (lineages.get(account) ?? []).reduce((sum, l) => sum + l.refreshes.length, 0),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
  const server: Server = createServer(async (req, res) => {
    let body = ''
    for await (const chunk of req) body += chunk
    const answer = (status: number, json: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json))
    if (provider.down) {
      provider.counts.failedInOutage++
      return answer(503, { error: 'temporarily_unavailable' })
    }
    const form = new URLSearchParams(body)
    const client = clientOf(req.headers.authorization, form)
    await provider.beforeAnswer?.(client)
    const presented = parseToken(form.get('refresh_token') ?? '')
    const lineage = presented ? lineages.get(presented.account)?.[presented.lineage] : undefined
    const newest = lineage?.issued.at(-1)
    const now = Date.now()
    const inGrace = newest !== undefined && presented !== null && newest.n === presented.n + 1 && now - newest.at < graceMs
    if (!presented || !lineage || lineage.endedAt !== null || (newest!.n !== presented.n && !inGrace)) {
      provider.counts.rejected++
      if (provider.rejections.length < 5) {
        const why = !lineage
          ? 'unknown lineage'
          : lineage.endedAt !== null
            ? `lineage ended ${Date.now() - lineage.endedAt} ms ago`
            : `newest is ${newest!.n}, issued at ${new Date(newest!.at).toISOString().slice(11, 23)}`
        provider.rejections.push(`${presented ? `${presented.account}.${presented.lineage}-${presented.n}` : 'malformed'}: ${why}`)
      }
      return answer(400, { error: 'invalid_grant' })
    }
    if (inGrace) newest!.orphaned = true
    const n = newest!.n + 1
    lineage.issued.push({ n, at: now, client })
    lineage.refreshes.push({ from: presented.n, at: now })
    provider.counts.refreshes++
    const name = `${presented.account}.${lineage.id}-${n}`
    answer(200, { access_token: `at-${name}`, refresh_token: `rt-${name}`, expires_in: lifetimeMs / 1000, token_type: 'Bearer' })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  provider.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return provider
}
