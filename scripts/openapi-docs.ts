/**
 * What openapi.yaml says about each route beyond its schema: a description of its behaviour
 * (docs/api.md is the long form) and an example of its request and success bodies. The
 * schemas stay the routes' own; test/docs/openapi.test.ts checks that every route has an
 * entry here and that every example matches its schema.
 */
export interface RouteDocs {
  description: string
  /** Example of the JSON request body, for routes that take one. */
  request?: unknown
  /** Example of the success response body, by status. */
  responses: Record<number, unknown>
}

const T = '2026-11-27T12:00:00.000Z'
const LATER = '2026-11-27T13:00:00.000Z'
const account = {
  account: 'crm-prod',
  provider: 'salesforce',
  status: 'active',
  scope: 'api refresh_token',
  expires_at: LATER,
  created_at: T,
  updated_at: T,
  last_refreshed_at: T,
  last_error: null,
}
const access = {
  account: 'crm-prod',
  provider: 'salesforce',
  access_token: '00Dxx0000001gPL!AR8AQJXg5oj8jXSgxJfA0lBog',
  token_type: 'Bearer',
  expires_at: LATER,
  expires_in: 3600,
  scope: 'api refresh_token',
}

/** Keyed by `METHOD /fastify/:path`. */
export const ROUTE_DOCS: Record<string, RouteDocs> = {
  'GET /accounts': {
    description:
      'Accounts in id order, filtered by provider and status, one page at a time: pass `next_cursor` back as `cursor`. ' +
      'A caller limited by an `accounts` claim sees only its accounts.',
    responses: { 200: { accounts: [account], next_cursor: null } },
  },
  'GET /accounts/:account': {
    description:
      "Metadata of one account, never a token. `expires_at` is the current access token's expiry; " +
      '`last_error` is the last refresh failure, cleared by the next success.',
    responses: { 200: account },
  },
  'PUT /accounts/:account': {
    description:
      'Imports a grant obtained elsewhere, with at least one token. 201 when created, 200 when replacing a grant of ' +
      'the same provider; another provider is 409 ACCOUNT_CONFLICT. An access token without a refresh token is served until ' +
      'it expires, then the account becomes reauth_required.',
    request: {
      provider: 'salesforce',
      refresh_token: '5Aep861TSESvWeug_xvFHRBTTbf_YrTWgEyjBJrnGHlVb8',
      expires_in: 0,
      scope: 'api refresh_token',
    },
    responses: { 200: account, 201: account },
  },
  'GET /audit': {
    description:
      'The audit trail: linked, imported, refreshed, refresh failed, reuse detected, reauth required, recovered, ' +
      'revoked, caller denied (and token.issued with AUDIT_ACCESS=true), oldest first, never a token.',
    responses: {
      200: {
        entries: [
          {
            id: '1795780800000-0',
            time: T,
            event: 'account.refreshed',
            account: 'crm-prod',
            provider: 'salesforce',
            sub: 'billing-service',
            request_id: 'req-1',
            outcome: 'success',
            detail: 'rotated',
          },
        ],
        next_cursor: null,
      },
    },
  },
  'GET /connect/callback': {
    description:
      'Where the provider sends the browser back. The single-use state authenticates the request (no JWT); `iss` is ' +
      "checked against the state's issuer before the code is exchanged. 200 with an HTML page, JSON with " +
      "`Accept: application/json`, or 303 to the state's return_to.",
    responses: { 200: { account: 'crm-prod', provider: 'salesforce', status: 'linked', scope: 'api refresh_token', expires_at: LATER } },
  },
  'POST /connect/:provider': {
    description:
      "Starts linking an account: send the admin's browser to `authorization_url`. The state is single-use, lives " +
      '10 minutes and carries a PKCE S256 verifier; `return_to` must fall under RETURN_TO_ALLOWLIST.',
    request: { account: 'crm-prod', scope: 'api refresh_token', return_to: 'https://admin.example.com/accounts' },
    responses: {
      201: {
        authorization_url: 'https://login.salesforce.com/services/oauth2/authorize?response_type=code&client_id=3MVG9&state=q2Xk',
        state: 'q2Xk',
        expires_at: '2026-11-27T12:10:00.000Z',
      },
    },
  },
  'GET /healthz': { description: 'Liveness: the process answers.', responses: { 200: { status: 'ok' } } },
  'GET /console': {
    description:
      "The admin console: a plain HTML page under a strict CSP (`script-src 'self'`). It reads its admin token " +
      'from the URL fragment (`#token=...`, never sent to the server) and calls this API with it.',
    responses: { 200: '<!doctype html>\n<html lang="en">...' },
  },
  'GET /console/:asset': {
    description: 'A static file of the admin console (its ES modules, stylesheet and icon), served from a fixed list.',
    responses: { 200: 'export function start() { ... }' },
  },
  'GET /metrics': {
    description:
      'Prometheus text metrics: HTTP durations, store errors, tokens issued, refreshes by outcome, provider latency, ' +
      'lock waits, reuse detections, client credential errors, scheduler lag. No token or account secret ever.',
    responses: { 200: '# TYPE refreshes_total counter\nrefreshes_total{provider="salesforce",outcome="success"} 42\n' },
  },
  'GET /providers': {
    description: 'The configured providers, without client credentials.',
    responses: {
      200: { providers: [{ name: 'salesforce', template: 'salesforce', scopes: ['api', 'refresh_token'], pkce: true, revocation: true }] },
    },
  },
  'GET /readyz': {
    description: 'Readiness: 200 while the store answers, 503 while it is unreachable.',
    responses: { 200: { status: 'ready' }, 503: { status: 'unavailable' } },
  },
  'DELETE /tokens/:account': {
    description:
      'Revokes the grant at the provider (the refresh token, else the access token) with a timeout, then deletes the ' +
      'account whatever the provider answered. Every instance answers 404 for it afterwards.',
    responses: { 200: { account: 'crm-prod', revoked: true, provider_revocation: 'succeeded' } },
  },
  'GET /tokens/:account/access': {
    description:
      'A usable access token. Refreshed first when fewer than max(min_ttl, skew) seconds remain, skew being ' +
      'min(REFRESH_SKEW_SECONDS, half the lifetime); a token the broker obtained less than skew ago is returned as it is. ' +
      'When the provider is down, the current token while it is valid, else 503 with Retry-After. Cache-Control: no-store.',
    responses: { 200: access },
  },
  'POST /tokens/:account/refresh': {
    description:
      'Forces a refresh, for a caller whose token the provider just refused: send it as `rejected_token`. If it is no ' +
      'longer the current token, the current one is returned without a provider call. Never answers with the rejected token: ' +
      '503 with Retry-After when the provider is unavailable.',
    request: { rejected_token: '00Dxx0000001gPL!AR8AQBM8b3m2P7W1Hh5Zv0qQk' },
    responses: { 200: access },
  },
}
