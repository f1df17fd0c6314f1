import { ApiError, api, enc } from './api.js'
import { showFailure } from './auth.js'
import { lastError } from './accounts.js'
import { h, statusBadge, time } from './dom.js'

const REVOCATION = {
  succeeded: 'The provider confirmed the revocation.',
  failed: 'The provider did not confirm the revocation; the grant is deleted here anyway. Check the grant at the provider.',
  not_supported: 'The provider has no revocation endpoint; the grant is deleted here. Remove it at the provider if needed.',
}

const back = () => h('p', {}, h('a', { href: 'console' }, '← All accounts'))

/** One account: its metadata, revocation, and its audit events. */
export async function accountView(main, account, justLinked) {
  let meta
  try {
    meta = await api('GET', `/accounts/${enc(account)}`)
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error
    main.replaceChildren(
      back(),
      h('h1', {}, account),
      h('p', { class: 'error', role: 'alert' }, `Account ${account} does not exist (never linked, or revoked).`),
    )
    return
  }
  const events = h('div', {}, h('p', { class: 'muted' }, 'Loading events…'))
  main.replaceChildren(
    back(),
    justLinked && meta.status === 'active'
      ? h('p', { class: 'ok', role: 'status' }, `Account ${account} is linked with ${meta.provider}.`)
      : null,
    h('h1', {}, account),
    h(
      'div',
      { class: 'layout' },
      h('section', { class: 'card', 'aria-labelledby': 'meta-title' }, h('h2', { id: 'meta-title' }, 'Grant'), metadata(meta)),
      h('aside', {}, revokeCard(account, meta)),
    ),
    h('section', { class: 'card', 'aria-labelledby': 'events-title' }, h('h2', { id: 'events-title' }, 'Audit events'), events),
  )
  await loadEvents(account, events, null)
}

function metadata(m) {
  const row = (label, value) => [h('dt', {}, label), h('dd', {}, value)]
  return h(
    'dl',
    { class: 'meta' },
    row('Provider', m.provider),
    row('Status', statusBadge(m.status)),
    row('Scope', m.scope ?? h('span', { class: 'muted' }, 'not reported')),
    row('Token expires', time(m.expires_at)),
    row('Last refresh', time(m.last_refreshed_at)),
    row('Linked', time(m.created_at)),
    row('Updated', time(m.updated_at)),
    row('Last error', lastError(m.last_error)),
  )
}

function revokeCard(account, meta) {
  const outcome = h('div', { role: 'status' })
  const confirmButton = h('button', { type: 'button', class: 'danger' }, 'Revoke account')
  const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel')
  const dialog = h(
    'dialog',
    { 'aria-labelledby': 'revoke-title' },
    h('h2', { id: 'revoke-title' }, `Revoke ${account}?`),
    h(
      'p',
      {},
      `The broker revokes the grant at ${meta.provider} and deletes the account. Services asking for its token get 404 until it is linked again.`,
    ),
    h('div', { class: 'actions' }, cancel, confirmButton),
  )
  const open = h('button', { type: 'button', class: 'danger', onclick: () => dialog.showModal() }, 'Revoke…')
  cancel.addEventListener('click', () => dialog.close())
  confirmButton.addEventListener('click', async () => {
    confirmButton.disabled = true
    try {
      const result = await api('DELETE', `/tokens/${enc(account)}`)
      dialog.close()
      open.remove()
      outcome.replaceChildren(
        h('p', { class: 'ok' }, `Account ${result.account} is revoked.`),
        h('p', {}, 'Provider revocation: ', h('strong', { 'data-outcome': result.provider_revocation }, result.provider_revocation)),
        h('p', { class: 'muted' }, REVOCATION[result.provider_revocation] ?? ''),
      )
    } catch (error) {
      dialog.close()
      showFailure(error, outcome)
    } finally {
      confirmButton.disabled = false
    }
  })
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'revoke-card-title' },
    h('h2', { id: 'revoke-card-title' }, 'Revoke'),
    h('p', { class: 'muted' }, 'Revokes the grant at the provider, then deletes it here.'),
    open,
    dialog,
    outcome,
  )
}

const EVENT_COLUMNS = ['Time', 'Event', 'Outcome', 'Caller', 'Detail']

async function loadEvents(account, where, cursor) {
  try {
    const q = new URLSearchParams({ account, limit: '100' })
    if (cursor) q.set('cursor', cursor)
    const page = await api('GET', `/audit?${q}`)
    const rows = page.entries.map((e) =>
      h(
        'tr',
        {},
        h('td', { 'data-label': 'Time' }, time(e.time)),
        h('td', { 'data-label': 'Event' }, h('code', {}, e.event)),
        h('td', { 'data-label': 'Outcome' }, e.outcome ?? '—'),
        h('td', { 'data-label': 'Caller' }, e.sub ?? '—'),
        h('td', { 'data-label': 'Detail' }, e.detail ?? '—'),
      ),
    )
    let table = where.querySelector('table.events')
    if (!table) {
      table = h(
        'table',
        { class: 'events' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            EVENT_COLUMNS.map((c) => h('th', { scope: 'col' }, c)),
          ),
        ),
        h('tbody'),
      )
      where.replaceChildren(table)
    }
    table.tBodies[0].append(...rows)
    where.querySelector('.more')?.remove()
    if (page.next_cursor) {
      where.append(
        h(
          'button',
          { type: 'button', class: 'secondary more', onclick: () => loadEvents(account, where, page.next_cursor) },
          'More events',
        ),
      )
    } else if (table.tBodies[0].rows.length === 0) {
      where.replaceChildren(h('p', { class: 'muted' }, 'No events recorded for this account.'))
    }
  } catch (error) {
    showFailure(error, where)
  }
}
