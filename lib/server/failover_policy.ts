/**
 * The failover policy of a server in RFC 8156 failover pairs: the {@linkcode FailoverPolicy}
 * the DHCPv6 core consults, computed from a snapshot of each relationship's endpoint state.
 * Pure: the shell (`shell/failover.ts`) builds a new policy with {@linkcode pairPolicy}
 * whenever an endpoint state changes and hands it to the core.
 *
 * - **Responsiveness** (digest §6.1): STARTUP, POTENTIAL-CONFLICT, RECOVER and RECOVER-WAIT
 *   answer nothing; in NORMAL the primary answers everything and the secondary only messages
 *   carrying its Server Identifier (renew-responsive); RECOVER-DONE answers only Renew for
 *   bindings it has (renew-only); COMMUNICATIONS-INTERRUPTED, PARTNER-DOWN,
 *   RESOLUTION-INTERRUPTED and CONFLICT-DONE answer everything.
 * - **Allocation** (§4.2, digest §8): addresses are split by their low-order bit
 *   (`addressOwner` of `failover/pool.ts`: the primary's have bit 127 set) and a server
 *   only ever allocates from its own half (§4.2.1 MUST NOT, decision P2 in
 *   `docs/readme/pair.md`); delegable prefixes are proportional: FREE ones (and those never
 *   written) are the primary's, FREE-BACKUP ones the secondary's, and in PARTNER-DOWN the
 *   partner's become usable at entry + MCLT once the own pool is used up (§8.4.1).
 * - **Reuse** (§4.2.2.1, §8.4.1): outside PARTNER-DOWN an EXPIRED, RELEASED or RESET lease
 *   goes back only to the same client (another client waits for the partner's ack, which
 *   makes it FREE / FREE-BACKUP); in PARTNER-DOWN another client gets it at
 *   `reuseTime` (MCLT after the latest of the lease's times, never before entry + MCLT).
 * - **Lifetimes** (digest §7): `clientValidLifetime` of `failover/mclt.ts` with the lease's
 *   acked partner lifetime, no cap in PARTNER-DOWN, infinite lifetimes made finite.
 * - **Stamp**: a lease the server changes gets its relationship, its owner, `updatePending`
 *   (a BNDUPD goes out lazily, after the Reply), the partner lifetime to send
 *   (`partnerLifetimeToSend`, R3), and for EXPIRED / RELEASED / RESET a state timer at
 *   start + MCLT (PENDING-FREE without an ack in PARTNER-DOWN, §7.2 (4)).
 * - **Expiry**: ACTIVE → EXPIRED, ABANDONED → RESET (client kept: the BNDUPD needs it), and
 *   EXPIRED / RELEASED / RESET → FREE or FREE-BACKUP once their timer passes in PARTNER-DOWN
 *   (elsewhere the partner's ack does it; the timer is looked at again an MCLT later).
 *
 * Times: `now` and lease times are ms since the Unix epoch; lifetimes and the MCLT seconds.
 *
 * @module
 */

import { BINDING_STATUSES, type BindingStatus, type Lease } from "../store/types.ts";
import { addressOwner } from "../failover/pool.ts";
import { pendingFreeTarget } from "../failover/binding.ts";
import {
  clientValidLifetime,
  MAX_FINITE_LIFETIME,
  partnerLifetimeToSend,
  reuseTime,
} from "../failover/mclt.ts";
import { clientService } from "../failover/endpoint.ts";
import type { EndpointStateName, Role } from "../failover/types.ts";
import { parseIPv6, prefixContains } from "../util/ipv6.ts";
import { MessageType } from "../wire/types.ts";
import { type FailoverPolicy, standalonePolicy } from "./policy.ts";
import type { ServerSettings, SubnetSettings } from "./settings.ts";

/** What one failover endpoint looks like to the policy. */
export interface EndpointView {
  /** Relationship name. */
  relationship: string;
  /** This server's role in it. */
  role: Role;
  /** Current endpoint state. */
  state: EndpointStateName;
  /** When the current state began (ms): the PARTNER-DOWN entry time in PARTNER-DOWN. */
  stateSince: number;
  /** MCLT in force, seconds (configured on a primary, adopted from CONNECT on a secondary). */
  mclt: number;
  /**
   * Delegable prefixes still available in this server's own pool, by pool name (only
   * consulted in PARTNER-DOWN, to use the own pool up before the partner's, §8.4.1). Absent:
   * unknown, so the partner's pool stays closed.
   */
  ownAvailable?: ReadonlyMap<string, number>;
}

/** How a server in a given endpoint state answers clients (digest §6.1). */
export type Responsiveness =
  /** Answers every valid client message. */
  | "responsive"
  /** Answers only messages carrying its Server Identifier. */
  | "renew-responsive"
  /** RECOVER-DONE: only Renew carrying its Server Identifier, and allocates nothing. */
  | "renew-only"
  /** Answers nothing. */
  | "unresponsive";

/** How `role` in `state` answers clients (digest §6.1). *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { responsiveness } from "@failover6/failover6";
 *
 * assert.equal(responsiveness("primary", "NORMAL"), "responsive");
 * assert.equal(responsiveness("secondary", "NORMAL"), "renew-responsive");
 * assert.equal(responsiveness("secondary", "RECOVER"), "unresponsive");
 * ```
 */
export function responsiveness(role: Role, state: EndpointStateName): Responsiveness {
  // The engine's §6.1 table, with RECOVER-DONE narrowed: nothing new is allocated there.
  return state === "RECOVER-DONE" ? "renew-only" : clientService(state, role);
}

/** Whether an endpoint in `state` may hand a lease to a client it did not hold (§8). *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { allocatesIn } from "@failover6/failover6";
 *
 * assert.equal(allocatesIn("COMMUNICATIONS-INTERRUPTED"), true);
 * assert.equal(allocatesIn("POTENTIAL-CONFLICT"), false);
 * ```
 */
export function allocatesIn(state: EndpointStateName): boolean {
  return state === "NORMAL" || state === "COMMUNICATIONS-INTERRUPTED" ||
    state === "PARTNER-DOWN" || state === "RESOLUTION-INTERRUPTED" || state === "CONFLICT-DONE";
}

/** Statuses whose lease waits for the partner's ack before another client may have it. */
const LEAVING: ReadonlySet<BindingStatus> = new Set<BindingStatus>([
  "EXPIRED",
  "RELEASED",
  "RESET",
  "PENDING-FREE",
]);

/**
 * Which server's pool a lease or candidate is in (§4.2): addresses by their low-order bit,
 * delegable prefixes by status (FREE and never written: primary; FREE-BACKUP: secondary;
 * anything else returns to the primary when freed, §4.2.2).
 */
export function poolOwnerOf(
  kind: "na" | "pd",
  address: string,
  existing: Pick<Lease, "status"> | undefined,
): Role {
  if (kind === "na") return addressOwner(address);
  return existing?.status === "FREE-BACKUP" ? "secondary" : "primary";
}

/** Finds the subnet a lease belongs to: by its pool name, else by its address. */
export interface LeaseScope {
  /** The subnet holding `lease` (pool name first, then address containment). */
  subnetOf(
    lease: Pick<Lease, "kind" | "address" | "prefixLength" | "pool">,
  ): SubnetSettings | undefined;
}

/** A {@linkcode LeaseScope} over compiled settings. */
export function leaseScope(settings: ServerSettings): LeaseScope {
  const byPool = new Map<string, SubnetSettings>();
  for (const s of settings.subnets) {
    for (const p of s.pools) byPool.set(p.name, s);
    for (const p of s.prefixPools) byPool.set(p.name, s);
  }
  return {
    subnetOf(lease) {
      if (lease.pool !== "") {
        const s = byPool.get(lease.pool);
        if (s) return s;
      }
      const a = parseIPv6(lease.address);
      if (a === undefined) return undefined;
      for (const s of settings.subnets) {
        if (lease.kind === "na") {
          if (prefixContains(s.prefix, a)) return s;
        } else if (
          s.prefixPools.some((p) =>
            lease.prefixLength >= p.prefix.length && prefixContains(p.prefix, a)
          )
        ) return s;
      }
      return undefined;
    },
  };
}

/** The pool name a lease gets when it has none: the pool of its subnet holding it. */
export function poolNameOf(
  subnet: SubnetSettings,
  lease: Pick<Lease, "kind" | "address" | "prefixLength">,
): string {
  const a = parseIPv6(lease.address);
  if (a === undefined) return "";
  if (lease.kind === "na") {
    return subnet.pools.find((p) => a >= p.start && a <= p.end)?.name ?? "";
  }
  return subnet.prefixPools.find((p) =>
    p.delegatedLength === lease.prefixLength && prefixContains(p.prefix, a)
  )?.name ?? "";
}

/** What {@linkcode pairPolicy} needs. */
export interface PairPolicyInput {
  /** The endpoints of every relationship, by name. */
  endpoints: ReadonlyMap<string, EndpointView>;
  /** Compiled settings (subnet → relationship, desired lifetimes, T1). */
  settings: ServerSettings;
  /** A scope built once for `settings` (built here when absent). */
  scope?: LeaseScope;
}

function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/** T1 as a fraction of the lifetime (R3's policy input), 0.5 when configured in seconds. */
export function t1FractionOf(subnet: SubnetSettings): number {
  const t1 = subnet.lifetimes.t1;
  if (t1.kind === "fraction" && t1.value > 0 && t1.value < 1) return t1.value;
  if (t1.kind === "seconds" && subnet.lifetimes.preferred > 0) {
    const f = t1.value / subnet.lifetimes.preferred;
    if (f > 0 && f < 1) return f;
  }
  return 0.5;
}

/**
 * The failover policy for a server whose relationships are in the given states (see the
 * module doc). Subnets without a relationship behave as {@linkcode standalonePolicy}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileSettings, defaultConfig, pairPolicy } from "@failover6/failover6";
 *
 * // No relationship in the embedded default: every subnet behaves as a standalone server's.
 * const policy = pairPolicy({ endpoints: new Map(), settings: compileSettings(defaultConfig()) });
 * assert.equal(typeof policy.admits, "function");
 * ```
 */
export function pairPolicy(input: PairPolicyInput): FailoverPolicy {
  const { endpoints, settings } = input;
  const scope = input.scope ?? leaseScope(settings);
  const viewOf = (relationship: string | null | undefined) =>
    relationship ? endpoints.get(relationship) : undefined;
  const relationshipOfLease = (l: Lease): string | null =>
    l.relationship !== "" ? l.relationship : scope.subnetOf(l)?.relationship ?? null;

  return {
    name: "failover",

    admits(q) {
      if (!q.relationship) return true;
      const v = endpoints.get(q.relationship);
      if (!v) return true;
      switch (responsiveness(v.role, v.state)) {
        case "responsive":
          return true;
        case "renew-responsive":
          return q.serverIdIsOurs;
        case "renew-only":
          return q.serverIdIsOurs && q.msgType === MessageType.RENEW;
        case "unresponsive":
          return false;
      }
    },

    mayAllocate(c, clientDuid, now) {
      const v = viewOf(c.relationship);
      if (!c.relationship || !v) return standalonePolicy.mayAllocate(c, clientDuid, now);
      if (!allocatesIn(v.state)) return false;
      const e = c.existing;
      if (e && (e.status === "ACTIVE" || e.status === "ABANDONED")) return false;
      // The same client may have its lease back (§4.2.2.1).
      if (e && e.clientDuid !== "" && e.clientDuid === clientDuid) return true;
      // Addresses by their low-order bit (§4.2.1.1), read off the candidate's value.
      const owner: Role = c.kind === "na"
        ? ((c.address & 1n) === 1n ? "primary" : "secondary")
        : poolOwnerOf("pd", "", e);
      const partnerDown = v.state === "PARTNER-DOWN";
      if (owner !== v.role) {
        // The partner's pool: never its addresses (§4.2.1), its prefixes in PARTNER-DOWN at
        // entry + MCLT once our own are used up (§8.4.1).
        if (!partnerDown || c.kind === "na") return false;
        if (now < v.stateSince + v.mclt * 1000) return false;
        const own = v.ownAvailable?.get(c.pool);
        if (own === undefined || own > 0) return false;
      }
      if (!e) return true;
      if (e.status === "FREE" || e.status === "FREE-BACKUP") return true;
      if (LEAVING.has(e.status)) {
        if (!partnerDown) return false;
        const r = reuseTime({
          mclt: v.mclt,
          partnerDownEntry: seconds(v.stateSince),
          clientExpiry: seconds(e.expirationTime),
          partnerLifetimeSent: seconds(e.partnerLifetime),
          ackedPartnerLifetime: seconds(e.ackedPartnerLifetime),
          expirationTime: seconds(e.expirationTime),
        });
        return seconds(now) >= r.at;
      }
      return false;
    },

    room(q) {
      const v = viewOf(q.relationship);
      if (!q.relationship || !v) return true;
      if (!allocatesIn(v.state)) return false;
      // PARTNER-DOWN opens the partner's prefixes and leaving leases on timers: search.
      if (v.state === "PARTNER-DOWN") return true;
      if (q.kind === "pd") {
        // §4.2.2: the primary's are FREE (or never written), the secondary's FREE-BACKUP.
        if (v.role === "secondary") return q.count("FREE-BACKUP") > 0;
        if (q.count("FREE") > 0) return true;
        let written = 0;
        for (const status of BINDING_STATUSES) written += q.count(status);
        return BigInt(written) < q.size;
      }
      // §4.2.1: this server's half of the range, less what a new client cannot have.
      if (q.range === undefined) return true;
      const { start, end } = q.range;
      const odd = (end + 1n) / 2n - start / 2n;
      const half = v.role === "primary" ? odd : end - start + 1n - odd;
      let used = 0;
      for (const status of BINDING_STATUSES) {
        if (status !== "FREE" && status !== "FREE-BACKUP") used += q.count(status, v.role);
      }
      return BigInt(used) < half;
    },

    lifetimes(q) {
      const v = viewOf(q.relationship);
      if (!q.relationship || !v) return standalonePolicy.lifetimes(q);
      const desired = Math.max(1, Math.min(q.valid, MAX_FINITE_LIFETIME));
      const preferred = Math.min(q.preferred, desired);
      if (v.state === "PARTNER-DOWN") return { preferred, valid: desired };
      const apl = q.before?.ackedPartnerLifetime ?? 0;
      try {
        const r = clientValidLifetime({
          desired,
          desiredPreferred: preferred,
          ackedPartnerLifetime: apl > 0 ? seconds(apl) : null,
          now: seconds(q.now),
          mclt: v.mclt,
          state: v.state,
          newLease: q.before?.status !== "ACTIVE",
        });
        return { preferred: Math.floor(r.preferred), valid: Math.floor(r.valid) };
      } catch {
        // An MCLT below the 30 s floor (refused at start): cap at the MCLT itself.
        const valid = Math.min(desired, Math.max(1, v.mclt));
        return { preferred: Math.min(preferred, valid), valid };
      }
    },

    stamp(after, before, now) {
      const subnet = scope.subnetOf(after);
      const relationship = after.relationship || subnet?.relationship || null;
      const v = viewOf(relationship);
      if (!relationship || !v) return after;
      const out: Lease = { ...after, relationship, updatePending: true };
      if (after.kind === "na") out.owner = addressOwner(after.address);
      else if (out.owner === "none") out.owner = "primary";
      if (after.status === "ACTIVE" && after.validLifetime > 0 && subnet) {
        const desired = Math.max(1, Math.min(subnet.lifetimes.valid, MAX_FINITE_LIFETIME));
        const apl = before?.ackedPartnerLifetime ?? 0;
        try {
          const d = partnerLifetimeToSend({
            now: seconds(now),
            granted: Math.min(after.validLifetime, MAX_FINITE_LIFETIME),
            desired,
            t1Fraction: t1FractionOf(subnet),
            ackedPartnerLifetime: apl > 0 ? seconds(apl) : null,
          });
          out.partnerLifetime = d.partnerLifetime * 1000;
        } catch {
          out.partnerLifetime = Math.max(after.expirationTime, apl);
        }
      }
      if (
        (after.status === "EXPIRED" || after.status === "RELEASED" || after.status === "RESET") &&
        before?.status !== after.status
      ) {
        out.stateExpirationTime = now + v.mclt * 1000;
      }
      return out;
    },

    expire(lease, now) {
      const relationship = relationshipOfLease(lease);
      const v = viewOf(relationship);
      if (!relationship || !v) return standalonePolicy.expire(lease, now);
      const later = now + v.mclt * 1000;
      switch (lease.status) {
        case "ACTIVE":
          return {
            ...lease,
            status: "EXPIRED",
            relationship,
            startTimeOfState: now,
            stateExpirationTime: later,
            updatePending: true,
          };
        case "ABANDONED":
          return {
            ...lease,
            status: "RESET",
            relationship,
            startTimeOfState: now,
            stateExpirationTime: later,
            updatePending: true,
          };
        case "EXPIRED":
        case "RELEASED":
        case "RESET":
        case "PENDING-FREE": {
          if (v.state !== "PARTNER-DOWN") return { ...lease, stateExpirationTime: later };
          const status = pendingFreeTarget(lease);
          return {
            ...lease,
            status,
            relationship,
            owner: lease.kind === "pd" ? "primary" : addressOwner(lease.address),
            startTimeOfState: now,
            stateExpirationTime: 0,
            updatePending: true,
          };
        }
        default:
          return lease.stateExpirationTime === 0 ? undefined : { ...lease, stateExpirationTime: 0 };
      }
    },
  };
}
