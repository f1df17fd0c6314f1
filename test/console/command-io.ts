import type { CommandIo } from '../../src/cli-commands/io.js'

/** A CommandIo that records what a command writes; `now` can be moved with `skipMs`. */
export function captureIo(env: Record<string, string>) {
  let offset = 0
  const stdout = {
    text: '',
    write(s: string) {
      stdout.text += s
      return true
    },
  }
  const stderr = {
    text: '',
    write(s: string) {
      stderr.text += s
      return true
    },
  }
  const io: CommandIo = { stdout, stderr, env, now: () => Date.now() + offset }
  return {
    io,
    stdout,
    stderr,
    skipMs: (ms: number) => {
      offset += ms
    },
  }
}
