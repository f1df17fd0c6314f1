import { StoreUnavailableError } from '../errors.js'

/** A failed Redis call becomes STORE_UNAVAILABLE (503), at the store's boundary; the original stays as `cause`. */
export function storeCall<T>(work: Promise<T>): Promise<T> {
  return work.catch((cause: unknown) => {
    throw new StoreUnavailableError({ cause })
  })
}
