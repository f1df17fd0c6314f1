/** Concurrent calls with the same key share one promise: one request however many callers wait. */
export class SingleFlight<T> {
  readonly #inFlight = new Map<string, Promise<T>>()

  run(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.#inFlight.get(key)
    if (running) return running
    const flight = work().finally(() => this.#inFlight.delete(key))
    this.#inFlight.set(key, flight)
    return flight
  }
}
