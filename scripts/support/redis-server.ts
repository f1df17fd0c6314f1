/**
 * Test and bench harness: runs a REAL `redis-server` on a free loopback port so tests can
 * stop / restart / pause / kill it and observe how the broker copes.
 *
 * - The child is unref'd (a forgotten server never keeps the test process alive)
 *   and is SIGKILLed, with its temp dir removed, when the test process exits.
 * - Readiness is detected by polling a raw TCP `PING` (no fixed sleeps), and the
 *   answering server is checked to be OUR child (INFO server `process_id`), so a
 *   port grabbed by someone else between probe and spawn is detected and retried.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { existsSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { Redis } from 'ioredis'

export interface RedisServer {
  port: number
  url: string
  dir: string
  /** SIGTERM (shutdown without RDB save) and wait for exit. No-op when not running. */
  stop(): Promise<void>
  /** (Re)start on the SAME port and dir; resolves once it answers PING. No-op when running. */
  start(): Promise<void>
  /** SIGSTOP: the server keeps its socket but stops answering. */
  pause(): void
  /** SIGCONT (no-op when not running). */
  resume(): void
  /** SIGKILL and wait for exit. No-op when not running. */
  kill(): Promise<void>
  /** FLUSHALL through a short-lived client. */
  flush(): Promise<void>
  /** Final stop: kills the server if running and removes its temp dir. */
  dispose(): Promise<void>
  /** Whether a child process is currently running (possibly paused). */
  readonly running: boolean
  /** Last output (stdout + stderr) of the server, for diagnostics. */
  output(): string
}

export interface StartRedisOptions {
  /** `--appendonly yes` (AOF, fsync everysec by default). Default false. */
  appendonly?: boolean
  /** Extra redis-server arguments, appended after the defaults (a function gets the chosen port). */
  args?: string[] | ((port: number) => string[])
  /**
   * A config file's text (a function gets the chosen port and the temp dir), written to the temp dir as
   * `redis-<port>.conf` and passed first (`redis-server <conf> ...`), as Sentinel needs. It is
   * written once per port: a restart keeps what the server rewrote in it.
   */
  config?: string | ((port: number, dir: string) => string)
  /** Binary to run. Default: `redis-server` from PATH. */
  bin?: string
}

const READY_DEADLINE_MS = 10_000
const POLL_INTERVAL_MS = 25
const PROBE_TIMEOUT_MS = 1_000
const EXIT_DEADLINE_MS = 10_000
const MAX_OUTPUT = 64 * 1024
const MAX_PORT_ATTEMPTS = 5

// ---------------------------------------------------------------------------
// process-exit cleanup

const liveChildren = new Set<ChildProcess>()
const tempDirs = new Set<string>()
let cleanupInstalled = false

function killAllSync(): void {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL')
    } catch {
      /* already gone */
    }
  }
  liveChildren.clear()
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true })
    } catch {
      /* best effort */
    }
  }
  tempDirs.clear()
}

function installCleanup(): void {
  if (cleanupInstalled) return
  cleanupInstalled = true
  process.on('exit', killAllSync)
  // A signal's default action ends the process without 'exit': clean up, then
  // re-raise the signal so the default behaviour (and exit status) is kept.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAllSync()
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, onSignal)
        process.kill(process.pid, sig)
      }
    }
    process.on(sig, onSignal)
  }
}

// ---------------------------------------------------------------------------
// small utilities

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** A free loopback port: listen on port 0, read it, close. */
/**
 * Runs `work` on a short-lived plain connection to one process on loopback (a data node or
 * a Sentinel): no retries, no redirections, no ready check.
 */
export async function withConnection<T>(port: number, work: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis(port, '127.0.0.1', {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    commandTimeout: 5_000,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    enableReadyCheck: false,
  })
  client.on('error', () => {})
  try {
    await client.connect()
    return await work(client)
  } finally {
    client.disconnect()
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      if (addr === null || typeof addr === 'string') {
        srv.close()
        reject(new Error('could not determine a free port'))
        return
      }
      const { port } = addr
      srv.close((err) => (err ? reject(err) : resolve(port)))
    })
  })
}

/**
 * Send one inline command over a fresh TCP connection and return the raw first
 * reply (a simple line, an error line or a complete bulk string), or null when
 * the connection fails, closes or times out.
 */
function rawCommand(port: number, command: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<string | null> {
  return new Promise((resolve) => {
    let buf = ''
    let done = false
    const sock = net.connect({ host: '127.0.0.1', port })
    const finish = (value: string | null): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      sock.destroy()
      resolve(value)
    }
    const timer = setTimeout(() => finish(null), timeoutMs)
    sock.setEncoding('utf8')
    sock.once('connect', () => sock.write(`${command}\r\n`))
    sock.on('data', (chunk: string) => {
      buf += chunk
      const eol = buf.indexOf('\r\n')
      if (eol < 0) return
      if (buf[0] !== '$') {
        finish(buf.slice(0, eol))
        return
      }
      const len = Number(buf.slice(1, eol))
      if (len < 0) {
        finish(buf.slice(0, eol))
        return
      }
      // bulk string: header + payload + trailing CRLF (byte length ~ char length for INFO's ASCII)
      if (Buffer.byteLength(buf) >= eol + 2 + len + 2) finish(buf)
    })
    sock.once('error', () => finish(null))
    sock.once('close', () => finish(null))
  })
}

// ---------------------------------------------------------------------------

class AddressInUseError extends Error {}

class RedisServerImpl implements RedisServer {
  port: number
  dir: string
  private child: ChildProcess | null = null
  private exited: Promise<void> = Promise.resolve()
  private out = ''
  private paused = false
  private disposed = false

  constructor(
    port: number,
    dir: string,
    private readonly bin: string,
    private readonly baseArgs: (port: number) => string[],
  ) {
    this.port = port
    this.dir = dir
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  get running(): boolean {
    return this.child !== null
  }

  output(): string {
    return this.out
  }

  private append(chunk: Buffer | string): void {
    this.out += chunk.toString()
    if (this.out.length > MAX_OUTPUT) this.out = this.out.slice(-MAX_OUTPUT)
  }

  private fail(message: string): Error {
    const tail = this.out.trim().split('\n').slice(-30).join('\n')
    return new Error(`redis-server (port ${this.port}, dir ${this.dir}): ${message}\n--- redis output ---\n${tail}`)
  }

  async start(): Promise<void> {
    if (this.disposed) throw new Error('redis-server harness already disposed')
    if (this.child) return

    const args = this.baseArgs(this.port)
    let child: ChildProcess
    try {
      child = spawn(this.bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    } catch (err) {
      throw this.fail(`spawn failed: ${(err as Error).message}`)
    }
    const state: { exitInfo: string | null; spawnError: Error | null } = { exitInfo: null, spawnError: null }
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        state.exitInfo = signal ? `signal ${signal}` : `code ${code}`
        liveChildren.delete(child)
        if (this.child === child) {
          this.child = null
          this.paused = false
        }
        resolve()
      })
      child.once('error', (err) => {
        state.spawnError = err
        // 'exit' may not follow a spawn failure
        if (child.pid === undefined) {
          liveChildren.delete(child)
          if (this.child === child) this.child = null
          resolve()
        }
      })
    })
    this.child = child
    this.paused = false
    liveChildren.add(child)
    child.stdout?.on('data', (c: Buffer) => this.append(c))
    child.stderr?.on('data', (c: Buffer) => this.append(c))
    // Never let a (forgotten) server keep the test process alive.
    child.unref()
    ;(child.stdout as net.Socket | null)?.unref?.()
    ;(child.stderr as net.Socket | null)?.unref?.()

    const deadline = Date.now() + READY_DEADLINE_MS
    for (;;) {
      if (state.spawnError) throw this.fail(`could not spawn ${this.bin}: ${state.spawnError.message}`)
      if (state.exitInfo !== null) {
        if (/address already in use/i.test(this.out)) {
          throw new AddressInUseError(this.fail(`port ${this.port} already in use`).message)
        }
        throw this.fail(`exited during startup (${state.exitInfo})`)
      }
      const reply = await rawCommand(this.port, 'PING')
      if (reply === '+PONG' && this.child === child) {
        const info = await rawCommand(this.port, 'INFO server')
        const pid = info ? /process_id:(\d+)/.exec(info)?.[1] : undefined
        if (pid !== undefined && Number(pid) === child.pid) return
        if (pid !== undefined) {
          // Someone else answers on this port: it was taken between probe and spawn.
          await this.killChild(child)
          throw new AddressInUseError(this.fail(`port ${this.port} is served by another process (pid ${pid})`).message)
        }
      }
      if (Date.now() > deadline) {
        await this.killChild(child)
        throw this.fail(`not answering PING within ${READY_DEADLINE_MS} ms`)
      }
      await sleep(POLL_INTERVAL_MS)
    }
  }

  /** Wait for the current child's exit, keeping the event loop alive meanwhile. */
  private async waitExit(child: ChildProcess, what: string): Promise<void> {
    child.ref()
    let timer: NodeJS.Timeout | undefined
    try {
      const timedOut = await Promise.race([
        this.exited.then(() => false),
        new Promise<boolean>((r) => {
          timer = setTimeout(() => r(true), EXIT_DEADLINE_MS)
        }),
      ])
      if (timedOut) {
        child.kill('SIGKILL')
        await this.exited
        throw this.fail(`did not exit within ${EXIT_DEADLINE_MS} ms after ${what}; killed`)
      }
    } finally {
      clearTimeout(timer)
      child.unref()
    }
  }

  private async killChild(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
    child.kill('SIGKILL')
    await this.waitExit(child, 'SIGKILL')
  }

  async stop(): Promise<void> {
    const child = this.child
    if (!child) return
    child.kill('SIGTERM')
    // A stopped process only handles SIGTERM once continued.
    if (this.paused) child.kill('SIGCONT')
    await this.waitExit(child, 'SIGTERM')
  }

  async kill(): Promise<void> {
    const child = this.child
    if (!child) return
    await this.killChild(child)
  }

  pause(): void {
    if (!this.child) throw new Error('redis-server is not running')
    this.child.kill('SIGSTOP')
    this.paused = true
  }

  resume(): void {
    if (!this.child) return
    this.child.kill('SIGCONT')
    this.paused = false
  }

  async flush(): Promise<void> {
    await withConnection(this.port, (client) => client.flushall())
  }

  async dispose(): Promise<void> {
    if (this.disposed) return
    await this.kill()
    this.disposed = true
    tempDirs.delete(this.dir)
    await rm(this.dir, { recursive: true, force: true })
  }
}

export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  installCleanup()
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tb-redis-'))
  tempDirs.add(dir)
  const configFile = (port: number): string[] => {
    if (opts.config === undefined) return []
    const file = path.join(dir, `redis-${port}.conf`)
    if (!existsSync(file)) writeFileSync(file, typeof opts.config === 'function' ? opts.config(port, dir) : opts.config)
    return [file]
  }
  const baseArgs = (port: number): string[] => [
    ...configFile(port),
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    opts.appendonly ? 'yes' : 'no',
    '--dir',
    dir,
    '--daemonize',
    'no',
    '--protected-mode',
    'no',
    ...(typeof opts.args === 'function' ? opts.args(port) : (opts.args ?? [])),
  ]

  let lastError: unknown
  for (let attempt = 0; attempt < MAX_PORT_ATTEMPTS; attempt++) {
    const server = new RedisServerImpl(await freePort(), dir, opts.bin ?? 'redis-server', baseArgs)
    try {
      await server.start()
      return server
    } catch (err) {
      lastError = err
      if (!(err instanceof AddressInUseError)) break
    }
  }
  tempDirs.delete(dir)
  await rm(dir, { recursive: true, force: true })
  throw lastError
}
