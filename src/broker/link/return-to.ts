import { InvalidInputError } from '../../errors.js'

/**
 * Where the callback may send the browser back to. Both sides are parsed and normalized
 * by the WHATWG URL parser first (host lowercased and percent-decoded, default port
 * dropped, dot segments resolved), then compared part by part: the same scheme, host
 * and port as an allow-list entry, no userinfo, and a path equal to the entry's or
 * below it at a `/` boundary. A string prefix is not enough: `https://good.example`
 * must not admit `https://good.example.evil.com/` or `https://good.example@evil.com/`.
 *
 * Returns the normalized URL to store, or throws VALIDATION_ERROR at POST /connect, so
 * the callback never meets a URL it cannot follow after the grant is stored.
 */
export function checkReturnTo(candidate: string, allowlist: readonly string[]): string {
  if (!URL.canParse(candidate)) throw new InvalidInputError('return_to', 'is not a valid URL')
  const url = new URL(candidate)
  if (url.username !== '' || url.password !== '' || !allowlist.some((entry) => isUnder(url, new URL(entry)))) {
    throw new InvalidInputError('return_to', 'is not in RETURN_TO_ALLOWLIST')
  }
  return url.href
}

function isUnder(url: URL, entry: URL): boolean {
  if (url.protocol !== entry.protocol || url.hostname !== entry.hostname || url.port !== entry.port) return false
  const base = entry.pathname
  return url.pathname === base || url.pathname.startsWith(base.endsWith('/') ? base : `${base}/`)
}
