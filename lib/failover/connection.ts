/**
 * The TCP shell of the failover connection (RFC 8156 §6.1): the primary connects to the
 * secondary and keeps retrying with backoff (less often after a rejection); the secondary
 * listens (TCP 647 by default), drops peers it has no relationship with, and hands each
 * connection to the {@linkcode EngineDriver} of the relationship named in the CONNECT.
 * Optional STARTTLS (RFC 7653 §8.2, §9.1) comes from `tls.ts`.
 *
 * @module
 */

import { FAILOVER_PORT } from "../wire/types.ts";
import { Deframer } from "../wire/framing.ts";
import { decodeMessage } from "../wire/decode.ts";
import { findOption } from "../wire/options.ts";
import { canonicalIPv6 } from "../util/ipv6.ts";
import type { EngineDriver, Transport } from "./driver.ts";

/**
 * What the shell drives over a connection: an {@linkcode EngineDriver}, or any peer with the
 * same connection-facing shape (the test partner's double uses this).
 */
export interface ConnectionDriver {
  /** The relationship name; the secondary picks the driver whose name the CONNECT carries. */
  readonly relationship: string;
  /** A connection is ready (after STARTTLS, if any). */
  attach(transport: Transport, peer?: string): void;
  /** Octets from the connection, as TCP delivered them. */
  receive(chunk: Uint8Array): void;
  /** The connection ended; with `transport`, only if that is still the attached one. */
  detach(reason: string, transport?: Transport): void;
  /** Says goodbye (DISCONNECT) and stops. */
  stop(): Promise<void>;
  /**
   * True once the partner accepted the connection (CONNECTREPLY without a status), which resets
   * the primary's backoff. An `EngineDriver` answers through its connection state instead.
   */
  readonly connectionAccepted?: boolean;
}

/** Whether `driver` has an accepted connection now (see {@linkcode ConnectionDriver}). */
function accepted(driver: ConnectionDriver): boolean {
  if (driver.connectionAccepted !== undefined) return driver.connectionAccepted;
  const state = (driver as Partial<Pick<EngineDriver, "state">>).state;
  return state?.comms.phase === "ok";
}

/** One-shot timers for the primary's backoff (default `setTimeout`; a virtual clock in tests). */
export interface ShellTimers {
  /** Runs `callback` once after `delayMs`. */
  setTimer(delayMs: number, callback: () => void): number;
  /** Cancels a timer. */
  clearTimer(id: number): void;
}

const wallHandles = new Map<number, ReturnType<typeof setTimeout>>();
let wallNextId = 1;
const wallTimers: ShellTimers = {
  setTimer(delayMs, callback) {
    const id = wallNextId++;
    wallHandles.set(
      id,
      setTimeout(() => {
        wallHandles.delete(id);
        callback();
      }, Math.max(0, delayMs)),
    );
    return id;
  },
  clearTimer(id) {
    clearTimeout(wallHandles.get(id));
    wallHandles.delete(id);
  },
};

/** Observers of the connections a shell makes or accepts (e.g. to capture them). */
export interface ConnectionObservers {
  /** A connection is ready and about to be attached (`weConnected`: we are the primary). */
  onConnection?(stream: ByteStream, weConnected: boolean): void;
  /** It ended; `byUs` when our side closed it (the engine, or `stop`). */
  onConnectionEnd?(stream: ByteStream, byUs: boolean, reason: string): void;
}

/** Something to read octets from and write octets to (a `Deno.Conn` or a TLS connection). */
export interface ByteStream {
  /** Reads into `p`; the octet count, or `null` at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes from `p`; resolves with the octets written. */
  write(p: Uint8Array): Promise<number>;
  /** Closes the stream. */
  close(): void;
}

/** Turns Nagle's algorithm off where the stream allows it (small messages, no 40 ms stalls). */
export function noDelay(conn: unknown): void {
  const c = conn as { setNoDelay?: (on: boolean) => void };
  try {
    c.setNoDelay?.(true);
  } catch {
    // not a TCP connection
  }
}

/** Wraps a byte stream as a {@linkcode Transport}; `closed` tells why the engine closed it. */
export function streamTransport(
  conn: ByteStream,
): Transport & { closedBy?: { reason: string; rejected: boolean }; closedLocally?: boolean } {
  let closed = false;
  const t: Transport & {
    closedBy?: { reason: string; rejected: boolean };
    closedLocally?: boolean;
  } = {
    async write(data: Uint8Array): Promise<void> {
      let off = 0;
      while (off < data.length) off += await conn.write(data.subarray(off));
    },
    close(info?: { reason: string; rejected: boolean }): void {
      if (info) t.closedBy = info;
      if (closed) return;
      closed = true;
      t.closedLocally = true;
      try {
        conn.close();
      } catch {
        // already closed
      }
    },
  };
  return t;
}

/** Reads `conn` into the driver until EOF or error; returns why it ended. */
export async function readInto(
  conn: ByteStream,
  driver: Pick<ConnectionDriver, "receive">,
  first?: Uint8Array,
  onChunk?: () => void,
): Promise<string> {
  if (first && first.length > 0) {
    driver.receive(first);
    onChunk?.();
  }
  // Large reads: every message of a read is handled in one engine step and one commit.
  const buf = new Uint8Array(256 * 1024);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return "closed by the partner";
      driver.receive(buf.subarray(0, n));
      onChunk?.();
    }
  } catch (e) {
    return `connection error: ${(e as Error)?.message ?? e}`;
  }
}

/** Retry periods of the primary (ms). */
export interface BackoffPolicy {
  /** First retry after a lost connection (default 1000). */
  initialMs: number;
  /** Longest period between retries (default 30000). */
  maxMs: number;
  /** Period after a rejection (CONNECTREPLY with a status, or DISCONNECT; default 60000). */
  rejectedMs: number;
}

/** Establishes the failover TCP connection (plain or, through `tls.ts`, secured). */
export type Connector = (hostname: string, port: number) => Promise<ByteStream>;

/** Options of {@linkcode runPrimary}. */
export interface PrimaryOptions extends ConnectionObservers {
  /** The engine driver of the relationship (started). */
  driver: ConnectionDriver;
  /** The secondary's address. */
  hostname: string;
  /** Default 647. */
  port?: number;
  /** Retry periods (see {@linkcode BackoffPolicy}). */
  backoff?: Partial<BackoffPolicy>;
  /** How to connect (default `Deno.connect`); `tls.ts` provides a STARTTLS connector. */
  connect?: Connector;
  /**
   * How long one connection attempt may take, ms (default {@linkcode CONNECT_TIMEOUT_MS}): a
   * SYN to an unreachable partner would otherwise wait for the kernel to give up (minutes),
   * and the retry after the partner is back would wait for the next SYN retransmission.
   */
  connectTimeoutMs?: number;
  /** One line per connection event. */
  log?: (line: string) => void;
  /** Timers for the backoff (default `setTimeout`). */
  timers?: ShellTimers;
}

/** Default limit of one connection attempt of a primary, ms. */
export const CONNECT_TIMEOUT_MS = 5000;

/**
 * `connect`, failing after `ms` (on `timers`); a connection that completes after that is
 * closed at once.
 */
function connectWithin(
  connect: () => Promise<ByteStream>,
  ms: number,
  timers: ShellTimers,
): Promise<ByteStream> {
  return new Promise((resolve, reject) => {
    let late = false;
    const id = timers.setTimer(ms, () => {
      late = true;
      reject(new Error(`no connection within ${ms} ms`));
    });
    connect().then((conn) => {
      if (!late) {
        timers.clearTimer(id);
        resolve(conn);
        return;
      }
      try {
        conn.close();
      } catch { /* closed */ }
    }, (e) => {
      if (late) return;
      timers.clearTimer(id);
      reject(e);
    });
  });
}

/** A running connection loop. */
export interface ConnectionHandle {
  /** Stops retrying, sends DISCONNECT if connected, closes. */
  stop(): Promise<void>;
  /** Resolves when the loop has ended. */
  done: Promise<void>;
}

function sleep(
  ms: number,
  signal: { stopped: boolean; wake?: () => void },
  timers: ShellTimers,
): Promise<void> {
  return new Promise((resolve) => {
    if (signal.stopped) return resolve();
    const id = timers.setTimer(ms, resolve);
    signal.wake = () => {
      timers.clearTimer(id);
      resolve();
    };
  });
}

/**
 * The primary's side (§6.1): connect, run the engine over the connection, and after it ends
 * retry — `initialMs` doubling up to `maxMs`, or `rejectedMs` after a rejection — until
 * stopped. The driver must have been started.
 *
 * @example A primary and a secondary over an in-memory network (default: `Deno.connect`)
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   type ByteStream,
 *   type Conn,
 *   type ConnListener,
 *   EngineDriver,
 *   FakeClock,
 *   ManualScheduler,
 *   MemoryBindingStore,
 *   MemoryNetwork,
 *   type Role,
 *   runPrimary,
 *   runSecondary,
 * } from "@failover6/failover6";
 *
 * // The shells read and write a `ByteStream` (what `Deno.connect` returns); adapt a memory `Conn`.
 * function byteStream(conn: Conn): ByteStream {
 *   let rest: Uint8Array = new Uint8Array(0);
 *   return {
 *     async read(p) {
 *       if (rest.length === 0) rest = (await conn.read()) ?? new Uint8Array(0);
 *       if (rest.length === 0) return null;
 *       const n = Math.min(p.length, rest.length);
 *       p.set(rest.subarray(0, n));
 *       rest = rest.subarray(n);
 *       return n;
 *     },
 *     write: (p) => conn.write(p).then(() => p.length),
 *     close: () => conn.close(),
 *   };
 * }
 * const net = new MemoryNetwork("2001:db8::1"); // connections come from 2001:db8::1
 * const sockets = net.listen({ address: "2001:db8::2", port: 647 });
 * const listener: ConnListener = {
 *   addr: { transport: "tcp", hostname: "2001:db8::2", port: 647 },
 *   async accept() {
 *     const conn = await sockets.accept();
 *     const { address: hostname, port } = conn.remote;
 *     return { ...byteStream(conn), remoteAddr: { transport: "tcp", hostname, port } };
 *   },
 *   close: () => sockets.close(),
 * };
 *
 * const clock = new FakeClock(1709294400000);
 * const endpoint = (role: Role) =>
 *   new EngineDriver({
 *     config: { role, relationship: "pair", mclt: 3600 },
 *     store: new MemoryBindingStore(),
 *     clock,
 *     scheduler: new ManualScheduler(clock),
 *   });
 * const primary = endpoint("primary");
 * const secondary = endpoint("secondary");
 * const inNormal = (d: EngineDriver) =>
 *   new Promise<void>((resolve) => d.onStateChange((_, to) => to === "NORMAL" && resolve()));
 * const bothNormal = Promise.all([inNormal(primary), inNormal(secondary)]);
 * primary.start();
 * secondary.start();
 *
 * const server = runSecondary({ drivers: [secondary], listener, allowedPeers: ["2001:db8::1"] });
 * const client = runPrimary({
 *   driver: primary,
 *   hostname: "2001:db8::2",
 *   connect: async (hostname, port) => byteStream(await net.connect({ address: hostname, port })),
 * });
 * await bothNormal;
 * await client.stop();
 * await server.stop();
 * assert.equal(primary.endpointState, "NORMAL");
 * ```
 */
export function runPrimary(options: PrimaryOptions): ConnectionHandle {
  const port = options.port ?? FAILOVER_PORT;
  const policy: BackoffPolicy = {
    initialMs: options.backoff?.initialMs ?? 1000,
    maxMs: options.backoff?.maxMs ?? 30_000,
    rejectedMs: options.backoff?.rejectedMs ?? 60_000,
  };
  const connect: Connector = options.connect ??
    ((hostname, p) => Deno.connect({ hostname, port: p, transport: "tcp" }));
  const log = options.log ?? (() => {});
  const timers = options.timers ?? wallTimers;
  const driver = options.driver;
  const signal: { stopped: boolean; wake?: () => void; conn?: ByteStream } = { stopped: false };
  const done = (async () => {
    let delay = policy.initialMs;
    while (!signal.stopped) {
      let conn: ByteStream;
      try {
        conn = await connectWithin(
          () => connect(options.hostname, port),
          options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
          timers,
        );
      } catch (e) {
        log(`connect to [${options.hostname}]:${port} failed: ${(e as Error)?.message ?? e}`);
        await sleep(delay, signal, timers);
        delay = Math.min(policy.maxMs, delay * 2);
        continue;
      }
      if (signal.stopped) {
        conn.close();
        break;
      }
      noDelay(conn);
      signal.conn = conn;
      const transport = streamTransport(conn);
      log(`connected to [${options.hostname}]:${port}`);
      options.onConnection?.(conn, true);
      driver.attach(transport, options.hostname);
      let sawOk = false;
      const why = await readInto(conn, driver, undefined, () => {
        if (accepted(driver)) sawOk = true;
      });
      signal.conn = undefined;
      const byUs = transport.closedLocally === true || signal.stopped;
      driver.detach(why, transport);
      options.onConnectionEnd?.(conn, byUs, transport.closedBy?.reason ?? why);
      if (signal.stopped) break;
      const rejected = transport.closedBy?.rejected === true;
      if (sawOk) delay = policy.initialMs;
      const wait = rejected ? Math.max(policy.rejectedMs, delay) : delay;
      log(`connection ended (${transport.closedBy?.reason ?? why}); retrying in ${wait} ms`);
      await sleep(wait, signal, timers);
      if (!sawOk && !rejected) delay = Math.min(policy.maxMs, delay * 2);
    }
  })();
  return {
    done,
    async stop() {
      signal.stopped = true;
      signal.wake?.();
      await driver.stop();
      try {
        signal.conn?.close();
      } catch {
        // closed
      }
      await done;
    },
  };
}

/** A listener that yields connections (a `Deno.Listener` fits). */
export interface ConnListener {
  /** The next incoming connection; rejects once closed. */
  accept(): Promise<ByteStream & { remoteAddr: Deno.Addr }>;
  /** Stops listening. */
  close(): void;
  /** Where it listens. */
  addr: Deno.Addr;
}

/** Prepares an accepted connection, e.g. answers STARTTLS and upgrades (see `tls.ts`). */
export type Acceptor = (
  conn: ByteStream & { remoteAddr: Deno.Addr },
) => Promise<{ stream: ByteStream; first?: Uint8Array } | undefined>;

/** Options of {@linkcode runSecondary}. */
export interface SecondaryOptions extends ConnectionObservers {
  /** One driver per relationship this server is secondary in (started). */
  drivers: ConnectionDriver[];
  /** Address to listen on (default `::`). */
  hostname?: string;
  /** Default 647; 0 picks a free port (see the handle's `addr`). */
  port?: number;
  /** Addresses of the primaries; connections from anywhere else are dropped (§6.1). */
  allowedPeers?: string[];
  /** Per-connection preparation (STARTTLS); default: none. */
  accept?: Acceptor;
  /** A listener to use instead of `Deno.listen`. */
  listener?: ConnListener;
  /** One line per connection event. */
  log?: (line: string) => void;
}

/** A running listener. */
export interface ListenerHandle extends ConnectionHandle {
  /** Where it listens. */
  addr: Deno.NetAddr;
}

function normalise(address: string): string {
  const a = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const v4mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (v4mapped) return v4mapped[1];
  return canonicalIPv6(a) ?? a;
}

/** Reads until one whole frame is buffered; returns the octets read, or undefined on EOF. */
async function readFirstFrame(conn: ByteStream): Promise<Uint8Array | undefined> {
  const d = new Deframer();
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65_537);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) return undefined;
    const c = buf.slice(0, n);
    chunks.push(c);
    const r = d.push(c);
    if (r.frames.length > 0 || r.error) break;
  }
  const size = chunks.reduce((k, c) => k + c.length, 0);
  const out = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** The driver for a connection, chosen by the CONNECT's relationship name (§6.2). */
function pickDriver(
  first: Uint8Array,
  drivers: ConnectionDriver[],
): ConnectionDriver | undefined {
  const size = (first[0] << 8) | first[1];
  const { message } = decodeMessage(first.subarray(2, 2 + size));
  const name = message?.kind === "failover" && message.msgType === 31
    ? findOption(message.options, 130)?.relationshipName
    : undefined;
  if (name !== undefined) {
    const d = drivers.find((x) => x.relationship === name);
    if (d) return d;
  }
  // No (known) name: with a single relationship the driver answers (and rejects) itself.
  return drivers.length === 1 ? drivers[0] : undefined;
}

/**
 * The secondary's side (§6.1): listen, drop connections from unknown peers, and run each
 * accepted connection on the driver its CONNECT names. A new connection for a relationship
 * replaces the old one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   type ConnListener,
 *   EngineDriver,
 *   FakeClock,
 *   ManualScheduler,
 *   MemoryBindingStore,
 *   runSecondary,
 * } from "@failover6/failover6";
 *
 * // Without `listener`, it listens with `Deno.listen` on [::]:647 (see runPrimary for a pair).
 * let stopAccepting = () => {};
 * const listener: ConnListener = {
 *   addr: { transport: "tcp", hostname: "::", port: 647 },
 *   accept: () => new Promise((_, reject) => (stopAccepting = () => reject(new Error("closed")))),
 *   close: () => stopAccepting(),
 * };
 * const clock = new FakeClock(1709294400000);
 * const secondary = new EngineDriver({
 *   config: { role: "secondary", relationship: "pair", mclt: 3600 },
 *   store: new MemoryBindingStore(),
 *   clock,
 *   scheduler: new ManualScheduler(clock),
 * });
 * secondary.start();
 * const handle = runSecondary({ drivers: [secondary], listener, allowedPeers: ["2001:db8::1"] });
 * assert.equal(handle.addr.port, 647);
 * await handle.stop();
 * await handle.done;
 * ```
 */
export function runSecondary(options: SecondaryOptions): ListenerHandle {
  const listener: ConnListener = options.listener ??
    Deno.listen({
      hostname: options.hostname ?? "::",
      port: options.port ?? FAILOVER_PORT,
      transport: "tcp",
    });
  const log = options.log ?? (() => {});
  const allowed = options.allowedPeers?.map(normalise);
  const open = new Set<ByteStream>();
  let stopped = false;
  const serve = async (conn: ByteStream & { remoteAddr: Deno.Addr }) => {
    const peer = "hostname" in conn.remoteAddr ? normalise(conn.remoteAddr.hostname) : "";
    if (allowed && !allowed.includes(peer)) {
      log(`dropping a connection from ${peer}: no relationship with it (§6.1)`);
      conn.close();
      return;
    }
    open.add(conn);
    noDelay(conn);
    try {
      let stream: ByteStream = conn;
      let first: Uint8Array | undefined;
      if (options.accept) {
        const prepared = await options.accept(conn);
        if (!prepared) return;
        stream = prepared.stream;
        first = prepared.first;
        open.add(stream);
      }
      first = first && first.length >= 2 ? first : await readFirstFrame(stream);
      if (!first) return;
      const driver = pickDriver(first, options.drivers);
      if (!driver) {
        log(`dropping a connection from ${peer}: CONNECT names no relationship served here`);
        stream.close();
        return;
      }
      log(`connection from ${peer} for relationship ${JSON.stringify(driver.relationship)}`);
      const transport = streamTransport(stream);
      options.onConnection?.(stream, false);
      driver.attach(transport, peer);
      const why = await readInto(stream, driver, first);
      const byUs = transport.closedLocally === true || stopped;
      // Only if this connection is still the driver's (a newer one may have replaced it).
      driver.detach(why, transport);
      open.delete(stream);
      options.onConnectionEnd?.(stream, byUs, transport.closedBy?.reason ?? why);
    } catch (e) {
      log(`connection from ${peer} failed: ${(e as Error)?.message ?? e}`);
    } finally {
      open.delete(conn);
      try {
        conn.close();
      } catch {
        // closed
      }
    }
  };
  const done = (async () => {
    while (!stopped) {
      let conn;
      try {
        conn = await listener.accept();
      } catch {
        break;
      }
      serve(conn);
    }
  })();
  return {
    addr: listener.addr as Deno.NetAddr,
    done,
    async stop() {
      stopped = true;
      for (const d of options.drivers) await d.stop();
      try {
        listener.close();
      } catch {
        // closed
      }
      for (const c of open) {
        try {
          c.close();
        } catch {
          // closed
        }
      }
      await done;
    },
  };
}
