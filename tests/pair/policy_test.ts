/**
 * The failover policy of `serve` (lib/server/failover_policy.ts): responsiveness, the split of
 * addresses and prefixes, reuse, MCLT-capped lifetimes, stamping and expiry, per endpoint
 * state. Pure: no sockets, explicit times.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  allocatesIn,
  type EndpointView,
  leaseScope,
  pairPolicy,
  responsiveness,
} from "../../lib/server/failover_policy.ts";
import { standalonePolicy } from "../../lib/server/policy.ts";
import { checkFundamentalRule, reuseTime } from "../../lib/failover/mclt.ts";
import type { EndpointStateName, Role } from "../../lib/failover/types.ts";
import { emptyLease } from "../../lib/store/lease.ts";
import type { Lease } from "../../lib/store/types.ts";
import { parseIPv6 } from "../../lib/util/ipv6.ts";
import { MessageType } from "../../lib/wire/types.ts";
import { pairSettings } from "./config.ts";

const T0 = 1_800_000_000_000; // ms
const MCLT = 60;
const REL = "test-pair";

const settings = pairSettings({ mclt: MCLT });

function policy(role: Role, state: EndpointStateName, extra: Partial<EndpointView> = {}) {
  const v: EndpointView = { relationship: REL, role, state, stateSince: T0, mclt: MCLT, ...extra };
  return pairPolicy({ endpoints: new Map([[REL, v]]), settings });
}

const ODD = "fd00:f6::1001"; // low-order bit 1: the primary's half
const EVEN = "fd00:f6::1002"; // the secondary's
const A = "00030001020000000001";
const B = "00030001020000000002";

function na(address: string, patch: Partial<Lease> = {}): Lease {
  return {
    ...emptyLease({ kind: "na", address }),
    pool: "lan-addresses",
    relationship: REL,
    ...patch,
  };
}

function candidate(address: string, existing?: Lease) {
  return {
    kind: "na" as const,
    address: parseIPv6(address)!,
    prefixLength: 128,
    pool: "lan-addresses",
    relationship: REL,
    ...(existing ? { existing } : {}),
  };
}

function prefixCandidate(address: string, existing?: Lease) {
  return {
    kind: "pd" as const,
    address: parseIPv6(address)!,
    prefixLength: 64,
    pool: "lan-prefixes",
    relationship: REL,
    ...(existing ? { existing } : {}),
  };
}

Deno.test("responsiveness follows the endpoint state and role (digest §6.1)", () => {
  const want: Record<EndpointStateName, [string, string]> = {
    "STARTUP": ["unresponsive", "unresponsive"],
    "NORMAL": ["responsive", "renew-responsive"],
    "COMMUNICATIONS-INTERRUPTED": ["responsive", "responsive"],
    "PARTNER-DOWN": ["responsive", "responsive"],
    "POTENTIAL-CONFLICT": ["unresponsive", "unresponsive"],
    "RECOVER": ["unresponsive", "unresponsive"],
    "RECOVER-WAIT": ["unresponsive", "unresponsive"],
    "RECOVER-DONE": ["renew-only", "renew-only"],
    "RESOLUTION-INTERRUPTED": ["responsive", "responsive"],
    "CONFLICT-DONE": ["responsive", "responsive"],
  };
  for (const [state, [p, s]] of Object.entries(want) as [EndpointStateName, [string, string]][]) {
    assert.equal(responsiveness("primary", state), p, state);
    assert.equal(responsiveness("secondary", state), s, state);
  }
  assert.equal(allocatesIn("RECOVER-DONE"), false);
  assert.equal(allocatesIn("PARTNER-DOWN"), true);
});

Deno.test("admits: renew-responsive answers only its own Server Identifier; RECOVER-DONE only Renew", () => {
  const q = (msgType: number, ours: boolean) => ({
    msgType,
    serverIdIsOurs: ours,
    subnet: "lan",
    relationship: REL,
  });
  assert.equal(policy("primary", "NORMAL").admits(q(MessageType.SOLICIT, false)), true);
  assert.equal(policy("secondary", "NORMAL").admits(q(MessageType.SOLICIT, false)), false);
  assert.equal(policy("secondary", "NORMAL").admits(q(MessageType.RENEW, true)), true);
  assert.equal(policy("secondary", "NORMAL").admits(q(MessageType.REBIND, false)), false);
  assert.equal(policy("primary", "RECOVER").admits(q(MessageType.RENEW, true)), false);
  assert.equal(policy("primary", "RECOVER-DONE").admits(q(MessageType.RENEW, true)), true);
  assert.equal(policy("primary", "RECOVER-DONE").admits(q(MessageType.REQUEST, true)), false);
  assert.equal(
    policy("secondary", "COMMUNICATIONS-INTERRUPTED").admits(q(MessageType.SOLICIT, false)),
    true,
  );
  // A subnet outside any relationship is served as a standalone server would.
  assert.equal(
    policy("primary", "RECOVER").admits({ msgType: MessageType.SOLICIT, serverIdIsOurs: false }),
    true,
  );
});

Deno.test("independent allocation: each server only ever uses its own half of the addresses", () => {
  for (const state of ["NORMAL", "COMMUNICATIONS-INTERRUPTED", "PARTNER-DOWN"] as const) {
    const late = T0 + 10 * MCLT * 1000;
    assert.equal(policy("primary", state).mayAllocate(candidate(ODD), A, late), true, state);
    assert.equal(policy("primary", state).mayAllocate(candidate(EVEN), A, late), false, state);
    assert.equal(policy("secondary", state).mayAllocate(candidate(EVEN), A, late), true, state);
    assert.equal(policy("secondary", state).mayAllocate(candidate(ODD), A, late), false, state);
  }
  for (
    const state of [
      "STARTUP",
      "RECOVER",
      "RECOVER-WAIT",
      "RECOVER-DONE",
      "POTENTIAL-CONFLICT",
    ] as const
  ) {
    assert.equal(policy("primary", state).mayAllocate(candidate(ODD), A, T0), false, state);
  }
});

Deno.test("reuse: a lease leaving a client goes to another one only after the ack, or in PARTNER-DOWN after reuseTime", () => {
  const expired = na(ODD, {
    status: "EXPIRED",
    clientDuid: A,
    expirationTime: T0 - 1000,
    ackedPartnerLifetime: T0 + 100_000,
  });
  for (const state of ["NORMAL", "COMMUNICATIONS-INTERRUPTED"] as const) {
    const p = policy("primary", state);
    assert.equal(p.mayAllocate(candidate(ODD, expired), A, T0), true, `${state}: same client`);
    assert.equal(
      p.mayAllocate(candidate(ODD, expired), B, T0 + 1e9),
      false,
      `${state}: other client`,
    );
  }
  // After the partner's ack the lease is FREE: anyone.
  const free = { ...expired, status: "FREE" as const };
  assert.equal(policy("primary", "NORMAL").mayAllocate(candidate(ODD, free), B, T0), true);
  // PARTNER-DOWN: MCLT after the latest lease time, never before entry + MCLT (§8.4.1).
  const at = reuseTime({
    mclt: MCLT,
    partnerDownEntry: T0 / 1000,
    clientExpiry: (T0 - 1000) / 1000,
    ackedPartnerLifetime: (T0 + 100_000) / 1000,
    expirationTime: (T0 - 1000) / 1000,
    partnerLifetimeSent: 0,
  }).at * 1000;
  const pd = policy("primary", "PARTNER-DOWN", { stateSince: T0 });
  assert.equal(pd.mayAllocate(candidate(ODD, expired), B, at - 1000), false);
  assert.equal(pd.mayAllocate(candidate(ODD, expired), B, at), true);
  // ACTIVE and ABANDONED are never handed over.
  const active = { ...expired, status: "ACTIVE" as const };
  assert.equal(pd.mayAllocate(candidate(ODD, active), B, at * 2), false);
});

Deno.test("proportional prefixes: FREE is the primary's, FREE-BACKUP the secondary's; the partner's pool in PARTNER-DOWN only after entry + MCLT and the own pool", () => {
  const P = "fd00:f6:0:101::";
  const freeBackup: Lease = {
    ...emptyLease({ kind: "pd", address: P, prefixLength: 64 }, "FREE-BACKUP"),
    pool: "lan-prefixes",
    relationship: REL,
    owner: "secondary",
  };
  assert.equal(policy("primary", "NORMAL").mayAllocate(prefixCandidate(P), A, T0), true);
  assert.equal(policy("secondary", "NORMAL").mayAllocate(prefixCandidate(P), A, T0), false);
  assert.equal(
    policy("secondary", "NORMAL").mayAllocate(prefixCandidate(P, freeBackup), A, T0),
    true,
  );
  assert.equal(
    policy("primary", "NORMAL").mayAllocate(prefixCandidate(P, freeBackup), A, T0),
    false,
  );
  const used = new Map([["lan-prefixes", 0]]);
  const left = new Map([["lan-prefixes", 3]]);
  const after = T0 + MCLT * 1000;
  const sec = (own?: Map<string, number>) =>
    policy("secondary", "PARTNER-DOWN", { stateSince: T0, ...(own ? { ownAvailable: own } : {}) });
  assert.equal(
    sec(used).mayAllocate(prefixCandidate(P), A, after - 1),
    false,
    "before entry + MCLT",
  );
  assert.equal(sec(used).mayAllocate(prefixCandidate(P), A, after), true, "own pool used up");
  assert.equal(sec(left).mayAllocate(prefixCandidate(P), A, after), false, "own pool not used up");
  assert.equal(sec().mayAllocate(prefixCandidate(P), A, after), false, "own pool unknown");
});

Deno.test("lifetimes: new leases get the MCLT, renewals min(desired, acked remaining + MCLT), PARTNER-DOWN the desired", () => {
  const q = (before?: Lease) => ({
    kind: "na" as const,
    preferred: 3600,
    valid: 7200,
    relationship: REL,
    now: T0,
    ...(before ? { before } : {}),
  });
  assert.deepEqual(policy("primary", "NORMAL").lifetimes(q()), { preferred: MCLT, valid: MCLT });
  const renew = na(ODD, { status: "ACTIVE", clientDuid: A, ackedPartnerLifetime: T0 + 10_000_000 });
  assert.deepEqual(policy("primary", "NORMAL").lifetimes(q(renew)), {
    preferred: 3600,
    valid: 7200,
  });
  const short = { ...renew, ackedPartnerLifetime: T0 + 100_000 };
  assert.deepEqual(policy("primary", "NORMAL").lifetimes(q(short)), {
    preferred: 100 + MCLT,
    valid: 100 + MCLT,
  });
  assert.deepEqual(policy("secondary", "PARTNER-DOWN").lifetimes(q()), {
    preferred: 3600,
    valid: 7200,
  });
  const inf = policy("primary", "PARTNER-DOWN").lifetimes({
    ...q(),
    valid: 0xffffffff,
    preferred: 0xffffffff,
  });
  assert.ok(inf.valid < 0xffffffff, "infinite lifetimes become finite under failover");
  // Outside failover: untouched.
  assert.deepEqual(
    policy("primary", "RECOVER").lifetimes({ ...q(), relationship: null }),
    standalonePolicy.lifetimes({ ...q(), relationship: null }),
  );
});

Deno.test("lifetimes obey the fundamental rule in every state but PARTNER-DOWN (property)", () => {
  const states: EndpointStateName[] = [
    "NORMAL",
    "COMMUNICATIONS-INTERRUPTED",
    "RESOLUTION-INTERRUPTED",
    "CONFLICT-DONE",
    "RECOVER-DONE",
  ];
  fc.assert(fc.property(
    fc.constantFrom(...states),
    fc.integer({ min: 1, max: 10_000_000 }),
    fc.integer({ min: 0, max: 20_000_000 }),
    fc.integer({ min: 30, max: 100_000 }),
    fc.boolean(),
    (state, desired, aplOffset, mclt, renewal) => {
      const v: EndpointView = { relationship: REL, role: "primary", state, stateSince: T0, mclt };
      const p = pairPolicy({ endpoints: new Map([[REL, v]]), settings });
      const apl = aplOffset === 0 ? 0 : T0 - 5_000_000 + aplOffset * 1000;
      const before = na(ODD, {
        status: renewal ? "ACTIVE" : "EXPIRED",
        clientDuid: A,
        ackedPartnerLifetime: Math.max(0, apl),
      });
      const lt = p.lifetimes({
        kind: "na",
        preferred: desired,
        valid: desired,
        before,
        relationship: REL,
        now: T0,
      });
      assert.ok(lt.preferred <= lt.valid);
      assert.ok(lt.valid <= desired || lt.valid === 30);
      const check = checkFundamentalRule({
        clientExpiry: T0 / 1000 + lt.valid,
        ackedPartnerLifetime: before.ackedPartnerLifetime > 0
          ? before.ackedPartnerLifetime / 1000
          : null,
        now: T0 / 1000,
        mclt,
        state,
      });
      assert.ok(check.ok, JSON.stringify(check));
    },
  ));
});

Deno.test("stamp: relationship, owner, updatePending, the R3 partner lifetime, a state timer for RELEASED", () => {
  const p = policy("primary", "NORMAL");
  const granted = na(ODD, {
    relationship: "",
    owner: "none",
    status: "ACTIVE",
    clientDuid: A,
    validLifetime: MCLT,
    preferredLifetime: MCLT,
    expirationTime: T0 + MCLT * 1000,
  });
  const s = p.stamp(granted, undefined, T0);
  assert.equal(s.relationship, REL);
  assert.equal(s.owner, "primary");
  assert.equal(s.updatePending, true);
  // R3: now + T1 part of the granted lifetime + desired (T1 = 0.5).
  assert.equal(s.partnerLifetime, T0 + (Math.floor(0.5 * MCLT) + 7200) * 1000);
  assert.ok(s.partnerLifetime >= s.expirationTime);
  const released = p.stamp({ ...s, status: "RELEASED" }, s, T0 + 5000);
  assert.equal(released.stateExpirationTime, T0 + 5000 + MCLT * 1000);
  const even = p.stamp(
    na(EVEN, { status: "ACTIVE", clientDuid: B, validLifetime: 60, expirationTime: T0 + 60_000 }),
    undefined,
    T0,
  );
  assert.equal(even.owner, "secondary");
});

Deno.test("expire: ACTIVE → EXPIRED for the partner; EXPIRED → FREE / FREE-BACKUP without an ack only in PARTNER-DOWN", () => {
  const active = na(EVEN, { status: "ACTIVE", clientDuid: A, expirationTime: T0 });
  const e = policy("secondary", "NORMAL").expire(active, T0)!;
  assert.equal(e.status, "EXPIRED");
  assert.equal(e.updatePending, true);
  assert.equal(e.stateExpirationTime, T0 + MCLT * 1000);
  const later = T0 + MCLT * 1000;
  const wait = policy("secondary", "COMMUNICATIONS-INTERRUPTED").expire(e, later)!;
  assert.equal(wait.status, "EXPIRED", "no ack, not PARTNER-DOWN: it waits");
  assert.equal(wait.stateExpirationTime, later + MCLT * 1000);
  const freed = policy("secondary", "PARTNER-DOWN").expire(e, later)!;
  assert.equal(freed.status, "FREE-BACKUP", "an even address returns to the secondary's half");
  const odd = policy("secondary", "PARTNER-DOWN").expire({ ...e, address: ODD }, later)!;
  assert.equal(odd.status, "FREE");
  const abandoned = policy("primary", "NORMAL").expire(
    na(ODD, { status: "ABANDONED", clientDuid: A, stateExpirationTime: T0 }),
    T0,
  )!;
  assert.equal(abandoned.status, "RESET");
  assert.equal(abandoned.clientDuid, A, "RESET keeps the client: the BNDUPD needs it");
});

Deno.test("leaseScope finds the subnet by pool name, then by address", () => {
  const scope = leaseScope(settings);
  assert.equal(scope.subnetOf(na(ODD, { pool: "" }))?.name, "lan");
  assert.equal(
    scope.subnetOf({ kind: "pd", address: "fd00:f6:0:1ff::", prefixLength: 64, pool: "" })?.name,
    "lan",
  );
  assert.equal(
    scope.subnetOf({ kind: "na", address: "2001:db8::1", prefixLength: 128, pool: "" }),
    undefined,
  );
});
