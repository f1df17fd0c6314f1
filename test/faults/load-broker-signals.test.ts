import { test } from 'node:test'
import { startRedis } from '../helpers/redis-server.js'
import { everyAccountRefreshedSince } from './load-record.js'
import { loadScenario } from './load-scenario.js'

/** Scaled to the 10 s tokens here as the default 30 s is to tokens of minutes: a dead holder's lock blocks its accounts this long. */
const LOCK_TTL_MS = 10_000
const LOCK_TTL = { REFRESH_LOCK_TTL_MS: String(LOCK_TTL_MS) }

test('an instance SIGKILLed under load while a refresh of its is at the provider, then started again: no wrong token, only 200 and 503, one refresh per expiry but for the refreshes that died with it', async (t) => {
  const redis = await startRedis({ appendonly: true })
  const load = await loadScenario(t, { stopRedis: () => redis.dispose(), redisEnv: { REDIS_URL: redis.url }, env: LOCK_TTL })
  const a = await load.inProcess('a')
  await load.inProcess('b')
  const victim = await load.process('victim')
  await load.start(a)

  // The documented bound (docs/operations.md, Outages): a refresh whose answer dies with the
  // process is made again once its lock expires, against the provider's reuse grace.
  await load.fault(
    'an instance SIGKILLed with a refresh at the provider, and started again',
    async () => {
      await load.atProvider('victim', async () => {
        load.route(victim.instance, false)
        await victim.broker.kill('SIGKILL')
      })
      await load.process('victim-again')
    },
    (d) => d.orphan.client === 'victim' || d.by.client === 'victim',
  )
})

test('an instance paused (SIGSTOP) under load, briefly, then past its lock with a refresh at the provider: no wrong token, only 200 and 503, one refresh per expiry but for the refreshes it held', async (t) => {
  const redis = await startRedis({ appendonly: true })
  const load = await loadScenario(t, { stopRedis: () => redis.dispose(), redisEnv: { REDIS_URL: redis.url }, env: LOCK_TTL })
  const a = await load.inProcess('a')
  await load.inProcess('b')
  const paused = await load.process('paused')
  await load.start(a)
  const pause = () => {
    load.route(paused.instance, false)
    paused.broker.child.kill('SIGSTOP')
  }
  const resume = () => {
    paused.broker.child.kill('SIGCONT')
    load.route(paused.instance, true)
  }

  await load.fault('an instance paused for less than its locks live', async () => {
    const from = Date.now()
    pause()
    // Brief by construction: on a busy machine the others may take longer than a lock's life
    // to make 10 refreshes, and a longer pause is the next fault's case, not this one's.
    await load.refreshedByOthers('paused', from, 10, LOCK_TTL_MS / 4)
    resume()
  })

  // Its lock expires, another instance refreshes with the same refresh token (the provider's
  // grace allows it), and the paused holder's late commit is fenced off: the newer grant is kept.
  let resumedAt = Number.POSITIVE_INFINITY
  await load.fault(
    'an instance paused at the provider until its lock expired and every account was refreshed by the others',
    async () => {
      await load.atProvider('paused', pause)
      await everyAccountRefreshedSince(load.provider, load.accounts, Date.now(), 'while paused')
      resumedAt = Date.now()
      resume()
    },
    // Whichever call reached the provider first, the paused holder's is one of the two.
    (d) => (d.orphan.client === 'paused' || d.by.client === 'paused') && d.orphan.at < resumedAt,
  )
})
