import type { BrokerDeps } from '../deps.js'

const WARN_EVERY_MS = 60_000

/**
 * What an operator hears of rotated commits that wait for a replica (REDIS_WAIT_REPLICAS_MS):
 * every commit no replica acknowledged in time is counted, and a warning names how many there
 * were, at most once a minute (a replica that is away would otherwise warn per refresh);
 * commits applied again on a new primary after a failover are counted and logged each time.
 * Neither names an account or carries a token.
 */
export function reportDurability({ store, log, metrics, clock }: Pick<BrokerDeps, 'store' | 'log' | 'metrics' | 'clock'>): void {
  let unlogged = 0
  let warnedAt = Number.NEGATIVE_INFINITY
  store.onDurability((event) => {
    if (event.kind === 'reapplied') {
      metrics.reappliedCommits.inc({ result: 'present' }, event.present)
      metrics.reappliedCommits.inc({ result: 'superseded' }, event.superseded)
      log.warn(
        { present: event.present, superseded: event.superseded },
        'rotated commits no replica had acknowledged were applied again after the store moved to another primary',
      )
      return
    }
    metrics.unreplicatedCommits.inc(event.commits)
    unlogged += event.commits
    if (clock() - warnedAt < WARN_EVERY_MS) return
    warnedAt = clock()
    log.warn(
      { commits: unlogged },
      'no replica acknowledged rotated refresh tokens within REDIS_WAIT_REPLICAS_MS: they are on the primary only until it replicates them',
    )
    unlogged = 0
  })
}
