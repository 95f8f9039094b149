import assert from "node:assert/strict";
import fc from "fast-check";
import { emptyLease } from "../../lib/store/lease.ts";
import { MemoryBindingStore } from "../../lib/store/memory.ts";
import type { Lease } from "../../lib/store/types.ts";
import {
  allocate,
  type AllocationRequest,
  assignableAddress,
  hashedOffset,
  leaseKeyText,
} from "../../lib/server/allocate.ts";
import { LeaseIndex } from "../../lib/server/lease_index.ts";
import { standalonePolicy } from "../../lib/server/policy.ts";
import type { SubnetSettings } from "../../lib/server/settings.ts";
import type { LeaseView } from "../../lib/server/types.ts";
import { formatIPv6, parseIPv6, prefixContains } from "../../lib/util/ipv6.ts";
import { clientHex, pfx, pool, settings, subnet } from "./helpers.ts";

const NOW = 1_700_000_000_000;

function req(n: number, over: Partial<AllocationRequest> = {}): AllocationRequest {
  return { clientDuid: clientHex(n), iaid: 1, kind: "na", hints: [], taken: new Set(), ...over };
}

function ctx(s: SubnetSettings, view: LeaseView, n = 0) {
  return {
    subnet: s,
    view,
    policy: standalonePolicy,
    now: NOW,
    clientLeases: view.getByClient(clientHex(n)),
  };
}

function active(
  kind: "na" | "pd",
  address: string,
  n: number,
  prefixLength = 128,
  over: Partial<Lease> = {},
): Lease {
  return {
    ...emptyLease({ kind, address, prefixLength }, "ACTIVE"),
    clientDuid: clientHex(n),
    iaid: 1,
    validLifetime: 7200,
    preferredLifetime: 3600,
    expirationTime: NOW + 7200_000,
    cltTime: NOW,
    pool: kind === "na" ? "small" : "pd",
    ...over,
  };
}

const SMALL =
  settings([subnet({ pools: [pool("small", "2001:db8:1::10", "2001:db8:1::13")], prefixes: [] })])
    .subnets[0];

Deno.test("allocate: a range is used up, then nothing; each address given once", () => {
  const ix = new LeaseIndex();
  const got: string[] = [];
  for (let n = 0; n < 4; n++) {
    const c = allocate(ctx(SMALL, ix, n), req(n));
    assert.ok(c, `client ${n} gets one`);
    got.push(c.addressText);
    ix.apply([{ after: active("na", c.addressText, n) }]);
  }
  assert.deepEqual([...got].sort(), [
    "2001:db8:1::10",
    "2001:db8:1::11",
    "2001:db8:1::12",
    "2001:db8:1::13",
  ]);
  assert.equal(allocate(ctx(SMALL, ix, 9), req(9)), undefined);
  // Without the occupancy shortcut (a plain store view), the scan reaches the same answer.
  const store = new MemoryBindingStore();
  store.upsert(got.map((a, n) => active("na", a, n)));
  assert.equal(allocate(ctx(SMALL, store, 9), req(9)), undefined);
});

Deno.test("allocate: the same client gets the same address every time (deterministic)", () => {
  const ix = new LeaseIndex();
  const a = allocate(ctx(SMALL, ix, 1), req(1))!;
  const b = allocate(ctx(SMALL, ix, 1), req(1))!;
  assert.equal(a.addressText, b.addressText);
  const big = settings().subnets[0];
  assert.equal(
    allocate(ctx(big, ix, 1), req(1))!.addressText,
    allocate(ctx(big, ix, 1), req(1))!.addressText,
  );
});

Deno.test("allocate: a client's EXPIRED or RELEASED lease comes back to it", () => {
  const big = settings().subnets[0];
  for (const status of ["EXPIRED", "RELEASED"] as const) {
    const ix = new LeaseIndex();
    ix.apply([{
      after: active("na", "2001:db8:1::1aa", 5, 128, { status, iaid: 3, pool: "lan-pool" }),
    }]);
    const c = allocate(ctx(big, ix, 5), req(5, { iaid: 7 }))!;
    assert.equal(c.addressText, "2001:db8:1::1aa");
    assert.equal(c.source, "previous");
    assert.equal(c.existing?.status, status);
  }
});

Deno.test("allocate: declined (ABANDONED) and ACTIVE addresses of others are skipped", () => {
  const ix = new LeaseIndex();
  ix.apply([
    { after: active("na", "2001:db8:1::10", 1, 128, { status: "ABANDONED" }) },
    { after: active("na", "2001:db8:1::11", 2) },
    {
      after: active("na", "2001:db8:1::12", 3, 128, {
        status: "ABANDONED",
        clientDuid: clientHex(9),
      }),
    },
  ]);
  const c = allocate(ctx(SMALL, ix, 9), req(9))!;
  assert.equal(c.addressText, "2001:db8:1::13");
  ix.apply([{ after: active("na", "2001:db8:1::13", 9) }]);
  assert.equal(allocate(ctx(SMALL, ix, 1), req(1)), undefined, "the decliner gets nothing either");
});

Deno.test("allocate: a hint in a pool is honoured when free, ignored when taken or off-pool", () => {
  const big = settings().subnets[0];
  const ix = new LeaseIndex();
  const h = (a: string) => [{ address: parseIPv6(a)!, prefixLength: 128 }];
  assert.equal(
    allocate(ctx(big, ix, 1), req(1, { hints: h("2001:db8:1::1f0") }))!.addressText,
    "2001:db8:1::1f0",
  );
  ix.apply([{ after: active("na", "2001:db8:1::1f0", 2, 128, { pool: "lan-pool" }) }]);
  const c = allocate(ctx(big, ix, 1), req(1, { hints: h("2001:db8:1::1f0") }))!;
  assert.notEqual(c.addressText, "2001:db8:1::1f0");
  assert.equal(c.source, "pool");
  assert.equal(allocate(ctx(big, ix, 1), req(1, { hints: h("2001:db8:1::5") }))!.source, "pool");
});

Deno.test("allocate: addresses taken by another IA of the same message are not chosen", () => {
  const ix = new LeaseIndex();
  const first = allocate(ctx(SMALL, ix, 1), req(1))!;
  const taken = new Set([leaseKeyText("na", first.addressText, 128)]);
  const second = allocate(ctx(SMALL, ix, 1), req(1, { taken }))!;
  assert.notEqual(second.addressText, first.addressText);
});

Deno.test("allocate: a whole /64 pool hands out distinct addresses without enumerating it", () => {
  const s = settings([subnet({
    pools: [{
      name: "wide",
      start: pfx("2001:db8:1::/64").address,
      end: pfx("2001:db8:1::/64").address + (1n << 64n) - 1n,
      size: 1n << 64n,
      allocation: null,
    }],
  })]).subnets[0];
  const ix = new LeaseIndex();
  const seen = new Set<string>();
  for (let n = 0; n < 2000; n++) {
    const c = allocate(ctx(s, ix, n), req(n));
    assert.ok(c);
    assert.ok(prefixContains(s.prefix, c.address));
    assert.ok(assignableAddress(s, c.address));
    assert.ok(!seen.has(c.addressText));
    seen.add(c.addressText);
    ix.apply([{ after: active("na", c.addressText, n, 128, { pool: "wide" }) }]);
  }
});

Deno.test("allocate: the subnet-router anycast and RFC 2526 addresses are never handed out", () => {
  const s =
    settings([subnet({ pools: [pool("edge", "2001:db8:1::", "2001:db8:1::")] })]).subnets[0];
  assert.equal(allocate(ctx(s, new LeaseIndex(), 1), req(1)), undefined);
  const reserved = settings([subnet({
    pools: [pool("top", "2001:db8:1:0:fdff:ffff:ffff:ff80", "2001:db8:1:0:fdff:ffff:ffff:ffff")],
  })]).subnets[0];
  assert.equal(allocate(ctx(reserved, new LeaseIndex(), 1), req(1)), undefined);
  const edge = settings([subnet({
    pools: [pool("top", "2001:db8:1:0:fdff:ffff:ffff:ff7f", "2001:db8:1:0:fdff:ffff:ffff:ff81")],
  })]).subnets[0];
  assert.equal(
    allocate(ctx(edge, new LeaseIndex(), 1), req(1))!.addressText,
    "2001:db8:1:0:fdff:ffff:ffff:ff7f",
  );
});

Deno.test("allocate: delegated prefixes have the delegated length and sit in the delegable prefix", () => {
  const s = settings([
    subnet({
      prefixes: [{
        name: "pd",
        prefix: pfx("2001:db8:f0::/60"),
        delegatedLength: 62,
        allocation: null,
      }],
    }),
  ]).subnets[0];
  const ix = new LeaseIndex();
  const got = new Set<string>();
  for (let n = 0; n < 4; n++) {
    const c = allocate(ctx(s, ix, n), req(n, { kind: "pd" }))!;
    assert.equal(c.prefixLength, 62);
    assert.ok(prefixContains(pfx("2001:db8:f0::/60"), c.address));
    assert.equal(c.address & ((1n << 66n) - 1n), 0n, "aligned to /62");
    got.add(c.addressText);
    ix.apply([{ after: active("pd", c.addressText, n, 62, { pool: "pd" }) }]);
  }
  assert.equal(got.size, 4);
  assert.equal(
    allocate(ctx(s, ix, 9), req(9, { kind: "pd" })),
    undefined,
    "4 /62 in a /60, all used",
  );
});

Deno.test("allocate: a prefix-length hint picks the pool with that delegated length", () => {
  const s = settings([subnet({
    prefixes: [
      { name: "p56", prefix: pfx("2001:db8:f0::/48"), delegatedLength: 56, allocation: null },
      { name: "p60", prefix: pfx("2001:db8:f1::/48"), delegatedLength: 60, allocation: null },
    ],
  })]).subnets[0];
  const c = allocate(
    ctx(s, new LeaseIndex(), 1),
    req(1, { kind: "pd", hints: [{ address: 0n, prefixLength: 60 }] }),
  )!;
  assert.equal(c.prefixLength, 60);
  assert.equal(c.pool, "p60");
  const exact = allocate(
    ctx(s, new LeaseIndex(), 1),
    req(1, {
      kind: "pd",
      hints: [{ address: pfx("2001:db8:f0:4200::/56").address, prefixLength: 56 }],
    }),
  )!;
  assert.equal(exact.addressText, "2001:db8:f0:4200::");
  assert.equal(exact.source, "hint");
});

Deno.test("allocate: reservations by DUID go to their client and to no one else", () => {
  const s = settings([subnet({
    pools: [pool("small", "2001:db8:1::10", "2001:db8:1::11")],
    reservations: [
      { duid: clientHex(7), address: "2001:db8:1::10", prefix: null },
      { duid: clientHex(7), address: null, prefix: pfx("2001:db8:f0:ab00::/56") },
      { duid: clientHex(8), address: "2001:db8:1::99", prefix: null },
    ],
  })]).subnets[0];
  const ix = new LeaseIndex();
  assert.equal(allocate(ctx(s, ix, 7), req(7))!.addressText, "2001:db8:1::10");
  assert.equal(allocate(ctx(s, ix, 7), req(7))!.source, "reservation");
  assert.equal(allocate(ctx(s, ix, 7), req(7, { kind: "pd" }))!.addressText, "2001:db8:f0:ab00::");
  assert.equal(allocate(ctx(s, ix, 8), req(8))!.addressText, "2001:db8:1::99", "outside the pools");
  assert.equal(allocate(ctx(s, ix, 8), req(8))!.pool, "");
  // Others never get ::10 even when it is free: only ::11 is left for them.
  for (let n = 0; n < 20; n++) {
    if (n === 7 || n === 8) continue;
    assert.equal(allocate(ctx(s, ix, n), req(n))!.addressText, "2001:db8:1::11");
  }
  // A reserved address held by someone else (from before the reservation) is not taken from them.
  ix.apply([{ after: active("na", "2001:db8:1::99", 3) }]);
  assert.notEqual(allocate(ctx(s, ix, 8), req(8))?.addressText, "2001:db8:1::99");
});

Deno.test("allocate: the failover policy may refuse candidates (e.g. the partner's half)", () => {
  const policy = {
    ...standalonePolicy,
    mayAllocate: (c: { address: bigint }) => (c.address & 1n) === 1n,
  };
  const ix = new LeaseIndex();
  for (let n = 0; n < 2; n++) {
    const c = allocate({ ...ctx(SMALL, ix, n), policy }, req(n))!;
    assert.equal(c.address & 1n, 1n);
    ix.apply([{ after: active("na", c.addressText, n) }]);
  }
  assert.equal(allocate({ ...ctx(SMALL, ix, 5), policy }, req(5)), undefined);
});

Deno.test("hashedOffset: always inside [0, size) for any size", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 100 }),
      fc.bigInt({ min: 1n, max: 1n << 128n }),
      (seed, probe, size) => {
        const v = hashedOffset(seed, probe, size);
        return v >= 0n && v < size;
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("hashedOffset: spreads over a small range", () => {
  const counts = new Array(8).fill(0);
  for (let i = 0; i < 8000; i++) counts[Number(hashedOffset(i * 7919, 0, 8n))]++;
  for (const c of counts) assert.ok(c > 800 && c < 1200, `bucket count ${c}`);
  assert.equal(formatIPv6(0n), "::");
});
