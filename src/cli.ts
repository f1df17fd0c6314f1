#!/usr/bin/env node
import { createSigner } from 'fast-jwt'
import { ConfigError, readEnv } from './config.js'
import { generateKeyEntry } from './crypto/key-ring.js'
import * as connectCommand from './cli-commands/connect.js'
import * as consoleCommand from './cli-commands/console.js'

const HELP = `token-broker — operator commands

Usage:
  token-broker token <scope...> [--sub NAME] [--accounts a,b*] [--ttl SECONDS]
      Mint a caller JWT signed with AUTH_JWT_SECRET (HS256), for development.
      Scopes: tokens:read tokens:revoke accounts:read accounts:write.
      --sub       the caller's name (default: cli)
      --accounts  comma-separated account ids the caller is limited to (a trailing * matches a prefix)
      --ttl       lifetime in seconds (default: 3600)
      AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE are added as iss/aud when set.
  token-broker keys generate [--id KEYID]
      Print a new ENCRYPTION_KEYS entry (keyId:base64key). Put it first to encrypt with it;
      keep the old entries after it so existing values still decrypt.
${consoleCommand.HELP}${connectCommand.HELP}  token-broker --help
`

const SCOPES = new Set(['tokens:read', 'tokens:revoke', 'accounts:read', 'accounts:write'])

function fail(message: string): never {
  process.stderr.write(`token-broker: ${message}\n`)
  process.exit(2)
}

function parseFlags(args: string[]): { positional: string[]; flags: Map<string, string> } {
  const positional: string[] = []
  const flags = new Map<string, string>()
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (!arg.startsWith('--')) { positional.push(arg); continue }
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined]
    const value = inline ?? args[++i]
    if (value === undefined) fail(`--${name} needs a value`)
    flags.set(name, value)
  }
  return { positional, flags }
}

function mintToken(args: string[]): void {
  const { positional: scopes, flags } = parseFlags(args)
  for (const name of flags.keys()) if (!['sub', 'accounts', 'ttl'].includes(name)) fail(`unknown option --${name}`)
  if (scopes.length === 0) fail('name at least one scope (see --help)')
  for (const s of scopes) if (!SCOPES.has(s)) fail(`unknown scope ${s}`)
  const ttl = Number(flags.get('ttl') ?? 3600)
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 31 * 86400) fail('--ttl must be whole seconds, 1 to 2678400')
  let env
  try {
    env = readEnv()
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message)
    throw error
  }
  if (!env.AUTH_JWT_SECRET) fail('AUTH_JWT_SECRET must be set to mint a token')
  const payload: Record<string, unknown> = { sub: flags.get('sub') ?? 'cli', scope: scopes.join(' ') }
  const accounts = flags.get('accounts')
  if (accounts !== undefined) payload.accounts = accounts.split(',').map((a) => a.trim()).filter(Boolean)
  const sign = createSigner({
    key: env.AUTH_JWT_SECRET, algorithm: 'HS256', expiresIn: ttl * 1000,
    ...(env.AUTH_JWT_ISSUER ? { iss: env.AUTH_JWT_ISSUER } : {}),
    ...(env.AUTH_JWT_AUDIENCE ? { aud: env.AUTH_JWT_AUDIENCE } : {}),
  })
  process.stdout.write(`${sign(payload)}\n`)
}

function keys(args: string[]): void {
  const { positional, flags } = parseFlags(args)
  if (positional[0] !== 'generate') fail('usage: token-broker keys generate [--id KEYID]')
  const id = flags.get('id')
  if (id !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(id)) fail('--id must be 1-32 of A-Z a-z 0-9 _ -')
  process.stdout.write(`${generateKeyEntry(id)}\n`)
}

const COMMANDS: Record<string, typeof consoleCommand.run> = { console: consoleCommand.run, connect: connectCommand.run }

const [command, ...rest] = process.argv.slice(2)
if (command !== undefined && COMMANDS[command]) {
  process.exitCode = await COMMANDS[command](rest, { stdout: process.stdout, stderr: process.stderr, env: process.env })
} else if (command === 'token') mintToken(rest)
else if (command === 'keys') keys(rest)
else if (command === undefined || command === '--help' || command === '-h' || command === 'help') process.stdout.write(HELP)
else fail(`unknown command ${command} (see --help)`)
