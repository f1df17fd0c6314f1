/** m:ss */
export const clockText = (ms: number) => {
  const s = Math.max(0, Math.floor(ms / 1000))
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`
}

const NON_TTY_EVERY_MS = 30_000

/**
 * One live line on a terminal ("waiting for the provider… 0:42 elapsed, 9:18 left"),
 * rewritten in place; elsewhere (a log, a pipe) one line now and then.
 */
export class ProgressLine {
  private lastPrinted = -Infinity

  constructor(
    private readonly out: { write(text: string): unknown; isTTY?: boolean },
    private readonly started: number,
    private readonly deadline: number,
  ) {}

  update(now: number): void {
    const text = `waiting for the provider… ${clockText(now - this.started)} elapsed, ${clockText(this.deadline - now)} left`
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[2K${text}`)
    } else if (now - this.lastPrinted >= NON_TTY_EVERY_MS) {
      this.out.write(`${text}\n`)
      this.lastPrinted = now
    }
  }

  /** Ends the live line so what follows starts on its own. */
  end(): void {
    if (this.out.isTTY) this.out.write('\n')
  }
}
