import { TokenBrokerError, errorFromAnswer } from './errors.js'

export type CallerToken = string | (() => string | Promise<string>)

export interface BrokerCall {
  fetch: typeof globalThis.fetch
  baseUrl: URL
  token: CallerToken
  method: 'GET' | 'POST'
  /** Relative to baseUrl, without a leading slash. */
  path: string
  body?: unknown
  /** Aborts the request at the overall deadline. */
  signal: AbortSignal
}

/** One request to the broker with the caller's JWT; the parsed JSON body, or a typed error. */
export async function callBroker<T>(c: BrokerCall): Promise<T> {
  const jwt = typeof c.token === 'function' ? await c.token() : c.token
  const headers: Record<string, string> = { authorization: `Bearer ${jwt}`, accept: 'application/json' }
  if (c.body !== undefined) headers['content-type'] = 'application/json'
  let res: Response
  let text: string
  try {
    res = await c.fetch(new URL(c.path, c.baseUrl), {
      method: c.method,
      headers,
      body: c.body === undefined ? undefined : JSON.stringify(c.body),
      signal: c.signal,
    })
    text = await res.text()
  } catch (error) {
    const timedOut = c.signal.aborted
    throw new TokenBrokerError({
      status: 0,
      code: timedOut ? 'BROKER_TIMEOUT' : 'BROKER_UNREACHABLE',
      message: timedOut ? 'the broker did not answer before the deadline' : `the broker could not be reached (${(error as Error).message})`,
      cause: error,
    })
  }
  if (!res.ok) throw errorFromAnswer(res, text)
  try {
    return JSON.parse(text) as T
  } catch {
    throw new TokenBrokerError({
      status: res.status,
      code: 'UNEXPECTED_RESPONSE',
      message: 'the broker answered with a body that is not JSON',
    })
  }
}
