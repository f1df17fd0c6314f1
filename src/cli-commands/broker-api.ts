import { CommandError } from './io.js'

export interface ApiAnswer<T> {
  body: T
  date: number
}

/** The broker's API as the CLI uses it: JSON in and out, a failure as a one-line CommandError. */
export function brokerApi(baseUrl: string, jwt: string) {
  return async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<ApiAnswer<T>> {
    let res: Response
    try {
      res = await fetch(`${baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${jwt}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      })
    } catch (error) {
      throw new CommandError(`the broker at ${baseUrl} could not be reached (${(error as Error).message}); is PUBLIC_URL right?`, 1)
    }
    const answer = (await res.json().catch(() => null)) as (T & { code?: string; message?: string }) | null
    if (!res.ok) {
      const why = answer?.code ? `${answer.code}: ${answer.message}` : `HTTP ${res.status}`
      throw new CommandError(`${method} ${path.split('?')[0]} failed (${why})`, 1)
    }
    return { body: answer as T, date: Date.parse(res.headers.get('date') ?? '') || Date.now() }
  }
}

export type BrokerApi = ReturnType<typeof brokerApi>
