/** Which URLs the broker talks to: https everywhere, plain http only on loopback (local development and tests). */

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/

/** A hostname as `URL#hostname` gives it: `localhost`, `127.0.0.0/8` or `[::1]`. */
export const isLoopbackHost = (hostname: string): boolean => LOOPBACK.test(hostname)

export function isHttpsOrLoopback(url: string): boolean {
  if (!URL.canParse(url)) return false
  const parsed = new URL(url)
  return parsed.protocol === 'https:' || (parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname))
}
