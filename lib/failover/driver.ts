/**
 * The imperative shell around the pure engine for one failover endpoint: it feeds the engine
 * events (bytes from the connection through the RFC 5460 `Deframer`, timers, operator
 * commands, lease changes) and carries out its actions: sends framed messages on a
 * {@linkcode Transport}, writes `persist` actions to the {@linkcode BindingStore} through a
 * {@linkcode BatchCommitter} and lets a message that follows a write reach the wire only after
 * that write has committed (BNDREPLY after storage, §7.5.2), runs the engine's timers on an
 * injected {@linkcode Scheduler}, and answers `read-bindings` from the store.
 *
 * The transport is anything that can write octets and close: `connection.ts` plugs TCP (and
 * TLS) sockets in; tests and the scriptable partner can plug their own.
 *
 * @module
 */

import { clearImmediate, setImmediate } from "node:timers";
import { Deframer, type Frame } from "../wire/framing.ts";
import { decodeMessage } from "../wire/decode.ts";
import { encodeFrames } from "../wire/encode.ts";
import type { FailoverMessage } from "../wire/types.ts";
import type { WireError } from "../wire/errors.ts";
import type { Clock } from "../util/clock.ts";
import { BatchCommitter } from "../store/batch.ts";
import type { BindingStore, Lease, LeaseKey, StoreWrite } from "../store/types.ts";
import {
  createEngine,
  type EngineConfig,
  type EngineState,
  lookupKeys,
  stepMany,
} from "./engine.ts";
import type { Action, EndpointStateName, Event, OperatorCommand } from "./types.ts";
import { leaseKeyText } from "./binding.ts";
import { RealScheduler, type Scheduler } from "./scheduler.ts";

/** Where the driver writes octets. */
export interface Transport {
  /** Writes all of `data`; resolves when written. */
  write(data: Uint8Array): Promise<void>;
  /**
   * Closes the connection (idempotent). `info` is given when the engine asked for the close:
   * why, and whether the CONNECT exchange failed (a primary then retries less often, §6.1).
   */
  close(info?: { reason: string; rejected: boolean }): void;
}

/** Observers of what flows through a driver (logging, pcap writing, tests). */
export interface DriverHooks {
  /** A message about to be written (after any storage commit it waits for). */
  onSend?(message: FailoverMessage, bytes: Uint8Array): void;
  /** A frame received, decoded (`message` absent when even the header was cut). */
  onReceive?(message: FailoverMessage | undefined, bytes: Uint8Array, errors: WireError[]): void;
  /** Every action the engine produced, in order. */
  onAction?(action: Action): void;
  /** The engine asked to close the connection. */
  onClose?(reason: string, rejected: boolean): void;
  /** A storage commit failed; the connection is closed (no BNDREPLY goes out). */
  onStoreError?(error: unknown): void;
}

/**
 * A store that can read many leases in one call (`SqliteBindingStore.getMany`): the driver
 * then looks up every lease named by the messages of one TCP read at once. The answer is in
 * the order of `keys`, `undefined` where there is no lease (or the key is not valid).
 */
export interface BulkLeaseReader {
  /** The leases of `keys`, in order. */
  getMany(keys: readonly LeaseKey[]): (Lease | undefined)[];
}

function bulkReader(store: BindingStore): BulkLeaseReader | undefined {
  const s = store as BindingStore & Partial<BulkLeaseReader>;
  return typeof s.getMany === "function" ? (s as BulkLeaseReader) : undefined;
}

/**
 * Where the driver's writes go: grouped, durable commits. A {@linkcode BatchCommitter} on the
 * store, or anything else that resolves a write only once it is committed (the server's
 * writer thread, for instance, so that the fsync of a commit does not stop this thread).
 */
export interface WriteCommitter {
  /** Resolves once `writes` are committed; rejects if they cannot be. */
  write(writes: readonly StoreWrite[]): Promise<void>;
  /** Starts committing what is queued; resolves when it has been handed on. */
  flush(): Promise<void>;
}

/** Options of {@linkcode EngineDriver}. */
export interface DriverOptions {
  /** The endpoint's configuration. */
  config: EngineConfig;
  /** Bindings and endpoint state. */
  store: BindingStore;
  /** The clock every event is stamped with. */
  clock: Clock;
  /** Timers (default: real timers on `clock`). */
  scheduler?: Scheduler;
  /** Grouped commits (default: a committer on `store` with a 0 ms window). */
  committer?: WriteCommitter;
  /** Observers. */
  hooks?: DriverHooks;
  /**
   * True when `store`'s reads already give the newest version of every lease, this driver's
   * writes still being committed included (a server's in-memory lease index, which other
   * writers such as client transactions and expiry change too). The driver then reads the
   * store alone: its own overlay of uncommitted writes could be older than the store's answer.
   * Default false: the driver lays its uncommitted writes over what the store returns.
   */
  storeIsCurrent?: boolean;
}

/** Counters of the shell. */
export interface DriverStats {
  /** Frames received. */
  framesIn: number;
  /** Frames sent. */
  framesOut: number;
  /** Octets received. */
  bytesIn: number;
  /** Octets sent. */
  bytesOut: number;
  /** Storage commits done (one per step that wrote; the committer may group several). */
  commits: number;
  /** Chunks received (TCP reads). */
  reads: number;
  /** Transport writes (each carries every message of one step that was ready to go). */
  writes: number;
}

const NO_BARRIER: Promise<void> = Promise.resolve();

/**
 * Messages handled per engine step when one read brings many. Small slices keep few decoded
 * messages alive at once, so the young-generation collections that run meanwhile find little
 * to copy: 256 cost about 4 µs less CPU per BNDUPD than 4096 in the UPDREQALL benchmark (64
 * and 1024 were both worse). One slice is handled per turn of the event loop (see
 * {@linkcode EngineDriver.receive}).
 */
const RECEIVE_SLICE = 256;

/**
 * Runs one engine: events in, actions out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   EngineDriver,
 *   FakeClock,
 *   ManualScheduler,
 *   MemoryBindingStore,
 *   type Role,
 *   type Transport,
 * } from "@failover6/failover6";
 *
 * // Two endpoints whose transports hand octets straight to each other.
 * const clock = new FakeClock(1709294400000);
 * const endpoint = (role: Role) =>
 *   new EngineDriver({
 *     config: { role, relationship: "pair", mclt: 3600 },
 *     store: new MemoryBindingStore(),
 *     clock,
 *     scheduler: new ManualScheduler(clock), // timers fire only when told to
 *   });
 * const primary = endpoint("primary");
 * const secondary = endpoint("secondary");
 * primary.start();
 * secondary.start();
 * const to = (peer: EngineDriver): Transport => ({
 *   write: async (bytes) => peer.receive(bytes),
 *   close: () => {},
 * });
 * secondary.attach(to(primary));
 * primary.attach(to(secondary)); // connection-up: the primary sends CONNECT
 * for (let i = 0; i < 3; i++) await Promise.all([primary.idle(), secondary.idle()]);
 * assert.equal(primary.endpointState, "NORMAL");
 * assert.equal(secondary.endpointState, "NORMAL");
 *
 * await primary.stop(); // DISCONNECT
 * assert.equal(secondary.endpointState, "COMMUNICATIONS-INTERRUPTED");
 * await secondary.stop();
 * ```
 */
export class EngineDriver {
  readonly #store: BindingStore;
  readonly #bulk: BulkLeaseReader | undefined;
  readonly #clock: Clock;
  readonly #scheduler: Scheduler;
  readonly #committer: WriteCommitter;
  readonly #hooks: DriverHooks;
  readonly #config: EngineConfig;
  readonly #storeIsCurrent: boolean;
  #state: EngineState | undefined;
  #transport: Transport | undefined;
  #deframer = new Deframer();
  /** Frames received and not yet handled, in order (see {@linkcode receive}). */
  #inbox: { frames: readonly Frame[]; at: number; error?: WireError }[] = [];
  /** The next slice of the inbox is due (a `setImmediate` handle). */
  #inboxDue: ReturnType<typeof setImmediate> | undefined;
  #events: Event[] = [];
  #draining = false;
  /** The writes of commits not yet done, oldest first (reads must see them). */
  #uncommitted = new Set<readonly StoreWrite[]>();
  /** The newest uncommitted lease by key text, made when a read needs it. */
  #overlayCache: Map<string, Lease> | undefined;
  #streams = new Map<number, Iterator<Lease>>();
  /** Resolves when everything queued for the wire so far is written. */
  #out: Promise<void> = NO_BARRIER;
  /** Resolves when every write issued so far has committed. */
  #barrier: Promise<void> = NO_BARRIER;
  #pendingWrites = 0;
  #stats: DriverStats = {
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    commits: 0,
    reads: 0,
    writes: 0,
  };
  #stateListeners: ((from: EndpointStateName, to: EndpointStateName) => void)[] = [];
  /** Transports that are gone: queued writes for them are dropped. */
  #dead = new WeakSet<Transport>();

  /** Creates a driver; call {@linkcode start} before anything else. */
  constructor(options: DriverOptions) {
    this.#config = options.config;
    this.#store = options.store;
    this.#bulk = bulkReader(options.store);
    this.#clock = options.clock;
    this.#scheduler = options.scheduler ?? new RealScheduler(options.clock);
    this.#committer = options.committer ?? new BatchCommitter(options.store, { windowMs: 0 });
    this.#hooks = options.hooks ?? {};
    this.#storeIsCurrent = options.storeIsCurrent ?? false;
  }

  /** The engine state (after the last event). */
  get state(): EngineState {
    if (!this.#state) throw new Error("EngineDriver: start() has not been called");
    return this.#state;
  }

  /** The endpoint state name, for convenience. */
  get endpointState(): EndpointStateName {
    return this.state.endpoint.state;
  }

  /** Counters. */
  get stats(): DriverStats {
    return { ...this.#stats };
  }

  /** The relationship name. */
  get relationship(): string {
    return this.#config.relationship;
  }

  /** True while a transport is attached. */
  get attached(): boolean {
    return this.#transport !== undefined;
  }

  /** Calls `fn` on every endpoint state change. */
  onStateChange(fn: (from: EndpointStateName, to: EndpointStateName) => void): void {
    this.#stateListeners.push(fn);
  }

  /** Creates the engine from the stored endpoint state (STARTUP, §8.3). */
  start(): void {
    const stored = this.#store.getEndpointState(this.#config.relationship);
    const r = createEngine(this.#config, stored, this.#clock.now());
    this.#state = r.state;
    this.#execute(r.actions);
  }

  /** A connection to the partner is ready (after TLS, if any). */
  attach(transport: Transport, peer?: string): void {
    this.#drainInbox(); // frames of an earlier connection are handled as of that one
    if (this.#transport) this.detach("replaced by a new connection");
    this.#transport = transport;
    this.#deframer = new Deframer();
    this.#out = NO_BARRIER;
    this.#dispatch({ type: "connection-up", peer });
  }

  /**
   * The connection ended (EOF, error, or closed after a `close-connection`). With `transport`,
   * only if that is still the attached one.
   */
  detach(reason: string, transport?: Transport): void {
    if (!this.#transport) return;
    if (transport && transport !== this.#transport) return;
    this.#drainInbox(); // what arrived before the end is handled first
    const t = this.#transport;
    if (!t) return; // handling it closed the connection
    this.#transport = undefined;
    this.#dead.add(t);
    t.close();
    const rest = this.#deframer.finish();
    if (rest) this.#hooks.onReceive?.(undefined, new Uint8Array(), [rest]);
    this.#dispatch({ type: "connection-down", reason });
  }

  /**
   * Octets from the connection, as TCP delivered them. The messages are handled in order, in
   * slices of {@linkcode RECEIVE_SLICE}: each slice's leases are looked up, then the slice is
   * one engine step. The first slice is handled at once; when a read brought more, the rest
   * follow one slice per turn of the event loop, so that what a slice produced (BNDREPLYs,
   * BNDUPDs, writes for the committer) leaves while the next is handled, instead of a whole
   * window of messages going through each stage at once (a bulk transfer then pipelines
   * between the partners and the writer thread). Nothing overtakes: later reads queue behind,
   * and the end of the connection is handled after everything that came before it.
   */
  receive(chunk: Uint8Array): void {
    if (!this.#transport) return;
    this.#stats.bytesIn += chunk.length;
    this.#stats.reads++;
    const { frames, error } = this.#deframer.push(chunk);
    this.#inbox.push({ frames, at: 0, error });
    if (this.#inboxDue === undefined) this.#handleSlice();
  }

  /** Handles the next slice of the inbox and schedules the one after it. */
  #handleSlice(): void {
    this.#inboxDue = undefined;
    const head = this.#inbox[0];
    if (head === undefined) return;
    const { frames, at } = head;
    const end = Math.min(frames.length, at + RECEIVE_SLICE);
    head.at = end;
    if (end >= frames.length) this.#inbox.shift();
    if (end > at) this.#receiveFrames(frames, at, end);
    if (end >= frames.length && head.error) {
      this.#hooks.onReceive?.(undefined, new Uint8Array(), [head.error]);
      this.#dispatchMany([{ type: "message-received", errors: [head.error] }]);
    }
    if (this.#inbox.length > 0 && this.#inboxDue === undefined) {
      this.#inboxDue = setImmediate(() => this.#handleSlice());
    }
  }

  /** Handles everything in the inbox now. */
  #drainInbox(): void {
    if (this.#inboxDue !== undefined) clearImmediate(this.#inboxDue);
    this.#inboxDue = undefined;
    while (this.#inbox.length > 0) {
      this.#handleSlice();
      if (this.#inboxDue !== undefined) clearImmediate(this.#inboxDue);
      this.#inboxDue = undefined;
    }
  }

  #receiveFrames(frames: readonly Frame[], from: number, to: number): void {
    const events: Event[] = [];
    const lookups = new Lookups();
    for (let i = from; i < to; i++) {
      const f = frames[i];
      this.#stats.framesIn++;
      const { message, errors } = decodeMessage(f.data);
      const fo = message?.kind === "failover" ? message : undefined;
      this.#hooks.onReceive?.(fo, f.data, errors);
      if (!fo) {
        events.push({
          type: "message-received",
          errors: message
            ? [{
              kind: "invalid-value",
              path: "",
              offset: f.offset,
              message: `message type ${message.msgType} is not a failover message`,
            } as WireError]
            : errors,
          bytes: f.data,
        });
        continue;
      }
      const bindings: Lease[] = [];
      events.push({ type: "message-received", message: fo, errors, bytes: f.data, bindings });
      lookups.add(lookupKeys(this.state, fo), bindings);
    }
    // Every lease the messages of the slice name, looked up before any of them is handled:
    // writes not yet committed first, then the store.
    this.#lookup(lookups);
    if (events.length > 0) this.#dispatchMany(events);
  }

  /** An operator command (`partner-down`, `shutdown`). */
  command(command: OperatorCommand): void {
    this.#dispatch({ type: "operator-command", command });
  }

  /** The DHCPv6 server changed (and stored) a lease. */
  leaseChanged(lease: Lease): void {
    this.#dispatch({ type: "client-lease-changed", lease });
  }

  /**
   * Several changed leases at once: one engine step, so their BNDUPDs leave in one write
   * (the serve shell gathers the leases of the Replies sent in one turn).
   */
  leasesChanged(leases: readonly Lease[]): void {
    if (leases.length === 0) return;
    this.#dispatchMany(leases.map((lease) => ({ type: "client-lease-changed", lease })));
  }

  /** Resolves once every write and send issued so far is done. */
  async idle(): Promise<void> {
    for (;;) {
      this.#drainInbox();
      const out = this.#out;
      const barrier = this.#barrier;
      await this.#committer.flush();
      await barrier;
      await out.catch(() => {});
      if (out === this.#out && barrier === this.#barrier) return;
    }
  }

  /** Sends DISCONNECT (shutdown), waits for the wire and the store, and cancels all timers. */
  async stop(): Promise<void> {
    if (this.#state && !this.#state.stopped) this.command("shutdown");
    await this.idle();
    this.#scheduler.cancelAll();
    if (this.#transport) this.detach("stopped");
    for (const id of [...this.#streams.keys()]) this.#streams.delete(id);
  }

  // --- internals ---

  /** Fills the `bindings` of each message from the overlay and the store, in key order. */
  #lookup(lookups: Lookups): void {
    const { keys, into } = lookups;
    if (keys.length === 0) return;
    const found: (Lease | undefined)[] = new Array(keys.length);
    const fromStore: number[] = [];
    const overlay = this.#overlay();
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      const o = overlay?.get(leaseKeyText(k));
      if (o) found[i] = o;
      else fromStore.push(i);
    }
    if (fromStore.length > 0 && this.#bulk) {
      const got = this.#bulk.getMany(fromStore.map((i) => keys[i]));
      for (let j = 0; j < fromStore.length; j++) found[fromStore[j]] = got[j];
    } else {
      for (const i of fromStore) {
        try {
          found[i] = this.#store.get(keys[i]);
        } catch {
          // An invalid key cannot be in the store; the engine rejects the lease itself.
        }
      }
    }
    for (let i = 0; i < keys.length; i++) {
      const l = found[i];
      if (l) into[i].push(l);
    }
  }

  #dispatch(e: Event): void {
    this.#dispatchMany([e]);
  }

  #dispatchMany(events: Event[]): void {
    if (!this.#state) throw new Error("EngineDriver: start() has not been called");
    this.#events.push(...events);
    if (this.#draining) return;
    this.#draining = true;
    try {
      while (this.#events.length > 0) {
        const batch = this.#events;
        const r = stepMany(this.#state, batch, this.#clock.now());
        this.#state = r.state;
        // Events not yet handled wait behind the answers to reads (put in front by #read).
        this.#events = batch.slice(r.consumed);
        this.#execute(r.actions);
      }
    } finally {
      this.#draining = false;
    }
  }

  /**
   * Carries out one step's actions. Every write of the step goes into one commit; messages
   * that come before the step's first write go out at once, the others after that commit
   * (a message never overtakes a write that precedes it; order on the wire is kept).
   */
  #execute(actions: readonly Action[]): void {
    const writes: StoreWrite[] = [];
    const early: FailoverMessage[] = [];
    const late: FailoverMessage[] = [];
    let closing: { reason: string; rejected: boolean } | undefined;
    for (const a of actions) {
      this.#hooks.onAction?.(a);
      switch (a.type) {
        case "persist":
          for (const w of a.writes) writes.push(w);
          break;
        case "send":
          (writes.length === 0 ? early : late).push(a.message);
          break;
        case "set-timer":
          this.#scheduler.set(
            a.name,
            a.at,
            () => this.#dispatch({ type: "timer-fired", name: a.name }),
          );
          break;
        case "cancel-timer":
          this.#scheduler.cancel(a.name);
          break;
        case "close-connection":
          closing = { reason: a.reason, rejected: a.rejected === true };
          this.#hooks.onClose?.(a.reason, a.rejected === true);
          break;
        case "read-bindings":
          this.#read(a.stream, a.source, a.limit);
          break;
        case "close-bindings":
          this.#streams.delete(a.stream);
          break;
        case "state-changed":
          for (const fn of this.#stateListeners) fn(a.from, a.to);
          break;
        case "alarm":
        case "log":
          break;
      }
    }
    if (early.length > 0) this.#write(this.#encode(early));
    if (writes.length > 0) this.#commit(writes);
    if (late.length > 0) this.#write(this.#encode(late));
    if (closing) {
      const t = this.#transport;
      if (t) {
        this.#transport = undefined;
        const info = closing;
        this.#out = this.#out.catch(() => {}).then(() => {
          this.#dead.add(t);
          t.close(info);
        });
      }
    }
  }

  /**
   * The leases written but not yet committed, newest per key text, or undefined when every
   * write has committed (the usual case: then no key text is made at all).
   */
  #overlay(): Map<string, Lease> | undefined {
    if (this.#storeIsCurrent || this.#uncommitted.size === 0) return undefined;
    if (this.#overlayCache === undefined) {
      const m = new Map<string, Lease>();
      for (const writes of this.#uncommitted) addLeases(m, writes);
      this.#overlayCache = m;
    }
    return this.#overlayCache;
  }

  #commit(writes: StoreWrite[]): void {
    this.#uncommitted.add(writes);
    if (this.#overlayCache) addLeases(this.#overlayCache, writes);
    const done = () => {
      this.#uncommitted.delete(writes);
      this.#overlayCache = undefined;
    };
    this.#pendingWrites++;
    const p = this.#committer.write(writes).then(
      () => {
        this.#stats.commits++;
        done();
      },
      (e) => {
        done();
        this.#hooks.onStoreError?.(e);
        this.#hooks.onAction?.({
          type: "alarm",
          text: `storage commit failed, closing the connection: ${(e as Error)?.message ?? e}`,
        });
        if (this.#transport) this.detach("storage commit failed");
        throw e;
      },
    ).finally(() => this.#pendingWrites--);
    const prev = this.#barrier;
    this.#barrier = Promise.all([prev, p]).then(() => {});
    // Keep unhandled rejections out: the failure is reported above.
    this.#barrier.catch(() => {});
  }

  /**
   * Encodes messages into one buffer of RFC 5460 frames (one TCP write); a message that
   * cannot be encoded is left out with a warning.
   */
  #encode(messages: FailoverMessage[]): Outgoing {
    const { data, bounds } = encodeFrames(messages, (m, e) => {
      this.#hooks.onAction?.({
        type: "log",
        level: "warn",
        text: `cannot encode ${m.msgType}: ${(e as Error)?.message ?? e}`,
      });
    });
    return { data, messages, bounds };
  }

  #write(out: Outgoing): void {
    const t = this.#transport;
    if (!t || out.data.length === 0) return;
    const { data, messages, bounds } = out;
    const barrier = this.#barrier;
    this.#out = this.#out.then(() => barrier).then(() => {
      if (this.#dead.has(t)) return;
      let frames = 0;
      for (let i = 0; i < messages.length; i++) {
        const start = bounds[2 * i];
        if (start < 0) continue;
        frames++;
        this.#hooks.onSend?.(messages[i], data.subarray(start, bounds[2 * i + 1]));
      }
      this.#stats.framesOut += frames;
      this.#stats.bytesOut += data.length;
      this.#stats.writes++;
      return t.write(data);
    }).catch(() => {
      // A failed write (peer gone, or the commit before it failed): drop the connection.
      this.#dead.add(t);
      if (this.#transport === t) this.detach("write failed");
    });
  }

  #read(
    stream: number,
    source: Extract<Action, { type: "read-bindings" }>["source"],
    limit: number,
  ): void {
    const rel = this.#config.relationship;
    let leases: Lease[] = [];
    let done = false;
    let counts;
    try {
      switch (source.kind) {
        case "pool-counts":
          counts = this.#store.countByPool();
          done = true;
          break;
        case "list":
          leases = this.#store.list({ ...source.query, relationship: rel }).leases;
          done = true;
          break;
        default: {
          let it = this.#streams.get(stream);
          if (!it) {
            it = source.kind === "all" ? this.#store.all(rel) : this.#store.needingUpdate(rel);
            this.#streams.set(stream, it);
          }
          const overlay = this.#overlay();
          while (leases.length < limit) {
            const n = it.next();
            if (n.done) {
              done = true;
              break;
            }
            const o = overlay?.get(leaseKeyText(n.value));
            leases.push(o ?? n.value);
          }
          if (done) this.#streams.delete(stream);
        }
      }
    } catch (e) {
      this.#hooks.onAction?.({
        type: "alarm",
        text: `reading bindings failed: ${(e as Error)?.message ?? e}`,
      });
      done = true;
    }
    // Answered before any event still waiting (see `stepMany`).
    this.#events.unshift({ type: "bindings-read", stream, leases, done, counts });
    if (!this.#draining) this.#dispatchMany([]);
  }
}

/** Puts the leases of `writes` into `m` by key text (later ones win). */
function addLeases(m: Map<string, Lease>, writes: readonly StoreWrite[]): void {
  for (const w of writes) if (w.type === "lease") m.set(leaseKeyText(w.lease), w.lease);
}

/** Messages encoded for one write (see `encodeFrames`). */
interface Outgoing {
  /** The frames. */
  data: Uint8Array;
  /** The messages, in order (some may have been left out: `bounds` -1). */
  messages: FailoverMessage[];
  /** Where each message's octets are in `data`. */
  bounds: number[];
}

/** The lease keys the messages of one read name, and where each answer goes. */
class Lookups {
  readonly keys: LeaseKey[] = [];
  readonly into: Lease[][] = [];

  add(keys: readonly LeaseKey[], bindings: Lease[]): void {
    for (const k of keys) {
      this.keys.push(k);
      this.into.push(bindings);
    }
  }
}
