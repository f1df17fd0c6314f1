import type { Socket } from 'node:net'
import { Cluster } from 'ioredis'
import type { RedisClient } from './redis-client.js'

/**
 * Makes the commands issued in one event-loop turn leave in one write per connection. The
 * first call of a turn corks the sockets; the turn's check phase (`setImmediate`, right after
 * the I/O callbacks that issued the commands) uncorks them. Without it, every hot-path read is
 * a write syscall of its own here and a read event of its own in Redis, which every instance
 * shares.
 *
 * The sockets are looked up on each turn's first call (ioredis replaces them on reconnect): a
 * standalone or Sentinel client's one connection, a Cluster client's connection to each master.
 * A socket not connected yet is left alone.
 */
export function writeCoalescer(client: RedisClient): () => void {
  let held: Socket[] | undefined
  const release = (sockets: Socket[]) => {
    held = undefined
    for (const socket of sockets) socket.uncork()
  }
  return () => {
    if (held !== undefined) return
    held = connections(client)
    for (const socket of held) socket.cork()
    setImmediate(release, held)
  }
}

function connections(client: RedisClient): Socket[] {
  const sockets: Socket[] = []
  for (const node of client instanceof Cluster ? client.nodes('master') : [client]) {
    const socket = (node as { stream?: Socket }).stream
    if (socket !== undefined) sockets.push(socket)
  }
  return sockets
}
