import { ConfigError, readEnv, type Env } from '../config.js'

export { publicUrlOf } from '../config.js'

/** What a command may touch: its streams, the environment it is given, and a clock. No process globals. */
export interface CommandIo {
  stdout: { write(text: string): unknown; isTTY?: boolean }
  stderr: { write(text: string): unknown; isTTY?: boolean }
  /** The environment to read; the process's own (read in config.ts) when absent. */
  env?: NodeJS.ProcessEnv
  /** Date.now by default (tests move it). */
  now?: () => number
}

/** A failure the command reports in one line and turns into an exit code. */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message)
  }
}

export const usageError = (message: string) => new CommandError(message, 2)

/** The validated environment; a bad variable is a usage error naming it. */
export function environment(io: CommandIo): Env {
  try {
    return readEnv(io.env)
  } catch (error) {
    if (error instanceof ConfigError) throw usageError(error.message)
    throw error
  }
}

/** Runs a command body, printing a CommandError as `token-broker: message` and returning its exit code. */
export async function reportErrors(io: CommandIo, body: () => Promise<number>): Promise<number> {
  try {
    return await body()
  } catch (error) {
    if (!(error instanceof CommandError)) throw error
    io.stderr.write(`token-broker: ${error.message}\n`)
    return error.exitCode
  }
}
