import { MemoryStore } from '../../src/store/memory-store.js'
import { storeContract } from './store-contract.js'

storeContract('MemoryStore', async () => {
  // Real time plus an offset the tests can move forward, so TTLs can pass without waiting.
  let offset = 0
  const store = new MemoryStore(() => Date.now() + offset)
  return {
    store,
    cleanup: () => store.close(),
    clock: {
      advance: (ms: number) => {
        offset += ms
      },
    },
  }
})
