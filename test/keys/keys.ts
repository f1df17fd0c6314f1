import { TEST_KEYS } from '../helpers/app.js'

/** The key values were sealed with before the rotation (the tests' usual key). */
export const K1 = TEST_KEYS
/** The key rotated to. */
export const K2 = `k2:${Buffer.alloc(32, 9).toString('base64')}`
