/** Figure 4 of RFC 8156 (digest §9.3) cell by cell, the BNDUPD/local times, and the damping. */
import assert from "node:assert/strict";
import {
  bndupdTime,
  dampUpdate,
  type ReceivedBinding,
  receivedIsLater,
  resolveConflict,
  tieGoesToReceived,
} from "../../lib/failover/conflict.ts";
import type { BindingStatus } from "../../lib/store/types.ts";
import { activeLease, T0 } from "./helpers.ts";

const A = "0001aa";
const B = "0001bb";

function local(status: BindingStatus, over: Parameters<typeof activeLease>[3] = {}) {
  // Local record: state began at T0, this server talked to the client at T0 (own clock),
  // current state expires at T0 + 1 h.
  return activeLease("2001:db8::1", A, T0, { status, cltTime: T0, startTimeOfState: T0, ...over });
}

function received(
  status: BindingStatus,
  at: number,
  over: Partial<ReceivedBinding> = {},
): ReceivedBinding {
  return { status, clientDuid: A, iaid: 1, cltTime: at, startTimeOfState: at, ...over };
}

const LATER = T0 + 60_000;
const EARLIER = T0 - 60_000;

// Every row and column: [local, received, result with a later BNDUPD, result with an earlier one]
const FIGURE_4: [BindingStatus, BindingStatus, string, string][] = [];
const ALL: BindingStatus[] = [
  "ACTIVE",
  "EXPIRED",
  "RELEASED",
  "FREE",
  "FREE-BACKUP",
  "RESET",
  "ABANDONED",
];
for (const l of ALL) {
  for (const r of ALL) {
    let later = "accept", earlier = "19";
    if (l === "ACTIVE" && (r === "EXPIRED" || r === "FREE" || r === "FREE-BACKUP")) {
      // time(1): decided by the local lease's expiry, not by the BNDUPD's time.
      later = "19";
      earlier = "19";
    }
    if (l === "ACTIVE" && r === "ACTIVE") {
      later = "accept"; // accept(3), same client
      earlier = "accept";
    }
    FIGURE_4.push([l, r, later, earlier]);
  }
}

for (const [l, r, later, earlier] of FIGURE_4) {
  Deno.test(`Figure 4: local ${l}, received ${r}`, () => {
    const decide = (at: number) => {
      const d = resolveConflict(local(l), received(r, at), "primary", T0 + 1000);
      return d.accept ? "accept" : String(d.code);
    };
    assert.equal(decide(LATER), later);
    assert.equal(decide(EARLIER), earlier);
  });
}

Deno.test("time(1): local ACTIVE accepts EXPIRED/FREE once its state has expired", () => {
  const l = local("ACTIVE", { stateExpirationTime: T0 + 3600_000 });
  assert.equal(
    resolveConflict(l, received("EXPIRED", LATER), "primary", T0 + 3_000_000).accept,
    false,
  );
  assert.equal(
    resolveConflict(l, received("EXPIRED", LATER), "primary", T0 + 3_600_001).accept,
    true,
  );
  // The 5 s skew allowance (§7.5.1).
  assert.equal(resolveConflict(l, received("FREE", LATER), "primary", T0 + 3_596_000).accept, true);
});

Deno.test("time(2): local RESET accepts ACTIVE only if the client talked after the reset", () => {
  const l = local("RESET", { cltTime: 0, startTimeOfState: T0 });
  assert.equal(resolveConflict(l, received("ACTIVE", LATER), "primary", T0).accept, true);
  const old = resolveConflict(l, received("ACTIVE", EARLIER), "primary", T0);
  assert.ok(!old.accept && old.code === 19 && old.rule === "time(2)");
  // No CLT_TIME: time(2) cannot hold.
  assert.equal(
    resolveConflict(l, received("ACTIVE", LATER, { cltTime: undefined }), "primary", T0).accept,
    false,
  );
});

Deno.test("accept(3): another client — time(2) or the secondary accepts, else AddressInUse", () => {
  const l = local("ACTIVE");
  const other = (at: number) => received("ACTIVE", at, { clientDuid: B });
  const p = resolveConflict(l, other(EARLIER), "primary", T0);
  assert.ok(!p.accept && p.code === 16);
  assert.equal(resolveConflict(l, other(EARLIER), "secondary", T0).accept, true);
  assert.equal(resolveConflict(l, other(LATER), "primary", T0).accept, true);
  // The same DUID with another IAID is another binding.
  const iaid = resolveConflict(l, received("ACTIVE", EARLIER, { iaid: 9 }), "primary", T0);
  assert.ok(!iaid.accept && iaid.code === 16);
});

Deno.test("no local record: accept", () => {
  assert.equal(resolveConflict(undefined, received("FREE", EARLIER), "primary", T0).accept, true);
});

Deno.test("BNDUPD time: CLT for ACTIVE/EXPIRED/RELEASED, else the later of CLT and start", () => {
  assert.equal(
    bndupdTime({ status: "ACTIVE", clientDuid: A, iaid: 1, cltTime: 5, startTimeOfState: 9 }),
    5,
  );
  assert.equal(bndupdTime({ status: "RELEASED", clientDuid: A, iaid: 1, startTimeOfState: 9 }), 9);
  assert.equal(
    bndupdTime({ status: "FREE", clientDuid: A, iaid: 1, cltTime: 5, startTimeOfState: 9 }),
    9,
  );
  assert.equal(
    bndupdTime({ status: "RESET", clientDuid: A, iaid: 1, cltTime: 12, startTimeOfState: 9 }),
    12,
  );
});

Deno.test("equality window: ±5 s on this server's clock is a tie, broken by the tie rule", () => {
  const own = { time: T0, own: true };
  assert.equal(receivedIsLater(T0 + 4000, own, false), false);
  assert.equal(receivedIsLater(T0 + 4000, own, true), true);
  assert.equal(receivedIsLater(T0 + 6000, own, false), true);
  assert.equal(receivedIsLater(T0 - 4000, own, true), true);
  assert.equal(receivedIsLater(T0 - 6000, own, true), false);
  // A local time that came from the partner: plain comparison, equal counts as later.
  const theirs = { time: T0, own: false };
  assert.equal(receivedIsLater(T0, theirs, false), true);
  assert.equal(receivedIsLater(T0 - 1000, theirs, true), false);
});

Deno.test("tie rule: ACTIVE wins a tie, else the primary's record", () => {
  assert.equal(tieGoesToReceived("ACTIVE", "RELEASED", "primary"), true);
  assert.equal(tieGoesToReceived("RELEASED", "ACTIVE", "secondary"), false);
  assert.equal(tieGoesToReceived("RELEASED", "EXPIRED", "secondary"), true);
  assert.equal(tieGoesToReceived("RELEASED", "EXPIRED", "primary"), false);
  // Through Figure 4: a RELEASED 2 s older than the local ACTIVE loses on both roles.
  const l = local("ACTIVE");
  for (const role of ["primary", "secondary"] as const) {
    assert.equal(resolveConflict(l, received("RELEASED", T0 - 2000), role, T0).accept, false);
  }
  // A local RELEASED (own clock) meeting an ACTIVE 2 s older: the ACTIVE is kept.
  const rel = local("RELEASED");
  assert.equal(resolveConflict(rel, received("ACTIVE", T0 - 2000), "primary", T0).accept, true);
});

Deno.test("damping (§7.5.4): first Outdated sends at once, later ones wait; others leave the flag", () => {
  assert.deepEqual(dampUpdate(false, 19), { setFlag: true, sendNow: true });
  assert.deepEqual(dampUpdate(true, 19), { setFlag: true, sendNow: false });
  assert.deepEqual(dampUpdate(false, 16), { setFlag: false, sendNow: false });
  assert.deepEqual(dampUpdate(true, 17), { setFlag: true, sendNow: false });
});
