/** A bad or missing setting: the process prints `config: NAME message` and exits, no stack trace. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    detail: string,
  ) {
    super(`${variable} ${detail}`)
    this.name = 'ConfigError'
  }
}
