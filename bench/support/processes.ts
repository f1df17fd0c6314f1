import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/**
 * Every server and load generator runs in its own Node process (tsx as a loader), talking to
 * the runner over IPC: a request is `{ id, ...body }`, the answer `{ id, ...result }`.
 */
export interface Child {
  process: ChildProcess
  ask<T>(message: Record<string, unknown>): Promise<T>
  stop(): Promise<void>
}

let ids = 0

export async function start(script: string, env: Record<string, string> = {}): Promise<Child & { ready: Record<string, unknown> }> {
  const child = fork(fileURLToPath(new URL(`../${script}`, import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  })
  const pending = new Map<number, (value: unknown) => void>()
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before it was ready`)))
    child.on('message', (m: { id?: number; ready?: boolean } & Record<string, unknown>) => {
      if (m.ready) resolve(m)
      else if (m.id !== undefined) pending.get(m.id)?.(m)
    })
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return {
    process: child,
    ready: await ready,
    ask: <T>(message: Record<string, unknown>) =>
      new Promise<T>((resolve) => {
        const id = ++ids
        pending.set(id, (value) => {
          pending.delete(id)
          resolve(value as T)
        })
        child.send({ id, ...message })
      }),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM')
      await exited
    },
  }
}

/** In a child: announce readiness and answer the runner's questions. */
export function serve(
  ready: Record<string, unknown>,
  answer: (m: Record<string, unknown>) => Promise<Record<string, unknown>> | Record<string, unknown>,
): void {
  process.on('message', (m: { id: number } & Record<string, unknown>) => {
    Promise.resolve(answer(m)).then((result) => process.send!({ id: m.id, ...result }))
  })
  process.send!({ ready: true, ...ready })
}

/** CPU time and memory of this process, for the runner's per-request figures. */
export function usage(): { cpuMicros: number; rss: number } {
  const cpu = process.cpuUsage()
  return { cpuMicros: cpu.user + cpu.system, rss: process.memoryUsage.rss() }
}
