/**
 * The UDP side of `failover6 serve`, over `node:dgram` (udp6): one socket per configured
 * listen entry. A unicast entry binds its address and port; a multicast entry binds
 * All_DHCP_Relay_Agents_and_Servers (ff02::1:2) scoped to its interface and joins the group on
 * that interface, so each interface has its own socket and the shell knows where a datagram
 * arrived. Replies leave through the socket the request came in on; binding to the scoped
 * group address ties a multicast socket to its interface, so replies to link-local clients
 * leave on the right link.
 *
 * @module
 */

import dgram from "node:dgram";
import { lookup as dnsLookup, type LookupOneOptions } from "node:dns";
import type { Buffer } from "node:buffer";
import type { ListenEntry } from "../../config/types.ts";

/** All_DHCP_Relay_Agents_and_Servers (RFC 8415 §7.1). */
export const ALL_DHCP_RELAY_AGENTS_AND_SERVERS = "ff02::1:2";

/** One open socket, as the shell sees it. */
export interface ListenerInfo {
  /** Index of the socket (its listen entry's position). */
  id: number;
  /** `unicast` (a configured address) or `multicast` (ff02::1:2 on an interface). */
  kind: "unicast" | "multicast";
  /** The bound address (for multicast: ff02::1:2). */
  address: string;
  /** The bound port (the real one when 0 was asked for). */
  port: number;
  /** The interface of a multicast socket. */
  interface?: string;
  /**
   * Whether datagrams on this socket are unicast in the RFC 8415 §18.4 sense. False for
   * multicast sockets and for loopback addresses (a test listener stands for a whole link).
   */
  unicast: boolean;
}

/** Where a datagram came from. */
export interface Peer {
  /** Source address (RFC 5952, without scope). */
  address: string;
  /** Source port. */
  port: number;
}

/** Called for each datagram received. Must not throw (errors are the caller's to count). */
export type DatagramHandler = (bytes: Uint8Array, from: Peer, listener: ListenerInfo) => void;

/** A socket that could not be opened: names the entry, one line. */
export class ListenError extends Error {
  override name = "ListenError";
  /** The entry that failed. */
  readonly entry: ListenEntry;
  /** @param entry the entry @param message one line */
  constructor(entry: ListenEntry, message: string, options?: ErrorOptions) {
    super(message, options);
    this.entry = entry;
  }
}

/** Text of a listen entry for messages: `[::1]:547` or `ff02::1:2%eth0 port 547`. */
export function describeListenEntry(e: ListenEntry): string {
  return e.kind === "unicast"
    ? `[${e.address}]:${e.port}`
    : `${ALL_DHCP_RELAY_AGENTS_AND_SERVERS}%${e.interface} port ${e.port}`;
}

/** True for ::1 and ::ffff:127.x (a loopback listener stands for a whole link). */
export function isLoopback(address: string): boolean {
  const a = address.toLowerCase();
  return a === "::1" || a.startsWith("::ffff:127.");
}

/** Strips a `%scope` suffix. */
function unscoped(address: string): string {
  const i = address.indexOf("%");
  return i < 0 ? address : address.slice(0, i);
}

/** Options of {@linkcode UdpListeners.open}. */
export interface UdpOptions {
  /**
   * Largest datagram read whole, in octets (default 16384); longer ones arrive cut and are
   * dropped as malformed. Under Deno, `node:dgram` allocates a read buffer of this size for
   * every datagram (its `setRecvBufferSize` sets that buffer, not SO_RCVBUF, and doubles the
   * value on Linux), so a size near real DHCPv6 messages roughly doubles the datagrams per
   * second a socket can take compared with the 64 KiB default.
   */
  maxDatagramSize?: number;
}

/** Default of {@linkcode UdpOptions.maxDatagramSize}. */
export const DEFAULT_MAX_DATAGRAM = 16384;

interface Open {
  info: ListenerInfo;
  socket: dgram.Socket;
}

/** The open sockets of a server. */
export class UdpListeners {
  readonly #open: Open[];
  #closed = false;
  /** Datagrams received. */
  received = 0;
  /** Sends that failed. */
  sendErrors = 0;

  private constructor(open: Open[]) {
    this.#open = open;
  }

  /**
   * Opens one socket per entry and calls `onDatagram` for each datagram. On failure closes
   * what was opened and throws a {@linkcode ListenError}.
   */
  static async open(
    entries: readonly ListenEntry[],
    onDatagram: DatagramHandler,
    options: UdpOptions = {},
    onError: (e: Error, listener: ListenerInfo) => void = () => {},
  ): Promise<UdpListeners> {
    const open: Open[] = [];
    const self = new UdpListeners(open);
    try {
      for (const [id, entry] of entries.entries()) {
        open.push(
          await openOne(id, entry, options, onError, (bytes, from, info) => {
            self.received++;
            onDatagram(bytes, from, info);
          }),
        );
      }
    } catch (e) {
      await self.close();
      throw e;
    }
    return self;
  }

  /** The open sockets. */
  get listeners(): ListenerInfo[] {
    return this.#open.map((o) => ({ ...o.info }));
  }

  /**
   * Sends `bytes` to `address`/`port` through listener `id`. Resolves when the operating
   * system took the datagram; rejects with its error otherwise.
   */
  send(id: number, bytes: Uint8Array, address: string, port: number): Promise<void> {
    return new Promise((resolve, reject) =>
      this.sendWith(id, bytes, address, port, (e) => e === null ? resolve() : reject(e))
    );
  }

  /**
   * {@linkcode UdpListeners.send} with a callback instead of a promise (the per-datagram
   * path): `done(null)` once the operating system took the datagram, `done(error)` otherwise.
   * `done` is called exactly once, possibly before this returns.
   */
  sendWith(
    id: number,
    bytes: Uint8Array,
    address: string,
    port: number,
    done: (error: Error | null) => void,
  ): void {
    const o = this.#open[id];
    if (o === undefined || this.#closed) {
      this.sendErrors++;
      done(new Error(`listener ${id} is not open`));
      return;
    }
    let called = false;
    try {
      // A multicast socket is bound to ff02::1:2%IF, which ties it to that interface: a
      // link-local client is reached without a %IF scope (which would cost an interface-name
      // lookup on every send).
      o.socket.send(bytes, port, address, (err) => {
        if (called) return;
        called = true;
        if (err) this.sendErrors++;
        done(err ?? null);
      });
    } catch (e) {
      if (called) return;
      called = true;
      this.sendErrors++;
      done(e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** Stops receiving and closes every socket (idempotent). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#open.map((o) =>
      new Promise<void>((resolve) => {
        try {
          o.socket.close(() => resolve());
        } catch {
          resolve();
        }
      })
    ));
  }
}

/**
 * A `lookup` for a socket: once `ready()` (bound), the addresses it sends to are IPv6
 * literals without a scope (a datagram's source), passed through as they are, without
 * `dns.lookup`'s checks and deferred callback on every send; before that (the bind, which
 * expects its lookup to answer later) and for anything else it is `dns.lookup`.
 */
function literalLookup(ready: () => boolean) {
  return (
    address: string,
    options: LookupOneOptions,
    callback: (error: NodeJS.ErrnoException | null, address: string, family: number) => void,
  ): void => {
    if (ready() && address.indexOf("%") < 0 && address.indexOf(":") >= 0) {
      callback(null, address, 6);
    } else dnsLookup(address, options, callback);
  };
}

function openOne(
  id: number,
  entry: ListenEntry,
  options: UdpOptions,
  onError: (e: Error, listener: ListenerInfo) => void,
  onDatagram: DatagramHandler,
): Promise<Open> {
  let ready = false;
  const socket = dgram.createSocket({
    type: "udp6",
    reuseAddr: entry.kind === "multicast",
    lookup: literalLookup(() => ready),
  });
  const bindAddress = entry.kind === "unicast"
    ? entry.address
    : `${ALL_DHCP_RELAY_AGENTS_AND_SERVERS}%${entry.interface}`;
  const info: ListenerInfo = entry.kind === "unicast"
    ? {
      id,
      kind: "unicast",
      address: entry.address,
      port: entry.port,
      unicast: !isLoopback(entry.address),
    }
    : {
      id,
      kind: "multicast",
      address: ALL_DHCP_RELAY_AGENTS_AND_SERVERS,
      port: entry.port,
      interface: entry.interface,
      unicast: false,
    };
  return new Promise<Open>((resolve, reject) => {
    let bound = false;
    const fail = (e: unknown) => {
      try {
        socket.close();
      } catch { /* not open */ }
      let why = e instanceof Error ? e.message : String(e);
      if (entry.kind === "multicast" && /UNKNOWN|ENODEV|EINVAL|EADDRNOTAVAIL/.test(why)) {
        why += ` (is interface ${entry.interface} present and up?)`;
      }
      reject(
        new ListenError(entry, `cannot listen on ${describeListenEntry(entry)}: ${why}`, {
          cause: e,
        }),
      );
    };
    socket.on("error", (e: Error) => {
      if (!bound) fail(e);
      else onError(e, info);
    });
    socket.on("message", (msg: Buffer, rinfo: dgram.RemoteInfo) => {
      onDatagram(
        new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength),
        { address: unscoped(rinfo.address), port: rinfo.port },
        info,
      );
    });
    try {
      socket.bind({ address: bindAddress, port: entry.port, exclusive: true }, () => {
        try {
          if (entry.kind === "multicast") {
            socket.addMembership(ALL_DHCP_RELAY_AGENTS_AND_SERVERS, `::%${entry.interface}`);
            socket.setMulticastInterface(`::%${entry.interface}`);
          }
          const max = Math.max(1500, options.maxDatagramSize ?? DEFAULT_MAX_DATAGRAM);
          // Deno doubles the value on Linux (as libuv does for SO_RCVBUF).
          socket.setRecvBufferSize(Deno.build.os === "linux" ? Math.ceil(max / 2) : max);
          info.port = socket.address().port;
        } catch (e) {
          fail(e);
          return;
        }
        bound = true;
        ready = true;
        resolve({ info, socket });
      });
    } catch (e) {
      fail(e);
    }
  });
}
