import type { CommandIo } from '../cli-commands/io.js'

/**
 * The command table. A command is one file exporting `help` and `run`; it is imported only
 * when called, so `--help` and a small command never load the broker. Adding a command is
 * one file and one line here.
 */
export interface CommandModule {
  /** The whole `token-broker <command> --help` text. */
  help: string
  /** Throws UsageError on bad arguments (exit 2), ConfigError on a bad environment (exit 3). */
  run(args: string[]): Promise<void>
}

export interface CommandEntry {
  summary: string
  load(): Promise<CommandModule>
}

export const COMMANDS: Record<string, CommandEntry> = {
  token: { summary: 'mint a caller JWT signed with AUTH_JWT_SECRET, for development', load: () => import('./token.js') },
  keys: {
    summary: 'keys generate | status | reseal: make a key, see what each key seals, re-seal with the first',
    load: () => import('./keys.js'),
  },
  console: {
    summary: "print the admin console's address with a short-lived admin token",
    load: () => import('../cli-commands/console.js').then(withProcessIo),
  },
  connect: {
    summary: 'link an account: print the authorization URL and wait until it is linked',
    load: () => import('../cli-commands/connect.js').then(withProcessIo),
  },
}

/** A command written against CommandIo (its streams and environment passed in) as a CommandModule on this process. */
function withProcessIo(command: { HELP: string; run(args: string[], io: CommandIo): Promise<number> }): CommandModule {
  return {
    help: `Usage:\n${command.HELP}`,
    async run(args) {
      const code = await command.run(args, { stdout: process.stdout, stderr: process.stderr })
      if (code !== 0) process.exitCode = code
    },
  }
}
