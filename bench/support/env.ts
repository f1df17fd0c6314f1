import { randomBytes } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSigner } from 'fast-jwt'
import { ENCRYPTION_KEYS, PREFIX } from './seed.js'

const secret = randomBytes(32).toString('base64url')

/** A caller allowed to read tokens, valid for the whole run. */
export const callerHeaders = {
  authorization: `Bearer ${createSigner({ key: secret, algorithm: 'HS256', expiresIn: 3600_000 })({ sub: 'bench', scope: 'tokens:read' })}`,
}

/** The environment of a broker process: one provider `bench` whose token endpoint is `tokenUrl`. */
export function brokerEnv(redisUrl: string, tokenUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  const file = join(mkdtempSync(join(tmpdir(), 'tb-bench-')), 'providers.json')
  writeFileSync(
    file,
    JSON.stringify({
      providers: {
        bench: {
          template: 'oauth2',
          authorization_url: tokenUrl.replace(/token$/, 'authorize'),
          token_url: tokenUrl,
          client_id: 'bench',
          client_secret: 'bench-secret',
        },
      },
    }),
  )
  return {
    NODE_ENV: 'production',
    AUTH_JWT_SECRET: secret,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: PREFIX,
    ENCRYPTION_KEYS,
    PROVIDERS_FILE: file,
    LOG_LEVEL: 'info',
    PROACTIVE_REFRESH: 'false',
    ...extra,
  }
}
