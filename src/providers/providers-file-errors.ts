import type { TSchema } from '@sinclair/typebox'
import type { ValueError } from '@sinclair/typebox/value'

/**
 * Messages about a providers file that say what to change: the line and column of a syntax
 * error, the naming rule, the allowed values, and the field that was probably meant.
 */

export const PROVIDER_NAME = '^[a-z0-9][a-z0-9_-]{0,63}$'
const NAME_RULE = `a name is 1-64 lowercase letters, digits, _ or -, starting with a letter or digit (${PROVIDER_NAME}); it appears in URLs`

/** `line 3, column 5: <the parser's reason>` from a yaml (or JSON.parse) error. */
export function syntaxErrorMessage(error: unknown, text: string): string {
  const e = error as { message?: string; linePos?: { line: number; col: number }[] }
  const reason = (e.message ?? String(error)).split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')
  let where = e.linePos?.[0]
  const position = /at position (\d+)/.exec(reason)?.[1]
  if (!where && position !== undefined) {
    const before = text.slice(0, Number(position)).split('\n')
    where = { line: before.length, col: before.at(-1)!.length + 1 }
  }
  return where ? `line ${where.line}, column ${where.col}: ${reason}` : reason
}

/** One line about the first schema error of a providers file, prefixed with the provider it concerns. */
export function schemaErrorMessage(error: ValueError, data: unknown): string {
  const [, top, name, field] = error.path.split('/')
  if (top === undefined || top === '') return 'must be a map with one key, providers:'
  if (top !== 'providers') return `unknown top-level key "${top}"${suggest(top, ['providers'])}; the file holds one key, providers:`
  if (name === undefined) {
    if (error.message.includes('required')) {
      const keys = Object.keys(data as object)
      const near = keys.map((k) => suggest(k, ['providers'])).find(Boolean)
      return `has no providers: map${keys.length > 0 ? ` (found ${keys.map((k) => `"${k}"`).join(', ')}${near ?? ''})` : ''}`
    }
    return 'providers: must be a map of name: settings'
  }
  const decoded = decodePointer(name)
  if (field === undefined) {
    if (!new RegExp(PROVIDER_NAME).test(decoded)) {
      const lower = decoded.toLowerCase()
      return `provider name "${decoded}" is not allowed: ${NAME_RULE}${new RegExp(PROVIDER_NAME).test(lower) ? ` (did you mean "${lower}"?)` : ''}`
    }
    return `provider "${decoded}": must be a map of settings`
  }
  const where = `provider "${decoded}": ${[field, ...error.path.split('/').slice(4)].map(decodePointer).join('.')}`
  if (error.message === 'Unexpected property') {
    return `provider "${decoded}": unknown field "${decodePointer(field)}"${suggest(decodePointer(field), KNOWN_FIELDS)}`
  }
  if (error.message.includes('required property')) return `${where} is required`
  const choices = (error.schema.anyOf as TSchema[] | undefined)?.map((m) => m.const)
  if (choices?.every((c) => typeof c === 'string')) return `${where} must be one of: ${choices.join(', ')}`
  return `${where}: ${error.message.toLowerCase()}`
}

const KNOWN_FIELDS = [
  'template',
  'issuer',
  'authorization_url',
  'token_url',
  'revocation_url',
  'client_id',
  'client_secret',
  'token_auth_method',
  'scopes',
  'pkce',
  'authorize_params',
  'params',
  'allowed_hosts',
]

const decodePointer = (part: string) => part.replace(/~1/g, '/').replace(/~0/g, '~')

/** ` (did you mean "x"?)` when a known word is one or two edits away, else ''. */
function suggest(word: string, known: string[]): string {
  const best = known.map((k) => [k, distance(word.toLowerCase(), k)] as const).sort((a, b) => a[1] - b[1])[0]
  return best && best[1] > 0 && best[1] <= 2 ? ` (did you mean "${best[0]}"?)` : ''
}

/** Levenshtein distance. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    row = next
  }
  return row[b.length]!
}
