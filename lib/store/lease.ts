/**
 * Pure helpers on {@linkcode Lease} records shared by every store: validation and
 * canonical form, the address-order key, paging cursors and the expiry due time.
 *
 * @module
 */

import { compareIPv6, formatIPv6, parseIPv6, prefixMask } from "../util/ipv6.ts";
import { isFormattedIPv6, parseIPv6Into } from "../util/ipv6_octets.ts";
import {
  BINDING_STATUSES,
  type BindingStatus,
  ENDPOINT_STATES,
  type EndpointStateRecord,
  type Lease,
  type LeaseKey,
  type LeaseKind,
  type PoolOwner,
  StoreError,
  type StoreWrite,
} from "./types.ts";

const OWNERS: readonly PoolOwner[] = ["primary", "secondary", "none"];
const MAX_DUID_OCTETS = 130; // 2-octet type + up to 128 octets (RFC 8415 §11.1)
const MAX_NAME = 255;

/**
 * Canonical DUID text: lower-case hex with no separators (`:` and `-` are removed).
 * `""` stays `""`. Returns `undefined` for text that is not whole octets of hex or is longer
 * than 130 octets.
 */
export function normaliseDuid(text: string): string | undefined {
  if (typeof text !== "string") return undefined;
  const hex = text.replace(/[:-]/g, "").toLowerCase();
  if (hex.length % 2 !== 0 || hex.length > MAX_DUID_OCTETS * 2 || !/^[0-9a-f]*$/.test(hex)) {
    return undefined;
  }
  return hex;
}

/**
 * A lease for `key` with no client and every time at 0: a starting point for builders.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyLease, type Lease } from "@failover6/failover6";
 *
 * const lease: Lease = {
 *   ...emptyLease({ kind: "na", address: "2001:db8::10" }, "ACTIVE"),
 *   clientDuid: "00030001020000000001",
 *   iaid: 1,
 *   validLifetime: 7200,
 * };
 * assert.equal(lease.prefixLength, 128);
 * assert.equal(lease.expirationTime, 0);
 * ```
 */
export function emptyLease(
  key: LeaseKey,
  status: BindingStatus = "FREE",
): Lease {
  return {
    kind: key.kind,
    address: key.address,
    prefixLength: key.prefixLength ?? 128,
    clientDuid: "",
    iaid: 0,
    status,
    preferredLifetime: 0,
    validLifetime: 0,
    expirationTime: 0,
    partnerLifetime: 0,
    ackedPartnerLifetime: 0,
    cltTime: 0,
    partnerRawCltTime: 0,
    startTimeOfState: 0,
    stateExpirationTime: 0,
    updatePending: false,
    ackPending: false,
    owner: "none",
    relationship: "",
    pool: "",
  };
}

function invalid(msg: string): never {
  throw new StoreError("invalid", msg);
}

/** A lease key with a canonical address and explicit length, plus the address as bigint. */
export interface CanonicalKey {
  /** Kind. */
  kind: LeaseKind;
  /** RFC 5952 text. */
  address: string;
  /** Prefix length (128 for `na`). */
  prefixLength: number;
  /** The address as a number. */
  value: bigint;
}

/** Validates and canonicalises a key; throws an `invalid` {@linkcode StoreError}. */
export function canonicalKey(key: LeaseKey): CanonicalKey {
  if (key === null || typeof key !== "object") invalid("lease key: not an object");
  if (key.kind !== "na" && key.kind !== "pd") invalid(`lease key: bad kind ${String(key.kind)}`);
  const value = parseIPv6(key.address);
  if (value === undefined) invalid(`lease key: not an IPv6 address: ${String(key.address)}`);
  const prefixLength = key.prefixLength ?? 128;
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 128) {
    invalid(`lease ${key.address}: bad prefix length ${prefixLength}`);
  }
  if (key.kind === "na" && prefixLength !== 128) {
    invalid(`lease ${key.address}: an address (na) has prefix length 128, not ${prefixLength}`);
  }
  if ((value & prefixMask(prefixLength)) !== value) {
    invalid(`lease ${key.address}/${prefixLength}: bits set beyond the prefix length`);
  }
  return { kind: key.kind, address: formatIPv6(value), prefixLength, value };
}

function checkTime(lease: Lease, field: keyof Lease): void {
  const v = lease[field];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    invalid(`lease ${lease.address}: ${field} must be a non-negative integer, got ${String(v)}`);
  }
}

function checkU32(lease: Lease, field: keyof Lease): void {
  const v = lease[field];
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffff_ffff) {
    invalid(`lease ${lease.address}: ${field} must be 0..4294967295, got ${String(v)}`);
  }
}

/** The general rule of {@linkcode canonicalLease}: normalises, or says what is wrong. */
function normalisedLease(lease: Lease): Lease {
  if (lease === null || typeof lease !== "object") invalid("lease: not an object");
  const key = canonicalKey(lease);
  const duid = normaliseDuid(lease.clientDuid);
  if (duid === undefined) {
    invalid(`lease ${key.address}: clientDuid is not hex octets: ${String(lease.clientDuid)}`);
  }
  if (!BINDING_STATUSES.includes(lease.status)) {
    invalid(`lease ${key.address}: unknown binding status ${String(lease.status)}`);
  }
  if (lease.status === "ACTIVE" && duid === "") {
    invalid(`lease ${key.address}: an ACTIVE lease needs a client DUID`);
  }
  if (!OWNERS.includes(lease.owner)) {
    invalid(`lease ${key.address}: bad owner ${String(lease.owner)}`);
  }
  for (const f of ["iaid", "preferredLifetime", "validLifetime"] as const) checkU32(lease, f);
  for (
    const f of [
      "expirationTime",
      "partnerLifetime",
      "ackedPartnerLifetime",
      "cltTime",
      "partnerRawCltTime",
      "startTimeOfState",
      "stateExpirationTime",
    ] as const
  ) checkTime(lease, f);
  for (const f of ["updatePending", "ackPending"] as const) {
    if (typeof lease[f] !== "boolean") invalid(`lease ${key.address}: ${f} must be a boolean`);
  }
  for (const f of ["relationship", "pool"] as const) {
    const v = lease[f];
    if (typeof v !== "string" || v.length > MAX_NAME) {
      invalid(`lease ${key.address}: ${f} must be a string of at most ${MAX_NAME} characters`);
    }
  }
  return {
    ...copyLease(lease),
    kind: key.kind,
    address: key.address,
    prefixLength: key.prefixLength,
    clientDuid: duid,
  };
}

const STATUS_SET: ReadonlySet<string> = new Set(BINDING_STATUSES);
const OWNER_SET: ReadonlySet<string> = new Set(OWNERS);
const SCRATCH = new Uint8Array(16);

function isU32(v: unknown): boolean {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff;
}

function isTime(v: unknown): boolean {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function isName(v: unknown): boolean {
  return typeof v === "string" && v.length <= MAX_NAME;
}

/** Canonical DUID text: lower-case hex digits, whole octets, at most 130 of them. */
function isCanonicalDuid(d: unknown): boolean {
  if (typeof d !== "string" || d.length % 2 !== 0 || d.length > MAX_DUID_OCTETS * 2) return false;
  for (let i = 0; i < d.length; i++) {
    const c = d.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/** RFC 5952 text of an address with no bits set beyond `plen` (no bigint, no RegExp). */
function isCanonicalAddress(address: unknown, plen: number): boolean {
  if (typeof address !== "string" || !parseIPv6Into(address, SCRATCH)) return false;
  const full = plen >> 3;
  const rest = plen & 7;
  if (rest !== 0 && (SCRATCH[full] & (0xff >> rest)) !== 0) return false;
  for (let i = rest === 0 ? full : full + 1; i < 16; i++) if (SCRATCH[i] !== 0) return false;
  return isFormattedIPv6(SCRATCH, 0, address);
}

/** True when `l` is valid and already in canonical form (its canonical copy equals it). */
function isCanonicalLease(l: Lease): boolean {
  if (l === null || typeof l !== "object") return false;
  const kind = l.kind;
  const plen = l.prefixLength;
  if (kind !== "na" && kind !== "pd") return false;
  if (typeof plen !== "number" || !Number.isInteger(plen) || plen < 0 || plen > 128) {
    return false;
  }
  if (kind === "na" && plen !== 128) return false;
  if (!isCanonicalAddress(l.address, plen) || !isCanonicalDuid(l.clientDuid)) return false;
  if (!STATUS_SET.has(l.status) || (l.status === "ACTIVE" && l.clientDuid === "")) return false;
  if (!OWNER_SET.has(l.owner)) return false;
  return isU32(l.iaid) && isU32(l.preferredLifetime) && isU32(l.validLifetime) &&
    isTime(l.expirationTime) && isTime(l.partnerLifetime) && isTime(l.ackedPartnerLifetime) &&
    isTime(l.cltTime) && isTime(l.partnerRawCltTime) && isTime(l.startTimeOfState) &&
    isTime(l.stateExpirationTime) && typeof l.updatePending === "boolean" &&
    typeof l.ackPending === "boolean" && isName(l.relationship) && isName(l.pool);
}

/** A copy of a lease with exactly the {@linkcode Lease} fields. */
function copyLease(l: Lease): Lease {
  return {
    kind: l.kind,
    address: l.address,
    prefixLength: l.prefixLength,
    clientDuid: l.clientDuid,
    iaid: l.iaid,
    status: l.status,
    preferredLifetime: l.preferredLifetime,
    validLifetime: l.validLifetime,
    expirationTime: l.expirationTime,
    partnerLifetime: l.partnerLifetime,
    ackedPartnerLifetime: l.ackedPartnerLifetime,
    cltTime: l.cltTime,
    partnerRawCltTime: l.partnerRawCltTime,
    startTimeOfState: l.startTimeOfState,
    stateExpirationTime: l.stateExpirationTime,
    updatePending: l.updatePending,
    ackPending: l.ackPending,
    owner: l.owner,
    relationship: l.relationship,
    pool: l.pool,
  };
}

/**
 * Validates a lease and returns its canonical copy; throws an `invalid` StoreError naming the
 * field. A lease already valid and canonical (what the failover engine and the server make)
 * is checked without a bigint or a regular expression and copied; any other goes through the
 * general rule, which normalises it or says what is wrong.
 */
export function canonicalLease(lease: Lease): Lease {
  return isCanonicalLease(lease) ? copyLease(lease) : normalisedLease(lease);
}

/** Validates an endpoint state record and returns a copy; throws an `invalid` StoreError. */
export function canonicalEndpointState(r: EndpointStateRecord): EndpointStateRecord {
  if (r === null || typeof r !== "object") invalid("endpoint state: not an object");
  if (typeof r.relationship !== "string" || r.relationship.length > MAX_NAME) {
    invalid("endpoint state: relationship must be a string");
  }
  const where = `endpoint state ${r.relationship}`;
  if (!ENDPOINT_STATES.includes(r.state)) invalid(`${where}: unknown state ${String(r.state)}`);
  for (const f of ["previousState", "partnerState"] as const) {
    const v = r[f];
    if (v !== null && !ENDPOINT_STATES.includes(v)) invalid(`${where}: unknown ${f} ${String(v)}`);
  }
  for (
    const f of [
      "startTimeOfState",
      "partnerStartTimeOfState",
      "partnerFlags",
      "partnerDownTime",
      "lastContactTime",
      "lastOperationTime",
      "mclt",
    ] as const
  ) {
    const v = r[f];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
      invalid(`${where}: ${f} must be a non-negative integer, got ${String(v)}`);
    }
  }
  return { ...r };
}

/** Arrays made by {@linkcode canonicalWrites}, so stores need not check them twice. */
const checked = new WeakSet<readonly StoreWrite[]>();

/**
 * Marks an array whose every element came out of {@linkcode canonicalWrites} (for example the
 * concatenation of several of its results) as already checked.
 */
export function markCanonical(writes: readonly StoreWrite[]): readonly StoreWrite[] {
  Object.freeze(writes);
  checked.add(writes);
  return writes;
}

/**
 * Validates and canonicalises every write of a batch; throws an `invalid` StoreError.
 * Returns fresh objects (never the caller's), so later changes by the caller do not leak in.
 * An array this function returned is passed through as it is.
 */
export function canonicalWrites(writes: readonly StoreWrite[]): readonly StoreWrite[] {
  if (checked.has(writes)) return writes;
  if (!Array.isArray(writes)) invalid("writes: not an array");
  return markCanonical(writes.map((w): StoreWrite => {
    switch (w?.type) {
      case "lease":
        return { type: "lease", lease: canonicalLease(w.lease) };
      case "delete-lease": {
        const k = canonicalKey(w.key);
        return {
          type: "delete-lease",
          key: { kind: k.kind, address: k.address, prefixLength: k.prefixLength },
        };
      }
      case "endpoint-state":
        return { type: "endpoint-state", record: canonicalEndpointState(w.record) };
      case "server-duid": {
        const d = normaliseDuid(w.duid);
        if (d === undefined || d.length < 6) invalid(`server DUID is not valid: ${String(w.duid)}`);
        return { type: "server-duid", duid: d };
      }
      default:
        return invalid(`unknown write type ${String((w as { type?: unknown })?.type)}`);
    }
  }));
}

/** Address-order comparison of two canonical leases: address, then length, then kind. */
export function compareLeaseKeys(a: CanonicalKey, b: CanonicalKey): number {
  return compareIPv6(a.value, b.value) || a.prefixLength - b.prefixLength ||
    (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0);
}

/** The paging cursor that resumes after `lease`. */
export function encodeCursor(lease: LeaseKey): string {
  return `${lease.address}/${lease.prefixLength ?? 128}/${lease.kind}`;
}

/** Reads a cursor made by {@linkcode encodeCursor}; throws an `invalid` StoreError. */
export function decodeCursor(cursor: string): CanonicalKey {
  const m = typeof cursor === "string"
    ? /^([0-9a-fA-F:.]+)\/(\d{1,3})\/(na|pd)$/.exec(cursor)
    : null;
  if (!m) invalid(`bad paging cursor: ${String(cursor)}`);
  return canonicalKey({ address: m[1], prefixLength: Number(m[2]), kind: m[3] as LeaseKind });
}

/**
 * When a lease next needs expiry processing: `expirationTime` for ACTIVE, otherwise
 * `stateExpirationTime`; 0 when it has no timeout.
 */
export function dueTime(lease: Lease): number {
  return lease.status === "ACTIVE" ? lease.expirationTime : lease.stateExpirationTime;
}
