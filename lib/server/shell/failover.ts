/**
 * `failover6 serve` as an RFC 8156 failover partner: one engine ({@linkcode EngineDriver} of
 * `lib/failover`) per relationship of the configuration, plugged into the DHCPv6 server.
 *
 * - **Connections** (§6.1): a primary connects to its partner (retrying with backoff); the
 *   relationships in which this server is secondary listen, one listener per local
 *   address and port, and a CONNECT picks its relationship by name (the m-to-1 model: one
 *   secondary backing several primaries, each relationship with its own subnets and state).
 *   With `tls:` files the connection is secured by STARTTLS with certificates checked both
 *   ways (`failover/tls.ts`, RFC 8156 §10); an insecure secondary answers STARTTLS with
 *   TLSConnectionRefused (RFC 7653 §9.1).
 * - **Client service**: the core's {@linkcode FailoverPolicy} is rebuilt
 *   ({@linkcode pairPolicy}) on every endpoint state change, so responsiveness, allocation
 *   and MCLT-capped lifetimes follow the state (digest §6.1, §7, §8).
 * - **Lazy updates** (§4.3): the server calls {@linkcode FailoverService.leasesCommitted}
 *   after a client's Reply has gone out (and after expiry or an operator release); the engine
 *   then sends the BNDUPD. Leases the engine writes (BNDUPDs accepted, acks, recovery) go
 *   through the server's own grouped committer, so they are ordered with client writes, and
 *   into the server's lease index at once.
 * - **Operator view**: {@linkcode FailoverService.status} and
 *   {@linkcode FailoverService.partnerDown}; metrics of the failover link on the server's
 *   registry.
 *
 * @module
 */

import type { Config, Relationship } from "../../config/types.ts";
import { type DriverHooks, EngineDriver } from "../../failover/driver.ts";
import {
  type Acceptor,
  type BackoffPolicy,
  type ConnectionHandle,
  type Connector,
  type ListenerHandle,
  runPrimary,
  runSecondary,
} from "../../failover/connection.ts";
import type { EngineConfig, EngineState } from "../../failover/engine.ts";
import { fromWireTime, leaseKeyText } from "../../failover/binding.ts";
import { ENDPOINT_STATE_NAMES } from "../../failover/endpoint.ts";
import { MIN_LEASE_LIFETIME } from "../../failover/mclt.ts";
import { RealScheduler, type Scheduler } from "../../failover/scheduler.ts";
import {
  nodeListener,
  startTlsAcceptor,
  startTlsConnector,
  type TlsOptions,
} from "../../failover/tls.ts";
import type { Action, EndpointStateName } from "../../failover/types.ts";
import type { BindingStore, Lease } from "../../store/types.ts";
import type { Clock } from "../../util/clock.ts";
import { formatIPv6, formatPrefix, nthPrefix } from "../../util/ipv6.ts";
import { emptyLease } from "../../store/lease.ts";
import { messageTypeName } from "../../wire/names.ts";
import type { FailoverMessage } from "../../wire/types.ts";
import { type EndpointView, type LeaseScope, leaseScope, pairPolicy } from "../failover_policy.ts";
import type { ServerCore } from "../service.ts";
import type { LeaseChange } from "../types.ts";
import {
  checkPartnerDown,
  type EndpointStatus,
  endpointStatus,
  type PartnerDownOutcome,
} from "./failover_status.ts";
import { IndexedReads, ScopedCommitter, scopeLease, type WriteQueue } from "./failover_store.ts";
import type { Logger } from "./log.ts";
import type { Counter, Gauge, Histogram, MetricsRegistry } from "./metrics.ts";

export type { PartnerDownOutcome };

/**
 * The MCLT a secondary uses until a primary's CONNECT gives it one (§6.1.2); it has no effect
 * on clients before then, since a secondary without contact is in RECOVER (unresponsive).
 */
export const SECONDARY_INITIAL_MCLT = 3600;

/** What the service needs from the server it plugs into. */
export interface FailoverHost {
  /** The validated configuration. */
  config: Config;
  /** The core: its settings, lease index and the policy this service replaces. */
  core: ServerCore;
  /** The lease database (reads; writes go through `committer`). */
  store: BindingStore;
  /** The server's grouped committer, shared so engine and client writes stay in order. */
  committer: WriteQueue;
  /** Time. */
  clock: Clock;
  /** Logs. */
  log: Logger;
  /** Where the failover metrics are registered. */
  registry: MetricsRegistry;
  /** The engine changed leases (already applied to the index): expiry may be due sooner. */
  leasesApplied(changes: readonly LeaseChange[]): void;
}

/** Knobs for tests and tools; the YAML file has no keys for them. */
export interface FailoverServiceOptions {
  /** Timers of each relationship's engine (default: real timers on the host's clock). */
  scheduler?: (relationship: string) => Scheduler;
  /** Reconnect periods of a primary (default: from the keepalive, see {@linkcode backoffFor}). */
  backoff?: Partial<BackoffPolicy>;
  /** Engine settings without a YAML key (STARTUP timer, scan interval, …). */
  engine?: Partial<
    Pick<
      EngineConfig,
      | "startupTime"
      | "updateScanInterval"
      | "heartbeatInterval"
      | "updDoneTimeout"
      | "emptyStorageState"
      | "skipRecoverWaitWhenNew"
    >
  >;
  /** Grouping window of the engine's writes, ms (default 0; see `ScopedCommitter`). */
  commitWindowMs?: number;
  /**
   * How long the leases of committed client transactions gather before their BNDUPDs go out
   * together, ms (default {@linkcode UPDATE_GATHER_MS}; 0: after the Replies of one turn).
   */
  updateGatherMs?: number;
  /**
   * Write acknowledgements lazily (default true): see {@linkcode isAckOnlyChange}. False: every
   * engine write is durable before what the engine sends next.
   */
  lazyAcks?: boolean;
  /** How a primary connects (default plain TCP, STARTTLS with `tls:` files). */
  connect?: (rel: Relationship) => Connector | undefined;
  /** How a secondary prepares accepted connections (STARTTLS). */
  accept?: (rels: Relationship[]) => Acceptor | undefined;
}

/** A relationship this server cannot run; `path` names the place in the configuration. */
export class FailoverConfigError extends Error {
  override name = "FailoverConfigError";
  /** e.g. `failover[0].mclt`. */
  readonly path: string;
  /** @param path where @param message what (one line) */
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.path = path;
  }
}

/**
 * The problems that keep a configuration's relationships from running (the configuration
 * checks of `lib/config` have passed already): an MCLT below the 30 s failover floor (§1),
 * and secure and insecure relationships on one listener (the STARTTLS decision comes before
 * the CONNECT names the relationship). Warnings: allocation modes other than the engine's
 * split (addresses independent, delegable prefixes proportional), which are ignored.
 */
export function checkFailoverConfig(
  config: Config,
): { errors: FailoverConfigError[]; warnings: string[] } {
  const errors: FailoverConfigError[] = [];
  const warnings: string[] = [];
  config.failover.forEach((r, i) => {
    if (r.mclt !== null && r.mclt < MIN_LEASE_LIFETIME) {
      errors.push(
        new FailoverConfigError(
          `failover[${i}].mclt`,
          `${r.mclt}s is below ${MIN_LEASE_LIFETIME}s, the shortest lease failover allows (RFC 8156 §1)`,
        ),
      );
    }
    if (r.allocation.addresses !== "independent" || r.allocation.prefixes !== "proportional") {
      warnings.push(
        `failover[${i}].allocation: addresses are always split independently (low-order bit) and ` +
          "delegable prefixes proportionally (RFC 8156 §4.2); other modes are not supported",
      );
    }
  });
  const listeners = new Map<string, number>();
  config.failover.forEach((r, i) => {
    if (r.role !== "secondary") return;
    const k = `${r.local.address}|${r.local.port}`;
    const first = listeners.get(k);
    if (first === undefined) listeners.set(k, i);
    else if ((config.failover[first].tls === null) !== (r.tls === null)) {
      errors.push(
        new FailoverConfigError(
          `failover[${i}].local`,
          `shares [${r.local.address}]:${r.local.port} with failover[${first}]: relationships on one ` +
            "listener must all use tls or all be insecure",
        ),
      );
    }
  });
  for (const s of config.subnets) {
    for (const p of [...s.pools, ...s.prefixes]) {
      const want = "start" in p ? "independent" : "proportional";
      if (p.allocation !== null && p.allocation !== want) {
        warnings.push(
          `pool ${p.name}: allocation ${p.allocation} is not supported; ${want} is used (RFC 8156 §4.2)`,
        );
      }
    }
  }
  return { errors, warnings };
}

/** Reconnect periods of a primary: short for short keepalives, the RFC's "less often" after a rejection. */
export function backoffFor(rel: Relationship): BackoffPolicy {
  const k = rel.keepalive * 1000;
  return {
    initialMs: 1000,
    maxMs: Math.max(1000, Math.min(30_000, Math.floor(k / 2))),
    rejectedMs: Math.max(2000, Math.min(60_000, k)),
  };
}

/** The prefixes of a relationship's subnets and delegable prefixes (BNDUPD scope, §7.5.3). */
export function relationshipPrefixes(config: Config, name: string): string[] {
  const out: string[] = [];
  for (const s of config.subnets) {
    if (s.relationship !== name) continue;
    out.push(formatPrefix(s.prefix));
    for (const p of s.prefixes) out.push(formatPrefix(p.prefix));
  }
  return out;
}

/** The engine configuration of one relationship. */
export function engineConfigOf(
  config: Config,
  rel: Relationship,
  extra: FailoverServiceOptions["engine"] = {},
): EngineConfig {
  const mclt = rel.mclt ?? SECONDARY_INITIAL_MCLT;
  return {
    role: rel.role,
    relationship: rel.name,
    mclt,
    keepaliveTime: rel.keepalive,
    maxUnackedBndupd: rel.maxUnacked,
    autoPartnerDown: rel.autoPartnerDown ?? undefined,
    prefixes: relationshipPrefixes(config, rel.name),
    rebalance: { secondaryShare: rel.allocation.proportion, hysteresis: 0.1 },
    // TIME-OF-FAILURE is bounded by the last heartbeat + its period (§8.3.2): keep it well
    // under the MCLT so that RECOVER-WAIT after a crash is not needlessly long.
    heartbeatInterval: Math.max(5, Math.min(60, Math.floor(mclt / 6))),
    ...extra,
  };
}

interface Endpoint {
  rel: Relationship;
  driver: EngineDriver;
  skew: number | null;
  lastTransition?: { from: string; to: string; reason: string; at: number };
  /** BNDUPD transaction-id → when it went out (ack latency). */
  sentAt: Map<number, number>;
  /** Leases committed by the server, waiting to be handed to the engine. */
  changed: Lease[];
  /** The port the secondary's listener got (the configured one, or the OS's pick for 0). */
  listenPort?: number;
  handle?: ConnectionHandle;
}

interface LinkMetrics {
  messages: Counter;
  ackSeconds: Histogram;
  transitions: Counter;
  queue: Gauge;
  state: Gauge;
  partnerState: Gauge;
  comms: Gauge;
  skew: Gauge;
}

const ACK_BUCKETS = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/**
 * Default gathering of lazy updates, ms: the leases of the client transactions of this long
 * go to the partner in one TCP write (BNDUPDs, then one grouped commit and one write of
 * BNDREPLYs on the partner), instead of one write, commit and reply per transaction. The
 * partner hears of a lease this much later; nothing waits for it (§4.3).
 */
export const UPDATE_GATHER_MS = 20;

/** Leases gathered beyond this many go to the engine at once. */
export const UPDATE_GATHER_MAX = 512;

/** Delegable prefixes a primary stores as FREE per pool at most (see `#seedPrefixes`). */
export const SEED_LIMIT = 65_536;

/** Runs every failover relationship of one server (see the module doc). */
export class FailoverService {
  readonly #host: FailoverHost;
  readonly #options: FailoverServiceOptions;
  readonly #endpoints = new Map<string, Endpoint>();
  readonly #scope: LeaseScope;
  readonly #metrics: LinkMetrics;
  readonly #listeners: ListenerHandle[] = [];
  readonly #ownAvailable = new Map<string, Map<string, number>>();
  readonly #tls = new Map<string, TlsOptions>();
  readonly #stateListeners:
    ((relationship: string, from: EndpointStateName, to: EndpointStateName) => void)[] = [];
  #poolTimer: ReturnType<typeof setInterval> | undefined;
  #changeTimer: ReturnType<typeof setTimeout> | undefined;
  #changeCount = 0;
  /** Lease writes of the engines that only record an acknowledgement (written lazily). */
  readonly #ackOnly = new WeakSet<Lease>();
  #started = false;
  #stopping?: Promise<void>;

  private constructor(host: FailoverHost, options: FailoverServiceOptions) {
    this.#host = host;
    this.#options = options;
    this.#scope = leaseScope(host.core.settings);
    this.#metrics = registerMetrics(host.registry, () => this.#endpoints.values());
  }

  /**
   * Creates one engine per relationship (each starts in STARTUP from its stored state, §8.3)
   * and installs the failover policy in the core. No sockets yet: see {@linkcode start}.
   * Throws {@linkcode FailoverConfigError}.
   */
  static create(host: FailoverHost, options: FailoverServiceOptions = {}): FailoverService {
    const { errors, warnings } = checkFailoverConfig(host.config);
    if (errors.length > 0) throw errors[0];
    const svc = new FailoverService(host, options);
    host.config.failover.forEach((rel, i) => {
      if (rel.tls !== null) svc.#tls.set(rel.name, readTls(rel, i));
    });
    for (const w of warnings) host.log.warn("failover configuration", { warning: w });
    for (const rel of host.config.failover) {
      const ep = { rel, skew: null, sentAt: new Map(), changed: [] } as unknown as Endpoint;
      ep.driver = new EngineDriver({
        config: engineConfigOf(host.config, rel, options.engine),
        store: new IndexedReads(host.store, host.core.leases),
        storeIsCurrent: true,
        clock: host.clock,
        scheduler: options.scheduler?.(rel.name) ?? new RealScheduler(host.clock),
        committer: new ScopedCommitter(host.committer, host.store, svc.#scope, host.core.leases, {
          windowMs: options.commitWindowMs,
          deferrable: options.lazyAcks === false
            ? undefined
            : (w) => w.type === "lease" && svc.#ackOnly.has(w.lease),
        }),
        hooks: svc.#hooks(ep),
      });
      svc.#endpoints.set(rel.name, ep);
    }
    for (const ep of svc.#endpoints.values()) ep.driver.start();
    svc.#refreshPolicy();
    return svc;
  }

  /** Opens the failover listeners (secondary) and starts connecting (primary). */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.#seedPrefixes();
    const secondaries = new Map<string, Endpoint[]>();
    for (const ep of this.#endpoints.values()) {
      if (ep.rel.role !== "secondary") continue;
      const k = `${ep.rel.local.address}|${ep.rel.local.port}`;
      secondaries.set(k, [...(secondaries.get(k) ?? []), ep]);
    }
    for (const eps of secondaries.values()) {
      const local = eps[0].rel.local;
      const log = (line: string) =>
        this.#host.log.info("failover connection", { listen: hostPort(local), event: line });
      let handle: ListenerHandle;
      try {
        const secure = eps.flatMap((e) => this.#tls.get(e.rel.name) ?? []);
        const tls = secure.length === 0
          ? undefined
          : { ...secure[0], caCerts: [...new Set(secure.flatMap((t) => t.caCerts))] };
        handle = runSecondary({
          drivers: eps.map((e) => e.driver),
          allowedPeers: [...new Set(eps.map((e) => e.rel.peer.address))],
          listener: await nodeListener(local.address, local.port),
          accept: this.#options.accept?.(eps.map((e) => e.rel)) ?? startTlsAcceptor(tls, log),
          log,
        });
      } catch (e) {
        throw new Error(
          `cannot listen for failover connections on ${hostPort(local)}: ${(e as Error).message}`,
        );
      }
      this.#listeners.push(handle);
      for (const e of eps) e.listenPort = handle.addr.port;
      this.#host.log.info("failover listening", {
        address: local.address,
        port: handle.addr.port,
        relationships: eps.map((e) => e.rel.name),
      });
    }
    for (const ep of this.#endpoints.values()) {
      if (ep.rel.role !== "primary") continue;
      ep.handle = runPrimary({
        driver: ep.driver,
        hostname: ep.rel.peer.address,
        port: ep.rel.peer.port,
        backoff: { ...backoffFor(ep.rel), ...this.#options.backoff },
        connectTimeoutMs: ep.rel.connectTimeout * 1000,
        connect: this.#options.connect?.(ep.rel) ??
          (this.#tls.has(ep.rel.name) ? startTlsConnector(this.#tls.get(ep.rel.name)!) : undefined),
        log: (line) =>
          this.#host.log.info("failover connection", { relationship: ep.rel.name, event: line }),
      });
    }
  }

  /**
   * A primary owns every delegable prefix until it hands some to the secondary (§4.2.2), and
   * pool balancing (POOLREQ → FREE-BACKUP BNDUPDs) works on stored FREE prefixes: store the
   * ones never written yet as FREE (at most {@linkcode SEED_LIMIT} per pool).
   */
  async #seedPrefixes(): Promise<void> {
    const now = this.#host.clock.now();
    const changes: LeaseChange[] = [];
    for (const ep of this.#endpoints.values()) {
      if (ep.rel.role !== "primary") continue;
      for (const s of this.#host.core.settings.subnets) {
        if (s.relationship !== ep.rel.name) continue;
        for (const p of s.prefixPools) {
          const n = p.count < BigInt(SEED_LIMIT) ? Number(p.count) : SEED_LIMIT;
          for (let i = 0; i < n; i++) {
            const pre = nthPrefix(p.prefix, p.delegatedLength, i);
            if (!pre) break;
            const key = {
              kind: "pd" as const,
              address: formatIPv6(pre.address),
              prefixLength: pre.length,
            };
            if (this.#host.core.leases.get(key)) continue;
            changes.push({
              after: {
                ...emptyLease(key, "FREE"),
                owner: "primary",
                relationship: ep.rel.name,
                pool: p.name,
                startTimeOfState: now,
              },
            });
          }
        }
      }
    }
    if (changes.length === 0) return;
    this.#host.core.leases.apply(changes);
    await this.#host.committer.write(changes.map((c) => ({ type: "lease", lease: c.after })));
    this.#host.log.info("failover: delegable prefixes stored as FREE", {
      prefixes: changes.length,
    });
  }

  /** Where the secondary listeners listen (port 0 in the configuration: the real port). */
  get listenAddresses(): Deno.NetAddr[] {
    return this.#listeners.map((l) => l.addr);
  }

  /** The relationships' names. */
  get relationships(): string[] {
    return [...this.#endpoints.keys()];
  }

  /** The engine state of a relationship (tests and tools). */
  engineState(relationship: string): EngineState | undefined {
    return this.#endpoints.get(relationship)?.driver.state;
  }

  /** Calls `fn` on every endpoint state change. */
  onStateChange(
    fn: (relationship: string, from: EndpointStateName, to: EndpointStateName) => void,
  ): void {
    this.#stateListeners.push(fn);
  }

  /**
   * Leases the server committed (client transactions after their Reply, expiry, operator
   * release): the engine of their relationship sends the BNDUPDs lazily (§4.3).
   */
  leasesCommitted(changes: readonly LeaseChange[]): void {
    for (const c of changes) {
      const a = c.after;
      if (!a.updatePending || a.relationship === "") continue;
      const ep = this.#endpoints.get(a.relationship);
      if (!ep || onlyTimerChanged(c)) continue;
      ep.changed.push(a);
      this.#changeCount++;
      if (this.#changeCount >= UPDATE_GATHER_MAX) this.#sendChanges();
      else if (this.#changeTimer === undefined) {
        // The Replies of one grouped commit go out in the same turn, and those of the next
        // few milliseconds join them: their BNDUPDs go together.
        this.#changeTimer = setTimeout(
          () => this.#sendChanges(),
          Math.max(0, this.#options.updateGatherMs ?? UPDATE_GATHER_MS),
        );
      }
    }
  }

  #sendChanges(): void {
    if (this.#changeTimer !== undefined) clearTimeout(this.#changeTimer);
    this.#changeTimer = undefined;
    this.#changeCount = 0;
    for (const ep of this.#endpoints.values()) {
      if (ep.changed.length === 0) continue;
      const leases = newestPerLease(ep.changed);
      ep.changed = [];
      ep.driver.leasesChanged(leases);
    }
  }

  /** The operator's view of every relationship. */
  status(): EndpointStatus[] {
    const now = this.#host.clock.now();
    return [...this.#endpoints.values()].map((ep) => this.#status(ep, now));
  }

  #status(ep: Endpoint, now: number): EndpointStatus {
    const rel = ep.rel;
    return endpointStatus(ep.driver.state, {
      peer: rel.peer,
      listen: rel.role === "secondary"
        ? { ...rel.local, port: ep.listenPort ?? rel.local.port }
        : undefined,
      autoPartnerDown: rel.autoPartnerDown,
      tls: rel.tls !== null,
      clockSkew: ep.skew,
      pendingInStore: this.#pending(rel.name),
      lastTransition: ep.lastTransition,
      now,
    });
  }

  #pending(relationship: string): number {
    return this.#host.core.leases.pendingUpdates(relationship);
  }

  /**
   * The operator's "partner is down" command (§8.4): refused while the partner is reachable
   * or in a state without that transition; with several relationships, `relationship` says
   * which (one relationship: it may be left out).
   */
  partnerDown(relationship?: string): PartnerDownOutcome {
    let ep: Endpoint | undefined;
    if (relationship === undefined || relationship === "") {
      if (this.#endpoints.size !== 1) {
        return {
          kind: "ambiguous",
          reason: `name the relationship (${this.relationships.join(", ")})`,
        };
      }
      ep = [...this.#endpoints.values()][0];
    } else {
      ep = this.#endpoints.get(relationship);
      if (!ep) {
        return {
          kind: "unknown-relationship",
          reason: `no relationship "${relationship}" (${this.relationships.join(", ")})`,
        };
      }
    }
    const check = checkPartnerDown(ep.driver.state);
    const now = () => this.#host.clock.now();
    if (!check.allowed) {
      return {
        kind: check.already ? "already" : "refused",
        reason: check.reason,
        status: this.#status(ep, now()),
      };
    }
    this.#host.log.warn("operator command: partner down", { relationship: ep.rel.name });
    ep.driver.command("partner-down");
    const s = ep.driver.state.endpoint.state;
    if (s !== "PARTNER-DOWN") {
      return {
        kind: "refused",
        reason: `the engine stayed in ${s}`,
        status: this.#status(ep, now()),
      };
    }
    return { kind: "done", status: this.#status(ep, now()) };
  }

  /** Resolves once every engine's writes and sends issued so far are done (tests). */
  async idle(): Promise<void> {
    if (this.#changeTimer !== undefined) this.#sendChanges();
    for (const ep of this.#endpoints.values()) await ep.driver.idle();
  }

  /** Sends DISCONNECT on every connection, closes the listeners, stops the engines. */
  stop(): Promise<void> {
    if (this.#stopping) return this.#stopping;
    this.#stopping = (async () => {
      if (this.#poolTimer !== undefined) clearInterval(this.#poolTimer);
      this.#poolTimer = undefined;
      this.#sendChanges();
      const eps = [...this.#endpoints.values()];
      await Promise.allSettled(eps.map((ep) => ep.handle?.stop()));
      await Promise.allSettled(this.#listeners.map((l) => l.stop()));
      await Promise.allSettled(eps.map((ep) => ep.driver.stop()));
    })();
    return this.#stopping;
  }

  // ---------------------------------------------------------------------------------------

  #hooks(ep: Endpoint): DriverHooks {
    const name = ep.rel.name;
    const m = this.#metrics;
    const clock = this.#host.clock;
    const log = this.#host.log;
    return {
      onSend: (msg: FailoverMessage) => {
        m.messages.inc({
          relationship: name,
          direction: "sent",
          type: messageTypeName(msg.msgType),
        });
        if (msg.msgType === 24) {
          if (ep.sentAt.size > 100_000) ep.sentAt.clear();
          ep.sentAt.set(msg.transactionId, clock.now());
        }
      },
      onReceive: (msg: FailoverMessage | undefined) => {
        if (!msg) {
          m.messages.inc({ relationship: name, direction: "received", type: "undecodable" });
          return;
        }
        const now = clock.now();
        m.messages.inc({
          relationship: name,
          direction: "received",
          type: messageTypeName(msg.msgType),
        });
        // sent-time has whole seconds: the skew is known to the second.
        ep.skew = Math.trunc((now - fromWireTime(msg.sentTime)) / 1000);
        if (msg.msgType === 25) {
          const at = ep.sentAt.get(msg.transactionId);
          if (at !== undefined) {
            ep.sentAt.delete(msg.transactionId);
            m.ackSeconds.observe(Math.max(0, now - at) / 1000, { relationship: name });
          }
        }
      },
      onAction: (a: Action) => this.#action(ep, a),
      onClose: (reason: string, rejected: boolean) => {
        ep.sentAt.clear();
        log.info("failover connection closed", { relationship: name, reason, rejected });
      },
      onStoreError: (e: unknown) => {
        log.error("failover storage commit failed", {
          relationship: name,
          error: e instanceof Error ? e.message : String(e),
        });
      },
    };
  }

  #action(ep: Endpoint, a: Action): void {
    const name = ep.rel.name;
    const log = this.#host.log;
    switch (a.type) {
      case "persist": {
        const changes: LeaseChange[] = [];
        let endpoint = false;
        for (const w of a.writes) {
          if (w.type === "endpoint-state") endpoint = true;
          if (w.type !== "lease") continue;
          const after = scopeLease(w.lease, this.#scope);
          const before = this.#host.core.leases.get(after);
          if (before !== after) changes.push(before ? { before, after } : { after });
          if (before !== undefined && isAckOnlyChange(before, after)) this.#ackOnly.add(w.lease);
        }
        if (changes.length > 0) {
          this.#host.core.leases.apply(changes);
          this.#host.leasesApplied(changes);
        }
        if (endpoint) this.#refreshPolicy();
        break;
      }
      case "state-changed": {
        ep.lastTransition = {
          from: a.from,
          to: a.to,
          reason: a.reason,
          at: this.#host.clock.now(),
        };
        this.#metrics.transitions.inc({ relationship: name, from: a.from, to: a.to });
        log.info("failover state", {
          relationship: name,
          from: a.from,
          to: a.to,
          reason: a.reason,
        });
        this.#refreshPolicy();
        if (a.to === "PARTNER-DOWN" || a.from === "PARTNER-DOWN") this.#watchPools();
        for (const fn of this.#stateListeners) fn(name, a.from, a.to);
        break;
      }
      case "alarm":
        log.warn("failover alarm", { relationship: name, alarm: a.text });
        break;
      case "log":
        if (a.level === "warn") log.warn("failover", { relationship: name, event: a.text });
        else log.info("failover", { relationship: name, event: a.text });
        break;
    }
  }

  /** Rebuilds the core's policy from the current endpoint states. */
  #refreshPolicy(): void {
    const views = new Map<string, EndpointView>();
    for (const [name, ep] of this.#endpoints) {
      let s: EngineState;
      try {
        s = ep.driver.state;
      } catch {
        // not started yet: STARTUP (unresponsive)
        views.set(name, {
          relationship: name,
          role: ep.rel.role,
          state: "STARTUP",
          stateSince: 0,
          mclt: ep.rel.mclt ?? SECONDARY_INITIAL_MCLT,
        });
        continue;
      }
      views.set(name, {
        relationship: name,
        role: ep.rel.role,
        state: s.endpoint.state,
        stateSince: s.endpoint.startTimeOfState,
        mclt: s.endpoint.mclt,
        ownAvailable: this.#ownAvailable.get(name),
      });
    }
    this.#host.core.policy = pairPolicy({
      endpoints: views,
      settings: this.#host.core.settings,
      scope: this.#scope,
    });
  }

  /** Keeps the own-pool counts of PARTNER-DOWN relationships fresh (§8.4.1 "own pool first"). */
  #watchPools(): void {
    const anyDown = () =>
      [...this.#endpoints.values()].some((ep) => ep.driver.state.endpoint.state === "PARTNER-DOWN");
    const refresh = () => {
      this.#countOwnPools();
      this.#refreshPolicy();
      if (!anyDown() && this.#poolTimer !== undefined) {
        clearInterval(this.#poolTimer);
        this.#poolTimer = undefined;
      }
    };
    refresh();
    if (anyDown() && this.#poolTimer === undefined && !this.#stopping) {
      this.#poolTimer = setInterval(refresh, 5000);
      Deno.unrefTimer(this.#poolTimer);
    }
  }

  #countOwnPools(): void {
    // From the in-memory index (no scan of the database on the datagram thread).
    const counts = this.#host.core.leases.countByPool();
    for (const [name, ep] of this.#endpoints) {
      const own = new Map<string, number>();
      for (const s of this.#host.core.settings.subnets) {
        if (s.relationship !== name) continue;
        for (const p of s.prefixPools) {
          let rows = 0;
          let mine = 0;
          for (const c of counts) {
            if (c.pool !== p.name) continue;
            rows += c.count;
            if (ep.rel.role === "primary" ? c.status === "FREE" : c.status === "FREE-BACKUP") {
              mine += c.count;
            }
          }
          const never = ep.rel.role === "primary" ? Math.max(0, Number(p.count) - rows) : 0;
          own.set(p.name, mine + never);
        }
      }
      this.#ownAvailable.set(name, own);
    }
  }
}

/**
 * The newest version of each lease of a gathered batch, in the order of their last change: a
 * lease changed twice within the gathering window (a Request and its Renew, a grant and its
 * expiry) goes to the partner once, as it is now.
 */
export function newestPerLease(leases: readonly Lease[]): Lease[] {
  if (leases.length < 2) return [...leases];
  const last = new Map<string, Lease>();
  for (const l of leases) {
    const k = leaseKeyText(l);
    last.delete(k);
    last.set(k, l);
  }
  return last.size === leases.length ? [...leases] : [...last.values()];
}

/** The TLS files of a relationship, read (RFC 8156 §10). */
function readTls(rel: Relationship, i: number): TlsOptions {
  const files = rel.tls!;
  const read = (field: "cert" | "key" | "ca") => {
    try {
      return Deno.readTextFileSync(files[field]);
    } catch (e) {
      throw new FailoverConfigError(
        `failover[${i}].tls.${field}`,
        `cannot read ${files[field]}: ${(e as Error).message}`,
      );
    }
  };
  return { cert: read("cert"), key: read("key"), caCerts: [read("ca")] };
}

/**
 * True when `after` differs from `before` only in what an accepting BNDREPLY records on the
 * sender (digest §5): no update pending any more, the acknowledged partner lifetime, the
 * partner lifetime cleared. Such a write may be lost without harm (the store still says the
 * update is pending, so the BNDUPD is sent again after a restart, and an older acknowledged
 * partner lifetime only gives clients shorter lifetimes), so it is written lazily
 * (`Committer.writeLazy`): the next BNDUPDs and the client Replies never wait for it.
 */
export function isAckOnlyChange(before: Lease, after: Lease): boolean {
  return after.updatePending === false && after.ackPending === false &&
    after.ackedPartnerLifetime >= before.ackedPartnerLifetime &&
    before.kind === after.kind && before.address === after.address &&
    before.prefixLength === after.prefixLength && before.clientDuid === after.clientDuid &&
    before.iaid === after.iaid && before.status === after.status &&
    before.preferredLifetime === after.preferredLifetime &&
    before.validLifetime === after.validLifetime &&
    before.expirationTime === after.expirationTime && before.cltTime === after.cltTime &&
    before.partnerRawCltTime === after.partnerRawCltTime &&
    before.startTimeOfState === after.startTimeOfState &&
    before.stateExpirationTime === after.stateExpirationTime && before.owner === after.owner &&
    before.relationship === after.relationship && before.pool === after.pool &&
    (after.partnerLifetime === before.partnerLifetime || after.partnerLifetime === 0);
}

/** True when a change only moved the lease's state timer (nothing the partner hears of). */
function onlyTimerChanged(c: LeaseChange): boolean {
  const b = c.before;
  const a = c.after;
  return b !== undefined && b.status === a.status && b.clientDuid === a.clientDuid &&
    b.expirationTime === a.expirationTime && b.partnerLifetime === a.partnerLifetime &&
    b.validLifetime === a.validLifetime && b.stateExpirationTime !== a.stateExpirationTime;
}

function hostPort(a: { address: string; port: number }): string {
  return a.address.includes(":") ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

function registerMetrics(r: MetricsRegistry, endpoints: () => Iterable<Endpoint>): LinkMetrics {
  const states = (e: Endpoint) => {
    try {
      return e.driver.state;
    } catch {
      return undefined;
    }
  };
  const m: LinkMetrics = {
    messages: r.counter(
      "failover6_failover_messages_total",
      "Failover messages on the partner link, by relationship, direction and type",
      ["relationship", "direction", "type"],
    ),
    ackSeconds: r.histogram(
      "failover6_failover_ack_seconds",
      "Time from a BNDUPD sent to its BNDREPLY received, by relationship",
      ["relationship"],
      ACK_BUCKETS,
    ),
    transitions: r.counter(
      "failover6_failover_state_changes_total",
      "Endpoint state changes, by relationship and states",
      ["relationship", "from", "to"],
    ),
    queue: r.gauge(
      "failover6_failover_queue_depth",
      "BNDUPDs sent and not yet acknowledged (unacked) and waiting to be sent (queued)",
      ["relationship", "queue"],
    ),
    state: r.gauge(
      "failover6_failover_state",
      "1 for the endpoint's current state (RFC 8156 §8), 0 for the others",
      ["relationship", "state"],
    ),
    partnerState: r.gauge(
      "failover6_failover_partner_state",
      "1 for the partner's last known state, 0 for the others",
      ["relationship", "state"],
    ),
    comms: r.gauge(
      "failover6_failover_communications_ok",
      "1 when communications with the partner are OK (§6.1), else 0",
      ["relationship"],
    ),
    skew: r.gauge(
      "failover6_failover_clock_skew_seconds",
      "Our time minus the sent-time of the partner's last message",
      ["relationship"],
    ),
  };
  m.queue.collect = (g) => {
    g.reset();
    for (const e of endpoints()) {
      const s = states(e);
      if (!s) continue;
      g.set({ relationship: e.rel.name, queue: "unacked" }, s.outstanding.size);
      g.set({ relationship: e.rel.name, queue: "queued" }, s.queue.length);
    }
  };
  m.state.collect = (g) => {
    g.reset();
    for (const e of endpoints()) {
      const s = states(e);
      if (!s) continue;
      for (const n of ENDPOINT_STATE_NAMES) {
        g.set({ relationship: e.rel.name, state: n }, n === s.endpoint.state ? 1 : 0);
      }
    }
  };
  m.partnerState.collect = (g) => {
    g.reset();
    for (const e of endpoints()) {
      const s = states(e);
      if (!s) continue;
      for (const n of ENDPOINT_STATE_NAMES) {
        g.set({ relationship: e.rel.name, state: n }, n === s.endpoint.partnerState ? 1 : 0);
      }
    }
  };
  m.comms.collect = (g) => {
    g.reset();
    for (const e of endpoints()) {
      const s = states(e);
      if (s) g.set({ relationship: e.rel.name }, s.comms.phase === "ok" ? 1 : 0);
    }
  };
  m.skew.collect = (g) => {
    g.reset();
    for (const e of endpoints()) if (e.skew !== null) g.set({ relationship: e.rel.name }, e.skew);
  };
  return m;
}
