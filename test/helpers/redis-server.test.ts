import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Redis, type RedisOptions } from 'ioredis'
import { startRedis, type RedisServer } from './redis-server.js'

function client(server: RedisServer, extra: RedisOptions = {}): Redis {
  const c = new Redis(server.port, '127.0.0.1', {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    retryStrategy: () => null,
    ...extra,
  })
  c.on('error', () => {})
  return c
}

async function withClient<T>(server: RedisServer, fn: (c: Redis) => Promise<T>, extra?: RedisOptions): Promise<T> {
  const c = client(server, extra)
  try {
    return await fn(c)
  } finally {
    c.disconnect()
  }
}

test('start gives a PING-able server on loopback', async () => {
  const server = await startRedis()
  try {
    assert.ok(server.port > 0)
    assert.equal(server.url, `redis://127.0.0.1:${server.port}`)
    assert.equal(server.running, true)
    await withClient(server, async (c) => {
      await c.connect()
      assert.equal(await c.ping(), 'PONG')
      assert.equal(await c.config('GET', 'dir').then((r) => (r as string[])[1]), server.dir)
    })
  } finally {
    await server.dispose()
  }
})

test('stop makes connections fail; start again works on the same port', async () => {
  const server = await startRedis()
  try {
    const port = server.port
    await server.stop()
    assert.equal(server.running, false)
    await withClient(server, async (c) => {
      await assert.rejects(c.connect(), /ECONNREFUSED|Connection is closed/)
    })

    await server.start()
    assert.equal(server.port, port)
    await withClient(server, async (c) => {
      await c.connect()
      assert.equal(await c.ping(), 'PONG')
    })
  } finally {
    await server.dispose()
  }
})

test('with appendonly, data survives stop/start; flush empties it', async () => {
  const server = await startRedis({ appendonly: true })
  try {
    await withClient(server, async (c) => {
      await c.connect()
      await c.set('k', 'v')
    })
    await server.stop()
    await server.start()
    await withClient(server, async (c) => {
      await c.connect()
      assert.equal(await c.get('k'), 'v')
      await server.flush()
      assert.equal(await c.dbsize(), 0)
    })
  } finally {
    await server.dispose()
  }
})

test('pause makes commands time out; resume makes them work again', async () => {
  const server = await startRedis()
  try {
    await withClient(
      server,
      async (c) => {
        await c.connect()
        assert.equal(await c.ping(), 'PONG')
        server.pause()
        await assert.rejects(c.ping(), /timed out/i)
        server.resume()
        assert.equal(await c.set('after', '1'), 'OK')
        assert.equal(await c.get('after'), '1')
      },
      { commandTimeout: 1_000 },
    )
  } finally {
    server.resume()
    await server.dispose()
  }
})

test('stop works on a paused server; kill works too', async () => {
  const server = await startRedis()
  try {
    server.pause()
    await server.stop()
    assert.equal(server.running, false)

    await server.start()
    await server.kill()
    assert.equal(server.running, false)
    await withClient(server, async (c) => {
      await assert.rejects(c.connect())
    })
  } finally {
    await server.dispose()
  }
})
