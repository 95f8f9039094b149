/**
 * The imperative shell of `failover6 serve`: it owns the lease database, the UDP sockets, the
 * control API, the expiry timer and the logs, and feeds the pure core
 * ({@linkcode ServerCore} of `lib/server`) one datagram at a time:
 *
 * 1. decode with `wire.decodeMessage`; a datagram with any fault is counted by its fault kind
 *    and dropped with one rate-limited log line, and never reaches the core or the database;
 * 2. `core.handle(...)`: a reply and the lease changes (already visible to the next datagram
 *    through the core's lease index), or a drop reason;
 * 3. commit the changes through the {@linkcode BatchCommitter} (grouped transactions);
 * 4. only then encode and send the reply (to the client's address and port, or to the relay).
 *
 * {@linkcode DhcpServer.stop} drains: stop accepting datagrams, finish the commits and their
 * replies, close the sockets, the control API and the database.
 *
 * @module
 */

import { dirname, join } from "node:path";
import type { Config } from "../../config/types.ts";
import type { BatchInfo } from "../../store/batch.ts";
import { SqliteBindingStore } from "../../store/sqlite.ts";
import type { BindingStore, Lease, LeaseKey, LeasePage, LeaseQuery } from "../../store/types.ts";
import { BINDING_STATUSES } from "../../store/types.ts";
import { type Clock, systemClock } from "../../util/clock.ts";
import { formatIPv6, parseIPv6, prefixMask } from "../../util/ipv6.ts";
import { decodeMessage } from "../../wire/decode.ts";
import { encodeMessage } from "../../wire/encode.ts";
import { messageTypeName } from "../../wire/names.ts";
import { resolveServerDuid } from "../duid.ts";
import { leaseWrites, ServerCore } from "../service.ts";
import { compileSettings, type ServerOptions } from "../settings.ts";
import type { HandleResult, LeaseChange } from "../types.ts";
import {
  type ControlBackend,
  type ControlServer,
  generateToken,
  type LeaseLookup,
  type ReleaseOutcome,
  startControlServer,
  TOKEN_FILE_NAME,
} from "./control.ts";
import { type Committer, openCommitter } from "./committer.ts";
import { FailoverConfigError, FailoverService, type FailoverServiceOptions } from "./failover.ts";
import { Logger, RateLimiter } from "./log.ts";
import { type PoolFigures, ServeMetrics } from "./metrics.ts";
import { describeListenEntry, type ListenerInfo, type Peer, UdpListeners } from "./udp.ts";
import { ConfigReloader, type ReloadOutcome } from "./reload.ts";

/** The version reported by the status endpoint. */
export const SERVER_VERSION = "0.1.0";

/** Why the server could not start: `config` (exit 2: bad input) or `runtime` (exit 1). */
export class StartError extends Error {
  override name = "StartError";
  /** `config`: the configuration or one of its files is wrong; `runtime`: the system refused. */
  readonly kind: "config" | "runtime";
  /** @param kind which @param message one line */
  constructor(kind: "config" | "runtime", message: string, options?: ErrorOptions) {
    super(message, options);
    this.kind = kind;
  }
}

/** Options of {@linkcode DhcpServer.start}. */
export interface DhcpServerOptions {
  /** The validated configuration. */
  config: Config;
  /** Where it came from, for logs and status (a file name or `<embedded default>`). */
  configName: string;
  /** The file {@linkcode DhcpServer.reload} re-reads; absent: nothing to reload. */
  configFile?: string;
  /** Logs (default: text at the configured level on standard error). */
  logger?: Logger;
  /** Time source (default the system clock). */
  clock?: Clock;
  /** A store to use instead of opening `config.leaseDatabase` (tests). */
  store?: BindingStore;
  /** Group-commit window in ms (default 0: commit once the ready datagrams are handled). */
  commitWindowMs?: number;
  /**
   * Commit in a writer thread (default true for a database file): the fsync of a commit
   * then does not hold up the datagrams behind it. Falls back to the main thread when a
   * worker cannot start.
   */
  commitInWorker?: boolean;
  /** Knobs of the core that are not in the YAML file. */
  serverOptions?: ServerOptions;
  /** Largest datagram read whole (octets, default 16384; see `UdpOptions`). */
  maxDatagramSize?: number;
  /** Called once when a shutdown starts (e.g. from the control API). */
  onShutdown?: (reason: string) => void;
  /** Knobs of the failover relationships that are not in the YAML file (tests, tools). */
  failover?: FailoverServiceOptions;
}

interface Inflight {
  promise: Promise<void>;
}

/**
 * A running server: UDP sockets, the core, the lease store with its writer, the control API and
 * one failover engine per relationship of the configuration.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig, DhcpServer, MemoryBindingStore } from "@failover6/failover6";
 *
 * const config = defaultConfig();
 * config.listen = [{ kind: "unicast", address: "::1", port: 0 }]; // any free port
 * config.control.enabled = false;
 * config.server.duid = "000100012a3b4c5d0e0f10111213";
 * config.logging.level = "warn";
 * const server = await DhcpServer.start({
 *   config,
 *   configName: "example",
 *   store: new MemoryBindingStore(),
 * });
 * assert.ok(server.listeners[0].port > 0);
 * await server.stop();
 * ```
 */
export class DhcpServer {
  /** Metrics (rendered by `/metrics`). */
  readonly metrics: ServeMetrics;
  /** The core (lease index, settings, policy). */
  readonly core: ServerCore;
  /** The lease store. */
  readonly store: BindingStore;
  /** When the server started (ms). */
  readonly startedAt: number;
  /** Server DUID as hex, and where it came from. */
  readonly serverDuid: { hex: string; source: string };
  #config: Config;
  readonly #configName: string;
  readonly #serverOptions?: ServerOptions;
  readonly #reloader: ConfigReloader;
  readonly #log: Logger;
  readonly #clock: Clock;
  #committer!: Committer;
  readonly #malformedLog: RateLimiter;
  readonly #dropLog: RateLimiter;
  readonly #errorLog: RateLimiter;
  readonly #inflight = new Set<Inflight>();
  /** Datagrams whose commit or send is under way (see #commitThenSend). */
  #busy = 0;
  #idle: (() => void)[] = [];
  readonly #onShutdown?: (reason: string) => void;
  #udp?: UdpListeners;
  #failover?: FailoverService;
  #control?: ControlServer;
  #controlToken?: { token: string; file?: string };
  #expiryTimer: ReturnType<typeof setTimeout> | undefined;
  #expiryAt = Infinity;
  #expiring = false;
  #state: "starting" | "serving" | "draining" | "stopped" = "starting";
  #stopping?: Promise<void>;
  #finished: { promise: Promise<void>; resolve: () => void };

  private constructor(
    options: DhcpServerOptions,
    store: BindingStore,
    core: ServerCore,
    duid: { hex: string; source: string },
  ) {
    this.#config = options.config;
    this.#configName = options.configName;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.logger ??
      new Logger({
        format: options.config.logging.format,
        level: options.config.logging.level,
        clock: this.#clock,
      });
    this.#onShutdown = options.onShutdown;
    this.#serverOptions = options.serverOptions;
    this.store = store;
    this.core = core;
    this.serverDuid = duid;
    this.startedAt = this.#clock.now();
    this.metrics = new ServeMetrics(
      () => this.poolFigures(),
      () => (this.#clock.now() - this.startedAt) / 1000,
    );
    this.#malformedLog = new RateLimiter({ burst: 1, intervalMs: 10_000, clock: this.#clock });
    this.#dropLog = new RateLimiter({ burst: 1, intervalMs: 10_000, clock: this.#clock });
    this.#errorLog = new RateLimiter({ burst: 5, intervalMs: 10_000, clock: this.#clock });
    this.#reloader = new ConfigReloader({
      file: options.configFile,
      target: { current: () => this.#config, apply: (c) => this.#applyConfig(c) },
      log: this.#log,
      metrics: this.metrics,
      clock: this.#clock,
    });
    let resolve!: () => void;
    const promise = new Promise<void>((r) => resolve = r);
    this.#finished = { promise, resolve };
  }

  /**
   * Opens the database, works out the server DUID, loads the leases, opens the sockets and
   * the control API, and starts serving. Throws {@linkcode StartError} (one line).
   */
  static async start(options: DhcpServerOptions): Promise<DhcpServer> {
    const config = options.config;
    const clock = options.clock ?? systemClock;
    let settings;
    try {
      settings = compileSettings(config, options.serverOptions);
    } catch (e) {
      throw new StartError("config", `${options.configName}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    let store = options.store;
    if (store === undefined) {
      try {
        store = SqliteBindingStore.open(config.leaseDatabase);
      } catch (e) {
        throw new StartError("config", (e as Error).message, { cause: e });
      }
    }
    let server: DhcpServer;
    try {
      const configured = config.server.duid ?? await readDuidFile(config.server.duidFile);
      const duid = resolveServerDuid({
        configured,
        stored: store.getServerDuid(),
        now: clock.now(),
      });
      if (duid.write) store.apply([duid.write]);
      if (config.server.duidFile !== null && configured === null) {
        await writeSecretFile(config.server.duidFile, duid.hex + "\n", 0o644);
      }
      const core = new ServerCore({ settings, serverDuid: duid.duid, leases: store.all() });
      server = new DhcpServer(options, store, core, { hex: duid.hex, source: duid.source });
    } catch (e) {
      if (options.store === undefined) store.close();
      if (e instanceof StartError) throw e;
      throw new StartError("config", (e as Error).message, { cause: e });
    }
    try {
      await server.#open(options);
    } catch (e) {
      await server.#closeAll();
      throw e;
    }
    return server;
  }

  async #open(options: DhcpServerOptions): Promise<void> {
    const config = this.#config;
    const embedded = this.#configName.startsWith("<");
    const opened = await openCommitter({
      store: this.store,
      path: this.store instanceof SqliteBindingStore ? this.store.path : undefined,
      windowMs: options.commitWindowMs ?? 0,
      onBatch: (info) => this.#onBatch(info),
      worker: options.commitInWorker ?? true,
    });
    this.#committer = opened.committer;

    this.#log.info(
      embedded ? "starting on the embedded default configuration" : "starting",
      {
        config: this.#configName,
        version: SERVER_VERSION,
        leaseDatabase: this.store instanceof SqliteBindingStore
          ? this.store.path
          : config.leaseDatabase,
        leases: this.core.leases.size,
        serverDuid: this.serverDuid.hex,
        duidSource: this.serverDuid.source,
        commitThread: this.#committer.mode,
      },
    );
    if (opened.fallback !== undefined) {
      this.#log.warn("committing on the main thread: the writer thread did not start", {
        reason: opened.fallback,
      });
    }
    if (config.failover.length > 0) this.#startFailover(options);
    try {
      this.#udp = await UdpListeners.open(
        config.listen,
        (bytes, from, listener) => this.#onDatagram(bytes, from, listener),
        { maxDatagramSize: options.maxDatagramSize },
        (e, l) => this.#rateLimitedError("socket error", { listener: l.id, error: e.message }),
      );
    } catch (e) {
      throw new StartError("runtime", (e as Error).message, { cause: e });
    }
    for (const l of this.#udp.listeners) {
      this.#log.info("listening", {
        kind: l.kind,
        address: l.address,
        port: l.port,
        interface: l.interface,
        unicast: l.unicast,
      });
    }
    if (config.control.enabled) {
      this.#controlToken = await this.#resolveToken();
      try {
        this.#control = await startControlServer({
          hostname: config.control.address,
          port: config.control.port,
          token: this.#controlToken.token,
          backend: this.#backend(),
        });
      } catch (e) {
        throw new StartError("runtime", (e as Error).message, { cause: e });
      }
      this.#log.info("control API listening", {
        url: this.#control.url,
        tokenFile: this.#controlToken.file,
      });
      if (!/^(127\.|::1$|localhost$)/.test(config.control.address)) {
        this.#log.warn("control API is not bound to a loopback address", {
          address: config.control.address,
        });
      }
    }
    try {
      await this.#failover?.start();
    } catch (e) {
      throw new StartError("runtime", (e as Error).message, { cause: e });
    }
    this.#state = "serving";
    this.#scheduleExpiry(0);
  }

  /** One failover engine per relationship; their policy gates the core from now on. */
  #startFailover(options: DhcpServerOptions): void {
    try {
      this.#failover = FailoverService.create({
        config: this.#config,
        core: this.core,
        store: this.store,
        committer: this.#committer,
        clock: this.#clock,
        log: this.#log,
        registry: this.metrics.registry,
        leasesApplied: (changes) => this.#noteDue(changes),
      }, options.failover);
    } catch (e) {
      if (e instanceof FailoverConfigError) {
        throw new StartError("config", `${this.#configName}: ${e.message}`, { cause: e });
      }
      throw new StartError("runtime", (e as Error).message, { cause: e });
    }
  }

  /**
   * Re-reads the configuration file and applies what may change without a restart (see
   * `reload.ts`); an invalid file changes nothing. Leases are not touched.
   */
  reload(trigger = "control API"): Promise<ReloadOutcome> {
    return this.#reloader.reload(trigger);
  }

  /** Swaps the compiled settings and logging in one step, between two datagrams. */
  #applyConfig(config: Config): void {
    const settings = compileSettings(config, this.#serverOptions); // throws: nothing changed
    this.core.settings = settings;
    this.#config = config;
    this.#log.reconfigure(config.logging);
  }

  /** The failover relationships, when the configuration has any. */
  get failover(): FailoverService | undefined {
    return this.#failover;
  }

  async #resolveToken(): Promise<{ token: string; file?: string }> {
    const c = this.#config.control;
    if (c.token !== null) return { token: c.token };
    if (c.tokenFile !== null) {
      let text: string;
      try {
        text = await Deno.readTextFile(c.tokenFile);
      } catch (e) {
        throw new StartError(
          "config",
          `control.tokenFile: cannot read ${c.tokenFile}: ${(e as Error).message}`,
        );
      }
      const token = text.trim();
      if (token === "" || /\s/.test(token)) {
        throw new StartError("config", `control.tokenFile: ${c.tokenFile} must hold one token`);
      }
      return { token, file: c.tokenFile };
    }
    const file = join(dirname(this.#config.leaseDatabase), TOKEN_FILE_NAME);
    const token = generateToken();
    try {
      await writeSecretFile(file, token + "\n", 0o600);
    } catch (e) {
      throw new StartError(
        "runtime",
        `cannot write the control token to ${file}: ${(e as Error).message}`,
      );
    }
    return { token, file };
  }

  /** The sockets being served. */
  get listeners(): ListenerInfo[] {
    return this.#udp?.listeners ?? [];
  }

  /** The control API, when enabled. */
  get control(): { url: string; token: string; tokenFile?: string } | undefined {
    if (this.#control === undefined || this.#controlToken === undefined) return undefined;
    return {
      url: this.#control.url,
      token: this.#controlToken.token,
      tokenFile: this.#controlToken.file,
    };
  }

  /** `starting`, `serving`, `draining` or `stopped`. */
  get state(): string {
    return this.#state;
  }

  /** Resolves once the server has stopped (after {@linkcode stop}). */
  get finished(): Promise<void> {
    return this.#finished.promise;
  }

  /** Lease transactions committed since start. */
  get commits(): number {
    return this.#committer?.commits ?? 0;
  }

  /** `worker` or `in-thread`: where lease commits run. */
  get commitMode(): string {
    return this.#committer?.mode ?? "none";
  }

  /** Client transactions waiting for their commit or send. */
  get inflight(): number {
    return this.#inflight.size + this.#busy;
  }

  // ---------------------------------------------------------------------------------------
  // The datagram path
  // ---------------------------------------------------------------------------------------

  #onDatagram(bytes: Uint8Array, from: Peer, listener: ListenerInfo): void {
    if (this.#state !== "serving") return;
    try {
      this.#serve(bytes, from, listener);
    } catch (e) {
      // A bug in the core must not take the server down; the datagram is dropped.
      this.metrics.drops.inc({ reason: "internal-error" });
      this.#rateLimitedError("internal error while handling a datagram", {
        from: from.address,
        error: e instanceof Error ? e.message : String(e),
      });
    }
  }

  #serve(bytes: Uint8Array, from: Peer, listener: ListenerInfo): void {
    const started = performance.now();
    const now = this.#clock.now();
    const d = decodeMessage(bytes);
    if (d.message === undefined || d.errors.length > 0) {
      const e = d.errors[0];
      const kind = e?.kind ?? "undecodable";
      this.metrics.packets.inc({ type: bytes.length > 0 ? messageTypeName(bytes[0]) : "EMPTY" });
      this.#dropMalformed(
        kind,
        from,
        e === undefined ? "undecodable" : `${e.message} at offset ${e.offset}`,
      );
      return;
    }
    const r = this.core.handle({
      message: d.message,
      sourceAddress: from.address,
      sourcePort: from.port,
      interfaceName: listener.interface,
      unicast: listener.unicast,
    }, now);
    const type = r.kind === "reply" ? r.requestType : r.requestType ?? d.message.msgType;
    this.metrics.packets.inc(typeLabels(type));
    if (r.kind === "drop") {
      this.#dropped(r, from);
      return;
    }
    if (r.changes.length === 0) {
      this.#send(r, listener, started);
      return;
    }
    this.#commitThenSend(r, listener, started);
  }

  // The path of each datagram uses callbacks and a counter (#busy) rather than an async
  // function, a tracked promise and a promise per send: those cost more CPU than the rest of
  // the shell's work on a datagram.

  #commitThenSend(
    r: HandleResult & { kind: "reply" },
    listener: ListenerInfo,
    started: number,
  ): void {
    this.#busy++;
    this.#committer.write(leaseWrites(r.changes)).then(() => {
      try {
        this.#noteDue(r.changes);
        // Lazy update (RFC 8156 §4.3): the partner hears of it after the client has its Reply.
        this.#send(r, listener, started, this.#failover);
      } catch (e) {
        this.#internalError(e, r.to.address);
      } finally {
        this.#done();
      }
    }, (e) => {
      try {
        this.core.revert(r.changes);
        this.metrics.drops.inc({ reason: "commit-failed" });
        this.#rateLimitedError("lease commit failed; no reply sent", {
          to: r.to.address,
          error: e instanceof Error ? e.message : String(e),
        });
      } finally {
        this.#done();
      }
    });
  }

  /**
   * Encodes and sends the reply (`started`: when its datagram's handling began,
   * `performance.now()`); then tells `failover` of its committed changes.
   */
  #send(
    r: HandleResult & { kind: "reply" },
    listener: ListenerInfo,
    started: number,
    failover?: FailoverService,
  ): void {
    let bytes: Uint8Array;
    try {
      bytes = encodeMessage(r.message);
    } catch (e) {
      this.metrics.drops.inc({ reason: "encode-failed" });
      this.#rateLimitedError("reply cannot be encoded", { error: (e as Error).message });
      failover?.leasesCommitted(r.changes);
      return;
    }
    this.#busy++;
    this.#udp!.sendWith(listener.id, bytes, r.to.address, r.to.port, (e) => {
      try {
        if (e === null) this.#sent(r, started);
        else {
          this.metrics.sendErrors.inc();
          this.#rateLimitedError("reply could not be sent", {
            to: r.to.address,
            port: r.to.port,
            error: e.message,
          });
        }
        failover?.leasesCommitted(r.changes);
      } catch (e) {
        this.#internalError(e, r.to.address);
      } finally {
        this.#done();
      }
    });
  }

  /** A bug after the core answered must not take the server down: count it, log it. */
  #internalError(e: unknown, address: string): void {
    this.metrics.drops.inc({ reason: "internal-error" });
    this.#rateLimitedError("internal error while handling a datagram", {
      from: address,
      error: e instanceof Error ? e.message : String(e),
    });
  }

  #sent(r: HandleResult & { kind: "reply" }, started: number): void {
    const labels = replyLabels(r.replyType, r.requestType);
    this.metrics.replies.inc(labels);
    this.metrics.replySeconds.observe((performance.now() - started) / 1000, labels);
    if (this.#log.enabled("debug")) {
      this.#log.debug("replied", {
        request: messageTypeName(r.requestType),
        reply: messageTypeName(r.replyType),
        to: r.to.address,
        port: r.to.port,
        client: r.clientDuid,
        subnet: r.subnet,
        changes: r.changes.length,
      });
    }
  }

  /** One datagram's commit or send finished. */
  #done(): void {
    if (--this.#busy === 0 && this.#idle.length > 0) {
      const waiting = this.#idle;
      this.#idle = [];
      for (const resolve of waiting) resolve();
    }
  }

  #track(promise: Promise<void>): void {
    const entry: Inflight = { promise };
    this.#inflight.add(entry);
    promise.finally(() => this.#inflight.delete(entry));
  }

  #dropMalformed(kind: string, from: Peer, detail: string): void {
    const reason = `malformed:${kind}`;
    this.metrics.drops.inc({ reason });
    const d = this.#malformedLog.take(reason);
    if (d.allowed) {
      this.#log.warn("dropped malformed datagram", {
        reason: kind,
        from: from.address,
        port: from.port,
        detail,
        suppressed: d.suppressed > 0 ? d.suppressed : undefined,
      });
    }
  }

  #dropped(r: HandleResult & { kind: "drop" }, from: Peer): void {
    this.metrics.drops.inc({ reason: r.reason });
    const key = r.reason;
    if (r.reason === "malformed") {
      const d = this.#malformedLog.take("handler:" + key);
      if (d.allowed) {
        this.#log.warn("dropped malformed message", {
          from: from.address,
          detail: r.detail,
          suppressed: d.suppressed > 0 ? d.suppressed : undefined,
        });
      }
      return;
    }
    if (!this.#log.enabled("debug")) return;
    const d = this.#dropLog.take(key);
    if (d.allowed) {
      this.#log.debug("dropped", {
        reason: r.reason,
        type: r.requestType === undefined ? undefined : messageTypeName(r.requestType),
        from: from.address,
        detail: r.detail,
        suppressed: d.suppressed > 0 ? d.suppressed : undefined,
      });
    }
  }

  #rateLimitedError(msg: string, fields: Record<string, string | number | undefined>): void {
    const d = this.#errorLog.take(msg);
    if (d.allowed) {
      this.#log.error(msg, { ...fields, suppressed: d.suppressed > 0 ? d.suppressed : undefined });
    }
  }

  #onBatch(info: BatchInfo): void {
    this.metrics.commitSeconds.observe(info.commitMs / 1000, {
      outcome: info.ok ? "ok" : "failed",
    });
    if (info.ok) this.metrics.commitWriters.observe(info.writers);
  }

  // ---------------------------------------------------------------------------------------
  // Expiry
  // ---------------------------------------------------------------------------------------

  #noteDue(changes: readonly LeaseChange[]): void {
    const next = this.core.nextExpiry();
    if (next !== undefined && next < this.#expiryAt && changes.length > 0) {
      this.#scheduleExpiry(Math.max(0, next - this.#clock.now()));
    }
  }

  /** Sets the expiry timer for the next due lease, or sooner (`delayMs`). */
  #scheduleExpiry(delayMs?: number): void {
    if (this.#state !== "serving") return;
    const now = this.#clock.now();
    const next = this.core.nextExpiry();
    let delay = next === undefined ? undefined : next - now;
    if (delayMs !== undefined) delay = delay === undefined ? delayMs : Math.min(delay, delayMs);
    if (this.#expiryTimer !== undefined) clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
    this.#expiryAt = Infinity;
    if (delay === undefined) return;
    // Timers cannot wait longer than 2^31 ms: wake at least once a day and look again.
    delay = Math.min(Math.max(0, delay), 86_400_000);
    this.#expiryAt = now + delay;
    this.#expiryTimer = setTimeout(() => {
      this.#expiryTimer = undefined;
      this.#expiryAt = Infinity;
      this.#runExpiry();
    }, delay);
  }

  /** Runs expiry processing now (also called by the timer); resolves once committed. */
  async runExpiry(): Promise<number> {
    return await this.#runExpiry();
  }

  async #runExpiry(): Promise<number> {
    if (this.#state !== "serving" || this.#expiring) return 0;
    this.#expiring = true;
    let moved = 0;
    let more = false;
    try {
      const changes = this.core.expire(this.#clock.now(), 1000);
      more = changes.length === 1000;
      if (changes.length > 0) {
        const p = this.#committer.write(leaseWrites(changes));
        this.#track(p.then(() => {}, () => {}));
        try {
          await p;
          moved = changes.length;
          for (const c of changes) {
            if (c.after.status !== c.before?.status) {
              this.metrics.expired.inc({ status: c.after.status });
            }
          }
          this.#log.info("expiry", { leases: changes.length });
          this.#failover?.leasesCommitted(changes);
        } catch (e) {
          this.core.revert(changes);
          this.#rateLimitedError("expiry commit failed", { error: (e as Error).message });
        }
      }
    } finally {
      this.#expiring = false;
    }
    if (more) this.#scheduleExpiry(0);
    else this.#scheduleExpiry();
    return moved;
  }

  // ---------------------------------------------------------------------------------------
  // Control API backend
  // ---------------------------------------------------------------------------------------

  /**
   * Figures per configured pool: size and leases per status, from the in-memory lease index
   * (a `GROUP BY` over the database would hold the datagram path for 0.3 s or more at 100k+
   * leases on every scrape).
   */
  poolFigures(): PoolFigures[] {
    const counts = new Map<string, Record<string, number>>();
    for (const c of this.core.leases.countByPool()) {
      const m = counts.get(c.pool) ?? {};
      m[c.status] = (m[c.status] ?? 0) + c.count;
      counts.set(c.pool, m);
    }
    const out: PoolFigures[] = [];
    for (const s of this.core.settings.subnets) {
      for (const p of s.pools) {
        out.push({
          pool: p.name,
          kind: "na",
          size: Number(p.size),
          byStatus: counts.get(p.name) ?? {},
        });
      }
      for (const p of s.prefixPools) {
        out.push({
          pool: p.name,
          kind: "pd",
          size: Number(p.count),
          byStatus: counts.get(p.name) ?? {},
        });
      }
    }
    return out;
  }

  /** The status document of the control API. */
  status(): Record<string, unknown> {
    const byStatus: Record<string, number> = {};
    for (const s of BINDING_STATUSES) byStatus[s] = 0;
    for (const c of this.core.leases.countByPool()) byStatus[c.status] += c.count;
    const now = this.#clock.now();
    return {
      server: "failover6",
      version: SERVER_VERSION,
      state: this.#state,
      serverDuid: this.serverDuid.hex,
      startedAt: new Date(this.startedAt).toISOString(),
      uptimeSeconds: Math.max(0, (now - this.startedAt) / 1000),
      config: this.#configName,
      configuration: this.#reloader.status(),
      leaseDatabase: this.#config.leaseDatabase,
      listeners: this.listeners,
      leases: { total: this.core.leases.size, byStatus },
      pools: this.poolFigures().map((p) => {
        const held = (p.byStatus["ACTIVE"] ?? 0) + (p.byStatus["ABANDONED"] ?? 0);
        return {
          name: p.pool,
          kind: p.kind,
          size: p.size,
          held,
          utilisation: p.size > 0 ? held / p.size : 0,
        };
      }),
      packets: {
        received: this.metrics.packets.total(),
        replied: this.metrics.replies.total(),
        dropped: this.metrics.drops.total(),
      },
      commits: this.commits,
      commitMode: this.commitMode,
      inflight: this.inflight,
      nextExpiry: (() => {
        const n = this.core.nextExpiry();
        return n === undefined ? null : new Date(n).toISOString();
      })(),
      ...(this.#failover ? { failover: this.#failover.status() } : {}),
    };
  }

  /** Leases matching a lookup (an address also finds the delegated prefix holding it). */
  lookup(q: LeaseLookup): Lease[] {
    const ix = this.core.leases;
    if (q.kind === "duid") return ix.getByClient(q.duid);
    if (q.kind === "prefix") {
      const l = ix.get({ kind: "pd", address: q.address, prefixLength: q.prefixLength });
      return l === undefined ? [] : [l];
    }
    const out: Lease[] = [];
    const na = ix.get({ kind: "na", address: q.address, prefixLength: 128 });
    if (na !== undefined) out.push(na);
    const a = parseIPv6(q.address);
    if (a !== undefined) {
      for (let len = 1; len <= 128; len++) {
        const p = ix.get({
          kind: "pd",
          address: formatIPv6(a & prefixMask(len)),
          prefixLength: len,
        });
        if (p !== undefined) out.push(p);
      }
    }
    return out;
  }

  /** Releases an ACTIVE lease for the operator; durable before it resolves. */
  async release(key: LeaseKey): Promise<ReleaseOutcome> {
    const before = this.core.leases.get(key);
    if (before === undefined) return { kind: "not-found" };
    if (before.status !== "ACTIVE") return { kind: "not-active", lease: before };
    const now = this.#clock.now();
    const after = this.core.policy.stamp(
      { ...before, status: "RELEASED", startTimeOfState: now, stateExpirationTime: 0 },
      before,
      now,
    );
    const changes: LeaseChange[] = [{ before, after }];
    this.core.leases.apply(changes);
    const p = this.#committer.write(leaseWrites(changes));
    this.#track(p.then(() => {}, () => {}));
    try {
      await p;
    } catch (e) {
      this.core.revert(changes);
      throw e;
    }
    this.#failover?.leasesCommitted(changes);
    this.#log.info("lease released by operator", {
      lease: after.kind === "pd" ? `${after.address}/${after.prefixLength}` : after.address,
      client: after.clientDuid,
    });
    return { kind: "released", lease: after };
  }

  #backend(): ControlBackend {
    return {
      status: () => this.status(),
      lookup: (q) => this.lookup(q),
      list: (q: LeaseQuery): LeasePage => this.store.list(q),
      release: (k) => this.release(k),
      shutdown: (reason) => {
        // Answer the request first, then drain.
        setTimeout(() => this.stop(reason), 0);
      },
      metrics: () => this.metrics.render(),
      reload: () => this.reload("control API"),
      ...(this.#failover
        ? {
          failover: () => this.#failover!.status(),
          partnerDown: (relationship: string | undefined) =>
            this.#failover!.partnerDown(relationship),
        }
        : {}),
    };
  }

  // ---------------------------------------------------------------------------------------
  // Shutdown
  // ---------------------------------------------------------------------------------------

  /**
   * Drains and stops: stop accepting datagrams, finish pending commits and their replies,
   * then close the sockets, the control API and the database. Idempotent.
   */
  stop(reason = "stop"): Promise<void> {
    if (this.#stopping) return this.#stopping;
    this.#stopping = (async () => {
      this.#onShutdown?.(reason);
      this.#log.info("draining", { reason, inflight: this.inflight });
      this.#state = "draining";
      if (this.#expiryTimer !== undefined) clearTimeout(this.#expiryTimer);
      this.#expiryTimer = undefined;
      await this.#committer.flush();
      while (this.#inflight.size > 0 || this.#busy > 0) {
        await Promise.allSettled([...this.#inflight].map((i) => i.promise));
        if (this.#busy > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
      }
      await this.#closeAll();
      this.#log.info("stopped", { commits: this.commits });
      this.#finished.resolve();
    })();
    return this.#stopping;
  }

  async #closeAll(): Promise<void> {
    this.#state = "stopped";
    if (this.#expiryTimer !== undefined) clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
    // DISCONNECT to the partners; their last writes go through the committer closed below.
    await this.#failover?.stop();
    await this.#udp?.close();
    await this.#control?.close();
    try {
      await this.#committer?.close();
    } catch { /* nothing queued */ }
    try {
      this.store.close();
    } catch { /* already closed */ }
  }
}

const TYPE_LABELS = new Map<number, { type: string }>();

/** The `type` label of a message type (one object per type, made once). */
function typeLabels(type: number): { type: string } {
  let l = TYPE_LABELS.get(type);
  if (l === undefined) TYPE_LABELS.set(type, l = { type: messageTypeName(type) });
  return l;
}

const REPLY_LABELS = new Map<number, { type: string; request: string }>();

/** The labels of a reply counted by type and request type (made once per pair). */
function replyLabels(type: number, request: number): { type: string; request: string } {
  const key = type * 256 + request;
  let l = REPLY_LABELS.get(key);
  if (l === undefined) {
    REPLY_LABELS.set(key, l = { type: messageTypeName(type), request: messageTypeName(request) });
  }
  return l;
}

async function readDuidFile(path: string | null): Promise<string | null> {
  if (path === null) return null;
  try {
    const text = (await Deno.readTextFile(path)).trim();
    if (text === "") return null;
    return text;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new StartError("config", `server.duidFile: cannot read ${path}: ${(e as Error).message}`);
  }
}

/** Writes a file atomically (temporary file + rename) with the given mode. */
async function writeSecretFile(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.writeTextFile(tmp, text, { mode });
  await Deno.chmod(tmp, mode).catch(() => {});
  await Deno.rename(tmp, path);
}

export { describeListenEntry };
