/**
 * h('p', { class: 'note' }, 'text', child): builds an element. Strings always become text,
 * never HTML, so nothing the API returns can inject markup. `on*` attributes add listeners.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value)
    else el.setAttribute(name, value === true ? '' : String(value))
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue
    el.append(typeof child === 'string' ? document.createTextNode(child) : child)
  }
  return el
}

const UNITS = [
  ['day', 86_400_000],
  ['h', 3_600_000],
  ['min', 60_000],
  ['s', 1000],
]

/** "in 52 min" / "3 h ago" */
export function relative(ms) {
  const diff = ms - Date.now()
  const abs = Math.abs(diff)
  const [unit, size] = UNITS.find(([, s]) => abs >= s) ?? UNITS[UNITS.length - 1]
  const n = Math.round(abs / size)
  const text = `${n} ${unit}${unit === 'day' && n !== 1 ? 's' : ''}`
  return diff >= 0 ? `in ${text}` : `${text} ago`
}

/** An ISO time as "2026-11-27 13:05 UTC" (the zone left to a column header when `zone` is false), then "in 52 min". */
export function time(iso, zone = true) {
  if (!iso) return h('span', { class: 'muted' }, '—')
  const ms = Date.parse(iso)
  const text = new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + (zone ? ' UTC' : '')
  return h('time', { datetime: iso }, h('span', {}, text), h('small', {}, relative(ms)))
}

export function statusBadge(status) {
  const label = status === 'reauth_required' ? 'reauth required' : status
  return h('span', { class: `badge badge-${status}` }, label)
}

/** The console's own URL, without query or fragment: where the provider sends the admin back. */
export const consoleUrl = () => `${location.origin}${location.pathname}`
