import { parseCommandArgs, UsageError } from './args.js'

export const help = `Usage: token-broker keys generate [--id KEYID]

Print a new ENCRYPTION_KEYS entry, keyId:base64key (a random 32-byte key).
Put it first in ENCRYPTION_KEYS to encrypt new writes with it; keep the old
entries after it so existing values still decrypt (docs/operations.md, key rotation).

Options:
  --id KEYID   the key id, 1-32 of A-Z a-z 0-9 _ - (default: k + the time in base 36)
  -h, --help   this text
`

export async function run(args: string[]): Promise<void> {
  const { values, positionals } = parseCommandArgs(args, { id: { type: 'string' } }, 1)
  if (positionals[0] !== 'generate') {
    throw new UsageError(positionals[0] === undefined ? 'name a subcommand: keys generate' : `unknown subcommand "${positionals[0]}" (only: generate)`)
  }
  const id = values.id as string | undefined
  if (id !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(id)) throw new UsageError('--id must be 1-32 of A-Z a-z 0-9 _ -')
  const { generateKeyEntry } = await import('../crypto/key-ring.js')
  process.stdout.write(`${generateKeyEntry(id)}\n`)
}
