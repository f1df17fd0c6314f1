import { SERVING_READ, VIEW_FIELD, VIEW_FIELDS } from '../record.js'

/**
 * Lua: `pack_view(key)` packs the grant's serving fields (`VIEW_FIELDS`, each absent as '' and
 * present as '=' .. value, joined by newlines) into the view field `sv1`, which the hot path
 * reads instead of the fields themselves. Every script that changes one of those fields calls
 * it last, inside the same atomic step.
 */
export const PACK_VIEW = `
local function pack_view(key)
  local v = redis.call('HMGET', key, ${VIEW_FIELDS.map((f) => `'${f}'`).join(', ')})
  for i = 1, #v do v[i] = v[i] and ('=' .. v[i]) or '' end
  local view = table.concat(v, '\\n')
  redis.call('HSET', key, '${VIEW_FIELD}', view)
end
`

/**
 * The hot path's fallback when the view is missing or stale (a grant written before views
 * existed, or by an older instance): packs it from the fields and returns what the hot path's
 * HMGET would have (`SERVING_READ`: view, sealed access token, version, scope), so later reads
 * of the grant need no script. The hot path's own read is a plain HMGET, which Redis serves even
 * when it refuses writes (maxmemory reached); only this fallback writes.
 * KEYS[1] grant hash. Returns false when there is no grant.
 */
export const repackView = {
  numberOfKeys: 1,
  lua: `${PACK_VIEW}
local key = KEYS[1]
if not redis.call('HGET', key, 'version') or not redis.call('HGET', key, 'provider') then return false end
pack_view(key)
return redis.call('HMGET', key, ${SERVING_READ.map((f) => `'${f}'`).join(', ')})
`,
} as const
