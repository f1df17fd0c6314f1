import { createConnection, createServer, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'

/**
 * What the proxy does to traffic from the moment it is set, on open connections and new ones:
 * - pass: forwards both ways;
 * - delay: holds every chunk `ms` before forwarding it;
 * - blackhole: accepts and forwards nothing: bytes are held, as TCP would keep retransmitting
 *   them, and delivered in order once the mode is back to pass (a healed partition);
 * - reset: answers each connection with a TCP reset;
 * - cut: forwards `afterBytes` bytes of the server's reply, then closes both sides (mid-reply).
 * reset and cut affect the next `times` connections (default every one), then the proxy passes.
 */
export type FaultMode =
  | { mode: 'pass' }
  | { mode: 'delay'; ms: number }
  | { mode: 'blackhole' }
  | { mode: 'reset'; times?: number }
  | { mode: 'cut'; afterBytes: number; times?: number }

export interface FaultProxy {
  /** Loopback port the proxy listens on. */
  port: number
  set(fault: FaultMode): void
  /** Connections open through the proxy now, and the most there ever were at once. */
  readonly open: number
  readonly maxOpen: number
  /** Connections accepted since the start. */
  readonly accepted: number
  /** Chunks from clients held by a blackhole since it was set (evidence that clients kept trying). */
  readonly heldFromClients: number
  /** Clears the counters (maxOpen starts again from the connections open now). */
  resetCounters(): void
  close(): Promise<void>
}

interface Link {
  client: Socket
  server: Socket
  replied: number
  faulted: boolean
  held: (() => void)[]
}

export async function startFaultProxy(target: { host?: string; port: number }): Promise<FaultProxy> {
  let fault: FaultMode = { mode: 'pass' }
  let faultsLeft = Infinity
  let heldFromClients = 0
  let maxOpen = 0
  let accepted = 0
  const links = new Set<Link>()

  /** Whether this connection gets the current reset/cut (counted once per connection). */
  const takesFault = (link: Link) => {
    if (link.faulted) return true
    if (faultsLeft <= 0) return false
    faultsLeft--
    link.faulted = true
    return true
  }

  const forward = (link: Link, from: 'client' | 'server', chunk: Buffer) => {
    const to = from === 'client' ? link.server : link.client
    const write = () => {
      if (!to.destroyed) to.write(chunk)
    }
    if (fault.mode === 'blackhole') {
      if (from === 'client') heldFromClients++
      link.held.push(write)
    } else if (fault.mode === 'delay') {
      setTimeout(write, fault.ms)
    } else if (fault.mode === 'reset' && takesFault(link)) {
      link.client.resetAndDestroy()
      link.server.destroy()
    } else if (fault.mode === 'cut' && from === 'server' && takesFault(link)) {
      const room = Math.max(0, fault.afterBytes - link.replied)
      link.replied += chunk.length
      if (room >= chunk.length) return write()
      link.client.end(chunk.subarray(0, room), () => link.client.destroy())
      link.server.destroy()
    } else {
      write()
    }
  }

  const proxy = createServer({ noDelay: true }, (client) => {
    accepted++
    const server = createConnection({ host: target.host ?? '127.0.0.1', port: target.port, noDelay: true })
    const link: Link = { client, server, replied: 0, faulted: false, held: [] }
    links.add(link)
    maxOpen = Math.max(maxOpen, links.size)
    const drop = () => {
      links.delete(link)
      client.destroy()
      server.destroy()
    }
    client.on('data', (chunk: Buffer) => forward(link, 'client', chunk))
    server.on('data', (chunk: Buffer) => forward(link, 'server', chunk))
    for (const socket of [client, server]) socket.on('close', drop).on('error', drop)
    if (fault.mode === 'reset' && takesFault(link)) {
      client.resetAndDestroy()
      server.destroy()
    }
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))

  return {
    port: (proxy.address() as AddressInfo).port,
    set(next) {
      fault = next
      faultsLeft = 'times' in next && next.times !== undefined ? next.times : Infinity
      heldFromClients = 0
      for (const link of links) {
        link.faulted = false
        link.replied = 0
        if (next.mode !== 'blackhole') for (const write of link.held.splice(0)) write()
        if (next.mode === 'reset' && takesFault(link)) {
          link.client.resetAndDestroy()
          link.server.destroy()
        }
      }
    },
    get open() {
      return links.size
    },
    get maxOpen() {
      return maxOpen
    },
    get accepted() {
      return accepted
    },
    get heldFromClients() {
      return heldFromClients
    },
    resetCounters() {
      maxOpen = links.size
      accepted = 0
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const link of links) {
          link.client.destroy()
          link.server.destroy()
        }
        proxy.close(() => resolve())
      }),
  }
}
