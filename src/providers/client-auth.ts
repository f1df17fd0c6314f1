import type { ProviderConfig } from './providers-file.js'

/** HTTP Basic credentials of an OAuth client: RFC 6749 §2.3.1 form-encodes both parts first. */
export function basicAuthorization(clientId: string, secret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+')
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString('base64')}`
}

/** Headers and an encoded body for a token or revocation request: Accept JSON, the template's headers, client auth. */
export function clientRequest(provider: ProviderConfig, fields: Record<string, string>, secret: string | null) {
  const headers: Record<string, string> = { accept: 'application/json' }
  for (const [name, value] of Object.entries(provider.requestHeaders)) headers[name.toLowerCase()] = value
  const body: Record<string, string> = { ...fields }
  if (secret !== null && provider.tokenAuthMethod === 'client_secret_basic') {
    headers.authorization = basicAuthorization(provider.clientId, secret)
  } else {
    body.client_id = provider.clientId
    if (secret !== null) body.client_secret = secret
  }
  const json = provider.bodyFormat === 'json'
  headers['content-type'] = json ? 'application/json' : 'application/x-www-form-urlencoded'
  return { headers, body: json ? JSON.stringify(body) : new URLSearchParams(body).toString() }
}
