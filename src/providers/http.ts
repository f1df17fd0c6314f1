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

/** A timer this late means the process was stopped, not merely busy. */
const STALL_MS = 1000

/**
 * Runs `onTimeout` after `ms`, but after a stall only once the event loop has read the I/O already waiting:
 * after a stall (SIGSTOP, a VM pause, a long GC) the timer and an answer that arrived meanwhile
 * are due together, and timers run before I/O. Without this turn, a token response already
 * received would be thrown away, and with a rotating provider its new refresh token with it.
 * Returns the function that cancels it.
 */
function timeoutAfterPendingIo(ms: number, onTimeout: () => void): () => void {
  let late: NodeJS.Immediate | undefined
  const due = performance.now() + ms
  const timer = setTimeout(() => {
    // On time (or merely delayed by a busy loop): the call timed out. Late by a stall: one turn first.
    if (performance.now() - due < STALL_MS) onTimeout()
    else late = setImmediate(onTimeout)
  }, ms)
  return () => {
    clearTimeout(timer)
    if (late !== undefined) clearImmediate(late)
  }
}

export async function providerFetch(url: string, init: RequestInit, timeoutMs: number): Promise<ProviderResponse> {
  // One deadline for the whole call, headers and body.
  const controller = new AbortController()
  const cancel = timeoutAfterPendingIo(timeoutMs, () => controller.abort(new DOMException('provider call timed out', 'TimeoutError')))
  try {
    let response: Response
    try {
      response = await fetch(url, { ...init, redirect: 'manual', signal: controller.signal })
    } catch (error) {
      const name = (error as Error).name
      throw new ProviderNetworkError(name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'network')
    }
    const text = await readCapped(response)
    return { status: response.status, headers: response.headers, body: parseBody(text, response.headers.get('content-type')), text }
  } finally {
    cancel()
  }
}

/** The body, at most MAX_RESPONSE_BYTES; the call's abort signal ends a body that stalls. */
async function readCapped(response: Response): Promise<string> {
  if (!response.body) return ''
  const declared = Number(response.headers.get('content-length') ?? 0)
  if (declared > MAX_RESPONSE_BYTES) {
    await response.body.cancel().catch(() => {})
    throw new ProviderNetworkError('too-large')
  }
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
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
