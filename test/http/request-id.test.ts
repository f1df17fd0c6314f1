import assert from 'node:assert/strict'
import type { IncomingMessage } from 'node:http'
import { test } from 'node:test'
import { newRequestId, requestId } from '../../src/http/request-id.js'

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

test('generated request ids are version-4 UUIDs, distinct over more than one pool of random bytes', () => {
  const ids = Array.from({ length: 1000 }, () => newRequestId())
  for (const id of ids) assert.match(id, V4)
  assert.equal(new Set(ids).size, ids.length)
  // Every hex digit shows up in every free position: the bytes are random, not a counter.
  const seen = Array.from({ length: 36 }, () => new Set<string>())
  for (const id of ids) for (let i = 0; i < 36; i++) seen[i]!.add(id[i]!)
  const free = [...Array(36).keys()].filter((i) => ![8, 13, 14, 18, 19, 23].includes(i))
  for (const i of free) assert.equal(seen[i]!.size, 16, `position ${i}`)
})

test('a plain client x-request-id is kept; anything else is replaced by a generated one', () => {
  const req = (id?: string | string[]) => ({ headers: id === undefined ? {} : { 'x-request-id': id } }) as unknown as IncomingMessage
  assert.equal(requestId(req('trace-1:a.b_c')), 'trace-1:a.b_c')
  for (const bad of [undefined, '', 'has space', 'x'.repeat(65), ['a', 'b'], 'é']) assert.match(requestId(req(bad)), V4)
})
