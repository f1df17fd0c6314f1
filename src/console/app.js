import { accountView } from './account.js'
import { accountsView } from './accounts.js'
import { adoptFragmentToken, claimsOf, currentToken, forgetToken, showFailure, signInView } from './auth.js'
import { h, relative } from './dom.js'

adoptFragmentToken()
const main = document.getElementById('main')

/** Who is signed in, until when, and a way to forget the token. */
function session(token) {
  const claims = claimsOf(token)
  const forget = h(
    'button',
    {
      type: 'button',
      class: 'secondary',
      onclick: () => {
        forgetToken()
        location.reload()
      },
    },
    'Forget token',
  )
  const who = claims?.sub ? `Signed in as ${claims.sub}` : 'Signed in'
  const until = typeof claims?.exp === 'number' ? `, token expires ${relative(claims.exp * 1000)}` : ''
  return [h('span', {}, who + until), forget]
}

async function start() {
  const token = currentToken()
  if (!token) {
    main.replaceChildren(signInView(null))
    return
  }
  document.getElementById('session').replaceChildren(...session(token))
  const params = new URLSearchParams(location.search)
  try {
    const account = params.get('account')
    if (account) await accountView(main, account, params.get('status') === 'linked')
    else await accountsView(main, params)
  } catch (error) {
    showFailure(error, main)
  }
}

start()
