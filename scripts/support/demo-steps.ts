/** The steps of `npm run demo` after the link is printed, over real HTTP as a calling service would do them. */

type Headers = Record<string, string>
interface AccessBody {
  access_token: string
  expires_in: number | null
  token_type: string
}

/** The first and last characters of a token: enough to see that it changed, not enough to use it. */
export const abbreviate = (token: string) => `${token.slice(0, 6)}…${token.slice(-4)} (${token.length} characters)`

/** Polls the account until the browser has linked it, or until the link expired (10 minutes). */
export async function waitForLink(brokerUrl: string, headers: Headers): Promise<void> {
  const deadline = Date.now() + 10 * 60_000
  while (Date.now() < deadline) {
    const res = await fetch(`${brokerUrl}/accounts/demo`, { headers })
    await res.body?.cancel()
    if (res.status === 200) return
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
  throw new Error('the link expired (10 minutes): run npm run demo again')
}

/** GET /tokens/demo/access, then POST /tokens/demo/refresh with that token as rejected: a new one. */
export async function showToken(brokerUrl: string, headers: Headers): Promise<void> {
  const access = await fetch(`${brokerUrl}/tokens/demo/access`, { headers })
  const first = (await access.json()) as AccessBody
  if (access.status !== 200) throw new Error(`GET /tokens/demo/access answered ${access.status} ${JSON.stringify(first)}`)
  process.stdout.write(`
2. A service asks for a token: GET /tokens/demo/access -> ${access.status}
   handed out: ${first.token_type} ${abbreviate(first.access_token)}, expires in ${first.expires_in} s

   The provider refused it? POST /tokens/demo/refresh {"rejected_token": ...}
`)
  const refresh = await fetch(`${brokerUrl}/tokens/demo/refresh`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ rejected_token: first.access_token }),
  })
  const second = (await refresh.json()) as AccessBody
  if (refresh.status !== 200) throw new Error(`POST /tokens/demo/refresh answered ${refresh.status} ${JSON.stringify(second)}`)
  process.stdout.write(
    `   refreshed: ${second.token_type} ${abbreviate(second.access_token)}, expires in ${second.expires_in} s ` +
      `(${second.access_token === first.access_token ? 'the same token' : 'a new token'})\n`,
  )
}
