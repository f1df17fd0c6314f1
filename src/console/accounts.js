import { api, enc } from './api.js'
import { h, statusBadge, time } from './dom.js'
import { linkForm } from './link.js'

const STATUSES = ['active', 'reauth_required']
const PAGE_SIZE = '50'

/** The list: filters (a plain GET form back to the console), one page of accounts, and linking. */
export async function accountsView(main, params) {
  const filters = {
    provider: params.get('provider') ?? '',
    status: STATUSES.includes(params.get('status')) ? params.get('status') : '',
    cursor: params.get('cursor') ?? '',
    limit: /^[1-9][0-9]{0,2}$/.test(params.get('limit') ?? '') ? params.get('limit') : '',
  }
  const query = new URLSearchParams({ limit: filters.limit || PAGE_SIZE })
  for (const name of ['provider', 'status', 'cursor']) if (filters[name]) query.set(name, filters[name])
  const [{ providers }, page] = await Promise.all([api('GET', '/providers'), api('GET', `/accounts?${query}`)])

  main.replaceChildren(
    h(
      'div',
      { class: 'layout' },
      h(
        'section',
        { class: 'list', 'aria-labelledby': 'accounts-title' },
        h('h1', { id: 'accounts-title' }, 'Accounts'),
        filterForm(providers, filters),
        page.accounts.length === 0
          ? h(
              'p',
              { class: 'muted empty' },
              filters.provider || filters.status ? 'No account matches these filters.' : 'No account is linked yet.',
            )
          : accountTable(page.accounts),
        pager(filters, page.next_cursor),
      ),
      h('aside', {}, linkForm(providers)),
    ),
  )
}

function filterForm(providers, filters) {
  const option = (value, label, current) => h('option', { value, selected: value === current }, label)
  return h(
    'form',
    { class: 'filters', method: 'get', action: 'console', role: 'search' },
    h(
      'div',
      {},
      h('label', { for: 'filter-provider' }, 'Provider'),
      h(
        'select',
        { id: 'filter-provider', name: 'provider' },
        option('', 'Any provider', filters.provider),
        providers.map((p) => option(p.name, p.name, filters.provider)),
      ),
    ),
    h(
      'div',
      {},
      h('label', { for: 'filter-status' }, 'Status'),
      h(
        'select',
        { id: 'filter-status', name: 'status' },
        option('', 'Any status', filters.status),
        option('active', 'active', filters.status),
        option('reauth_required', 'reauth required', filters.status),
      ),
    ),
    filters.limit ? h('input', { type: 'hidden', name: 'limit', value: filters.limit }) : null,
    h('button', { type: 'submit' }, 'Filter'),
  )
}

const COLUMNS = ['Account', 'Provider', 'Status', 'Token expires (UTC)', 'Last refresh (UTC)', 'Last error']

function accountTable(accounts) {
  const cell = (i, ...content) => h('td', { 'data-label': COLUMNS[i] }, ...content)
  return h(
    'table',
    { class: 'accounts' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        COLUMNS.map((c) => h('th', { scope: 'col' }, c)),
      ),
    ),
    h(
      'tbody',
      {},
      accounts.map((a) =>
        h(
          'tr',
          { 'data-account': a.account },
          cell(0, h('a', { href: `?account=${enc(a.account)}` }, a.account)),
          cell(1, a.provider),
          cell(2, statusBadge(a.status)),
          cell(3, time(a.expires_at, false)),
          cell(4, time(a.last_refreshed_at, false)),
          cell(5, lastError(a.last_error, false)),
        ),
      ),
    ),
  )
}

export function lastError(error, zone = true) {
  if (!error) return h('span', { class: 'muted' }, 'none')
  return h('span', { class: 'last-error' }, h('code', {}, error.code), ` ${error.message} `, time(error.at, zone))
}

function pager(filters, nextCursor) {
  const link = (cursor, label) => {
    const q = new URLSearchParams()
    if (filters.provider) q.set('provider', filters.provider)
    if (filters.status) q.set('status', filters.status)
    if (filters.limit) q.set('limit', filters.limit)
    if (cursor) q.set('cursor', cursor)
    return h('a', { href: `?${q}`, class: 'button-link' }, label)
  }
  if (!filters.cursor && !nextCursor) return null
  return h(
    'nav',
    { class: 'pager', 'aria-label': 'Pages' },
    filters.cursor ? link('', '← First page') : null,
    nextCursor ? link(nextCursor, 'Next page →') : null,
  )
}
