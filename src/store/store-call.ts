import { StoreUnavailableError } from '../errors.js'

/** A failed Redis call becomes STORE_UNAVAILABLE (503), at the store's boundary; the original stays as `cause`. */
export async function storeCall<T>(work: Promise<T>): Promise<T> {
  try {
    return await work
  } catch (cause) {
    throw new StoreUnavailableError({ cause })
  }
}
