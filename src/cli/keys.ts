import { parseCommandArgs, UsageError } from './args.js'

export const help = `Usage: token-broker keys generate [--id KEYID]
       token-broker keys status
       token-broker keys reseal [--from ACCOUNT] [--batch N]

generate  Print a new ENCRYPTION_KEYS entry, keyId:base64key (a random 32-byte key).
          Put it first in ENCRYPTION_KEYS to encrypt new writes with it; keep the old
          entries after it so existing values still decrypt (docs/operations.md, key rotation).
status    How many stored values each key id seals (Redis and ENCRYPTION_KEYS from the
          environment); a key that seals nothing can be removed.
reseal    Seal every stored grant again with the first key of ENCRYPTION_KEYS, in batches,
          beside running instances. Run it once every instance has the new key first.
          How far it got is kept in Redis: Ctrl-C stops after the current batch, and the
          next run resumes there.

Options:
  --id KEYID       generate: the key id, 1-32 of A-Z a-z 0-9 _ - (default: k + the time in base 36)
  --from ACCOUNT   reseal: start after this account instead of where the last run stopped
  --batch N        reseal: accounts per batch, 1 to 10000 (default: 200)
  -h, --help       this text
`

const SUBCOMMANDS = ['generate', 'status', 'reseal']

export async function run(args: string[]): Promise<void> {
  const { values, positionals } = parseCommandArgs(
    args,
    {
      id: { type: 'string' },
      from: { type: 'string' },
      batch: { type: 'string' },
    },
    1,
  )
  const sub = positionals[0]
  if (sub === undefined || !SUBCOMMANDS.includes(sub)) {
    throw new UsageError(
      sub === undefined
        ? 'name a subcommand: keys generate, status or reseal'
        : `unknown subcommand "${sub}" (one of: ${SUBCOMMANDS.join(', ')})`,
    )
  }
  const misplaced = (['id', 'from', 'batch'] as const).find(
    (o) => values[o] !== undefined && !(o === 'id' ? sub === 'generate' : sub === 'reseal'),
  )
  if (misplaced) throw new UsageError(`--${misplaced} does not apply to keys ${sub}`)
  if (sub === 'status') return (await import('./keys-status.js')).keysStatus()
  if (sub === 'reseal')
    return (await import('./keys-reseal.js')).keysReseal(values.from as string | undefined, values.batch as string | undefined)
  const id = values.id as string | undefined
  if (id !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(id)) throw new UsageError('--id must be 1-32 of A-Z a-z 0-9 _ -')
  const { generateKeyEntry } = await import('../crypto/key-ring.js')
  process.stdout.write(`${generateKeyEntry(id)}\n`)
}
