import assert from 'node:assert/strict'
import { test } from 'node:test'
import { memoryStorage } from '../../src/store/index.js'
import { MemoryStore } from '../../src/store/memory-store.js'
import { bearer } from '../helpers/app.js'
import { storeApp } from '../helpers/brokers.js'
import { manualClock } from '../http/support.js'

test('the embedded store does not keep abandoned link states past their 10 minutes', async (t) => {
  const clock = manualClock(Date.now())
  const store = new MemoryStore(clock)
  const { app } = await storeApp(t, 'memory', null, { deps: { storage: memoryStorage({ grants: store, clock }), clock } })
  const start = (account: string) => app.inject({ method: 'POST', url: '/connect/acme', headers: bearer(), payload: { account } })
  for (let i = 0; i < 50; i++) assert.equal((await start(`abandoned-${i}`)).statusCode, 201)
  assert.equal(store.connectStateCount, 50)
  clock.advance(11 * 60_000)
  assert.equal((await start('fresh')).statusCode, 201)
  assert.equal(store.connectStateCount, 1, 'only the live state is kept')
})
