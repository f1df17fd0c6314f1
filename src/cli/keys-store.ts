import { ConfigError } from '../config-error.js'
import { loadStoreSettings } from '../config.js'
import { KeyRing } from '../crypto/key-ring.js'
import { createStorage, type Store } from '../store/index.js'

/** The configured Redis store, connected, and the key ring of ENCRYPTION_KEYS: what `keys status` and `keys reseal` work on. */
export async function openKeyStore(): Promise<{ store: Store; keyRing: KeyRing }> {
  const settings = loadStoreSettings()
  if (settings.store.kind === 'memory') {
    throw new ConfigError('REDIS_URL', 'is required (or REDIS_SENTINELS or REDIS_CLUSTER_NODES): the grants to look at are in Redis')
  }
  if (!settings.encryptionKeys)
    throw new ConfigError('ENCRYPTION_KEYS', 'is required: the keys that seal the stored grants, the current one first')
  const storage = createStorage(settings)
  const failed = await storage.connect()
  if (failed) {
    await storage.close()
    throw failed
  }
  return { store: storage.grants, keyRing: new KeyRing(settings.encryptionKeys) }
}
