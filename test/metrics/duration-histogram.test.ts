import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Histogram, Registry } from 'prom-client'
import { DurationHistogram } from '../../src/duration-histogram.js'

const BUCKETS = [0.001, 0.01, 0.1, 1]
const NAME = 'http_request_duration_seconds'
// Values on and between the bounds, below the first and above the last.
const OBSERVED: [Record<string, string>, number][] = [
  [{ method: 'GET', route: '/a', status_code: '200' }, 0.0005],
  [{ method: 'GET', route: '/a', status_code: '200' }, 0.001],
  [{ method: 'GET', route: '/a', status_code: '200' }, 0.05],
  [{ method: 'GET', route: '/a', status_code: '200' }, 7],
  [{ method: 'POST', route: '/b', status_code: '400' }, 0.1],
]

function both() {
  const ours = new Registry()
  const theirs = new Registry()
  const hist = new DurationHistogram(NAME, 'help text', BUCKETS, [ours])
  const reference = new Histogram({
    name: NAME,
    help: 'help text',
    labelNames: ['method', 'route', 'status_code'],
    buckets: BUCKETS,
    registers: [theirs],
  })
  return { ours, theirs, hist, reference }
}

test('the duration histogram exposes what prom-client’s Histogram exposes for the same observations', async () => {
  const { ours, theirs, hist, reference } = both()
  for (const [labels, seconds] of OBSERVED) {
    hist.labels(labels).observe(seconds)
    reference.observe(labels, seconds)
  }
  assert.equal(await ours.metrics(), await theirs.metrics())
  const json = async (r: Registry) => JSON.parse(JSON.stringify(await r.getMetricsAsJSON())) as unknown
  assert.deepEqual(await json(ours), await json(theirs))
  assert.match(await ours.metrics(), /^http_request_duration_seconds_bucket\{le="\+Inf",method="GET",route="\/a",status_code="200"\} 4$/m)
})

test('a value that is not a finite number is left out, not counted as 0 nor summed as NaN', async () => {
  const { ours, hist } = both()
  const bound = hist.labels(OBSERVED[0]![0])
  bound.observe(0.5)
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) bound.observe(bad)
  const text = await ours.metrics()
  assert.match(text, /_count\{method="GET",route="\/a",status_code="200"\} 1$/m)
  assert.match(text, /_sum\{method="GET",route="\/a",status_code="200"\} 0.5$/m)
})

test('a reset hides every series until it is observed again, and a series bound before the reset still counts', async () => {
  const { ours, theirs, hist, reference } = both()
  const bound = hist.labels(OBSERVED[0]![0])
  bound.observe(0.002)
  reference.observe(OBSERVED[0]![0], 0.002)
  ours.resetMetrics()
  theirs.resetMetrics()
  assert.equal(await ours.metrics(), await theirs.metrics())
  assert.doesNotMatch(await ours.metrics(), /_count/)
  bound.observe(0.02)
  reference.observe(OBSERVED[0]![0], 0.02)
  assert.equal(await ours.metrics(), await theirs.metrics())
  assert.match(await ours.metrics(), /_count\{method="GET",route="\/a",status_code="200"\} 1$/m)
})
