/** Outbound HTTP to providers: a timeout, no redirects, a size cap, and nothing logged. */
export const MAX_RESPONSE_BYTES = 256 * 1024

export interface ProviderResponse {
  status: number
  headers: Headers
  body: unknown
  /** Raw text when the body was neither JSON nor a form (kept only for error classification). */
  text: string
}

export class ProviderNetworkError extends Error {
  constructor(readonly reason: 'timeout' | 'network' | 'too-large') {
    super(`provider call failed: ${reason}`)
    this.name = 'ProviderNetworkError'
  }
}

export async function providerFetch(url: string, init: RequestInit, timeoutMs: number): Promise<ProviderResponse> {
  let response: Response
  try {
    response = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) })
  } catch (error) {
    const name = (error as Error).name
    throw new ProviderNetworkError(name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'network')
  }
  const text = await readCapped(response, timeoutMs)
  return { status: response.status, headers: response.headers, body: parseBody(text, response.headers.get('content-type')), text }
}

async function readCapped(response: Response, timeoutMs: number): Promise<string> {
  if (!response.body) return ''
  const declared = Number(response.headers.get('content-length') ?? 0)
  if (declared > MAX_RESPONSE_BYTES) {
    await response.body.cancel().catch(() => {})
    throw new ProviderNetworkError('too-large')
  }
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  const timer = setTimeout(() => void reader.cancel().catch(() => {}), timeoutMs)
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > MAX_RESPONSE_BYTES) {
        await reader.cancel().catch(() => {})
        throw new ProviderNetworkError('too-large')
      }
      chunks.push(value)
    }
  } catch (error) {
    if (error instanceof ProviderNetworkError) throw error
    throw new ProviderNetworkError('timeout')
  } finally {
    clearTimeout(timer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** JSON, or a form body (GitHub's legacy answers); anything else stays unparsed. */
function parseBody(text: string, contentType: string | null): unknown {
  const type = contentType?.split(';')[0]?.trim().toLowerCase() ?? ''
  if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(text))
  try {
    return JSON.parse(text) as unknown
  } catch {
    return type === 'text/plain' && text.includes('=') ? Object.fromEntries(new URLSearchParams(text)) : null
  }
}
