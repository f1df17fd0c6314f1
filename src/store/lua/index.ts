import { commitRefresh } from './commit-refresh.js'
import { deleteGrant } from './delete-grant.js'
import { extendLock, releaseLock } from './lock.js'
import { markReauth } from './mark-reauth.js'
import { recordFailure } from './record-failure.js'
import { resealGrant } from './reseal-grant.js'
import { repackView } from './serving-view.js'
import { writeGrant } from './write-grant.js'

/** Every script, registered once per client with defineCommand. */
export const scripts = {
  writeGrant,
  commitRefresh,
  markReauth,
  recordFailure,
  deleteGrant,
  releaseLock,
  extendLock,
  resealGrant,
  repackView,
}
