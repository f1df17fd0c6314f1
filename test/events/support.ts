import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { AuditEntry } from '../../src/events/audit-log.js'
import { verifyWebhookSignature } from '../../src/events/webhook-signature.js'

export const WEBHOOK_SECRET = 'whsec-test-0123456789abcdef'

export interface Delivery {
  headers: IncomingHttpHeaders
  body: string
  verified: boolean
  status: number
}

/**
 * A webhook receiver on loopback: checks every signature with the shared secret (401 when
 * it does not verify), answers 500 to the first `failFirst` requests, and records every
 * request. `accepted` are the deliveries it took (2xx), the ones a sender may stop retrying.
 */
export interface Receiver {
  url: string
  port: number
  requests: Delivery[]
  accepted(): Delivery[]
  /** Closes the listener (connections refused from now on). */
  down(): Promise<void>
  /** Listens again on the same port. */
  up(): Promise<void>
}

export async function startReceiver(o: { secret?: string; failFirst?: number; port?: number } = {}): Promise<Receiver> {
  let failuresLeft = o.failFirst ?? 0
  const requests: Delivery[] = []
  let server: Server | null = null
  let port = o.port ?? 0
  const listen = async () => {
    const srv = createServer(async (req, res) => {
      const chunks: Buffer[] = []
      for await (const chunk of req) chunks.push(chunk as Buffer)
      const body = Buffer.concat(chunks).toString('utf8')
      const header = (name: string) => req.headers[name] as string | undefined
      const verified = verifyWebhookSignature(
        o.secret ?? WEBHOOK_SECRET,
        header('x-token-broker-timestamp'),
        body,
        header('x-token-broker-signature'),
      )
      const status = !verified ? 401 : failuresLeft > 0 ? 500 : 204
      if (verified && failuresLeft > 0) failuresLeft--
      requests.push({ headers: req.headers, body, verified, status })
      res.writeHead(status).end()
    })
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject)
      srv.listen(port, '127.0.0.1', () => resolve())
    })
    port = (srv.address() as AddressInfo).port
    server = srv
  }
  await listen()
  const receiver: Receiver = {
    url: `http://127.0.0.1:${port}/hooks/token-broker`,
    port,
    requests,
    accepted: () => requests.filter((r) => r.status >= 200 && r.status < 300),
    async down() {
      const srv = server
      server = null
      if (srv)
        await new Promise<void>((resolve) => {
          srv.closeAllConnections()
          srv.close(() => resolve())
        })
    },
    async up() {
      if (!server) await listen()
    },
  }
  return receiver
}

/** Every entry of the audit trail, through the app's audit log, following cursors. */
export async function allAuditEntries(app: FastifyInstance): Promise<AuditEntry[]> {
  const entries: AuditEntry[] = []
  let cursor: string | undefined
  for (;;) {
    const page = await app.audit.read({ limit: 500, cursor, allowed: null })
    entries.push(...page.entries)
    if (page.next_cursor === null) return entries
    cursor = page.next_cursor
  }
}

/** Fails naming the secret (by position, not value) that occurs in `text`. */
export function assertNoSecrets(text: string, secrets: Iterable<string>, where: string): void {
  const list = [...secrets]
  if (list.some((s) => s.length < 12)) throw new Error('test secrets must be long enough not to occur by chance')
  const found = list.map((s, i) => (text.includes(s) ? i : -1)).filter((i) => i >= 0)
  if (found.length > 0) throw new Error(`${where} holds secret values #${found.join(', #')}`)
}
