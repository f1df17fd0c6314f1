import assert from 'node:assert/strict'
import { test } from 'node:test'
import { throttled } from '../../src/log-throttle.js'

test('a throttled message goes out at most once per interval and counts what it held back', () => {
  let now = 0
  const warn = throttled(60_000, () => now)
  const out: number[] = []
  for (let i = 0; i < 5; i++) warn((suppressed) => out.push(suppressed))
  now += 59_999
  warn((suppressed) => out.push(suppressed))
  now += 1
  warn((suppressed) => out.push(suppressed))
  assert.deepEqual(out, [0, 5])
})
