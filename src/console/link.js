import { api, enc } from './api.js'
import { showFailure } from './auth.js'
import { consoleUrl, h } from './dom.js'

const ACCOUNT_PATTERN = '[A-Za-z0-9][A-Za-z0-9._:@\\-]{0,127}'

/**
 * Link an account: POST /connect/:provider with return_to = this console, then off to the
 * provider; it sends the admin back here (?account=...&status=linked).
 */
export function linkForm(providers) {
  const outcome = h('div', { role: 'status' })
  const provider = h(
    'select',
    { id: 'link-provider', name: 'provider', required: true },
    providers.map((p) => h('option', { value: p.name }, p.template && p.template !== p.name ? `${p.name} (${p.template})` : p.name)),
  )
  const account = h('input', {
    id: 'link-account',
    name: 'account',
    required: true,
    pattern: ACCOUNT_PATTERN,
    maxlength: 128,
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-describedby': 'link-account-hint',
  })
  const button = h('button', { type: 'submit', disabled: providers.length === 0 }, 'Link account')
  const form = h(
    'form',
    {
      onsubmit: async (event) => {
        event.preventDefault()
        button.disabled = true
        outcome.replaceChildren(h('p', { class: 'muted' }, 'Starting…'))
        try {
          const started = await api('POST', `/connect/${enc(provider.value)}`, { account: account.value, return_to: consoleUrl() })
          outcome.replaceChildren(h('p', { class: 'muted' }, 'Opening the provider…'))
          location.assign(started.authorization_url)
        } catch (error) {
          button.disabled = false
          showFailure(error, outcome)
        }
      },
    },
    h('label', { for: 'link-provider' }, 'Provider'),
    provider,
    h('label', { for: 'link-account' }, 'Account id'),
    account,
    h('p', { id: 'link-account-hint', class: 'muted' }, 'Your name for this grant, e.g. crm-prod (letters, digits and . _ : @ -).'),
    button,
  )
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'link-title' },
    h('h2', { id: 'link-title' }, 'Link an account'),
    providers.length === 0 ? h('p', { class: 'error' }, 'No providers are configured (PROVIDERS_FILE).') : null,
    form,
    outcome,
  )
}
