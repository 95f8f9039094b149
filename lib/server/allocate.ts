/**
 * Allocation: pool state and a request in, a choice out (pure; reads a {@linkcode LeaseView}).
 *
 * Order of preference for one IA of one client:
 * 1. a reservation of the client's DUID in the subnet;
 * 2. an address or prefix the client asked for (a hint) that sits in a pool and is available;
 * 3. a lease the client held before (EXPIRED or RELEASED): the same client gets the same
 *    lease back;
 * 4. a fresh one from the pools, found without enumerating them: a hash of DUID, IAID and
 *    pool name picks a position in the range (or the n-th delegable prefix), probing a few
 *    more hashed positions, then scanning on from the first one. Ranges up to 65,536 entries
 *    are scanned whole before NoAddrsAvail; larger ones (a /64) are scanned over a window,
 *    which only matters when they are nearly full.
 *
 * A candidate is available when it is not taken by another IA of the same message, not
 * reserved for another DUID, not ACTIVE for someone else (or for another IA), not ABANDONED,
 * and the failover policy agrees ({@linkcode FailoverPolicy.mayAllocate}).
 *
 * @module
 */

import type { Lease, LeaseKind } from "../store/types.ts";
import { formatIPv6, nthPrefix, parseIPv6, prefixContains, prefixMask } from "../util/ipv6.ts";

import type { FailoverPolicy } from "./policy.ts";
import {
  type PoolSettings,
  prefixKey,
  type PrefixPoolSettings,
  type SubnetSettings,
} from "./settings.ts";
import type { LeaseView } from "./types.ts";

/** Ranges up to this size are scanned whole before giving up. */
export const FULL_SCAN_LIMIT = 65536n;
/** Larger ranges are scanned over this many positions after the hashed probes. */
export const SCAN_WINDOW = 4096n;
/** Hashed positions tried before scanning. */
export const PROBES = 16;

/** An address or prefix a client named in its IA (IAADDR / IAPREFIX). */
export interface Hint {
  /** The address, or the prefix's first address (0 for a length-only prefix hint). */
  address: bigint;
  /** 128 for an address; the prefix length for a prefix. */
  prefixLength: number;
}

/** What one IA of one client asks for. */
export interface AllocationRequest {
  /** Client DUID, lower-case hex. */
  clientDuid: string;
  /** IAID of the IA. */
  iaid: number;
  /** `na` (IA_NA) or `pd` (IA_PD). */
  kind: LeaseKind;
  /** What the client named in the IA, in order. */
  hints: readonly Hint[];
  /** Lease keys ({@linkcode leaseKeyText}) already chosen in this message: never chosen again. */
  taken: ReadonlySet<string>;
}

/** Where the allocator looks. */
export interface AllocationContext {
  /** The client's subnet. */
  subnet: SubnetSettings;
  /** The bindings. */
  view: LeaseView;
  /** Failover gating. */
  policy: FailoverPolicy;
  /** Now, ms. */
  now: number;
  /** Every lease of the client (from `view.getByClient`), read once per message. */
  clientLeases: readonly Lease[];
}

/** Why a lease was chosen. */
export type ChoiceSource = "reservation" | "hint" | "previous" | "pool";

/** The allocator's answer. */
export interface Choice {
  /** `na` or `pd`. */
  kind: LeaseKind;
  /** The address or first address of the prefix. */
  address: bigint;
  /** RFC 5952 text of `address`. */
  addressText: string;
  /** 128 or the delegated length. */
  prefixLength: number;
  /** Pool name (`""` for a reservation outside pools). */
  pool: string;
  /** The stored lease, if there was one. */
  existing?: Lease;
  /** Why it was chosen. */
  source: ChoiceSource;
}

/** The identity of a lease as one string: `na 2001:db8::1/128`. */
export function leaseKeyText(kind: LeaseKind, address: string, prefixLength: number): string {
  return `${kind} ${address}/${prefixLength}`;
}

/** The address pool of `subnet` that holds `address`. */
export function poolOfAddress(subnet: SubnetSettings, address: bigint): PoolSettings | undefined {
  for (const p of subnet.pools) if (address >= p.start && address <= p.end) return p;
  return undefined;
}

/** The delegable prefix of `subnet` that `address/length` is one of. */
export function poolOfPrefix(
  subnet: SubnetSettings,
  address: bigint,
  length: number,
): PrefixPoolSettings | undefined {
  if (length < 0 || length > 128 || (address & prefixMask(length)) !== address) return undefined;
  for (const p of subnet.prefixPools) {
    if (p.delegatedLength === length && prefixContains(p.prefix, address)) return p;
  }
  return undefined;
}

/** The DUID a lease is reserved for in `subnet`, if any. */
export function reservedFor(
  subnet: SubnetSettings,
  kind: LeaseKind,
  address: bigint,
  prefixLength: number,
): string | undefined {
  if (kind === "na") return subnet.reservedAddresses.get(address);
  // Most subnets reserve no prefix: no key text to build for each candidate of a pool search.
  if (subnet.reservedPrefixes.size === 0) return undefined;
  return subnet.reservedPrefixes.get(prefixKey(address, prefixLength));
}

/**
 * The pool name a lease of client `clientDuid` has in `subnet` when it is appropriate to the
 * link (in a pool, or reserved for that client); `undefined` when it is not.
 */
export function appropriatePool(
  subnet: SubnetSettings,
  kind: LeaseKind,
  address: bigint,
  prefixLength: number,
  clientDuid: string,
): string | undefined {
  const pool = kind === "na"
    ? (prefixLength === 128 ? poolOfAddress(subnet, address) : undefined)
    : poolOfPrefix(subnet, address, prefixLength);
  const owner = reservedFor(subnet, kind, address, prefixLength);
  if (owner !== undefined) return owner === clientDuid ? (pool?.name ?? "") : undefined;
  if (kind === "na" && pool !== undefined && !assignableAddress(subnet, address)) return undefined;
  return pool?.name;
}

/**
 * False for addresses never handed out: the Subnet-Router anycast address of the subnet
 * (RFC 4291 §2.6.1) and, in a /64, the reserved subnet anycast interface identifiers
 * (RFC 2526: the top 128).
 */
export function assignableAddress(subnet: SubnetSettings, address: bigint): boolean {
  if (address === subnet.prefix.address) return false;
  if (subnet.prefix.length === 64 && (address & 0xffff_ffff_ffff_ffffn) >= 0xfdff_ffff_ffff_ff80n) {
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// Hashing
// ---------------------------------------------------------------------------------------

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a (32 bit) of a string's UTF-16 code units. */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function word(seed: number, probe: number, k: number): number {
  return fmix32((seed ^ fmix32(Math.imul(probe + 1, 0x9e3779b9) + k * 0x632be5ab)) >>> 0);
}

function bitLength(v: bigint): number {
  let bits = 0;
  while (v > 0xffff_ffffn) {
    v >>= 32n;
    bits += 32;
  }
  return bits + 32 - Math.clz32(Number(v));
}

/** The `probe`-th hashed position in `[0, size)` for `seed` (uniform up to negligible bias). */
export function hashedOffset(seed: number, probe: number, size: bigint): bigint {
  if (size <= 1n) return 0n;
  if (size <= 0x1_0000_0000n) {
    const v = word(seed, probe, 0) * 2097152 + (word(seed, probe, 1) >>> 11); // 53 bits
    return BigInt(v % Number(size));
  }
  let bits = bitLength(size) + 32;
  let v = 0n;
  for (let k = 0; bits > 0; k++, bits -= 32) v = (v << 32n) | BigInt(word(seed, probe, k));
  return v % size;
}

// ---------------------------------------------------------------------------------------
// Availability
// ---------------------------------------------------------------------------------------

interface Probe {
  ctx: AllocationContext;
  req: AllocationRequest;
}

function check(
  p: Probe,
  address: bigint,
  prefixLength: number,
  pool: string,
): { ok: true; text: string; existing?: Lease } | { ok: false } {
  const { ctx, req } = p;
  const text = formatIPv6(address);
  if (req.taken.size > 0 && req.taken.has(leaseKeyText(req.kind, text, prefixLength))) {
    return { ok: false };
  }
  const owner = reservedFor(ctx.subnet, req.kind, address, prefixLength);
  if (owner !== undefined && owner !== req.clientDuid) return { ok: false };
  const existing = ctx.view.get({ kind: req.kind, address: text, prefixLength });
  if (existing !== undefined) {
    if (existing.status === "ACTIVE") {
      return existing.clientDuid === req.clientDuid && existing.iaid === req.iaid
        ? { ok: true, text, existing }
        : { ok: false };
    }
    if (existing.status === "ABANDONED") return { ok: false };
  }
  const allowed = ctx.policy.mayAllocate(
    {
      kind: req.kind,
      address,
      prefixLength,
      pool,
      relationship: ctx.subnet.relationship,
      ...(existing ? { existing } : {}),
    },
    req.clientDuid,
    ctx.now,
  );
  if (!allowed) return { ok: false };
  return existing ? { ok: true, text, existing } : { ok: true, text };
}

function choose(
  p: Probe,
  address: bigint,
  prefixLength: number,
  pool: string,
  source: ChoiceSource,
): Choice | undefined {
  const r = check(p, address, prefixLength, pool);
  if (!r.ok) return undefined;
  const c: Choice = {
    kind: p.req.kind,
    address,
    addressText: r.text,
    prefixLength,
    pool,
    source,
  };
  if (r.existing) c.existing = r.existing;
  return c;
}

/**
 * Claims one specific address or prefix for the request when it is available (see the module
 * doc), e.g. an address a client names in a Renew for an IA the server has lost.
 */
export function claim(
  ctx: AllocationContext,
  req: AllocationRequest,
  address: bigint,
  prefixLength: number,
  pool: string,
  source: ChoiceSource = "hint",
): Choice | undefined {
  return choose({ ctx, req }, address, prefixLength, pool, source);
}

/**
 * False when the policy knows that no lease of the pool can go to a new client now (see
 * `FailoverPolicy.room`): then the pool is not searched lease by lease, which costs a probe
 * per address or prefix of the pool when this server's part of it is used up.
 */
function hasRoom(
  p: Probe,
  kind: LeaseKind,
  pool: string,
  size: bigint,
  range?: { start: bigint; end: bigint },
): boolean {
  const { view, policy, subnet } = p.ctx;
  if (policy.room === undefined || view.poolCount === undefined) return true;
  return policy.room({
    kind,
    pool,
    size,
    ...(range ? { range } : {}),
    relationship: subnet.relationship,
    count: (status, owner) => view.poolCount!(pool, kind, status, owner),
  });
}

function fromAddressPool(p: Probe, pool: PoolSettings): Choice | undefined {
  const { ctx, req } = p;
  const occupied = ctx.view.poolOccupancy?.(pool.name);
  if (occupied !== undefined && BigInt(occupied) >= pool.size) return undefined;
  if (!hasRoom(p, "na", pool.name, pool.size, { start: pool.start, end: pool.end })) {
    return undefined;
  }
  const seed = fnv1a(`${req.clientDuid}/${req.iaid}/na/${pool.name}`);
  const at = (off: bigint) => {
    const a = pool.start + off;
    if (!assignableAddress(ctx.subnet, a)) return undefined;
    return choose(p, a, 128, pool.name, "pool");
  };
  const probes = pool.size < BigInt(PROBES) ? Number(pool.size) : PROBES;
  for (let i = 0; i < probes; i++) {
    const c = at(hashedOffset(seed, i, pool.size));
    if (c) return c;
  }
  const first = hashedOffset(seed, 0, pool.size);
  const limit = pool.size <= FULL_SCAN_LIMIT ? pool.size : SCAN_WINDOW;
  for (let j = 1n; j < limit; j++) {
    const c = at((first + j) % pool.size);
    if (c) return c;
  }
  return undefined;
}

function fromPrefixPool(p: Probe, pool: PrefixPoolSettings): Choice | undefined {
  const { ctx, req } = p;
  const occupied = ctx.view.poolOccupancy?.(pool.name);
  if (occupied !== undefined && BigInt(occupied) >= pool.count) return undefined;
  if (!hasRoom(p, "pd", pool.name, pool.count)) return undefined;
  const seed = fnv1a(`${req.clientDuid}/${req.iaid}/pd/${pool.name}`);
  const at = (n: bigint) => {
    const pre = nthPrefix(pool.prefix, pool.delegatedLength, n);
    return pre ? choose(p, pre.address, pre.length, pool.name, "pool") : undefined;
  };
  const probes = pool.count < BigInt(PROBES) ? Number(pool.count) : PROBES;
  for (let i = 0; i < probes; i++) {
    const c = at(hashedOffset(seed, i, pool.count));
    if (c) return c;
  }
  const first = hashedOffset(seed, 0, pool.count);
  const limit = pool.count <= FULL_SCAN_LIMIT ? pool.count : SCAN_WINDOW;
  for (let j = 1n; j < limit; j++) {
    const c = at((first + j) % pool.count);
    if (c) return c;
  }
  return undefined;
}

/**
 * Chooses one address (IA_NA) or delegated prefix (IA_PD) for one IA, or `undefined` when
 * nothing is available on the client's link. Reads the view; changes nothing.
 */
export function allocate(ctx: AllocationContext, req: AllocationRequest): Choice | undefined {
  const p: Probe = { ctx, req };
  const s = ctx.subnet;

  // 1. Reservations of this client.
  const res = s.reservations.get(req.clientDuid);
  if (res) {
    if (req.kind === "na") {
      for (const a of res.addresses) {
        const c = choose(p, a, 128, poolOfAddress(s, a)?.name ?? "", "reservation");
        if (c) return c;
      }
    } else {
      for (const pre of res.prefixes) {
        const pool = poolOfPrefix(s, pre.address, pre.length)?.name ?? "";
        const c = choose(p, pre.address, pre.length, pool, "reservation");
        if (c) return c;
      }
    }
  }

  // 2. Hints that sit in a pool.
  for (const h of req.hints) {
    if (req.kind === "na") {
      if (h.prefixLength !== 128) continue;
      const pool = poolOfAddress(s, h.address);
      if (!pool || !assignableAddress(s, h.address)) continue;
      const c = choose(p, h.address, 128, pool.name, "hint");
      if (c) return c;
    } else if (h.address !== 0n) {
      const pool = poolOfPrefix(s, h.address, h.prefixLength);
      if (!pool) continue;
      const c = choose(p, h.address, h.prefixLength, pool.name, "hint");
      if (c) return c;
    }
  }

  // 3. What this client held before (same IAID first, then the latest transaction).
  const previous = ctx.clientLeases
    .filter((l) => l.kind === req.kind && l.status !== "ACTIVE" && l.status !== "ABANDONED")
    .sort((a, b) =>
      Number(b.iaid === req.iaid) - Number(a.iaid === req.iaid) || b.cltTime - a.cltTime
    );
  for (const l of previous) {
    const a = parseIPv6(l.address);
    if (a === undefined) continue;
    const pool = appropriatePool(s, l.kind, a, l.prefixLength, req.clientDuid);
    if (pool === undefined) continue;
    const c = choose(p, a, l.prefixLength, pool, "previous");
    if (c) return c;
  }

  // 4. The pools.
  if (req.kind === "na") {
    for (const pool of s.pools) {
      const c = fromAddressPool(p, pool);
      if (c) return c;
    }
    return undefined;
  }
  const wanted = req.hints.find((h) => h.prefixLength > 0 && h.prefixLength <= 128)?.prefixLength;
  const ordered = wanted === undefined
    ? s.prefixPools
    : [...s.prefixPools].sort((a, b) =>
      Number(b.delegatedLength === wanted) - Number(a.delegatedLength === wanted)
    );
  for (const pool of ordered) {
    const c = fromPrefixPool(p, pool);
    if (c) return c;
  }
  return undefined;
}
