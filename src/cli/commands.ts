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
  keys: { summary: 'keys generate: print a new ENCRYPTION_KEYS entry', load: () => import('./keys.js') },
}
