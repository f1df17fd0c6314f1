import { countSealedByKey } from '../broker/key-rotation.js'
import { openKeyStore } from './keys-store.js'

/**
 * How many stored values each key id seals, every configured key listed (0 = it can be
 * removed from ENCRYPTION_KEYS once no instance seals with it), and ids found in the store
 * that ENCRYPTION_KEYS lacks (their accounts cannot be opened), and a reseal left unfinished.
 */
export async function keysStatus(): Promise<void> {
  const { store, keyRing } = await openKeyStore()
  try {
    const counts = await countSealedByKey(store)
    const lines: string[] = []
    for (const id of keyRing.keyIds) {
      const n = counts.get(id) ?? 0
      const note = id === keyRing.currentKeyId ? 'current: seals new values' : n === 0 ? 'seals nothing: can be removed' : 'run keys reseal'
      lines.push(`${id}  ${n} values  (${note})`)
    }
    for (const [id, n] of counts) {
      if (!keyRing.keyIds.includes(id)) lines.push(`${id}  ${n} values  (not in ENCRYPTION_KEYS: these cannot be opened)`)
    }
    const reseal = await store.getResealProgress()
    if (reseal) {
      lines.push(
        `reseal unfinished: sealing with ${reseal.keyId}, ${reseal.accounts} accounts done up to ${reseal.cursor}, ` +
          `last batch ${new Date(reseal.updatedAt).toISOString()} (keys reseal resumes it)`,
      )
    }
    process.stdout.write(`${lines.join('\n')}\n`)
    if ([...counts.keys()].some((id) => !keyRing.keyIds.includes(id))) process.exitCode = 1
  } finally {
    await store.close()
  }
}
