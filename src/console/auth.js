import { h } from './dom.js'

const KEY = 'token-broker.console.token'

/**
 * `#token=...` in the address: kept in sessionStorage (this tab only) and removed from the
 * address bar at once. A fragment is never sent to the server, so no log sees it.
 */
export function adoptFragmentToken() {
  if (!location.hash) return
  const token = new URLSearchParams(location.hash.slice(1)).get('token')
  history.replaceState(null, '', location.pathname + location.search)
  if (token) sessionStorage.setItem(KEY, token)
}

export const currentToken = () => sessionStorage.getItem(KEY)
export const forgetToken = () => sessionStorage.removeItem(KEY)

/** The token's claims (not verified here: the broker does that), or null. */
export function claimsOf(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')
    return JSON.parse(atob(payload))
  } catch {
    return null
  }
}

const how = () =>
  h(
    'p',
    {},
    'Run ',
    h('code', {}, 'npx token-broker console'),
    " where the broker's AUTH_JWT_SECRET is set and open the address it prints, or paste an admin token (scopes ",
    h('code', {}, 'accounts:read accounts:write tokens:revoke'),
    ') below.',
  )

/** The sign-in card: why, and a box to paste a token into. */
export function signInView(problem) {
  const field = h('textarea', { id: 'paste-token', name: 'token', rows: 4, required: true, autocomplete: 'off', spellcheck: 'false' })
  const form = h(
    'form',
    {
      class: 'card narrow',
      'aria-labelledby': 'signin-title',
      onsubmit: (event) => {
        event.preventDefault()
        const token = field.value.trim()
        if (!token) return
        sessionStorage.setItem(KEY, token)
        location.reload()
      },
    },
    h('h1', { id: 'signin-title' }, problem ? 'Sign in again' : 'Sign in'),
    problem ? h('p', { class: 'error', role: 'alert' }, problem) : null,
    how(),
    h('label', { for: 'paste-token' }, 'Admin token'),
    field,
    h('p', { class: 'muted' }, "The token stays in this browser tab (sessionStorage) and is sent only to this broker's API."),
    h('button', { type: 'submit' }, 'Use this token'),
  )
  return form
}

/**
 * Shows an API failure: an expired or refused token replaces the page with the sign-in
 * card (and forgets the token); anything else is shown in `where`.
 */
export function showFailure(error, where) {
  if (error?.status === 401) {
    forgetToken()
    const reason = /expired/.test(error.message) ? 'Your console token has expired.' : 'The broker did not accept your console token.'
    document.getElementById('session')?.replaceChildren()
    document.getElementById('main').replaceChildren(signInView(`${reason} (${error.code}: ${error.message})`))
    return
  }
  const text = error?.code ? `${error.message} (${error.code})` : `Something went wrong: ${error?.message ?? error}`
  where.replaceChildren(h('p', { class: 'error', role: 'alert' }, text))
}
