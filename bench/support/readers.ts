/**
 * Callers in a process of their own, timing every request: `storm` fires `callers` requests at
 * once over the URLs; `paced` sends `rate` requests a second for `seconds`, whatever the answers
 * take (an open loop: the same load on every server); otherwise `concurrency` callers read
 * random accounts for `seconds`.
 */
import { Agent, get } from 'node:http'
import { serve } from './processes.js'

interface Timed {
  ms: number
  status: number
}

/** node:http with keep-alive: far less client CPU per request than fetch(), which would dominate a 1,000-caller storm. */
const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY })

function timed(url: string, headers: Record<string, string>): Promise<Timed> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    get(url, { agent, headers }, (res) => {
      res.resume()
      res.on('end', () => resolve({ ms: performance.now() - started, status: res.statusCode ?? 0 }))
    }).on('error', reject)
  })
}

export interface TimedSummary {
  count: number
  non200: number
  p50: number
  p99: number
  max: number
  over: number
}

function summarize(all: Timed[], overMs: number): TimedSummary {
  const ms = all.map((t) => t.ms).sort((a, b) => a - b)
  const at = (q: number) => Math.round(ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]! * 10) / 10
  return {
    count: all.length,
    non200: all.filter((t) => t.status !== 200).length,
    p50: at(0.5),
    p99: at(0.99),
    max: at(1),
    over: ms.filter((m) => m > overMs).length,
  }
}

/** `rate` requests a second, cycling over `accounts` ids (`{n}` in the URL), each timed from when it was sent. */
async function paced(url: string, accounts: number, headers: Record<string, string>, rate: number, seconds: number): Promise<Timed[]> {
  const all: Timed[] = []
  const answers: Promise<void>[] = []
  const started = performance.now()
  for (let sent = 0; performance.now() - started < seconds * 1000; ) {
    const due = Math.floor(((performance.now() - started) / 1000) * rate)
    for (; sent < due; sent++) answers.push(timed(url.replace('{n}', String(sent % accounts)), headers).then((t) => void all.push(t)))
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  await Promise.all(answers)
  return all
}

serve({}, async (m) => {
  const headers = m.headers as Record<string, string>
  const urls = m.urls as string[]
  if (m.paced) {
    const all = await paced(urls[0]!, m.accounts as number, headers, m.rate as number, m.seconds as number)
    return { ...summarize(all, m.overMs as number) }
  }
  if (m.storm) {
    const callers = m.callers as number
    const all = await Promise.all(Array.from({ length: callers }, (_, i) => timed(urls[i % urls.length]!, headers)))
    return { ...summarize(all, m.overMs as number) }
  }
  const deadline = Date.now() + (m.seconds as number) * 1000
  const all: Timed[] = []
  const accounts = m.accounts as number
  await Promise.all(
    Array.from({ length: m.concurrency as number }, async (_, k) => {
      for (let i = k; Date.now() < deadline; i++) {
        const account = Math.floor(Math.random() * accounts)
        all.push(await timed(urls[i % urls.length]!.replace('{n}', String(account)), headers))
      }
    }),
  )
  return { ...summarize(all, m.overMs as number) }
})
