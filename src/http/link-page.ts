const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]!)

/** Headers of every HTML page that @fastify/helmet does not set: the type, and nothing is cached. */
export const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
}

/**
 * @fastify/helmet route options of every HTML page (the app registers helmet with
 * `global: false`; HSTS is decided there, from PUBLIC_URL). Nothing loads but the page's
 * inline style, nothing frames it, nothing leaks via Referer.
 */
export const PAGE_HELMET = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      'default-src': ["'none'"],
      'style-src': ["'unsafe-inline'"],
      'base-uri': ["'none'"],
      'form-action': ["'none'"],
      'frame-ancestors': ["'none'"],
    },
  },
  referrerPolicy: { policy: 'no-referrer' },
  frameguard: { action: 'deny' },
} as const

/** The small page a person sees after the provider sends them back. Never shows a token. */
export function linkPage(o: { ok: boolean; title: string; lines: string[] }): string {
  const color = o.ok ? '#1a7f37' : '#cf222e'
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(o.title)} · token-broker</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem;color:#1f2328}
h1{font-size:1.4rem;color:${color}}p{margin:.4rem 0}code{background:#f6f8fa;padding:.1rem .3rem;border-radius:4px}</style>
</head><body><h1>${escapeHtml(o.title)}</h1>
${o.lines.map((line) => `<p>${escapeHtml(line)}</p>`).join('\n')}
<p>You can close this window.</p>
</body></html>
`
}
