import { currentToken } from './auth.js'

/** An error answer of the API, in the contract's shape. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `the broker answered ${status}`)
    this.status = status
    this.code = body?.code ?? 'UNEXPECTED_RESPONSE'
  }
}

/** The API sits next to the console: /console -> /, /prefix/console -> /prefix/. */
const API_ROOT = new URL('./', location.href)

/** One API call with the console token; the JSON body, or an ApiError. */
export async function api(method, path, body) {
  const headers = { authorization: `Bearer ${currentToken()}`, accept: 'application/json' }
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(new URL(path.replace(/^\//, ''), API_ROOT), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
    credentials: 'omit',
  })
  const text = await res.text()
  let data = null
  try {
    data = JSON.parse(text)
  } catch {
    /* described by ApiError */
  }
  if (!res.ok) throw new ApiError(res.status, data)
  return data
}

export const enc = encodeURIComponent
