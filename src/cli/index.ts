#!/usr/bin/env node
import { readFileSync } from 'node:fs'
import { ConfigError } from '../config-error.js'
import { UsageError } from './args.js'
import { COMMANDS } from './commands.js'
import { EXIT, EXIT_CODES_HELP } from './exit-codes.js'

function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length))
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
  return `Usage: token-broker <command> [options]

Operator commands of token-broker (the server itself is \`npm start\`).

Commands:
${lines.join('\n')}

Options:
  -h, --help     this text; \`token-broker <command> --help\` describes a command
  -v, --version  the version

${EXIT_CODES_HELP}`
}

/** The package version, from the package.json above this file (src/cli or dist/src/cli). */
function version(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'token-broker' && pkg.version) return pkg.version
    } catch {
      /* try the next level */
    }
  }
  return 'unknown'
}

const isHelp = (arg: string) => arg === '--help' || arg === '-h'

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv
  if (first === undefined || isHelp(first) || first === 'help') {
    process.stdout.write(mainHelp())
    return EXIT.ok
  }
  if (first === '--version' || first === '-v') {
    if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`)
    process.stdout.write(`${version()}\n`)
    return EXIT.ok
  }
  const entry = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined
  if (!entry) throw new UsageError(first.startsWith('-') ? `unknown option ${first}` : `unknown command "${first}"`)
  const command = await entry.load()
  const end = rest.indexOf('--')
  if ((end === -1 ? rest : rest.slice(0, end)).some(isHelp)) {
    process.stdout.write(`${command.help}\n${EXIT_CODES_HELP}`)
    return EXIT.ok
  }
  try {
    await command.run(rest)
  } catch (error) {
    if (error instanceof UsageError) error.command = first
    throw error
  }
  return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok
}

try {
  process.exitCode = await main(process.argv.slice(2))
} catch (error) {
  if (error instanceof UsageError) {
    const where = error.command ? `${error.command}: ` : ''
    process.stderr.write(`token-broker: ${where}${error.message} (see token-broker ${error.command ? `${error.command} ` : ''}--help)\n`)
    process.exitCode = EXIT.usage
  } else if (error instanceof ConfigError) {
    process.stderr.write(`token-broker: configuration error: ${error.message}\n`)
    process.exitCode = EXIT.config
  } else {
    process.stderr.write(`token-broker: ${(error as Error).message ?? String(error)}\n`)
    process.exitCode = EXIT.failure
  }
}
