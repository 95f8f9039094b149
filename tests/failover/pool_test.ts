/** Independent split (§4.2.1.1), proportional rebalancing with hysteresis (§4.2.2), binding helpers. */
import assert from "node:assert/strict";
import { addressOwner, planRebalance } from "../../lib/failover/pool.ts";
import {
  afterAcknowledged,
  bindingStatusCode,
  bindingStatusFromCode,
  fromWireTime,
  pendingFreeTarget,
  toWireTime,
  wireTimeDiff,
} from "../../lib/failover/binding.ts";
import { emptyLease } from "../../lib/store/lease.ts";
import { T0 } from "./helpers.ts";

Deno.test("independent split by the low-order bit: 1 primary, 0 secondary", () => {
  assert.equal(addressOwner("2001:db8::1"), "primary");
  assert.equal(addressOwner("2001:db8::ff"), "primary");
  assert.equal(addressOwner("2001:db8::2"), "secondary");
  assert.equal(addressOwner("2001:db8::"), "secondary");
});

Deno.test("PENDING-FREE leads to FREE/FREE-BACKUP by half for addresses, FREE for prefixes (decision D1)", () => {
  assert.equal(pendingFreeTarget({ kind: "na", address: "2001:db8::3" }), "FREE");
  assert.equal(pendingFreeTarget({ kind: "na", address: "2001:db8::4" }), "FREE-BACKUP");
  assert.equal(pendingFreeTarget({ kind: "pd", address: "2001:db8:2::" }), "FREE");
  const l = {
    ...emptyLease({ kind: "na", address: "2001:db8::4" }, "EXPIRED"),
    stateExpirationTime: 5,
  };
  const n = afterAcknowledged(l, T0);
  assert.deepEqual([n.status, n.owner, n.startTimeOfState, n.stateExpirationTime], [
    "FREE-BACKUP",
    "secondary",
    T0,
    0,
  ]);
  const active = emptyLease({ kind: "na", address: "2001:db8::4" }, "FREE");
  assert.equal(afterAcknowledged(active, T0), active);
});

Deno.test("planRebalance: toward the share, nothing within the hysteresis", () => {
  const c = (free: number, fb: number) => [
    {
      pool: "p",
      kind: "pd" as const,
      owner: "primary" as const,
      status: "FREE" as const,
      count: free,
    },
    {
      pool: "p",
      kind: "pd" as const,
      owner: "secondary" as const,
      status: "FREE-BACKUP" as const,
      count: fb,
    },
    {
      pool: "p",
      kind: "pd" as const,
      owner: "primary" as const,
      status: "ACTIVE" as const,
      count: 50,
    },
  ];
  const policy = { secondaryShare: 0.5, hysteresis: 0.1 };
  assert.deepEqual(planRebalance(c(100, 0), policy).map((m) => [m.give, m.take]), [[50, 0]]);
  assert.deepEqual(planRebalance(c(20, 80), policy).map((m) => [m.give, m.take]), [[0, 30]]);
  assert.deepEqual(planRebalance(c(54, 46), policy), []); // 4 < 10
  assert.deepEqual(planRebalance(c(0, 0), policy), []);
  assert.deepEqual(
    planRebalance(c(3, 0), { secondaryShare: 0.5, hysteresis: 0 }).map((m) => m.give),
    [2],
  );
});

Deno.test("planRebalance: address pools never balance (they split by the low-order bit, §4.2.1)", () => {
  const policy = { secondaryShare: 0.5, hysteresis: 0 };
  const counts = [
    {
      pool: "a",
      kind: "na" as const,
      owner: "primary" as const,
      status: "FREE" as const,
      count: 100,
    },
    {
      pool: "p",
      kind: "pd" as const,
      owner: "primary" as const,
      status: "FREE" as const,
      count: 10,
    },
  ];
  assert.deepEqual(planRebalance(counts, policy).map((m) => [m.pool, m.give]), [["p", 5]]);
});

Deno.test("binding status codes (§5.5.1) and wire time conversions", () => {
  assert.equal(bindingStatusCode("FREE-BACKUP"), 6);
  assert.equal(bindingStatusFromCode(8), "RESET");
  assert.equal(bindingStatusFromCode(0), undefined);
  assert.equal(bindingStatusFromCode(9), undefined);
  assert.equal(toWireTime(Date.UTC(2000, 0, 1, 0, 0, 10)), 10);
  assert.equal(fromWireTime(10), Date.UTC(2000, 0, 1, 0, 0, 10));
  assert.equal(toWireTime(0), 0);
  assert.equal(wireTimeDiff(3, 0xffff_fffe), 5); // across the 2^32 wrap
  assert.equal(wireTimeDiff(0xffff_fffe, 3), -5);
});
