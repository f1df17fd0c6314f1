import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { freePort } from './redis-server.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface BrokerProcess {
  url: string
  child: ChildProcess
  output(): string
  /** Peak resident set size so far (VmHWM, Linux), in MiB; null elsewhere. */
  peakRssMb(): number | null
  /** Sends a signal and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>
}

/** Runs `src/server.ts` as a real child process on a free port, and waits until it listens. */
export async function spawnBroker(env: Record<string, string>, startTimeoutMs = 120_000): Promise<BrokerProcess> {
  const port = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    // No shedding on event-loop delay: a busy test machine blocks a starting process for seconds.
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'info',
      OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  // The last megabyte is kept: a long run (the soak) logs far more than anyone reads.
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-1_000_000)
  }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`broker did not start:\n${out}`)), startTimeoutMs)
    const check = () => {
      if (out.includes('Server listening')) {
        clearTimeout(deadline)
        resolve()
      }
    }
    child.stdout!.on('data', check)
    child.once('exit', () => {
      clearTimeout(deadline)
      reject(new Error(`broker exited:\n${out}`))
    })
  })
  process.once('exit', () => child.kill('SIGKILL'))
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    output: () => out,
    peakRssMb: () => peakRssMb(child.pid),
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await exited
    },
  }
}

function peakRssMb(pid: number | undefined): number | null {
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
    return kb === undefined ? null : Math.round(Number(kb) / 1024)
  } catch {
    return null
  }
}
