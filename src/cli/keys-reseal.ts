import { resealAll, type ResealCounts } from '../broker/key-rotation.js'
import { UsageError } from './args.js'
import { openKeyStore } from './keys-store.js'

const PRINT_EVERY_MS = 1_000

/**
 * Re-seals every stored grant with the first key of ENCRYPTION_KEYS, batch by batch, with
 * a progress line. How far it got is kept in Redis after every batch: SIGINT or SIGTERM
 * stops after the current batch, a Redis failure stops it too, and the next run resumes
 * there (`--from` starts elsewhere). Safe beside running instances (a fenced rewrite that a
 * refresh's commit wins), provided every instance already seals with the new key.
 */
export async function keysReseal(from: string | undefined, batchText: string | undefined): Promise<void> {
  const batch = Number(batchText ?? '200')
  if (!/^\d+$/.test(batchText ?? '200') || batch < 1 || batch > 10_000) throw new UsageError('--batch must be a whole number, 1 to 10000')
  const { store, keyRing } = await openKeyStore()
  let stopping = false
  const stop = () => {
    stopping = true
  }
  process.on('SIGINT', stop).on('SIGTERM', stop)
  const out = process.stdout
  const started = Date.now()
  let printed = -Infinity
  let total: ResealCounts | null = null
  const progress = (counts: ResealCounts, next: string | null) => {
    total = counts
    const now = Date.now()
    if (next !== null && now - printed < PRINT_EVERY_MS) return
    printed = now
    const rate = Math.round(counts.accounts / Math.max((now - started) / 1000, 0.001))
    const text = `${describe(counts)}, ${rate} accounts/s${next === null ? '' : `, cursor ${next}`}`
    out.write(out.isTTY ? `\r\x1b[2K${text}` : `${text}\n`)
  }
  try {
    const result = await resealAll(store, keyRing, {
      ...(from === undefined ? {} : { from }),
      batch,
      stop: () => stopping,
      onBatch: progress,
      onStart: ({ resumed, setAside }) => {
        if (resumed)
          out.write(
            `resuming the reseal started ${new Date(resumed.startedAt).toISOString()}: ${resumed.accounts} accounts done, continuing after ${resumed.cursor}\n`,
          )
        if (setAside)
          out.write(
            `an unfinished reseal to ${setAside.keyId} is set aside: ${keyRing.currentKeyId} seals new values now; starting at the first account\n`,
          )
      },
    })
    if (out.isTTY) out.write('\n')
    if (result.cursor !== null) return interrupted(`interrupted after ${result.cursor}`)
    const counts = result.counts
    if (counts.skipped > 0 || counts.unreadable > 0) {
      process.stderr.write(
        `token-broker: ${counts.skipped} accounts kept moving (run keys reseal again); ${counts.unreadable} values no configured key opens (see keys status)\n`,
      )
      process.exitCode = 1
      return
    }
    out.write(`done: every value is sealed with ${keyRing.currentKeyId}; check with token-broker keys status\n`)
  } catch (error) {
    if (out.isTTY) out.write('\n')
    if (total) out.write(`${describe(total)}\n`)
    interrupted(`stopped: ${(error as Error).message}`)
  } finally {
    process.off('SIGINT', stop).off('SIGTERM', stop)
    await store.close()
  }
}

function describe(c: ResealCounts): string {
  return `${c.accounts} accounts: ${c.resealed} values resealed, ${c.current} already current, ${c.unreadable} unreadable, ${c.skipped} skipped`
}

function interrupted(why: string): void {
  process.stderr.write(`token-broker: ${why}; run token-broker keys reseal again to resume after the last batch done\n`)
  process.exitCode = 1
}
