/**
 * `FailoverPolicy.room` of the failover policy: when this server's part of a pool is used up,
 * the allocator learns it from the lease index's counts instead of trying every address or
 * prefix of the pool (a primary whose half of 65,536 addresses was used up spent about a
 * second of CPU per Solicit finding that out). The property: with and without the counts, the
 * allocator gives a new client the same answer, in every endpoint state and role.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { allocate, type AllocationRequest } from "../../lib/server/allocate.ts";
import { type EndpointView, pairPolicy } from "../../lib/server/failover_policy.ts";
import { LeaseIndex } from "../../lib/server/lease_index.ts";
import type { SubnetSettings } from "../../lib/server/settings.ts";
import type { LeaseView } from "../../lib/server/types.ts";
import type { EndpointStateName, Role } from "../../lib/failover/types.ts";
import { addressOwner } from "../../lib/failover/pool.ts";
import { emptyLease } from "../../lib/store/lease.ts";
import { BINDING_STATUSES, type BindingStatus, type Lease } from "../../lib/store/types.ts";
import { formatIPv6, nthPrefix, parseIPv6 } from "../../lib/util/ipv6.ts";
import { pairSettings } from "./config.ts";

const T0 = 1_800_000_000_000;
const REL = "test-pair";
const NEW_CLIENT = "000300010200000000ff";
const OLD_CLIENT = "00030001020000000001";

const settings = pairSettings({ mclt: 60, delegable: "fd00:f6:0:100::/60" });

/** The pair subnet with an address range of `size` addresses from ::1000 (or ::1001). */
function subnetWith(size: number, oddStart = false): SubnetSettings {
  const s = settings.subnets[0];
  const start = parseIPv6("fd00:f6::1000")! + (oddStart ? 1n : 0n);
  const end = start + BigInt(size) - 1n;
  return { ...s, pools: [{ ...s.pools[0], start, end, size: BigInt(size) }] };
}

function policyIn(role: Role, state: EndpointStateName) {
  const v: EndpointView = { relationship: REL, role, state, stateSince: T0 - 3_600_000, mclt: 60 };
  return pairPolicy({ endpoints: new Map([[REL, v]]), settings });
}

/** A record as the failover server keeps it: owner by the §4.2 rules. */
function record(kind: "na" | "pd", address: string, status: BindingStatus, n: number): Lease {
  const base = emptyLease({ kind, address, prefixLength: kind === "na" ? 128 : 64 }, status);
  const owner = kind === "na"
    ? addressOwner(address)
    : status === "FREE-BACKUP"
    ? "secondary"
    : "primary";
  return {
    ...base,
    clientDuid: status === "FREE" || status === "FREE-BACKUP" ? "" : OLD_CLIENT.slice(0, -2) +
      n.toString(16).padStart(2, "0"),
    iaid: 1,
    expirationTime: status === "ACTIVE" ? T0 + 600_000 : 0,
    stateExpirationTime: status === "ACTIVE" ? 0 : T0 + 600_000,
    startTimeOfState: T0 - 60_000,
    owner,
    relationship: REL,
    pool: kind === "na" ? "lan-addresses" : "lan-prefixes",
  };
}

/** A view of `index` without its counts: the allocator has to search. */
function withoutCounts(index: LeaseIndex, gets: { n: number }): LeaseView {
  return {
    get: (k) => {
      gets.n++;
      return index.get(k);
    },
    getByClient: (d) => index.getByClient(d),
    poolOccupancy: (p) => index.poolOccupancy(p),
  };
}

/** The same, with the counts. */
function withCounts(index: LeaseIndex, gets: { n: number }): LeaseView {
  return {
    ...withoutCounts(index, gets),
    poolCount: (p, k, s, o) => index.poolCount(p, k, s, o),
  };
}

function request(kind: "na" | "pd"): AllocationRequest {
  return { clientDuid: NEW_CLIENT, iaid: 7, kind, hints: [], taken: new Set() };
}

const STATES: EndpointStateName[] = [
  "NORMAL",
  "COMMUNICATIONS-INTERRUPTED",
  "PARTNER-DOWN",
  "RESOLUTION-INTERRUPTED",
  "CONFLICT-DONE",
  "RECOVER",
  "RECOVER-DONE",
  "POTENTIAL-CONFLICT",
];

Deno.test("room: a new client gets the same lease with and without the pool counts (property)", () => {
  fc.assert(
    fc.property(
      fc.constantFrom<Role>("primary", "secondary"),
      fc.constantFrom(...STATES),
      fc.integer({ min: 1, max: 12 }),
      fc.boolean(),
      fc.array(fc.option(fc.constantFrom(...BINDING_STATUSES), { nil: undefined }), {
        minLength: 12,
        maxLength: 12,
      }),
      fc.array(fc.option(fc.constantFrom(...BINDING_STATUSES), { nil: undefined }), {
        minLength: 16,
        maxLength: 16,
      }),
      (role, state, size, oddStart, addressStatuses, prefixStatuses) => {
        const subnet = subnetWith(size, oddStart);
        const pool = subnet.pools[0];
        const leases: Lease[] = [];
        for (let i = 0; i < size; i++) {
          const status = addressStatuses[i];
          if (status !== undefined) {
            leases.push(record("na", formatIPv6(pool.start + BigInt(i)), status, i));
          }
        }
        const pp = subnet.prefixPools[0];
        for (let i = 0; i < Number(pp.count); i++) {
          const status = prefixStatuses[i];
          const pre = nthPrefix(pp.prefix, pp.delegatedLength, BigInt(i))!;
          if (status !== undefined) leases.push(record("pd", formatIPv6(pre.address), status, i));
        }
        const index = LeaseIndex.from(leases);
        const policy = policyIn(role, state);
        for (const kind of ["na", "pd"] as const) {
          const ctx = (view: LeaseView) => ({
            subnet,
            view,
            policy,
            now: T0,
            clientLeases: [],
          });
          const searched = allocate(ctx(withoutCounts(index, { n: 0 })), request(kind));
          const counted = allocate(ctx(withCounts(index, { n: 0 })), request(kind));
          assert.deepEqual(counted, searched, `${kind} ${role} ${state}`);
        }
      },
    ),
    { numRuns: 400 },
  );
});

Deno.test("room: a primary whose half of the addresses is used up answers without searching the range", () => {
  const subnet = subnetWith(4096);
  const pool = subnet.pools[0];
  const leases: Lease[] = [];
  for (let i = 0; i < 4096; i++) {
    const address = formatIPv6(pool.start + BigInt(i));
    // The primary's half (odd) is bound to clients; the secondary's is FREE-BACKUP.
    leases.push(
      record("na", address, addressOwner(address) === "primary" ? "ACTIVE" : "FREE-BACKUP", i),
    );
  }
  const index = LeaseIndex.from(leases);
  const ctx = (view: LeaseView, state: EndpointStateName) => ({
    subnet,
    view,
    policy: policyIn("primary", state),
    now: T0,
    clientLeases: [],
  });
  const searching = { n: 0 };
  const counting = { n: 0 };
  assert.equal(allocate(ctx(withoutCounts(index, searching), "NORMAL"), request("na")), undefined);
  assert.equal(allocate(ctx(withCounts(index, counting), "NORMAL"), request("na")), undefined);
  assert.ok(searching.n >= 4096, `without the counts every address is looked at (${searching.n})`);
  assert.equal(counting.n, 0, "with them, none");
  // One address of the primary's half freed: the search runs and finds it.
  const freed = leases.find((l) => l.status === "ACTIVE")!;
  index.apply([{ before: freed, after: { ...freed, status: "FREE", clientDuid: "" } }]);
  const c = allocate(ctx(withCounts(index, { n: 0 }), "NORMAL"), request("na"));
  assert.equal(c?.addressText, freed.address);
  // In PARTNER-DOWN the policy cannot tell from counts (leaving leases reopen on timers).
  const down = { n: 0 };
  allocate(ctx(withCounts(index, down), "PARTNER-DOWN"), request("na"));
  assert.ok(down.n > 0, "PARTNER-DOWN searches");
});

Deno.test("room: the secondary's prefixes are its FREE-BACKUP ones; the primary's FREE or never written", () => {
  const subnet = subnetWith(4);
  const pp = subnet.prefixPools[0];
  const prefixes = [...Array(Number(pp.count)).keys()].map((i) =>
    formatIPv6(nthPrefix(pp.prefix, pp.delegatedLength, BigInt(i))!.address)
  );
  const policyCtx = (index: LeaseIndex, role: Role) => ({
    subnet,
    view: withCounts(index, { n: 0 }),
    policy: policyIn(role, "COMMUNICATIONS-INTERRUPTED"),
    now: T0,
    clientLeases: [],
  });
  // Every prefix bound: nothing for either.
  const bound = LeaseIndex.from(prefixes.map((p, i) => record("pd", p, "ACTIVE", i)));
  const room = (index: LeaseIndex, role: Role) =>
    policyIn(role, "COMMUNICATIONS-INTERRUPTED").room!({
      kind: "pd",
      pool: pp.name,
      size: pp.count,
      relationship: REL,
      count: (s, o) => index.poolCount(pp.name, "pd", s, o),
    });
  assert.equal(room(bound, "primary"), false);
  assert.equal(room(bound, "secondary"), false);
  // One never written: the primary's (§4.2.2), not the secondary's.
  const oneUnwritten = LeaseIndex.from(
    prefixes.slice(1).map((p, i) => record("pd", p, "ACTIVE", i)),
  );
  assert.equal(room(oneUnwritten, "primary"), true);
  assert.equal(room(oneUnwritten, "secondary"), false);
  assert.equal(
    allocate(policyCtx(oneUnwritten, "primary"), request("pd"))?.addressText,
    prefixes[0],
  );
  // One FREE-BACKUP: the secondary's.
  const oneBackup = LeaseIndex.from(
    prefixes.map((p, i) => record("pd", p, i === 3 ? "FREE-BACKUP" : "ACTIVE", i)),
  );
  assert.equal(room(oneBackup, "primary"), false);
  assert.equal(room(oneBackup, "secondary"), true);
  assert.equal(
    allocate(policyCtx(oneBackup, "secondary"), request("pd"))?.addressText,
    prefixes[3],
  );
});
