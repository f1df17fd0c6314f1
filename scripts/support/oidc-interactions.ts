/**
 * The end-user interactions (login, consent) of the local authorization server, through
 * oidc-provider's interaction API: `interactionDetails` says which prompt is pending,
 * `interactionFinished` answers it. An authorization request whose `state` has a scripted
 * choice is answered at once (the harness's `authorize()`); any other gets a small form, so a
 * person or a browser test can sign in with any name and password, and then consent.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type Provider from 'oidc-provider'

type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>

/** What the scripted user does: sign in as `login`, or cancel (access_denied). */
export interface InteractionChoice {
  login: string
  deny: boolean
}

export const INTERACTION_PATH = '/interaction/'

/** Handles GET /interaction/:uid, POST /interaction/:uid (the form) and GET /interaction/:uid/abort. */
export function interactionRoute(provider: Provider, scripted: Map<string, InteractionChoice>) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const details = await provider.interactionDetails(req, res)
      const [uid, action] = new URL(req.url ?? '/', 'http://x').pathname.slice(INTERACTION_PATH.length).split('/')
      if (uid !== details.uid) return plain(res, 400, 'this interaction is not the one in progress')
      if (action === 'abort') return await finish(provider, req, res, details, { login: '', deny: true })
      if (action !== undefined) return plain(res, 404, 'not found')
      if (req.method === 'POST') {
        const form = new URLSearchParams(await readBody(req))
        return await finish(provider, req, res, details, { login: form.get('login') || 'alice', deny: false })
      }
      const choice = scripted.get(String(details.params.state ?? ''))
      if (choice) return await finish(provider, req, res, details, choice)
      page(res, details)
    } catch (error) {
      if (!res.headersSent) plain(res, 400, (error as Error).message)
    }
  }
}

/** Answers the pending prompt: the login, a grant for what the client asked, or access_denied. */
async function finish(
  provider: Provider,
  req: IncomingMessage,
  res: ServerResponse,
  details: Interaction,
  choice: InteractionChoice,
): Promise<void> {
  const done = { mergeWithLastSubmission: false }
  if (choice.deny) {
    return provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'End-User aborted interaction' }, done)
  }
  if (details.prompt.name === 'login') {
    return provider.interactionFinished(req, res, { login: { accountId: choice.login } }, done)
  }
  const accountId = details.session?.accountId
  if (details.prompt.name !== 'consent' || !accountId) throw new Error(`unexpected prompt ${details.prompt.name}`)
  const grant =
    (details.grantId ? await provider.Grant.find(details.grantId) : undefined) ??
    new provider.Grant({ accountId, clientId: String(details.params.client_id) })
  const missing = details.prompt.details as {
    missingOIDCScope?: string[]
    missingOIDCClaims?: string[]
    missingResourceScopes?: Record<string, string[]>
  }
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '))
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims)
  for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(resource, scopes.join(' '))
  return provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, done)
}

function page(res: ServerResponse, details: Interaction): void {
  const action = `${INTERACTION_PATH}${details.uid}`
  const body =
    details.prompt.name === 'login'
      ? `<h1>Sign in</h1><p>Any name and any password will do.</p>
<form method="post" action="${action}"><label>Name <input name="login" autofocus required></label>
<label>Password <input name="password" type="password"></label><button type="submit">Sign in</button></form>`
      : `<h1>Authorize</h1><p>${escapeHtml(String(details.params.client_id))} asks for: ${escapeHtml(String(details.params.scope ?? ''))}</p>
<form method="post" action="${action}"><button type="submit">Continue</button></form>`
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
  res.end(`<!doctype html><html><head><meta charset="utf-8"><title>Local authorization server</title></head><body>
${body}
<p><a href="${action}/abort">Cancel</a></p></body></html>`)
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(text)
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
