import type { StubHandler } from '../helpers/stub-provider.js'
import { json } from '../helpers/stub-provider.js'

/**
 * A provider that rotates refresh tokens per account and accepts only the newest one:
 * `rt-<account>-<n>` gets `at-<account>-<n+1>` and `rt-<account>-<n+1>`; any older refresh
 * token is `invalid_grant`. A rotated token lost or written back stale shows up as a
 * rejected refresh. `hold(account)` makes that account's next refresh wait for `release`.
 */
export function strictRotation() {
  const latest = new Map<string, number>()
  const rejected: string[] = []
  const holds = new Map<string, { reached: () => void; gate: Promise<void> }>()
  const handler: StubHandler = async (req, res) => {
    const match = /^rt-(.+)-(\d+)$/.exec(req.body.refresh_token ?? '')
    if (!match) return json(res, 400, { error: 'invalid_grant' })
    const [, account, nText] = match as unknown as [string, string, string]
    const n = Number(nText)
    const hold = holds.get(account)
    if (hold) {
      holds.delete(account)
      hold.reached()
      await hold.gate
    }
    if ((latest.get(account) ?? 0) !== n) {
      rejected.push(account)
      return json(res, 400, { error: 'invalid_grant' })
    }
    latest.set(account, n + 1)
    json(res, 200, {
      access_token: `at-${account}-${n + 1}`,
      refresh_token: `rt-${account}-${n + 1}`,
      expires_in: 3600,
      token_type: 'Bearer',
    })
  }
  return {
    handler,
    rejected,
    /** The access token the provider issued last for the account (`at-<account>-0` before any refresh). */
    latestAccess: (account: string) => `at-${account}-${latest.get(account) ?? 0}`,
    /** The account's next refresh waits at the provider: resolves `reached` when it arrives; `release` lets it answer. */
    hold(account: string) {
      let reached!: () => void
      let release!: () => void
      const arrived = new Promise<void>((resolve) => {
        reached = resolve
      })
      holds.set(account, {
        reached,
        gate: new Promise<void>((resolve) => {
          release = resolve
        }),
      })
      return { arrived, release }
    },
  }
}
