/**
 * Our own failover engine (lib/failover `EngineDriver`) run by the shared connection shell
 * (lib/failover/connection.ts `runPrimary`/`runSecondary`: backoff, CONNECT/CONNECTREPLY checks,
 * keepalive, flow control, STARTTLS) over a partner {@linkcode Network} and
 * {@linkcode Scheduler}: the compliant peer behind `failover6 partner --auto`, and the system
 * under test when the conformance suite is run against our implementation. It behaves as
 * `serve`'s engine does: as primary it connects and retries with backoff, as secondary it
 * listens and a new connection replaces the old one. With `tls` it runs secure mode (RFC 7653
 * §8.2, §9.1) over real TCP (`node:net`/`node:tls`), whatever `network` is.
 *
 * @module
 */

import { type DriverHooks, EngineDriver } from "../failover/driver.ts";
import type { EngineConfig } from "../failover/engine.ts";
import type { Scheduler as NamedScheduler } from "../failover/scheduler.ts";
import {
  type BackoffPolicy,
  type ByteStream,
  type ConnectionHandle,
  type ConnListener,
  runPrimary,
  runSecondary,
} from "../failover/connection.ts";
import {
  nodeListener,
  startTlsAcceptor,
  startTlsConnector,
  type TlsOptions,
} from "../failover/tls.ts";
import { MemoryBindingStore } from "../store/memory.ts";
import type { BindingStore } from "../store/types.ts";
import {
  type Conn,
  connOfStream,
  type Endpoint,
  type Network,
  networkConnector,
  shellListener,
} from "./net.ts";
import type { Scheduler, TimerId } from "./scheduler.ts";

/** The engine's named timers on a partner scheduler. */
export class NamedTimers implements NamedScheduler {
  readonly #s: Scheduler;
  readonly #ids = new Map<string, TimerId>();

  /** Wraps `scheduler`. */
  constructor(scheduler: Scheduler) {
    this.#s = scheduler;
  }

  set(name: string, at: number, fn: () => void): void {
    this.cancel(name);
    const id = this.#s.setTimer(at - this.#s.now(), () => {
      this.#ids.delete(name);
      fn();
    });
    this.#ids.set(name, id);
  }

  cancel(name: string): void {
    const id = this.#ids.get(name);
    if (id !== undefined) this.#s.clearTimer(id);
    this.#ids.delete(name);
  }

  cancelAll(): void {
    for (const id of this.#ids.values()) this.#s.clearTimer(id);
    this.#ids.clear();
  }
}

/** Options of {@linkcode EnginePeer}. */
export interface EnginePeerOptions {
  /** The engine's configuration. */
  config: EngineConfig;
  /** The network to listen or connect on (unused with `tls`: that is real TCP). */
  network: Network;
  /** Clock and timers (virtual in tests). */
  scheduler: Scheduler;
  /** Secondary: where to listen. */
  listen?: Endpoint;
  /** Primary: where to connect. */
  connect?: Endpoint;
  /** Primary: first pause before reconnecting, ms (the backoff's `initialMs`; default 1000). */
  retryMs?: number;
  /** Primary: the whole retry policy (default: the shell's, with `retryMs` as `initialMs`). */
  backoff?: Partial<BackoffPolicy>;
  /** Secure mode: STARTTLS with certificates verified both ways (real TCP only). */
  tls?: TlsOptions;
  /**
   * Secondary in insecure mode over real TCP (`node:net`; `network` unused): answer STARTTLS with
   * REPLY + TLSConnectionRefused, as `serve` does (RFC 7653 §9.1). Ignored with `tls`.
   */
  refuseStartTls?: boolean;
  /** Bindings (default: a fresh in-memory store). */
  store?: BindingStore;
  /** Observers of the driver. */
  hooks?: DriverHooks;
  /** Connection events, one line each. */
  log?: (line: string) => void;
  /** Called for each new connection (e.g. to start a capture of it). */
  onConnection?: (conn: Conn, weConnected: boolean) => void;
  /** Called when a connection ends. */
  onDisconnect?: (conn: Conn, byUs: boolean) => void;
}

/**
 * The engine on a partner network.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EnginePeer, MemoryNetwork } from "@failover6/failover6";
 * import { VirtualScheduler } from "./scheduler.ts"; // not in mod.ts yet (see its docs)
 *
 * const scheduler = new VirtualScheduler();
 * const network = new MemoryNetwork();
 * const peer = new EnginePeer({
 *   config: { role: "secondary", relationship: "pair", mclt: 3600 },
 *   network,
 *   scheduler,
 *   listen: { address: "2001:db8::2", port: 647 },
 * });
 * peer.start();
 * assert.deepEqual(peer.local, { address: "2001:db8::2", port: 647 });
 * assert.equal(peer.driver.endpointState, "STARTUP");
 * await scheduler.run(peer.stop());
 * ```
 */
export class EnginePeer {
  /** The engine driver. */
  readonly driver: EngineDriver;
  /** The bindings the engine keeps. */
  readonly store: BindingStore;
  readonly #o: EnginePeerOptions;
  #local: Endpoint | undefined;
  #handle: ConnectionHandle | undefined;
  #conns = new Map<ByteStream, Conn>();
  #stopped = false;
  /** Connections made or accepted. */
  connections = 0;

  /** Creates the engine (call `start`). */
  constructor(o: EnginePeerOptions) {
    this.#o = o;
    this.store = o.store ?? new MemoryBindingStore();
    const userClose = o.hooks?.onClose;
    this.driver = new EngineDriver({
      config: o.config,
      store: this.store,
      clock: o.scheduler,
      scheduler: new NamedTimers(o.scheduler),
      hooks: {
        ...o.hooks,
        onClose: (reason, rejected) => {
          userClose?.(reason, rejected);
          this.#log(`engine closes the connection: ${reason}`);
        },
      },
    });
  }

  #log(line: string): void {
    this.#o.log?.(line);
  }

  /** Where it listens (secondary; with `tls`, once `start` has resolved). */
  get local(): Endpoint | undefined {
    return this.#local;
  }

  #observers() {
    return {
      onConnection: (stream: ByteStream, weConnected: boolean) => {
        const conn = connOfStream(stream);
        this.#conns.set(stream, conn);
        this.connections++;
        this.#o.onConnection?.(conn, weConnected);
      },
      onConnectionEnd: (stream: ByteStream, byUs: boolean) => {
        const conn = this.#conns.get(stream) ?? connOfStream(stream);
        this.#conns.delete(stream);
        this.#o.onDisconnect?.(conn, byUs);
      },
    };
  }

  /**
   * Starts the engine and listens or connects. Without `tls` or `refuseStartTls` everything is
   * in place when it returns; with them the listener is open once the promise resolves (a
   * listen error rejects it).
   */
  start(): Promise<void> {
    this.driver.start();
    const o = this.#o;
    const log = (line: string) => this.#log(line);
    if (o.config.role === "primary") {
      const to = o.connect ?? { address: "::1", port: 647 };
      this.#handle = runPrimary({
        driver: this.driver,
        hostname: to.address,
        port: to.port,
        backoff: { initialMs: o.retryMs ?? 1000, ...o.backoff },
        connect: o.tls ? startTlsConnector(o.tls) : networkConnector(o.network),
        timers: o.scheduler,
        log,
        ...this.#observers(),
      });
      return Promise.resolve();
    }
    const on = o.listen ?? { address: "::", port: 647 };
    const serve = (listener: ConnListener) => {
      const a = listener.addr as Deno.NetAddr;
      this.#local = { address: a.hostname, port: a.port };
      this.#handle = runSecondary({
        drivers: [this.driver],
        listener,
        accept: o.tls || o.refuseStartTls ? startTlsAcceptor(o.tls, log) : undefined,
        log,
        ...this.#observers(),
      });
    };
    if (!o.tls && !o.refuseStartTls) {
      serve(shellListener(o.network.listen(on)));
      return Promise.resolve();
    }
    return nodeListener(on.address, on.port).then((l) => {
      if (this.#stopped) return l.close();
      serve(l);
    });
  }

  /** Shuts the engine down (DISCONNECT), stops listening and connecting. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#handle) await this.#handle.stop();
    else await this.driver.stop();
  }
}
