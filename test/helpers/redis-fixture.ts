import { startRedis, type RedisServer } from './redis-server.js'

/** One redis-server per test file, started on first use. */
export class RedisFixture {
  private server: RedisServer | null = null
  private starting: Promise<RedisServer> | null = null

  constructor(private readonly options: Parameters<typeof startRedis>[0] = {}) {}

  async get(): Promise<RedisServer> {
    if (this.server) return this.server
    this.starting ??= startRedis(this.options).then((s) => (this.server = s))
    return this.starting
  }

  async dispose(): Promise<void> {
    const server = this.server ?? (this.starting ? await this.starting.catch(() => null) : null)
    await server?.dispose()
    this.server = null
    this.starting = null
  }
}
