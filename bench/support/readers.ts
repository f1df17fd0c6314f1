/**
 * Callers in a process of their own, timing every request: `storm` fires `callers` requests at
 * once over the URLs; `paced` sends `rate` requests a second for `seconds`, whatever the answers
 * take (an open loop: the same load on every server); otherwise `concurrency` callers read
 * random accounts for `seconds`.
 */
import { Agent, get } from 'node:http'
import { Worker } from 'node:worker_threads'
import { serve } from './processes.js'

interface Timed {
  ms: number
  status: number
  /** When it was sent (epoch ms, to the microsecond: comparable with other processes' clocks). */
  at: number
  url: string
}

/** node:http with keep-alive: far less client CPU per request than fetch(), which would dominate a 1,000-caller storm. */
const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY })

function timed(url: string, headers: Record<string, string>): Promise<Timed> {
  const started = performance.now()
  const at = performance.timeOrigin + started
  return new Promise((resolve, reject) => {
    get(url, { agent, headers }, (res) => {
      res.resume()
      res.on('end', () => resolve({ ms: performance.now() - started, status: res.statusCode ?? 0, at, url }))
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
  /** The requests slower than `overMs`: when each was sent (epoch ms), its URL and time. */
  slow: { at: number; url: string; ms: number }[]
}

/**
 * The timings of a run, kept as numbers in a growing Float64Array, with only the slow requests
 * kept whole. A run of millions of reads must not hold an object per read: the heap that makes
 * grows into the hundreds of megabytes, and this process's own collections then show up as
 * slow reads.
 */
class Recorder {
  private ms = new Float64Array(1 << 16)
  private count = 0
  private non200 = 0
  private readonly slow: TimedSummary['slow'] = []

  constructor(private readonly overMs: number) {}

  add(t: Timed): void {
    if (this.count === this.ms.length) {
      const grown = new Float64Array(this.ms.length * 2)
      grown.set(this.ms)
      this.ms = grown
    }
    this.ms[this.count++] = t.ms
    if (t.status !== 200) this.non200++
    if (t.ms > this.overMs) this.slow.push({ at: t.at, url: t.url, ms: Math.round(t.ms * 10) / 10 })
  }

  summary(): TimedSummary {
    const ms = this.ms.subarray(0, this.count).sort()
    const at = (q: number) => Math.round((ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] ?? 0) * 10) / 10
    return {
      count: this.count,
      non200: this.non200,
      p50: at(0.5),
      p99: at(0.99),
      max: at(1),
      over: this.slow.length,
      slow: this.slow,
    }
  }
}

/**
 * The pacer, on a thread of its own: it sleeps until the next request is due (Atomics.wait
 * takes fractions of a millisecond) and tells the main thread how many are due now. The main
 * thread neither spins nor waits on a 1 ms timer, which would send two or three requests at
 * once at 2,000 a second: then what is measured is how long a server takes to answer a bunch.
 */
const PACER = `
const { parentPort, workerData: { rate, ms } } = require('node:worker_threads')
const sleeper = new Int32Array(new SharedArrayBuffer(4))
const start = performance.now()
for (let sent = 0; ; ) {
  const now = performance.now() - start
  if (now >= ms) break
  const due = Math.floor((now / 1000) * rate)
  if (due > sent) {
    parentPort.postMessage(due - sent)
    sent = due
  }
  const wait = ((sent + 1) / rate) * 1000 - (performance.now() - start)
  if (wait > 0) Atomics.wait(sleeper, 0, 0, wait)
}
parentPort.postMessage(0)
`

/**
 * `rate` requests a second, cycling over `accounts` ids (`{n}` in the URL), each sent when it
 * is due (within tens of microseconds) and timed from then, whatever the answers take (an
 * open loop: the same load on every server).
 */
async function paced(url: string, accounts: number, headers: Record<string, string>, rate: number, seconds: number, into: Recorder) {
  const answers: Promise<void>[] = []
  let sent = 0
  const pacer = new Worker(PACER, { eval: true, workerData: { rate, ms: seconds * 1000 } })
  await new Promise<void>((resolve, reject) => {
    pacer.on('error', reject)
    pacer.on('message', (due: number) => {
      if (due === 0) {
        resolve()
        return
      }
      for (const end = sent + due; sent < end; sent++) {
        answers.push(timed(url.replace('{n}', String(sent % accounts)), headers).then((t) => into.add(t)))
      }
    })
  })
  await pacer.terminate()
  await Promise.all(answers)
}

serve({}, async (m) => {
  const headers = m.headers as Record<string, string>
  const urls = m.urls as string[]
  const recorder = new Recorder((m.overMs as number | undefined) ?? Number.POSITIVE_INFINITY)
  if (m.paced) {
    await paced(urls[0]!, m.accounts as number, headers, m.rate as number, m.seconds as number, recorder)
    return { ...recorder.summary() }
  }
  if (m.storm) {
    const callers = m.callers as number
    await Promise.all(Array.from({ length: callers }, (_, i) => timed(urls[i % urls.length]!, headers).then((t) => recorder.add(t))))
    return { ...recorder.summary() }
  }
  const deadline = Date.now() + (m.seconds as number) * 1000
  const accounts = m.accounts as number
  await Promise.all(
    Array.from({ length: m.concurrency as number }, async (_, k) => {
      for (let i = k; Date.now() < deadline; i++) {
        const account = Math.floor(Math.random() * accounts)
        recorder.add(await timed(urls[i % urls.length]!.replace('{n}', String(account)), headers))
      }
    }),
  )
  return { ...recorder.summary() }
})
