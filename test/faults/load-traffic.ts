import type { FastifyInstance } from 'fastify'
import type { SoakLedger } from '../../scripts/support/soak-ledger.js'
import { bearer } from '../helpers/app.js'
import type { BrokerProcess } from '../helpers/broker-process.js'

/**
 * Steady callers for the fault tests: lanes of `GET /tokens/:account/access` over many
 * accounts, spread over the broker instances a load balancer would route to right now;
 * every token is checked against the soak's ledger, every answer's status counted.
 */
export interface Answer {
  status: number
  json: Record<string, unknown>
}

export interface Instance {
  name: string
  /** null: no answer (the instance died under the request). */
  call(method: 'GET' | 'POST' | 'PUT', path: string, body?: Record<string, unknown>): Promise<Answer | null>
}

export function appInstance(name: string, app: FastifyInstance): Instance {
  const headers = bearer()
  return {
    name,
    async call(method, url, payload) {
      const res = await app.inject({ method, url, headers, ...(payload ? { payload } : {}) })
      return { status: res.statusCode, json: res.json() }
    },
  }
}

export function processInstance(name: string, broker: BrokerProcess): Instance {
  const headers = bearer()
  return {
    name,
    async call(method, path, body) {
      try {
        const res = await fetch(
          `${broker.url}${path}`,
          body === undefined
            ? { method, headers }
            : { method, headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) },
        )
        return { status: res.status, json: (await res.json()) as Record<string, unknown> }
      } catch {
        return null
      }
    },
  }
}

/** Between a lane's requests: keeps a 2-core machine able to run the brokers too. */
const PACE_MS = 10

export class Traffic {
  requests = 0
  readonly statuses = new Map<number, number>()
  /** Error codes of the answers that were not 200. */
  readonly codes = new Map<string, number>()
  /** Requests that got no answer, by instance. */
  readonly unanswered = new Map<string, number>()
  private running: Promise<void>[] = []
  private stopping = false

  constructor(
    private readonly ledger: SoakLedger,
    private readonly accounts: string[],
    /** The instances to route to now (a paused or killed one is taken out, as a health check would). */
    private readonly route: () => Instance[],
  ) {}

  start(lanes: number): void {
    this.running = Array.from({ length: lanes }, () => this.lane())
  }

  async stop(): Promise<void> {
    this.stopping = true
    await Promise.all(this.running)
  }

  /** Statuses other than 200 and 503, with their counts. */
  unexpectedStatuses(): [number, number][] {
    return [...this.statuses].filter(([status]) => status !== 200 && status !== 503)
  }

  summary(): string {
    const statuses = [...this.statuses]
      .sort()
      .map(([s, n]) => `${s}: ${n}`)
      .join(', ')
    const codes = [...this.codes].map(([c, n]) => `${c}: ${n}`).join(', ')
    const unanswered = [...this.unanswered].map(([i, n]) => `${i}: ${n}`).join(', ')
    return `${this.requests} requests (${statuses})${codes ? `, codes ${codes}` : ''}${unanswered ? `, unanswered ${unanswered}` : ''}`
  }

  private async lane(): Promise<void> {
    while (!this.stopping) {
      const instances = this.route()
      const instance = instances[Math.floor(Math.random() * instances.length)]!
      const account = this.accounts[Math.floor(Math.random() * this.accounts.length)]!
      const sentAt = Date.now()
      const res = await instance.call('GET', `/tokens/${account}/access`)
      this.requests++
      if (res === null) {
        this.unanswered.set(instance.name, (this.unanswered.get(instance.name) ?? 0) + 1)
      } else {
        this.statuses.set(res.status, (this.statuses.get(res.status) ?? 0) + 1)
        if (res.status === 200) this.ledger.check(account, String(res.json.access_token), sentAt, Date.now())
        else this.codes.set(String(res.json.code), (this.codes.get(String(res.json.code)) ?? 0) + 1)
      }
      await new Promise((resolve) => setTimeout(resolve, PACE_MS))
    }
  }
}
