import assert from 'node:assert/strict'
import { test } from 'node:test'
import { memoryStorage } from '../../src/store/index.js'
import { MemoryStore } from '../../src/store/memory-store.js'
import { bearer, testApp } from '../helpers/app.js'

/** A store whose read fails the way a driver error does: with its command's arguments attached. */
class FailingStore extends MemoryStore {
  override async getGrant(): Promise<never> {
    throw Object.assign(new TypeError('the driver broke'), {
      command: { name: 'hgetall', args: ['tb:{acct}:grant', 'sealed-secret-value'] },
      cause: new RangeError('deep cause'),
    })
  }
}

test('an error log carries the error itself (class, message, stack, cause), never its other properties', async (t) => {
  const { app, logs } = await testApp({ deps: { storage: memoryStorage({ grants: new FailingStore() }) } })
  t.after(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/accounts/acct', headers: bearer() })
  assert.equal(res.statusCode, 500)
  assert.deepEqual(Object.keys(res.json()).sort(), ['code', 'error', 'message', 'statusCode'])
  const line = logs.lines
    .map((l) => JSON.parse(l) as { msg: string; err?: { type: string; message: string; stack: string } })
    .find((l) => l.msg === 'request failed')
  assert.ok(line?.err, logs.text)
  assert.equal(line.err.type, 'TypeError')
  assert.equal(line.err.message, 'the driver broke: deep cause', 'pino folds the cause into the message')
  assert.match(line.err.stack, /TypeError: the driver broke/)
  assert.doesNotMatch(logs.text, /sealed-secret-value/)
})
