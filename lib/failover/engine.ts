/**
 * The RFC 8156 failover engine as a pure function: `step(state, event, now)` returns the new
 * state and the actions the shell must carry out (send, persist, set/cancel timers, alarms,
 * close the connection, read leases). It runs one failover endpoint (one relationship):
 *
 * - the endpoint state machine of §8, driven by the transition table in `endpoint.ts`, with the
 *   STARTUP algorithm (S/A/C flags), the STARTUP, auto-partner-down, RECOVER-WAIT and UPDDONE
 *   timers, and the operator's "partner down" command;
 * - the connection protocol of §6: CONNECT/CONNECTREPLY checks, STATE on connect, CONTACT
 *   every FO_SEND_TIME when idle, a dead connection after FO_KEEPALIVE_TIME of silence, the
 *   5 s skew rule, DISCONNECT;
 * - binding updates (§7): BNDUPD/BNDREPLY with the per-lease time variables, conflict
 *   resolution (Figure 4) with damping, flow control by the partner's max-unacked BNDUPD;
 * - sync (§5.3.5–§5.3.7): UPDREQ/UPDREQALL answered by BNDUPDs and then UPDDONE only after
 *   every BNDREPLY; POOLREQ/POOLRESP and proportional rebalancing (§4.2.2).
 *
 * The input state is never modified. All times are ms since the Unix epoch.
 *
 * @module
 */

import type { DhcpOption, FailoverMessage, FailoverMsgType } from "../wire/types.ts";
import { ServerFlag } from "../wire/types.ts";
import {
  connectOptions,
  failoverMessage,
  findOption,
  isMalformedOption,
  stateOptions,
  statusCode,
} from "../wire/options.ts";
import { messageTypeName } from "../wire/names.ts";
import { parseIPv6Into } from "../util/ipv6_octets.ts";
import type {
  EndpointStateRecord,
  Lease,
  LeaseKey,
  PoolOwner,
  PoolStatusCount,
  StoreWrite,
} from "../store/types.ts";
import { recoverWaitEnd } from "./mclt.ts";
import type {
  Action,
  EndpointStateName,
  Event,
  OperatorCommand,
  Role,
  StepResult,
  TimerName,
} from "./types.ts";
import {
  describeTrigger,
  type EndpointTrigger,
  findTransition,
  partnerStateTrigger,
  startupPreviousState,
  stateCode,
  stateFromCode,
} from "./endpoint.ts";
import {
  afterAcknowledged,
  fromWireTime,
  leaseKeyText,
  leavesOnAck,
  toWireTime,
} from "./binding.ts";
import {
  acceptableLeases,
  acceptedLease,
  type AckedLease,
  bindingKeysOf,
  bndreplyOptions,
  bndupdOptions,
  canSend,
  parseBndreply,
  parseBndupd,
  type ParsedBndreply,
  type ReceivedLease,
  type ReplyStatus,
} from "./bndupd.ts";
import { dampUpdate, resolveConflict } from "./conflict.ts";
import {
  checkConnect,
  checkConnectReply,
  type ConnectParams,
  type ConnectPolicy,
  excessiveSkew,
  type ProtocolVersion,
  skewSeconds,
} from "./connect.ts";
import { addressOwner, planRebalance, type RebalancePolicy } from "./pool.ts";
import {
  fingerprint,
  jobComplete,
  newJob,
  type OutstandingBndupd,
  type QueuedLease,
  sameFingerprint,
  type SyncJob,
  type SyncJobKind,
  type UpdateRequest,
  VersionedMap,
  type VersionedMapDraft,
} from "./sync.ts";

export type * from "./types.ts";
export type { ConnectParams, ProtocolVersion, RebalancePolicy };
export type { OutstandingBndupd, QueuedLease, SyncJob, UpdateRequest };

// ---------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------

/** How one failover endpoint is configured. Durations are seconds. */
export interface EngineConfig {
  /** Primary or secondary (§3). */
  role: Role;
  /** The relationship name (OPTION_F_RELATIONSHIP_NAME, §6.2). */
  relationship: string;
  /**
   * MCLT, seconds. The primary's is configured and sent in CONNECT; a secondary adopts the
   * primary's from CONNECT and uses this one only until it has one (§6.1.2).
   */
  mclt: number;
  /** FO_KEEPALIVE_TIME (§6.5), default 60. */
  keepaliveTime?: number;
  /** FO_CONTACT_PER_KEEPALIVE_TIME (§6.5), default 4. */
  contactPerKeepalive?: number;
  /** OPTION_F_MAX_UNACKED_BNDUPD this side announces, default 100. */
  maxUnackedBndupd?: number;
  /** OPTION_F_CONNECT_FLAGS FIXED_PD_LENGTH (§5.5.2), default false. */
  fixedPdLength?: boolean;
  /** STARTUP timer (§8.3.2), default 10. */
  startupTime?: number;
  /** Auto-partner-down period of COMMUNICATIONS-INTERRUPTED (§8.9); absent = off. */
  autoPartnerDown?: number;
  /** How long RECOVER waits for UPDDONE with no BNDUPD arriving before dropping (§8.5.2), default 120. */
  updDoneTimeout?: number;
  /** Period of the scan for updates the partner still needs (§7.5.4), default 30. */
  updateScanInterval?: number;
  /** How often the time of operation is recorded (TIME-OF-FAILURE bound, §8.3.2), default 60. */
  heartbeatInterval?: number;
  /** Allowed clock skew (§7.1), default 5. */
  maxSkew?: number;
  /**
   * The state taken when the STARTUP timer expires with empty storage: RECOVER (§8.3.2 step 1,
   * the default) or PARTNER-DOWN (§8.2 / the §8.3.2 "newly commissioned" option).
   */
  emptyStorageState?: "RECOVER" | "PARTNER-DOWN";
  /** Go from RECOVER-WAIT to RECOVER-DONE at once when the partner never communicated (§8.6.2 MAY), default true. */
  skipRecoverWaitWhenNew?: boolean;
  /** Protocol versions spoken (default 1.0). */
  supportedVersions?: ProtocolVersion[];
  /** Prefixes of this endpoint (`2001:db8::/64`); BNDUPDs outside them are rejected (§7.5.3). */
  prefixes?: string[];
  /** Accept DNS-update information instead of rejecting with DNSUpdateNotSupported (§9), default true. */
  acceptDnsInfo?: boolean;
  /** Proportional sharing of delegable prefixes (§4.2.2), default 0.5 with hysteresis 0.1. */
  rebalance?: RebalancePolicy;
  /** Leases per `read-bindings`, default 256. */
  readBatch?: number;
  /** The first transaction-id used, default 1. */
  firstTransactionId?: number;
}

/** The configuration with every default filled in. */
export interface ResolvedEngineConfig {
  /** See {@linkcode EngineConfig.role}. */
  role: Role;
  /** See {@linkcode EngineConfig.relationship}. */
  relationship: string;
  /** See {@linkcode EngineConfig.mclt}. */
  mclt: number;
  /** See {@linkcode EngineConfig.keepaliveTime}. */
  keepaliveTime: number;
  /** See {@linkcode EngineConfig.contactPerKeepalive}. */
  contactPerKeepalive: number;
  /** See {@linkcode EngineConfig.maxUnackedBndupd}. */
  maxUnackedBndupd: number;
  /** See {@linkcode EngineConfig.fixedPdLength}. */
  fixedPdLength: boolean;
  /** See {@linkcode EngineConfig.startupTime}. */
  startupTime: number;
  /** See {@linkcode EngineConfig.autoPartnerDown}. */
  autoPartnerDown?: number;
  /** See {@linkcode EngineConfig.updDoneTimeout}. */
  updDoneTimeout: number;
  /** See {@linkcode EngineConfig.updateScanInterval}. */
  updateScanInterval: number;
  /** See {@linkcode EngineConfig.heartbeatInterval}. */
  heartbeatInterval: number;
  /** See {@linkcode EngineConfig.maxSkew}. */
  maxSkew: number;
  /** See {@linkcode EngineConfig.emptyStorageState}. */
  emptyStorageState: "RECOVER" | "PARTNER-DOWN";
  /** See {@linkcode EngineConfig.skipRecoverWaitWhenNew}. */
  skipRecoverWaitWhenNew: boolean;
  /** See {@linkcode EngineConfig.supportedVersions}. */
  supportedVersions: ProtocolVersion[];
  /** See {@linkcode EngineConfig.prefixes}. */
  prefixes?: string[];
  /** See {@linkcode EngineConfig.acceptDnsInfo}. */
  acceptDnsInfo: boolean;
  /** See {@linkcode EngineConfig.rebalance}. */
  rebalance: RebalancePolicy;
  /** See {@linkcode EngineConfig.readBatch}. */
  readBatch: number;
  /** See {@linkcode EngineConfig.firstTransactionId}. */
  firstTransactionId: number;
}

/** A configuration value the engine cannot work with; `field` names it. */
export class EngineConfigError extends RangeError {
  override name = "EngineConfigError";
  /** The offending property of {@linkcode EngineConfig}. */
  readonly field: string;
  /** Creates the error. */
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

function whole(field: string, v: number, min: number, max = 0xffff_ffff): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new EngineConfigError(field, `must be a whole number from ${min} to ${max}, got ${v}`);
  }
  return v;
}

/** Fills in defaults and checks ranges; throws {@linkcode EngineConfigError}. */
export function resolveConfig(c: EngineConfig): ResolvedEngineConfig {
  if (c.role !== "primary" && c.role !== "secondary") {
    throw new EngineConfigError("role", `must be primary or secondary, got ${String(c.role)}`);
  }
  if (typeof c.relationship !== "string") {
    throw new EngineConfigError("relationship", "must be a string");
  }
  const share = c.rebalance?.secondaryShare ?? 0.5;
  const hysteresis = c.rebalance?.hysteresis ?? 0.1;
  if (!(share >= 0 && share <= 1)) {
    throw new EngineConfigError("rebalance.secondaryShare", `must lie in 0..1, got ${share}`);
  }
  if (!(hysteresis >= 0 && hysteresis < 1)) {
    throw new EngineConfigError("rebalance.hysteresis", `must lie in 0..1, got ${hysteresis}`);
  }
  return {
    role: c.role,
    relationship: c.relationship,
    mclt: whole("mclt", c.mclt, 1),
    keepaliveTime: whole("keepaliveTime", c.keepaliveTime ?? 60, 1),
    contactPerKeepalive: whole("contactPerKeepalive", c.contactPerKeepalive ?? 4, 1, 1000),
    maxUnackedBndupd: whole("maxUnackedBndupd", c.maxUnackedBndupd ?? 100, 1),
    fixedPdLength: c.fixedPdLength ?? false,
    startupTime: whole("startupTime", c.startupTime ?? 10, 0),
    autoPartnerDown: c.autoPartnerDown === undefined
      ? undefined
      : whole("autoPartnerDown", c.autoPartnerDown, 0),
    updDoneTimeout: whole("updDoneTimeout", c.updDoneTimeout ?? 120, 1),
    updateScanInterval: whole("updateScanInterval", c.updateScanInterval ?? 30, 1),
    heartbeatInterval: whole("heartbeatInterval", c.heartbeatInterval ?? 60, 1),
    maxSkew: whole("maxSkew", c.maxSkew ?? 5, 0),
    emptyStorageState: c.emptyStorageState ?? "RECOVER",
    skipRecoverWaitWhenNew: c.skipRecoverWaitWhenNew ?? true,
    supportedVersions: c.supportedVersions ?? [{ major: 1, minor: 0 }],
    prefixes: c.prefixes,
    acceptDnsInfo: c.acceptDnsInfo ?? true,
    rebalance: { secondaryShare: share, hysteresis },
    readBatch: whole("readBatch", c.readBatch ?? 256, 1, 10_000),
    firstTransactionId: whole("firstTransactionId", c.firstTransactionId ?? 1, 1, 0xff_ffff),
  };
}

// ---------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------

/** Where the TCP connection stands. */
export type ConnectionPhase =
  /** No connection. */
  | "down"
  /** Secondary: connected, waiting for CONNECT. */
  | "awaiting-connect"
  /** Primary: CONNECT sent, waiting for CONNECTREPLY. */
  | "awaiting-connectreply"
  /** CONNECT exchange done, STATE sent, waiting for the partner's STATE. */
  | "awaiting-state"
  /** The partner's STATE arrived: communications are OK (§6.1). */
  | "ok";

/** The connection as the engine sees it. */
export interface CommsState {
  /** Where the connection stands. */
  phase: ConnectionPhase;
  /** Peer address given with `connection-up`. */
  peer?: string;
  /** When the connection came up (ms). */
  since: number;
  /** Last message received / sent (ms): the keepalive and send timers count from these. */
  lastReceived: number;
  /** Last message sent (ms). */
  lastSent: number;
  /** Transaction-id of our CONNECT (primary). */
  connectXid?: number;
  /** What the partner announced in CONNECT/CONNECTREPLY. */
  partner?: ConnectParams;
}

/** What the STARTUP algorithm knew when the engine started (§8.3.2). */
export interface StartupInfo {
  /** When the engine started (ms). */
  startedAt: number;
  /** Stable storage held a record for this relationship. */
  hadRecord: boolean;
  /** The record showed earlier contact with the partner. */
  hadContact: boolean;
  /** TIME-OF-FAILURE (ms), 0 = unknown. */
  timeOfFailure: number;
  /** Start time of the recorded state (reported in STATE while in STARTUP). */
  previousStart: number;
}

/** Counters for logs, benchmarks and tests. */
export interface EngineCounters {
  /** BNDUPDs sent. */
  bndupdSent: number;
  /** BNDUPDs received. */
  bndupdReceived: number;
  /** BNDREPLYs sent. */
  bndreplySent: number;
  /** BNDREPLYs received. */
  bndreplyReceived: number;
  /** Leases this side rejected in BNDREPLYs. */
  rejectionsSent: number;
  /** Leases the partner rejected. */
  rejectionsReceived: number;
  /** Bad messages from the partner. */
  badMessages: number;
}

/** The whole engine state: plain data, replaced (never changed) by `step`. */
export interface EngineState {
  /** The configuration, defaults filled in. */
  readonly config: ResolvedEngineConfig;
  /** What §8.2 keeps in stable storage (current, previous and partner state ...). */
  readonly endpoint: EndpointStateRecord;
  /** Facts of the STARTUP algorithm (§8.3.2). */
  readonly startup: StartupInfo;
  /** The connection to the partner. */
  readonly comms: CommsState;
  /**
   * The C flag sent in STATE (§5.5.15): this server had communicated with the partner before
   * the current connection (docs/decisions.md D9). Fixed for the life of a connection.
   */
  readonly communicated: boolean;
  /** Communications have been OK at some time (stored, or in this run). */
  readonly hadComms: boolean;
  /** The last SERVER_FLAGS received had STARTUP set (the A flag). */
  readonly ackStartup: boolean;
  /** The next transaction-id to use. */
  readonly nextXid: number;
  /** Next id for jobs and binding streams. */
  readonly nextId: number;
  /** BNDUPDs sent and not yet answered, by transaction-id. */
  readonly outstanding: ReadonlyMap<number, OutstandingBndupd>;
  /**
   * Lease key text → transaction-id of an unanswered BNDUPD for it (derived from
   * `outstanding` when read).
   */
  readonly inflight: ReadonlyMap<string, number>;
  /** Running update jobs (UPDREQ answers, flushes, scans). */
  readonly jobs: readonly SyncJob[];
  /** Leases waiting to be sent in a BNDUPD. */
  readonly queue: readonly QueuedLease[];
  /** Our outstanding UPDREQ/UPDREQALL. */
  readonly request?: UpdateRequest;
  /** Our outstanding POOLREQ (secondary). */
  readonly poolRequest?: { xid: number; at: number };
  /** The shutdown command was given. */
  readonly stopped: boolean;
  /** Message counters. */
  readonly counters: EngineCounters;
}

// ---------------------------------------------------------------------------------------
// The step context: a private, mutable draft of one step
// ---------------------------------------------------------------------------------------

const KEEPALIVE_TIMERS: readonly TimerName[] = ["keepalive", "contact"];

/** `inflight` of a state, by its `outstanding` table (each version is made once). */
const INFLIGHT = new WeakMap<ReadonlyMap<number, OutstandingBndupd>, Map<string, number>>();

function inflightOf(outstanding: ReadonlyMap<number, OutstandingBndupd>): Map<string, number> {
  let m = INFLIGHT.get(outstanding);
  if (m === undefined) {
    m = new Map();
    for (const [xid, e] of outstanding) m.set(e.key, xid);
    INFLIGHT.set(outstanding, m);
  }
  return m;
}

/** What the step reads of its tables. */
interface MapView<K, V> {
  get(key: K): V | undefined;
  has(key: K): boolean;
  readonly size: number;
}

/** No lease was decided against. */
const NO_OUTCOMES: ReadonlyMap<ReceivedLease, ReplyStatus> = new Map();

/** The `bindings` of an event that supplies none. */
const NO_BINDINGS: ReadonlyMap<string, Lease> = new Map();

class Step {
  readonly cfg: ResolvedEngineConfig;
  readonly now: number;
  readonly actions: Action[] = [];
  endpoint: EndpointStateRecord;
  startup: StartupInfo;
  comms: CommsState;
  communicated: boolean;
  hadComms: boolean;
  ackStartup: boolean;
  nextXid: number;
  nextId: number;
  request?: UpdateRequest;
  poolRequest?: { xid: number; at: number };
  stopped: boolean;
  counters: EngineCounters;
  #outstanding: VersionedMap<number, OutstandingBndupd>;
  #outstandingDraft?: VersionedMapDraft<number, OutstandingBndupd>;
  jobs: SyncJob[];
  #queue: QueuedLease[];
  #queueOwned = false;
  #queueHead = 0;
  /** Local records supplied with the current event, by key text (never changed in place). */
  bindings: ReadonlyMap<string, Lease> = NO_BINDINGS;
  /** Leases written during this step (later events of a `stepMany` must see them). */
  #written = new Map<string, Lease>();
  /** Actions before this index were checked for `read-bindings` (see `stepMany`). */
  readMark = 0;

  constructor(s: EngineState, now: number) {
    this.cfg = s.config;
    this.now = now;
    this.endpoint = s.endpoint;
    this.startup = s.startup;
    this.comms = s.comms;
    this.communicated = s.communicated;
    this.hadComms = s.hadComms;
    this.ackStartup = s.ackStartup;
    this.nextXid = s.nextXid;
    this.nextId = s.nextId;
    this.request = s.request;
    this.poolRequest = s.poolRequest;
    this.stopped = s.stopped;
    this.counters = { ...s.counters };
    this.#outstanding = VersionedMap.from(s.outstanding);
    this.jobs = s.jobs.map((j) => ({ ...j }));
    this.#queue = s.queue as QueuedLease[];
  }

  // --- collections (new versions on first write; see `VersionedMap`) ---

  get outstanding(): MapView<number, OutstandingBndupd> {
    return this.#outstandingDraft ?? this.#outstanding;
  }
  outstandingMut(): VersionedMapDraft<number, OutstandingBndupd> {
    return this.#outstandingDraft ??= this.#outstanding.edit();
  }
  /** The BNDUPDs outstanding now. */
  outstandingEntries(): Iterable<OutstandingBndupd> {
    return (this.#outstandingDraft ?? this.#outstanding).values();
  }
  /** The key texts of the leases with a BNDUPD outstanding now (made when asked). */
  inflightKeys(): Set<string> {
    const keys = new Set<string>();
    for (const e of (this.#outstandingDraft ?? this.#outstanding).values()) keys.add(e.key);
    return keys;
  }
  /** Undoes the table changes of a step that failed (the input state stays as it was). */
  abort(): void {
    this.#outstandingDraft?.abort();
  }
  get queueLength(): number {
    return this.#queue.length - this.#queueHead;
  }
  #ownQueue(): QueuedLease[] {
    if (!this.#queueOwned) {
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
      this.#queueOwned = true;
    }
    return this.#queue;
  }
  enqueue(item: QueuedLease): void {
    this.#ownQueue().push(item);
  }
  dequeue(): QueuedLease | undefined {
    if (this.queueLength === 0) return undefined;
    this.#ownQueue();
    return this.#queue[this.#queueHead++];
  }
  clearQueue(): void {
    this.#queue = [];
    this.#queueHead = 0;
    this.#queueOwned = true;
  }

  finish(): EngineState {
    const outstanding = this.#outstandingDraft?.commit() ?? this.#outstanding;
    return {
      config: this.cfg,
      endpoint: this.endpoint,
      startup: this.startup,
      comms: this.comms,
      communicated: this.communicated,
      hadComms: this.hadComms,
      ackStartup: this.ackStartup,
      nextXid: this.nextXid,
      nextId: this.nextId,
      outstanding,
      get inflight() {
        return inflightOf(outstanding);
      },
      jobs: this.jobs,
      queue: this.#queueHead === 0 ? this.#queue : this.#queue.slice(this.#queueHead),
      request: this.request,
      poolRequest: this.poolRequest,
      stopped: this.stopped,
      counters: this.counters,
    };
  }

  // --- small helpers ---

  get state(): EndpointStateName {
    return this.endpoint.state;
  }
  get role(): Role {
    return this.cfg.role;
  }
  get commsOk(): boolean {
    return this.comms.phase === "ok";
  }
  act(a: Action): void {
    this.actions.push(a);
  }
  log(level: "info" | "warn", text: string): void {
    this.act({ type: "log", level, text });
  }
  setTimer(name: TimerName, at: number): void {
    this.act({ type: "set-timer", name, at });
  }
  cancelTimer(name: TimerName): void {
    this.act({ type: "cancel-timer", name });
  }
  persistEndpoint(): void {
    this.act({ type: "persist", writes: [{ type: "endpoint-state", record: this.endpoint }] });
  }
  persist(writes: StoreWrite[]): void {
    if (writes.length === 0) return;
    for (const w of writes) if (w.type === "lease") this.wrote(w.lease);
    this.act({ type: "persist", writes });
  }
  /** `persist` for writes whose leases were all recorded with `wrote` already. */
  persistRecorded(writes: StoreWrite[]): void {
    if (writes.length > 0) this.act({ type: "persist", writes });
  }
  /** Records a lease written in this step (`key`: its key text, when known). */
  wrote(lease: Lease, key: string = leaseKeyText(lease)): void {
    this.#written.set(key, lease);
  }
  /** The current local record of a lease: written in this step, else supplied with the event. */
  local(key: string): Lease | undefined {
    if (this.#written.size === 0 && this.bindings.size === 0) return undefined;
    return this.#written.get(key) ?? this.bindings.get(key);
  }
  id(): number {
    return this.nextId++;
  }

  /** A fresh transaction-id, unique among outstanding messages (§5.4). */
  xid(): number {
    for (let i = 0; i < 0x100_0000; i++) {
      const x = this.nextXid;
      this.nextXid = x >= 0xff_ffff ? 1 : x + 1;
      if (
        !this.outstanding.has(x) && this.request?.xid !== x && this.poolRequest?.xid !== x &&
        this.comms.connectXid !== x
      ) return x;
    }
    return this.nextXid;
  }

  send(msgType: FailoverMsgType, options: DhcpOption[] = [], xid?: number): FailoverMessage {
    const message = failoverMessage(msgType, xid ?? this.xid(), this.wireNow, options);
    this.act({ type: "send", message });
    if (this.comms.lastSent !== this.now) this.comms = { ...this.comms, lastSent: this.now };
    return message;
  }
  /** `now` as failover time (computed once per step). */
  get wireNow(): number {
    if (this.#wireNow < 0) this.#wireNow = toWireTime(this.now);
    return this.#wireNow;
  }
  #wireNow = -1;
}

// ---------------------------------------------------------------------------------------
// Creating an engine
// ---------------------------------------------------------------------------------------

const EMPTY_COUNTERS: EngineCounters = {
  bndupdSent: 0,
  bndupdReceived: 0,
  bndreplySent: 0,
  bndreplyReceived: 0,
  rejectionsSent: 0,
  rejectionsReceived: 0,
  badMessages: 0,
};

/**
 * A new engine at `now`, in STARTUP (§8.3): PREVIOUS-STATE from the stored record (its
 * "communications failed" result for NORMAL and POTENTIAL-CONFLICT), or RECOVER with no record
 * (§8.3.2 step 1; docs/decisions.md D2). The actions store the STARTUP record and arm the
 * STARTUP, heartbeat and update-scan timers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createEngine } from "@failover6/failover6";
 *
 * const now = 1709294400000;
 * const { state, actions } = createEngine(
 *   { role: "primary", relationship: "pair", mclt: 3600 },
 *   undefined, // no stored endpoint state: a new server
 *   now,
 * );
 * assert.equal(state.endpoint.state, "STARTUP");
 * // The shell persists the STARTUP record, then arms the timers.
 * assert.deepEqual(actions.map((a) => a.type), ["persist", "set-timer", "set-timer", "set-timer"]);
 * ```
 */
export function createEngine(
  config: EngineConfig,
  stored: EndpointStateRecord | undefined,
  now: number,
): StepResult<EngineState> {
  const cfg = resolveConfig(config);
  const hadRecord = stored !== undefined;
  const recorded: EndpointStateName | undefined = stored
    ? stored.state === "STARTUP" ? stored.previousState ?? undefined : stored.state
    : undefined;
  const previous = recorded ? startupPreviousState(recorded, cfg.role) : "RECOVER";
  const mclt = cfg.role === "secondary" && stored && stored.mclt > 0 ? stored.mclt : cfg.mclt;
  const endpoint: EndpointStateRecord = {
    relationship: cfg.relationship,
    state: "STARTUP",
    previousState: previous,
    startTimeOfState: now,
    partnerState: stored?.partnerState ?? null,
    partnerStartTimeOfState: stored?.partnerStartTimeOfState ?? 0,
    partnerFlags: stored?.partnerFlags ?? 0,
    partnerDownTime: stored?.partnerDownTime ?? 0,
    lastContactTime: stored?.lastContactTime ?? 0,
    lastOperationTime: now + cfg.heartbeatInterval * 1000,
    mclt,
  };
  const state: EngineState = {
    config: cfg,
    endpoint,
    startup: {
      startedAt: now,
      hadRecord,
      hadContact: (stored?.lastContactTime ?? 0) > 0,
      timeOfFailure: stored?.lastOperationTime ?? 0,
      previousStart: stored?.state === "STARTUP" ? 0 : stored?.startTimeOfState ?? 0,
    },
    comms: { phase: "down", since: 0, lastReceived: 0, lastSent: 0 },
    communicated: (stored?.lastContactTime ?? 0) > 0,
    hadComms: (stored?.lastContactTime ?? 0) > 0,
    ackStartup: false,
    nextXid: cfg.firstTransactionId,
    nextId: 1,
    outstanding: VersionedMap.of(),
    inflight: new Map(),
    jobs: [],
    queue: [],
    stopped: false,
    counters: EMPTY_COUNTERS,
  };
  const actions: Action[] = [
    { type: "persist", writes: [{ type: "endpoint-state", record: endpoint }] },
  ];
  if (recorded && recorded !== "STARTUP") {
    actions.push({
      type: "state-changed",
      from: recorded,
      to: "STARTUP",
      reason: `started; PREVIOUS-STATE ${previous} (§8.3.2)`,
    });
  }
  actions.push(
    { type: "set-timer", name: "startup", at: now + cfg.startupTime * 1000 },
    { type: "set-timer", name: "heartbeat", at: now + cfg.heartbeatInterval * 1000 },
    { type: "set-timer", name: "update-scan", at: now + cfg.updateScanInterval * 1000 },
  );
  return { state, actions };
}

// ---------------------------------------------------------------------------------------
// step
// ---------------------------------------------------------------------------------------

/**
 * Handles one event at `now` and returns the new state and the actions to carry out, in
 * order. Never throws on bad peer input: that becomes log lines, rejections, DISCONNECT.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createEngine, MessageType, step } from "@failover6/failover6";
 *
 * const now = 1709294400000;
 * const { state } = createEngine({ role: "primary", relationship: "pair", mclt: 3600 }, undefined, now);
 *
 * // The TCP connection is up: a primary sends CONNECT.
 * const up = step(state, { type: "connection-up" }, now);
 * const sent = up.actions.find((a) => a.type === "send");
 * assert.equal(sent?.type === "send" ? sent.message.msgType : 0, MessageType.CONNECT);
 *
 * // The STARTUP timer fires with no partner in sight: an empty store means RECOVER (§8.3.2).
 * const later = step(state, { type: "timer-fired", name: "startup" }, now + 10_000);
 * assert.equal(later.state.endpoint.state, "RECOVER");
 * assert.equal(state.endpoint.state, "STARTUP"); // the input state is not modified
 * ```
 */
export function step(state: EngineState, event: Event, now: number): StepResult<EngineState> {
  const { state: next, actions } = stepMany(state, [event], now);
  return { state: next, actions };
}

/** What {@linkcode stepMany} returns. */
export interface StepManyResult extends StepResult<EngineState> {
  /**
   * How many of the events were handled. It stops after an event that asked for leases
   * (`read-bindings`): the shell answers that first, then passes the rest, so that the
   * outcome is the same as handling every event alone, in order, with reads answered at once.
   */
  consumed: number;
}

/**
 * Handles several events at the same `now` (e.g. every frame of one TCP read) with the
 * state's tables copied once: the same result as folding {@linkcode step} over the first
 * `consumed` of them.
 */
export function stepMany(
  state: EngineState,
  events: readonly Event[],
  now: number,
): StepManyResult {
  const s = new Step(state, now);
  let consumed = 0;
  try {
    for (const e of events) {
      handle(s, e);
      consumed++;
      let read = false;
      for (let i = s.readMark; i < s.actions.length; i++) {
        if (s.actions[i].type === "read-bindings") read = true;
      }
      s.readMark = s.actions.length;
      if (read) break;
    }
  } catch (e) {
    s.abort();
    throw e;
  }
  return { state: s.finish(), actions: s.actions, consumed };
}

function handle(s: Step, e: Event): void {
  if (s.stopped && e.type !== "connection-down") return;
  switch (e.type) {
    case "connection-up":
      return connectionUp(s, e.peer);
    case "connection-down":
      return commsLost(s, e.reason, "comms-failed", false);
    case "message-received":
      s.bindings = e.bindings === undefined || e.bindings.length === 0
        ? NO_BINDINGS
        : new Map(e.bindings.map((l) => [leaseKeyText(l), l]));
      return received(s, e.message, e.errors?.length ?? 0);
    case "timer-fired":
      return timerFired(s, e.name);
    case "operator-command":
      return command(s, e.command);
    case "client-lease-changed":
      return leaseChanged(s, e.lease);
    case "bindings-read":
      return bindingsRead(s, e);
  }
}

// ---------------------------------------------------------------------------------------
// Endpoint state machine
// ---------------------------------------------------------------------------------------

/** Runs the table for `trigger`, then keeps following the partner's state (§8.1). */
function run(s: Step, trigger: EndpointTrigger): void {
  let t: EndpointTrigger | undefined = trigger;
  for (let i = 0; t && i < 12; i++) {
    const row = findTransition(s.state, t, s.role);
    if (!row) return;
    if (row.effect === "request-updates") requestUpdates(s);
    if (row.to === "stay") return;
    const to = row.to === "previous-state" ? leaveStartup(s, t) : row.to;
    transition(s, to, `${describeTrigger(t)} (${row.ref})`);
    t = partnerTrigger(s);
  }
}

/** The partner-state trigger, when communications are OK and the partner is not in STARTUP. */
function partnerTrigger(s: Step): EndpointTrigger | undefined {
  const p = s.endpoint.partnerState;
  if (!s.commsOk || p === null || p === "STARTUP") return undefined;
  if ((s.endpoint.partnerFlags & ServerFlag.STARTUP) !== 0) return undefined;
  return partnerStateTrigger(p);
}

/** §8.3.2 steps 5 and 6: the state STARTUP leads to. */
function leaveStartup(s: Step, t: EndpointTrigger): EndpointStateName {
  s.cancelTimer("startup");
  const previous = s.endpoint.previousState ?? "RECOVER";
  if (t.on === "timer") {
    return !s.startup.hadRecord && s.cfg.emptyStorageState === "PARTNER-DOWN"
      ? "PARTNER-DOWN"
      : previous;
  }
  if (s.endpoint.partnerState === "PARTNER-DOWN") {
    // Partner entered PARTNER-DOWN after this server last ran → RECOVER, else POTENTIAL-CONFLICT.
    return s.endpoint.partnerStartTimeOfState > s.startup.timeOfFailure
      ? "RECOVER"
      : "POTENTIAL-CONFLICT";
  }
  return previous;
}

function transition(s: Step, to: EndpointStateName, reason: string): void {
  const from = s.state;
  if (from === to) return;
  // leaving
  if (from === "COMMUNICATIONS-INTERRUPTED") s.cancelTimer("auto-partner-down");
  if (from === "RECOVER-WAIT") s.cancelTimer("recover-wait");
  if (from === "RECOVER" || from === "POTENTIAL-CONFLICT") {
    if (s.request) s.cancelTimer("upddone");
    s.request = undefined;
  }
  s.endpoint = {
    ...s.endpoint,
    previousState: from,
    state: to,
    startTimeOfState: s.now,
    lastContactTime: s.commsOk ? s.now : s.endpoint.lastContactTime,
    lastOperationTime: Math.max(s.endpoint.lastOperationTime, s.now),
  };
  s.persistEndpoint();
  s.act({ type: "state-changed", from, to, reason });
  if (s.commsOk) sendState(s);
  // entering
  switch (to) {
    case "COMMUNICATIONS-INTERRUPTED":
      if (s.cfg.autoPartnerDown !== undefined) {
        s.setTimer("auto-partner-down", s.now + s.cfg.autoPartnerDown * 1000);
      }
      if (from === "NORMAL") s.act({ type: "alarm", text: `${from} → ${to}: ${reason}` });
      break;
    case "RESOLUTION-INTERRUPTED":
      s.act({ type: "alarm", text: `${from} → ${to}: ${reason}` });
      break;
    case "PARTNER-DOWN":
      s.act({ type: "alarm", text: `entered PARTNER-DOWN: ${reason}` });
      break;
    case "RECOVER-WAIT":
      enterRecoverWait(s);
      break;
    case "POTENTIAL-CONFLICT":
      if (s.role === "primary" && s.commsOk) requestUpdates(s, "UPDREQ");
      break;
    case "NORMAL":
      if (s.commsOk) startJob(s, "flush");
      break;
  }
}

function enterRecoverWait(s: Step): void {
  const partnerNew = s.endpoint.partnerState !== null &&
    (s.endpoint.partnerFlags & ServerFlag.COMMUNICATED) === 0 && !s.startup.hadContact;
  const end = recoverWaitEnd({
    timeOfFailure: s.startup.timeOfFailure / 1000,
    startTime: s.startup.startedAt / 1000,
    mclt: s.endpoint.mclt,
  }).at * 1000;
  if ((partnerNew && s.cfg.skipRecoverWaitWhenNew) || end <= s.now) {
    s.log(
      "info",
      partnerNew && s.cfg.skipRecoverWaitWhenNew
        ? "RECOVER-WAIT skipped: neither side has run failover before (§8.6.2)"
        : "RECOVER-WAIT already over",
    );
    run(s, { on: "timer", timer: "recover-wait" });
    return;
  }
  s.setTimer("recover-wait", end);
}

/** Sends UPDREQ, or UPDREQALL after lost storage (§8.5.2), unless one is outstanding. */
function requestUpdates(s: Step, kind?: "UPDREQ" | "UPDREQALL"): void {
  if (!s.commsOk || s.request) return;
  const all = kind === undefined && s.state === "RECOVER" && !s.startup.hadContact &&
    (s.endpoint.partnerFlags & ServerFlag.COMMUNICATED) !== 0;
  const k = kind ?? (all ? "UPDREQALL" : "UPDREQ");
  const xid = s.xid();
  s.request = { xid, kind: k, at: s.now, progress: s.now };
  s.send(k === "UPDREQ" ? 28 : 29, [], xid);
  s.setTimer("upddone", s.now + s.cfg.updDoneTimeout * 1000);
}

/** The STATE message (§6.3): in STARTUP, the previous state with the S flag (§8.3.1). */
function sendState(s: Step): void {
  const startup = s.state === "STARTUP";
  const reported = startup ? s.endpoint.previousState ?? "RECOVER" : s.state;
  const start = startup ? s.startup.previousStart || s.endpoint.startTimeOfState : s.endpoint
    .startTimeOfState;
  const flags = (s.communicated ? ServerFlag.COMMUNICATED : 0) |
    (startup ? ServerFlag.STARTUP : 0) | (s.ackStartup ? ServerFlag.ACK_STARTUP : 0);
  s.send(
    34,
    stateOptions({
      serverState: stateCode(reported),
      flags,
      startTimeOfState: toWireTime(start),
      partnerDownTime: reported === "PARTNER-DOWN" ? toWireTime(start) : undefined,
    }),
  );
}

function command(s: Step, c: OperatorCommand): void {
  if (c === "shutdown") {
    if (s.comms.phase !== "down") {
      s.send(33, [statusCode(20, "server shutting down")]);
      s.act({ type: "close-connection", reason: "shutdown", status: 20 });
    }
    s.endpoint = { ...s.endpoint, lastOperationTime: s.now };
    s.persistEndpoint();
    for (const t of ALL_TIMERS) s.cancelTimer(t);
    s.comms = { ...s.comms, phase: "down" };
    s.stopped = true;
    return;
  }
  const before = s.state;
  run(s, { on: "command", command: "partner-down" });
  if (s.state === before) {
    s.log("warn", `partner-down command ignored in ${before} (§8.4: not a state it leaves)`);
  }
}

const ALL_TIMERS: readonly TimerName[] = [
  "startup",
  "keepalive",
  "contact",
  "auto-partner-down",
  "recover-wait",
  "upddone",
  "update-scan",
  "heartbeat",
];

// ---------------------------------------------------------------------------------------
// Connection
// ---------------------------------------------------------------------------------------

function sendTimeMs(s: Step): number {
  const k = s.comms.partner?.keepaliveTime ?? s.cfg.keepaliveTime;
  return Math.max(1, Math.floor((k * 1000) / s.cfg.contactPerKeepalive));
}

function connectionUp(s: Step, peer?: string): void {
  if (s.comms.phase !== "down") {
    commsLost(s, "a new connection replaced the old one", "comms-failed", false);
  }
  s.communicated = s.hadComms;
  s.comms = {
    phase: s.role === "primary" ? "awaiting-connectreply" : "awaiting-connect",
    peer,
    since: s.now,
    lastReceived: s.now,
    lastSent: s.now,
  };
  s.setTimer("keepalive", s.now + s.cfg.keepaliveTime * 1000);
  if (s.role === "primary") {
    const xid = s.xid();
    s.comms = { ...s.comms, connectXid: xid };
    s.send(
      31,
      connectOptions({
        mclt: s.cfg.mclt,
        keepaliveTime: s.cfg.keepaliveTime,
        maxUnackedBndupd: s.cfg.maxUnackedBndupd,
        fixedPdLength: s.cfg.fixedPdLength,
        relationshipName: s.cfg.relationship,
      }),
      xid,
    );
  }
}

/** CONNECT exchange done: send STATE and start the CONTACT timer (§6.1.2, §6.1.3). */
function connected(s: Step, partner: ConnectParams): void {
  s.comms = { ...s.comms, phase: "awaiting-state", partner, connectXid: undefined };
  sendState(s);
  s.setTimer("contact", s.comms.lastSent + sendTimeMs(s));
}

/** Drops the connection with an optional DISCONNECT, then handles the loss. */
function drop(s: Step, reason: string, status?: number, disconnect = true): void {
  if (s.comms.phase === "down") return;
  if (status !== undefined && disconnect) s.send(33, [statusCode(status, reason)]);
  s.act({ type: "close-connection", reason, status });
  commsLost(s, reason, "comms-failed", false);
}

/**
 * The connection is gone (closed by us, by the partner, or dead): timers stop, unanswered
 * BNDUPDs and sync jobs are abandoned (their leases stay pending in storage), and a state in
 * which communications were OK takes its "communications failed" (or DISCONNECT) transition.
 */
function commsLost(
  s: Step,
  reason: string,
  trigger: "comms-failed" | "disconnect",
  announce = true,
): void {
  if (s.comms.phase === "down") return;
  const wasOk = s.commsOk;
  if (announce) s.log("info", `connection lost: ${reason}`);
  s.comms = { ...s.comms, phase: "down", connectXid: undefined };
  for (const t of KEEPALIVE_TIMERS) s.cancelTimer(t);
  if (s.request) s.cancelTimer("upddone");
  s.request = undefined;
  s.poolRequest = undefined;
  if (s.outstanding.size > 0) {
    s.outstandingMut().clear();
  }
  for (const j of s.jobs) {
    if (j.stream !== undefined) s.act({ type: "close-bindings", stream: j.stream });
  }
  s.jobs = [];
  if (s.queueLength > 0) s.clearQueue();
  if (!wasOk) return;
  s.endpoint = { ...s.endpoint, lastContactTime: s.comms.lastReceived };
  if (trigger === "disconnect") {
    const before = s.state;
    run(s, { on: "disconnect" });
    if (s.state !== before) return;
  }
  run(s, { on: "comms-failed" });
}

function timerFired(s: Step, name: TimerName): void {
  const now = s.now;
  switch (name) {
    case "startup":
      if (s.state === "STARTUP") run(s, { on: "timer", timer: "startup" });
      return;
    case "keepalive": {
      if (s.comms.phase === "down") return;
      const due = s.comms.lastReceived + s.cfg.keepaliveTime * 1000;
      if (now >= due) {
        s.log("warn", `nothing received for ${s.cfg.keepaliveTime} s: connection dead (§6.5)`);
        drop(s, "keepalive timeout", undefined, false);
      } else s.setTimer("keepalive", due);
      return;
    }
    case "contact": {
      if (s.comms.phase !== "awaiting-state" && s.comms.phase !== "ok") return;
      const due = s.comms.lastSent + sendTimeMs(s);
      if (now >= due) s.send(35);
      s.setTimer("contact", s.comms.lastSent + sendTimeMs(s));
      return;
    }
    case "auto-partner-down":
      if (s.state === "COMMUNICATIONS-INTERRUPTED") {
        run(s, { on: "timer", timer: "auto-partner-down" });
      }
      return;
    case "recover-wait":
      if (s.state === "RECOVER-WAIT") run(s, { on: "timer", timer: "recover-wait" });
      return;
    case "upddone": {
      const r = s.request;
      if (!r) return;
      const due = r.progress + s.cfg.updDoneTimeout * 1000;
      if (now >= due) {
        s.log("warn", `no UPDDONE and no BNDUPD for ${s.cfg.updDoneTimeout} s: dropping (§8.5.2)`);
        drop(s, "no UPDDONE", undefined, false);
      } else s.setTimer("upddone", due);
      return;
    }
    case "update-scan":
      s.setTimer("update-scan", now + s.cfg.updateScanInterval * 1000);
      if (lazyUpdatesAllowed(s) && !s.jobs.some((j) => j.kind === "scan" || j.kind === "flush")) {
        startJob(s, "scan");
      }
      return;
    case "heartbeat":
      s.setTimer("heartbeat", now + s.cfg.heartbeatInterval * 1000);
      s.endpoint = {
        ...s.endpoint,
        lastOperationTime: now + s.cfg.heartbeatInterval * 1000,
        lastContactTime: s.commsOk ? s.comms.lastReceived : s.endpoint.lastContactTime,
      };
      s.persistEndpoint();
      return;
  }
}

// ---------------------------------------------------------------------------------------
// Receiving
// ---------------------------------------------------------------------------------------

const STATUS_UNSPEC_FAIL = 1;

function bad(s: Step, text: string, status = STATUS_UNSPEC_FAIL): void {
  s.counters.badMessages++;
  s.log("warn", `bad message from partner: ${text}`);
  drop(s, text, status);
}

function received(s: Step, message: FailoverMessage | undefined, errorCount: number): void {
  if (s.comms.phase === "down") return;
  if (s.comms.lastReceived !== s.now) s.comms = { ...s.comms, lastReceived: s.now };
  if (!message) return bad(s, "frame too short for a failover header");
  if (message.kind !== "failover") {
    return bad(s, `message type ${message.msgType} is not a failover message`);
  }
  const name = messageTypeName(message.msgType);
  const t = message.msgType;
  // The 5 s skew rule (§7.1): CONNECT and CONNECTREPLY answer it themselves.
  if (t !== 31 && t !== 32 && excessiveSkew(message, s.now, s.cfg.maxSkew)) {
    s.log(
      "warn",
      `${name}: clock skew ${skewSeconds(message, s.now)} s exceeds ${s.cfg.maxSkew} s`,
    );
    return drop(s, `clock skew of ${skewSeconds(message, s.now)} s`, 22);
  }
  if (t === 33) return disconnectReceived(s, message);
  const phase = s.comms.phase;
  if (phase === "awaiting-connect") {
    if (t !== 31) return bad(s, `${name} before CONNECT`);
    return connectReceived(s, message);
  }
  if (phase === "awaiting-connectreply") {
    if (t !== 32) return bad(s, `${name} before CONNECTREPLY`);
    return connectReplyReceived(s, message);
  }
  if (t === 31 || t === 32) return bad(s, `unexpected ${name} on an established connection`);
  if (t === 34) return stateReceived(s, message);
  if (t === 35) return;
  if (phase !== "ok") return bad(s, `${name} before the partner's STATE`);
  if (errorCount > 0 && t !== 24 && t !== 25) {
    s.log("warn", `${name} with ${errorCount} decoding problem(s); using what could be read`);
  }
  switch (t) {
    case 24:
      return bndupdReceived(s, message);
    case 25:
      return bndreplyReceived(s, message);
    case 26:
      return poolreqReceived(s, message);
    case 27:
      s.log("info", "POOLRESP received: the primary will examine the pool balance");
      if (s.poolRequest?.xid === message.transactionId) s.poolRequest = undefined;
      return;
    case 28:
    case 29:
      return updreqReceived(s, message);
    case 30:
      return upddoneReceived(s, message);
  }
}

function disconnectReceived(s: Step, m: FailoverMessage): void {
  const st = findOption(m.options, 13);
  const why = st
    ? `status ${st.statusCode}${st.statusMessage ? ` (${st.statusMessage})` : ""}`
    : "no status";
  s.log("info", `DISCONNECT received: ${why}`);
  if (st && st.statusCode !== 0 && st.statusCode !== 20) {
    s.act({ type: "alarm", text: `partner disconnected: ${why}` });
  }
  s.act({ type: "close-connection", reason: `DISCONNECT from partner: ${why}` });
  commsLost(s, `DISCONNECT: ${why}`, "disconnect", false);
}

function policy(s: Step): ConnectPolicy {
  return {
    supportedVersions: s.cfg.supportedVersions,
    fixedPdLength: s.cfg.fixedPdLength,
    relationship: s.cfg.relationship,
    mclt: s.cfg.mclt,
    maxSkew: s.cfg.maxSkew,
  };
}

function connectReceived(s: Step, m: FailoverMessage): void {
  const v = checkConnect(m, s.now, policy(s));
  if (!v.accept) {
    s.log("warn", `CONNECT rejected: ${v.reason}`);
    s.send(32, [statusCode(v.status, v.reason)], m.transactionId);
    s.act({ type: "close-connection", reason: `CONNECT rejected: ${v.reason}`, status: v.status });
    s.comms = { ...s.comms, phase: "down" };
    for (const t of KEEPALIVE_TIMERS) s.cancelTimer(t);
    return;
  }
  const p = v.params;
  if (p.mclt !== s.endpoint.mclt) {
    s.log("info", `adopting the primary's MCLT of ${p.mclt} s (§6.1.2)`);
    s.endpoint = { ...s.endpoint, mclt: p.mclt };
    s.persistEndpoint();
  }
  s.send(
    32,
    connectOptions({
      mclt: p.mclt,
      keepaliveTime: s.cfg.keepaliveTime,
      maxUnackedBndupd: s.cfg.maxUnackedBndupd,
      fixedPdLength: s.cfg.fixedPdLength,
    }),
    m.transactionId,
  );
  connected(s, p);
}

function connectReplyReceived(s: Step, m: FailoverMessage): void {
  const v = checkConnectReply(m, s.now, policy(s));
  if (!v.accept) {
    if (v.rejectedByPartner) {
      s.act({ type: "alarm", text: `partner rejected CONNECT: ${v.reason}` });
      s.act({ type: "close-connection", reason: v.reason, rejected: true });
      s.comms = { ...s.comms, phase: "down", connectXid: undefined };
      for (const t of KEEPALIVE_TIMERS) s.cancelTimer(t);
      return;
    }
    s.log("warn", `CONNECTREPLY not acceptable: ${v.reason}`);
    s.send(33, [statusCode(v.status, v.reason)]);
    s.act({ type: "close-connection", reason: v.reason, status: v.status, rejected: true });
    s.comms = { ...s.comms, phase: "down", connectXid: undefined };
    for (const t of KEEPALIVE_TIMERS) s.cancelTimer(t);
    return;
  }
  connected(s, v.params);
}

function stateReceived(s: Step, m: FailoverMessage): void {
  const o = m.options;
  const st = findOption(o, 132);
  const fl = findOption(o, 131);
  const start = findOption(o, 133);
  if (!st || !fl || !start || o.some(isMalformedOption)) {
    return bad(s, "STATE without OPTION_F_SERVER_STATE, SERVER_FLAGS and START_TIME_OF_STATE");
  }
  const partnerState = stateFromCode(st.serverState);
  if (!partnerState || partnerState === "STARTUP") {
    return bad(s, `STATE with invalid server state ${st.serverState}`);
  }
  const pdt = findOption(o, 125);
  if (partnerState === "PARTNER-DOWN" && !pdt) {
    s.log("warn", "STATE in PARTNER-DOWN without OPTION_F_PARTNER_DOWN_TIME (§6.3)");
  }
  const startup = (fl.flags & ServerFlag.STARTUP) !== 0;
  s.ackStartup = startup;
  s.endpoint = {
    ...s.endpoint,
    partnerState,
    partnerFlags: fl.flags,
    partnerStartTimeOfState: fromWireTime(start.startTimeOfState),
    partnerDownTime: partnerState === "PARTNER-DOWN" ? fromWireTime(pdt?.partnerDownTime ?? 0) : 0,
    lastContactTime: s.now,
  };
  s.persistEndpoint();
  s.log(
    "info",
    `partner state ${partnerState}${startup ? " (in STARTUP)" : ""}, flags 0x${
      fl.flags.toString(16)
    }`,
  );
  if (s.comms.phase === "awaiting-state") {
    s.comms = { ...s.comms, phase: "ok" };
    if (!s.hadComms) s.log("info", "first contact with the partner");
    s.hadComms = true;
    run(s, { on: "comms-ok" });
  }
  if (startup) {
    run(s, { on: "partner-startup" });
    return;
  }
  const t = partnerTrigger(s);
  if (t) run(s, t);
}

function upddoneReceived(s: Step, m: FailoverMessage): void {
  const r = s.request;
  if (!r || r.xid !== m.transactionId) {
    s.log("warn", `UPDDONE for transaction ${m.transactionId}, which is not our update request`);
    return;
  }
  s.request = undefined;
  s.cancelTimer("upddone");
  s.log("info", `UPDDONE received for ${r.kind}`);
  run(s, { on: "upddone" });
}

function updreqReceived(s: Step, m: FailoverMessage): void {
  const kind: SyncJobKind = m.msgType === 29 ? "updreqall" : "updreq";
  if (s.jobs.some((j) => j.xid === m.transactionId && j.kind === kind)) return;
  startJob(s, kind, m.transactionId);
}

function poolreqReceived(s: Step, m: FailoverMessage): void {
  s.send(27, [], m.transactionId);
  if (s.role !== "primary") {
    s.log("warn", "POOLREQ received by the secondary: answered, nothing to balance");
    return;
  }
  if (s.state !== "NORMAL" && s.state !== "CONFLICT-DONE") {
    s.log("info", `POOLREQ in ${s.state}: balance examined once in NORMAL`);
    return;
  }
  if (!s.jobs.some((j) => j.kind.startsWith("pool-"))) startJob(s, "pool-count");
}

// --- BNDUPD ---

const OWNER_OCTETS = new Uint8Array(16);

/** `addressOwner` without a bigint for an address written in hex groups (as decoded). */
function ownerOfAddress(address: string): "primary" | "secondary" {
  if (address.indexOf(".") < 0 && parseIPv6Into(address, OWNER_OCTETS)) {
    return (OWNER_OCTETS[15] & 1) === 1 ? "primary" : "secondary";
  }
  return addressOwner(address);
}

function ownerFor(key: ReceivedLease["key"], status: Lease["status"], local?: Lease): PoolOwner {
  if (key.kind === "na") return ownerOfAddress(key.address);
  if (status === "FREE-BACKUP") return "secondary";
  if (status === "FREE" || status === "PENDING-FREE") return "primary";
  return local?.owner && local.owner !== "none" ? local.owner : "primary";
}

function bndupdReceived(s: Step, m: FailoverMessage): void {
  s.counters.bndupdReceived++;
  if (s.request) s.request = { ...s.request, progress: s.now };
  const parsed = parseBndupd(m, { prefixes: s.cfg.prefixes, acceptDnsInfo: s.cfg.acceptDnsInfo });
  let outcomes: Map<ReceivedLease, ReplyStatus> | undefined;
  const writes: StoreWrite[] = [];
  const followUps: Lease[] = [];
  const clientDuid = parsed.shape === "client" ? parsed.clientDuid : "";
  for (const { lease, ia } of acceptableLeases(parsed)) {
    const key = leaseKeyText(lease.key);
    const local = s.local(key);
    const status = lease.status!;
    const decision = resolveConflict(
      local,
      {
        status,
        clientDuid,
        iaid: ia?.iaid ?? 0,
        cltTime: lease.cltTime,
        startTimeOfState: lease.startTimeOfState,
      },
      s.role,
      s.now,
    );
    if (decision.accept) {
      const next = acceptedLease(
        lease,
        ia,
        clientDuid,
        local,
        s.cfg.relationship,
        ownerFor(lease.key, status, local),
      );
      writes.push({ type: "lease", lease: next });
      s.wrote(next, key);
      continue;
    }
    const message = `${decision.rule}: ${decision.reason}`;
    outcomes ??= new Map();
    outcomes.set(lease, { code: decision.code, message });
    s.log("warn", `BNDUPD for ${key} rejected with status ${decision.code}: ${message}`);
    const damp = dampUpdate(local!.updatePending, decision.code);
    if (damp.setFlag && !local!.updatePending) {
      const flagged = { ...local!, updatePending: true };
      writes.push({ type: "lease", lease: flagged });
      s.wrote(flagged, key);
      if (damp.sendNow) followUps.push(flagged);
    }
  }
  const rejected = countRejections(parsed, outcomes);
  s.counters.rejectionsSent += rejected;
  if (parsed.shape === "none") s.log("warn", `BNDUPD rejected: ${parsed.error.message}`);
  s.persistRecorded(writes);
  s.send(25, bndreplyOptions(parsed, outcomes), m.transactionId);
  s.counters.bndreplySent++;
  for (const l of followUps) s.enqueue({ lease: l, job: 0 });
  if (followUps.length > 0) pump(s);
}

function countRejections(
  p: ReturnType<typeof parseBndupd>,
  outcomes: ReadonlyMap<ReceivedLease, ReplyStatus> = NO_OUTCOMES,
): number {
  if (p.shape === "none") return 1;
  if (p.shape === "prefix") return p.error || p.lease.error || outcomes.has(p.lease) ? 1 : 0;
  let n = 0;
  for (const ia of p.ias) {
    for (const l of ia.leases) if (p.error || ia.error || l.error || outcomes.has(l)) n++;
  }
  return n;
}

// --- BNDREPLY ---

function bndreplyReceived(s: Step, m: FailoverMessage): void {
  s.counters.bndreplyReceived++;
  const entry = s.outstanding.get(m.transactionId);
  if (!entry) {
    s.log("warn", `BNDREPLY for transaction ${m.transactionId}, which has no BNDUPD outstanding`);
    return;
  }
  s.outstandingMut().delete(entry.xid);
  const job = s.jobs.find((j) => j.id === entry.job);
  if (job) job.inflight--;
  const reply = takeBndreply(m);
  const acked = mirrored(reply, entry);
  const local = s.local(entry.key) ?? entry.lease;
  if (!acked) {
    s.counters.rejectionsReceived++;
    s.log(
      "warn",
      `BNDREPLY ${m.transactionId} does not mirror ${entry.key}${
        reply.messageStatus
          ? `: status ${reply.messageStatus.code} ${reply.messageStatus.message}`
          : ""
      }`,
    );
  } else if (acked.status.code !== 0) {
    // §7.7: only record that it happened; the lease stays pending for the periodic scan.
    s.counters.rejectionsReceived++;
    s.log(
      "warn",
      `partner rejected the BNDUPD for ${entry.key}: status ${acked.status.code} ${acked.status.message}`,
    );
  } else if (local) {
    const next = applyAck(local, entry, acked.partnerLifetimeSent, s.now, s.role);
    if (next !== local) s.persist([{ type: "lease", lease: next }]);
    // Freed into the partner's pool: the partner hears of it at once (P17).
    if (next.updatePending && next.status !== local.status) leaseChanged(s, next);
  }
  pump(s);
  finishJobs(s);
}

/**
 * The keys of the leases the shell should look up before feeding `message` (the `bindings`
 * of its `message-received` event): every lease a BNDUPD names; for a BNDREPLY, none when the
 * acknowledgement would leave the lease as it was sent unchanged (then nothing is written and
 * the record as sent is enough), else the acknowledged lease.
 */
export function lookupKeys(state: EngineState, message: FailoverMessage): LeaseKey[] {
  if (message.msgType !== 25) return bindingKeysOf(message);
  const entry = state.outstanding.get(message.transactionId);
  if (!entry) return [];
  const acked = mirrored(bndreplyOf(message), entry);
  if (!acked || acked.status.code !== 0) return [];
  const next = applyAck(entry.lease, entry, acked.partnerLifetimeSent, 0);
  return next === entry.lease ? [] : bindingKeysOf(message);
}

/** BNDREPLYs read by `lookupKeys`, so that the step reads each only once. */
const READ_BNDREPLIES = new WeakMap<FailoverMessage, ParsedBndreply>();

/** `parseBndreply` for `lookupKeys`, kept for the step that handles the same message. */
function bndreplyOf(m: FailoverMessage): ParsedBndreply {
  let r = READ_BNDREPLIES.get(m);
  if (r === undefined) {
    r = parseBndreply(m);
    READ_BNDREPLIES.set(m, r);
  }
  return r;
}

/**
 * `parseBndreply` for the step: what `lookupKeys` read of this message object, taken (so a
 * message object handled again is read again), or a fresh reading.
 */
function takeBndreply(m: FailoverMessage): ParsedBndreply {
  const r = READ_BNDREPLIES.get(m);
  if (r === undefined) return parseBndreply(m);
  READ_BNDREPLIES.delete(m);
  return r;
}

/**
 * The lease of a BNDREPLY that mirrors the BNDUPD of `entry` (the one whose key text is
 * `entry.key`, i.e. the key of `entry.lease`), compared field by field.
 */
function mirrored(reply: ParsedBndreply, entry: OutstandingBndupd): AckedLease | undefined {
  const sent = entry.lease;
  for (const l of reply.leases) {
    const k = l.key;
    if (
      k.kind === sent.kind && k.prefixLength === sent.prefixLength && k.address === sent.address
    ) {
      return l;
    }
  }
  return undefined;
}

/** The lease after an accepting BNDREPLY (digest §5, §7.2 (4)); `local` itself if unchanged. */
function applyAck(
  local: Lease,
  entry: OutstandingBndupd,
  partnerLifetimeSent: number | undefined,
  now: number,
  role?: Role,
): Lease {
  let next = local;
  const change = (patch: Partial<Lease>) => {
    next = { ...next, ...patch };
  };
  // Only for the same binding: an acknowledgement of another client's lease changes nothing.
  if (local.clientDuid !== entry.sent.clientDuid) return local;
  if (partnerLifetimeSent !== undefined && partnerLifetimeSent > local.ackedPartnerLifetime) {
    change({ ackedPartnerLifetime: partnerLifetimeSent });
  }
  if (
    local.partnerLifetime > 0 && partnerLifetimeSent !== undefined &&
    toWireTime(local.partnerLifetime) <= toWireTime(partnerLifetimeSent)
  ) change({ partnerLifetime: 0 });
  const current = entry.onAck
    ? { ...fingerprint(local), status: entry.sent.status }
    : fingerprint(local);
  if (sameFingerprint(current, entry.sent)) {
    if (local.updatePending || local.ackPending) {
      change({ updatePending: false, ackPending: false });
    }
    if (entry.onAck) {
      change({ status: entry.onAck.status, owner: entry.onAck.owner, startTimeOfState: now });
    } else if (leavesOnAck(local.status)) {
      next = afterAcknowledged(next, now, role);
    }
  }
  return next;
}

// ---------------------------------------------------------------------------------------
// Sending binding updates
// ---------------------------------------------------------------------------------------

/** Lazy updates go out in NORMAL and CONFLICT-DONE (§4.3, §8.8). */
function lazyUpdatesAllowed(s: Step): boolean {
  return s.commsOk && (s.state === "NORMAL" || s.state === "CONFLICT-DONE");
}

function leaseChanged(s: Step, lease: Lease): void {
  if (!lazyUpdatesAllowed(s)) return;
  s.enqueue({ lease, job: 0 });
  pump(s);
}

function startJob(s: Step, kind: SyncJobKind, xid?: number, source?: SyncJob["source"]): SyncJob {
  const job = newJob(s.id(), kind, { xid, source });
  s.jobs = [...s.jobs, job];
  if (kind === "updreq" || kind === "updreqall") {
    s.log("info", `${kind === "updreq" ? "UPDREQ" : "UPDREQALL"} received: sending bindings`);
  }
  pump(s);
  return job;
}

/** Sends queued leases while the partner's window allows, and keeps the active job reading. */
function pump(s: Step): void {
  if (!s.commsOk) return;
  const window = Math.max(1, s.comms.partner?.maxUnackedBndupd ?? 1);
  while (s.outstanding.size < window) {
    const item = s.dequeue();
    if (!item) break;
    const job = item.job ? s.jobs.find((j) => j.id === item.job) : undefined;
    if (job) job.queued--;
    if (job?.kind !== "pool-take" && alreadyOutstanding(s, item.lease, job)) continue;
    sendBndupd(s, item.lease, job);
  }
  const active = s.jobs[0];
  if (active && !active.exhausted && !active.reading && active.queued < s.cfg.readBatch) {
    if (active.stream === undefined) active.stream = s.id();
    active.reading = true;
    s.act({
      type: "read-bindings",
      stream: active.stream,
      source: active.source,
      limit: s.cfg.readBatch,
    });
  }
  finishJobs(s);
}

/**
 * True when the same binding, in the same state, is already in a BNDUPD awaiting its
 * BNDREPLY: a lazy update and an answer to UPDREQ (or the periodic scan) can both queue a
 * lease that changed while it was being read. The partner would reject the second copy as not
 * later than the first (OutdatedBindingInformation) and the damping would echo it back. A job
 * item takes the outstanding BNDUPD over, so that its UPDDONE still waits for that BNDREPLY.
 */
function alreadyOutstanding(s: Step, lease: Lease, job: SyncJob | undefined): boolean {
  if (s.outstanding.size === 0) return false;
  const key = leaseKeyText(lease);
  let print: ReturnType<typeof fingerprint> | undefined;
  for (const e of s.outstandingEntries()) {
    if (e.key !== key || e.onAck !== undefined) continue;
    if (e.lease.startTimeOfState !== lease.startTimeOfState) continue;
    if (e.lease.cltTime !== lease.cltTime) continue;
    print ??= fingerprint(lease);
    if (!sameFingerprint(e.sent, print)) continue;
    if (job && e.job !== job.id) {
      if (e.job !== 0) return false; // another job's: leave both
      s.outstandingMut().set(e.xid, { ...e, job: job.id });
      job.inflight++;
      job.sent++;
    }
    return true;
  }
  return false;
}

function sendBndupd(s: Step, lease: Lease, job: SyncJob | undefined): void {
  let toSend = lease;
  let onAck: OutstandingBndupd["onAck"];
  if (job?.kind === "pool-take") {
    toSend = { ...lease, status: "FREE", startTimeOfState: s.now, stateExpirationTime: 0 };
    onAck = { status: "FREE", owner: "primary" };
  }
  const options = bndupdOptions(toSend, s.now);
  if (!options) return;
  const xid = s.xid();
  const key = leaseKeyText(toSend);
  s.outstandingMut().set(xid, {
    xid,
    key,
    sent: fingerprint(toSend),
    job: job?.id ?? 0,
    onAck,
    lease: toSend,
    at: s.now,
  });
  if (job) {
    job.inflight++;
    job.sent++;
  }
  s.send(24, options, xid);
  s.counters.bndupdSent++;
}

function bindingsRead(s: Step, e: Extract<Event, { type: "bindings-read" }>): void {
  const job = s.jobs.find((j) => j.stream === e.stream);
  if (!job) {
    s.act({ type: "close-bindings", stream: e.stream });
    return;
  }
  job.reading = false;
  if (e.done) job.exhausted = true;
  if (job.kind === "pool-count") {
    job.exhausted = true;
    planPools(s, e.counts ?? []);
  } else if (job.kind === "pool-give") {
    givePrefixes(s, job, e.leases);
    job.exhausted = true;
  } else {
    const inflight = job.kind === "updreqall" ? undefined : s.inflightKeys();
    for (const lease of e.leases) {
      if (!canSend(lease)) continue;
      if (inflight?.has(leaseKeyText(lease))) continue;
      s.enqueue({ lease, job: job.id });
      job.queued++;
    }
    if (job.kind === "pool-take") job.exhausted = true;
  }
  pump(s);
}

/**
 * Pool balancing (§4.2.2): each FREE prefix just read is stored FREE-BACKUP in the step that
 * read it, so the primary stops using it before its BNDUPD leaves, however long that waits
 * for the partner's window. (Stored only when sent, a prefix a client was given while its
 * BNDUPD waited was overwritten with FREE-BACKUP: the primary lost the lease and the
 * secondary could hand the prefix to a second client.) Prefixes no longer FREE are left
 * alone; the queued ones are already FREE-BACKUP and are not stored again when sent.
 */
function givePrefixes(s: Step, job: SyncJob, leases: readonly Lease[]): void {
  const window = Math.max(1, s.comms.partner?.maxUnackedBndupd ?? 1);
  const inflight = s.inflightKeys();
  for (const lease of leases) {
    if (lease.kind !== "pd" || lease.status !== "FREE") continue;
    if (inflight.has(leaseKeyText(lease))) continue;
    const given: Lease = {
      ...lease,
      status: "FREE-BACKUP",
      owner: "secondary",
      startTimeOfState: s.now,
      stateExpirationTime: 0,
      updatePending: true,
    };
    s.persist([{ type: "lease", lease: given }]);
    if (s.commsOk && s.queueLength === 0 && s.outstanding.size < window) {
      sendBndupd(s, given, job);
    } else {
      s.enqueue({ lease: given, job: job.id });
      job.queued++;
    }
  }
}

function planPools(s: Step, counts: readonly PoolStatusCount[]): void {
  for (const move of planRebalance(counts, s.cfg.rebalance)) {
    s.log(
      "info",
      `pool ${
        move.pool || "(unnamed)"
      }: ${move.free} FREE, ${move.freeBackup} FREE-BACKUP, target ${move.target}: ${
        move.give ? `giving ${move.give}` : `taking back ${move.take}`
      }`,
    );
    const give = move.give > 0;
    s.jobs = [
      ...s.jobs,
      newJob(s.id(), give ? "pool-give" : "pool-take", {
        source: {
          kind: "list",
          query: {
            kind: "pd",
            pool: move.pool,
            status: give ? "FREE" : "FREE-BACKUP",
            owner: give ? "primary" : "secondary",
            limit: give ? move.give : move.take,
          },
        },
      }),
    ];
  }
}

/** Completes finished jobs in order: UPDDONE for UPDREQ/UPDREQALL, POOLREQ after a flush. */
function finishJobs(s: Step): void {
  while (s.jobs.length > 0 && jobComplete(s.jobs[0])) {
    const [job, ...rest] = s.jobs;
    s.jobs = rest;
    if (job.stream !== undefined) s.act({ type: "close-bindings", stream: job.stream });
    switch (job.kind) {
      case "updreq":
      case "updreqall":
        // §5.3.7: every requested BNDUPD sent and answered.
        s.send(30, [], job.xid);
        s.log("info", `UPDDONE sent after ${job.sent} BNDUPD(s)`);
        break;
      case "flush":
        if (s.role === "secondary" && s.state === "NORMAL" && !s.poolRequest) {
          const xid = s.xid();
          s.poolRequest = { xid, at: s.now };
          s.send(26, [], xid);
        }
        break;
    }
    if (s.jobs.length > 0) {
      const next = s.jobs[0];
      if (!next.reading && !next.exhausted) pump(s);
    }
  }
}
