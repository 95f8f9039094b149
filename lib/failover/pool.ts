/**
 * Resource allocation between the partners (RFC 8156 §4.2, digest §8): the independent split
 * of addresses by their low-order bit (§4.2.1.1) and the proportional balancing of delegable
 * prefixes with POOLREQ/POOLRESP (§4.2.2), with hysteresis. Pure functions.
 *
 * @module
 */

import { parseIPv6 } from "../util/ipv6.ts";
import type { BindingStatus, PoolStatusCount } from "../store/types.ts";

/**
 * Whose half of an independent (address) pool an address is in (§4.2.1.1): the primary uses
 * addresses whose low-order bit (bit 127) is 1, the secondary those whose bit is 0.
 * An unparsable address counts as the primary's.
 */
export function addressOwner(address: string): "primary" | "secondary" {
  const v = parseIPv6(address);
  if (v === undefined) return "primary";
  return (v & 1n) === 1n ? "primary" : "secondary";
}

/** The status a free address rests in on its owner's side: FREE (primary) or FREE-BACKUP. */
export function freeStatusOfAddress(address: string): BindingStatus {
  return addressOwner(address) === "primary" ? "FREE" : "FREE-BACKUP";
}

/** How delegable prefixes are shared (§4.2.2). */
export interface RebalancePolicy {
  /** The secondary's share of the available prefixes, 0–1 (e.g. 0.5). */
  secondaryShare: number;
  /**
   * Hysteresis: no move while the secondary's count is within this fraction of the available
   * total from its target (§4.2.2 SHOULD use hysteresis), e.g. 0.1.
   */
  hysteresis: number;
}

/** What the primary should do for one pool. */
export interface RebalanceMove {
  /** Pool name. */
  pool: string;
  /** FREE prefixes (primary) available. */
  free: number;
  /** FREE-BACKUP prefixes (secondary) available. */
  freeBackup: number;
  /** The secondary's target count. */
  target: number;
  /** Prefixes to hand to the secondary (FREE → FREE-BACKUP). */
  give: number;
  /** Prefixes to take back from the secondary (FREE-BACKUP → FREE). */
  take: number;
}

/**
 * The moves that bring each pool's available prefixes to the configured proportion
 * (§4.2.2): target = round(share × (FREE + FREE-BACKUP)); nothing moves while the secondary's
 * count is within `hysteresis × total` (at least 1) of the target. Pools without available
 * prefixes, or already balanced, are left out.
 */
export function planRebalance(
  counts: readonly PoolStatusCount[],
  policy: RebalancePolicy,
): RebalanceMove[] {
  const byPool = new Map<string, { free: number; freeBackup: number }>();
  for (const c of counts) {
    // Addresses are split by their low-order bit (§4.2.1); only delegable prefixes balance.
    if (c.kind === "na") continue;
    const e = byPool.get(c.pool) ?? { free: 0, freeBackup: 0 };
    if (c.status === "FREE") e.free += c.count;
    else if (c.status === "FREE-BACKUP") e.freeBackup += c.count;
    byPool.set(c.pool, e);
  }
  const share = Math.min(1, Math.max(0, policy.secondaryShare));
  const moves: RebalanceMove[] = [];
  for (const [pool, { free, freeBackup }] of [...byPool].sort(([a], [b]) => a < b ? -1 : 1)) {
    const total = free + freeBackup;
    if (total === 0) continue;
    const target = Math.round(share * total);
    const margin = Math.max(1, Math.floor(Math.max(0, policy.hysteresis) * total));
    const diff = target - freeBackup;
    if (Math.abs(diff) < margin) continue;
    moves.push({
      pool,
      free,
      freeBackup,
      target,
      give: diff > 0 ? diff : 0,
      take: diff < 0 ? -diff : 0,
    });
  }
  return moves;
}
