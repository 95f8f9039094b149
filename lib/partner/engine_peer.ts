/**
 * Our own failover engine (lib/failover `EngineDriver`) run over a partner {@linkcode Network}
 * and {@linkcode Scheduler}: the compliant peer behind `failover6 partner --auto`, and the
 * system under test when the conformance suite is run against our implementation. As primary
 * it connects and reconnects after a pause; as secondary it listens and takes the newest
 * connection.
 *
 * @module
 */

import { type DriverHooks, EngineDriver } from "../failover/driver.ts";
import type { EngineConfig } from "../failover/engine.ts";
import type { Scheduler as NamedScheduler } from "../failover/scheduler.ts";
import { MemoryBindingStore } from "../store/memory.ts";
import type { BindingStore } from "../store/types.ts";
import { type Conn, type Endpoint, formatEndpoint, type Listener, type Network } from "./net.ts";
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
  /** The network to listen or connect on. */
  network: Network;
  /** Clock and timers (virtual in tests). */
  scheduler: Scheduler;
  /** Secondary: where to listen. */
  listen?: Endpoint;
  /** Primary: where to connect. */
  connect?: Endpoint;
  /** Primary: pause before reconnecting, ms (default 1000). */
  retryMs?: number;
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
  #listener: Listener | undefined;
  #conn: Conn | undefined;
  #stopped = false;
  #retry: TimerId | undefined;
  #reading: Promise<void> = Promise.resolve();
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

  /** Where it listens (secondary). */
  get local(): Endpoint | undefined {
    return this.#listener?.local;
  }

  /** Starts the engine and listens or connects. */
  start(): void {
    this.driver.start();
    if (this.#o.config.role === "secondary") {
      this.#listener = this.#o.network.listen(this.#o.listen ?? { address: "::", port: 647 });
      this.#acceptLoop(this.#listener);
    } else this.#dial();
  }

  async #acceptLoop(l: Listener): Promise<void> {
    while (!this.#stopped) {
      let c: Conn;
      try {
        c = await l.accept();
      } catch {
        return;
      }
      if (this.#stopped) {
        c.close();
        return;
      }
      this.#use(c, false);
    }
  }

  #dial(): void {
    if (this.#stopped || this.#conn) return;
    const to = this.#o.connect!;
    this.#o.network.connect(to).then((c) => {
      if (this.#stopped) return c.close();
      this.#use(c, true);
    }, (e) => {
      this.#log(`cannot connect to ${formatEndpoint(to)}: ${e instanceof Error ? e.message : e}`);
      this.#scheduleDial();
    });
  }

  #scheduleDial(): void {
    if (this.#stopped || this.#o.config.role !== "primary" || this.#retry !== undefined) return;
    this.#retry = this.#o.scheduler.setTimer(this.#o.retryMs ?? 1000, () => {
      this.#retry = undefined;
      this.#dial();
    });
  }

  #use(c: Conn, weConnected: boolean): void {
    const old = this.#conn;
    this.#conn = c;
    if (old) old.close();
    this.connections++;
    this.#log(`connection ${weConnected ? "to" : "from"} ${formatEndpoint(c.remote)}`);
    this.#o.onConnection?.(c, weConnected);
    let closedByUs = false;
    const transport = {
      write: (b: Uint8Array) => c.write(b),
      close: () => {
        closedByUs = true;
        c.close();
      },
    };
    this.driver.attach(transport, formatEndpoint(c.remote));
    this.#reading = (async () => {
      while (true) {
        const chunk = await c.read();
        if (chunk === null) break;
        if (this.#conn !== c) return;
        this.driver.receive(chunk);
      }
      if (this.#conn === c) {
        this.#conn = undefined;
        this.driver.detach(closedByUs ? "closed" : "closed by the peer", transport);
      }
      this.#o.onDisconnect?.(c, closedByUs);
      this.#scheduleDial();
    })();
  }

  /** Shuts the engine down (DISCONNECT), stops listening and connecting. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#retry !== undefined) this.#o.scheduler.clearTimer(this.#retry);
    this.#listener?.close();
    await this.driver.stop();
    this.#conn?.close();
    await this.#reading;
  }
}
