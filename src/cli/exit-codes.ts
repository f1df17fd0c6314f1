/** Exit codes of every command, listed in `--help` and docs/operations.md. */
export const EXIT = { ok: 0, failure: 1, usage: 2, config: 3 } as const

export const EXIT_CODES_HELP = `Exit codes:
  0  success
  1  unexpected failure
  2  bad usage: unknown command or option, missing or extra argument, bad value
  3  configuration error: a missing or invalid environment variable
`
