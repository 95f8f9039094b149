/**
 * The data failover6 keeps at rest, in the words of RFC 8156: one {@linkcode Lease} per address
 * or delegated prefix (binding status and the per-lease time variables of RFC 8156 §7.3), the
 * endpoint state of each failover relationship (§8.2), the server DUID and a schema version.
 *
 * Time convention: every absolute time is **milliseconds since the Unix epoch** (the unit of
 * `Clock.now()` in `lib/util/clock.ts`), `0` meaning "none". Lifetimes handed to clients (`preferredLifetime`,
 * `validLifetime`) are **seconds**, as on the wire. Convert with `unixToFailoverTime` from
 * `lib/util/clock.ts` when building messages.
 *
 * @module
 */

import {
  BINDING_STATUS_NAMES,
  type BindingStatusName,
  ENDPOINT_STATE_NAMES,
  type EndpointStateName,
} from "../wire/names.ts";

/** The schema version this code writes and reads (kept in `PRAGMA user_version`). */
export const SCHEMA_VERSION = 1;

/** `na`: one IPv6 address (IA_NA, length 128); `pd`: one delegated prefix (IA_PD). */
export type LeaseKind = "na" | "pd";

/** Binding-status values (RFC 8156 §5.5.1, meanings in §7.2). */
export type BindingStatus = BindingStatusName;

/** Every binding status, in wire-code order. */
export const BINDING_STATUSES: readonly BindingStatus[] = BINDING_STATUS_NAMES;

/** OPTION_F_BINDING_STATUS wire code of each status (RFC 8156 §5.5.1). */
export const BINDING_STATUS_CODE: Readonly<Record<BindingStatus, number>> = Object.fromEntries(
  BINDING_STATUS_NAMES.map((name, i) => [name, i + 1]),
) as Record<BindingStatus, number>;

/** Which server's pool a lease belongs to (RFC 8156 §4.2; `none` when not in failover). */
export type PoolOwner = "primary" | "secondary" | "none";

/**
 * One address or delegated prefix and everything known about its binding.
 *
 * The key is (`kind`, `address`, `prefixLength`). `address` is always RFC 5952 text; stores
 * canonicalise what they are given.
 */
export interface Lease {
  /** Address (IA_NA) or delegated prefix (IA_PD). */
  kind: LeaseKind;
  /** The address, or the first address of the prefix, as RFC 5952 text. */
  address: string;
  /** 128 for `na`; the delegated length for `pd`. */
  prefixLength: number;
  /** Client DUID as lower-case hex without separators; `""` when no client is bound. */
  clientDuid: string;
  /** IAID of the IA_NA / IA_PD holding the lease (0–2^32-1). */
  iaid: number;
  /** Binding status (RFC 8156 §7.2). */
  status: BindingStatus;
  /** Preferred lifetime last given to the client, seconds. */
  preferredLifetime: number;
  /** Valid lifetime last given to the client, seconds. */
  validLifetime: number;
  /**
   * When the client's binding expires on this server (ms). For a lease this server handed
   * out: the last grant time + valid lifetime. For a binding learned from a BNDUPD: the
   * received OPTION_F_PARTNER_LIFETIME (RFC 8156 §7.5.5 "expiration-time").
   */
  expirationTime: number;
  /**
   * partner-lifetime (§7.3): the time sent (or to send) to the partner as "consider it expired
   * after this" (ms). Set to 0 once acknowledged.
   */
  partnerLifetime: number;
  /** acked-partner-lifetime (§7.3): greatest partner lifetime the partner has acked (ms). */
  ackedPartnerLifetime: number;
  /** client-last-transaction-time (§7.3): when this server last talked to the client (ms). */
  cltTime: number;
  /** partner-raw-clt-time (§7.3): the partner's CLT as received, in its clock context (ms). */
  partnerRawCltTime: number;
  /** start-time-of-state (§7.3): when `status` last changed (ms). */
  startTimeOfState: number;
  /** state-expiration-time (§7.3): when the current status expires (ms; 0 = no timeout). */
  stateExpirationTime: number;
  /** The partner needs a BNDUPD for this lease that has not been sent yet (§7.1). */
  updatePending: boolean;
  /** A BNDUPD for this lease was sent and its BNDREPLY has not arrived yet. */
  ackPending: boolean;
  /** Whose pool the lease is in (independent allocation: by bit 127; proportional: by BNDUPD). */
  owner: PoolOwner;
  /** Failover relationship that covers the lease, `""` when none. */
  relationship: string;
  /** Name of the configured pool the lease comes from (for utilisation), `""` when unknown. */
  pool: string;
}

/** The fields that identify a lease. */
export interface LeaseKey {
  /** `na` or `pd`. */
  kind: LeaseKind;
  /** RFC 5952 (or any valid) IPv6 text. */
  address: string;
  /** Defaults to 128 when omitted. */
  prefixLength?: number;
}

/** Failover endpoint states (RFC 8156 §8, wire codes of OPTION_F_SERVER_STATE §5.5.16). */
export type { EndpointStateName };

/** Every endpoint state, in wire-code order (1–10). */
export const ENDPOINT_STATES: readonly EndpointStateName[] = ENDPOINT_STATE_NAMES;

/**
 * What RFC 8156 §8.2 says an endpoint keeps in stable storage, for one relationship.
 * Times are ms since the Unix epoch, 0 = none.
 */
export interface EndpointStateRecord {
  /** Relationship name (the key). */
  relationship: string;
  /** Current state. */
  state: EndpointStateName;
  /** Previous state, `null` when none. */
  previousState: EndpointStateName | null;
  /** Start time of the current state. */
  startTimeOfState: number;
  /** The partner's state as last learned from STATE, `null` until one arrives. */
  partnerState: EndpointStateName | null;
  /** Start time of the partner's state (its START_TIME_OF_STATE). */
  partnerStartTimeOfState: number;
  /** Flags of the partner's last STATE message (OPTION_F_SERVER_FLAGS). */
  partnerFlags: number;
  /** PARTNER_DOWN_TIME stored while the partner is in PARTNER-DOWN (§6.4), else 0. */
  partnerDownTime: number;
  /** Time of the most recent message from the partner; 0 = never talked to it. */
  lastContactTime: number;
  /**
   * A time beyond which this server cannot have been running (refreshed while it runs):
   * TIME-OF-FAILURE for the STARTUP algorithm (§8.3.2).
   */
  lastOperationTime: number;
  /** MCLT in force (seconds): configured on a primary, adopted from CONNECT on a secondary. */
  mclt: number;
}

/** One write in a transaction (see {@linkcode BindingStore.apply}). */
export type StoreWrite =
  | { type: "lease"; lease: Lease }
  | { type: "delete-lease"; key: LeaseKey }
  | { type: "endpoint-state"; record: EndpointStateRecord }
  | { type: "server-duid"; duid: string };

/** Filters and paging for {@linkcode BindingStore.list}. */
export interface LeaseQuery {
  /** Only this kind. */
  kind?: LeaseKind;
  /** Only these statuses. */
  status?: BindingStatus | readonly BindingStatus[];
  /** Only leases of this client (hex DUID, any case, `:` allowed). */
  clientDuid?: string;
  /** Only this relationship. */
  relationship?: string;
  /** Only this pool. */
  pool?: string;
  /** Only this owner. */
  owner?: PoolOwner;
  /** Opaque cursor from a previous page's `next`. */
  after?: string;
  /** Page size, 1–10000 (default 100). */
  limit?: number;
}

/** One page of leases, in address order. */
export interface LeasePage {
  /** The leases of this page. */
  leases: Lease[];
  /** Cursor for the next page, absent on the last page. */
  next?: string;
}

/** How many leases of one pool and owner are in one status. */
export interface PoolStatusCount {
  /** Pool name (`""` for leases without a pool). */
  pool: string;
  /** Addresses (`na`) or delegated prefixes (`pd`). */
  kind: LeaseKind;
  /** Owner of those leases. */
  owner: PoolOwner;
  /** Binding status. */
  status: BindingStatus;
  /** Number of leases. */
  count: number;
}

/**
 * The durable store the server and failover engine share. Reads are synchronous; every write
 * goes through {@linkcode BindingStore.apply}, which is one all-or-nothing transaction that is
 * durable when it returns.
 */
export interface BindingStore {
  /** The lease for an address (`prefixLength` 128) or a delegated prefix. */
  get(key: LeaseKey): Lease | undefined;
  /** Every lease bound to a client DUID, optionally only for one IAID. */
  getByClient(clientDuid: string, iaid?: number): Lease[];
  /** A page of leases in address order, with filters. */
  list(query?: LeaseQuery): LeasePage;
  /**
   * Leases the partner still needs to hear about (`updatePending` or `ackPending`), for UPDREQ
   * and for resending after a reconnect. Iterated in address order in chunks, never all held
   * in memory. With a relationship name, only that relationship's leases.
   */
  needingUpdate(relationship?: string): IterableIterator<Lease>;
  /** Every lease in address order (for UPDREQALL), iterated in chunks, never all in memory. */
  all(relationship?: string): IterableIterator<Lease>;
  /** Number of leases. */
  count(): number;
  /** Lease counts grouped by pool, owner and status (pool utilisation). */
  countByPool(): PoolStatusCount[];
  /**
   * The earliest time a lease needs expiry processing: `expirationTime` of an ACTIVE lease, or
   * `stateExpirationTime` (when not 0) of a lease in any other status. `undefined` if none.
   */
  nextExpiry(): number | undefined;
  /** Leases due at or before `time` (as in {@linkcode nextExpiry}), earliest first. */
  dueBy(time: number, limit?: number): Lease[];
  /** The stored endpoint state of a relationship. */
  getEndpointState(relationship: string): EndpointStateRecord | undefined;
  /** Every stored endpoint state. */
  listEndpointStates(): EndpointStateRecord[];
  /** The server DUID (lower-case hex), if one has been stored. */
  getServerDuid(): string | undefined;
  /** Applies writes as ONE transaction, durable on return; throws {@linkcode StoreError}. */
  apply(writes: readonly StoreWrite[]): void;
  /** Shorthand for {@linkcode apply} of `lease` writes. */
  upsert(leases: readonly Lease[]): void;
  /** Number of committed transactions since opening (for metrics and tests). */
  readonly commits: number;
  /** Closes the store; later calls throw a `closed` StoreError. */
  close(): void;
}

/** Why a store operation failed. */
export type StoreErrorKind =
  | "not-sqlite" // the file is not an SQLite database
  | "damaged" // an SQLite file that fails its integrity check or cannot be read
  | "newer-schema" // written by a newer failover6 (schema version above SCHEMA_VERSION)
  | "foreign-database" // an SQLite database that failover6 did not create
  | "invalid" // a write with bad values (address, DUID, status, …)
  | "io" // the operating system refused (permissions, disk full, locked, …)
  | "closed"; // used after close()

/**
 * A typed store error: `kind` for programs, `message` for people (always one line).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryBindingStore, StoreError } from "@failover6/failover6";
 *
 * const store = new MemoryBindingStore();
 * store.close();
 * assert.throws(() => store.count(), (e) => e instanceof StoreError && e.kind === "closed");
 * ```
 */
export class StoreError extends Error {
  /** Always `"StoreError"`. */
  override name = "StoreError";
  /** Why it failed. */
  readonly kind: StoreErrorKind;
  /** The database file, when the error concerns one. */
  readonly path?: string;
  /**
   * Creates the error; line breaks in `message` become spaces.
   *
   * @param kind why
   * @param message one line for people
   * @param path the file
   */
  constructor(kind: StoreErrorKind, message: string, path?: string, options?: ErrorOptions) {
    super(message.replace(/\s*[\r\n]+\s*/g, " "), options);
    this.kind = kind;
    this.path = path;
  }
}
