import assert from "node:assert/strict";
import fc from "fast-check";
import {
  checkFundamentalRule,
  checkLifetimeSettings,
  checkPartnerLifetime,
  clientValidLifetime,
  type EndpointStateName,
  mcltBound,
  McltInputError,
  MIN_LEASE_LIFETIME,
  partnerLifetimeToSend,
  partnerPoolUsableAt,
  pendingFreeWithoutAckAt,
  recoverWaitEnd,
  reuseTime,
} from "../../lib/failover/mclt.ts";

const DAY = 86400;
const HOUR = 3600;
const DESIRED = 3 * DAY;
const MCLT = HOUR;
const T0 = 600000000; // digest §7.3: 2019-01-05T10:40:00Z in failover-epoch seconds

const STATES: EndpointStateName[] = [
  "STARTUP",
  "NORMAL",
  "COMMUNICATIONS-INTERRUPTED",
  "PARTNER-DOWN",
  "POTENTIAL-CONFLICT",
  "RECOVER",
  "RECOVER-WAIT",
  "RECOVER-DONE",
  "RESOLUTION-INTERRUPTED",
  "CONFLICT-DONE",
];

function grant(
  now: number,
  apl: number | null,
  state: EndpointStateName = "NORMAL",
  newLease = false,
) {
  return clientValidLifetime({
    desired: DESIRED,
    ackedPartnerLifetime: apl,
    now,
    mclt: MCLT,
    state,
    newLease,
  });
}

function send(now: number, granted: number, apl: number | null) {
  return partnerLifetimeToSend({
    now,
    granted,
    desired: DESIRED,
    t1Fraction: 0.5,
    ackedPartnerLifetime: apl,
  });
}

Deno.test("worked example (digest §7.3, RFC 8156 §4.4.1 Figure 1), steps 1-6, exactly", () => {
  // 1. Request: nothing acked, so one MCLT.
  const s1 = grant(T0, null, "NORMAL", true);
  assert.equal(s1.valid, 3600);
  assert.equal(s1.expiry, 600003600);
  assert.equal(s1.rule, "mclt");
  // 2. BNDUPD: ½ h + 3 d.
  const s2 = send(T0, s1.valid, null);
  assert.equal(s2.partnerLifetime, 600261000);
  assert.equal(s2.partnerLifetime - T0, 1800 + 259200);
  assert.equal(s2.rule, "policy");
  // 3. BNDREPLY: apl := 600261000.
  const apl3 = s2.partnerLifetime;
  // 4. Renew at T1 = t0 + 1800: full 3 days.
  const t1 = T0 + s1.valid / 2;
  assert.equal(t1, 600001800);
  const s4 = grant(t1, apl3);
  assert.equal(s4.valid, 259200);
  assert.equal(s4.expiry, 600261000);
  assert.equal(s4.bound, 600264600);
  assert.ok(s4.expiry <= s4.bound);
  assert.equal(s4.rule, "desired");
  // 5. BNDUPD: 1.5 d + 3 d = 4.5 d.
  const s5 = send(t1, s4.valid, apl3);
  assert.equal(s5.partnerLifetime, 600390600);
  assert.equal(s5.partnerLifetime - t1, 1.5 * DAY + 3 * DAY);
  const apl5 = s5.partnerLifetime;
  // 6. Renew at the next T1: 3 days again; the cycle repeats.
  const t2 = t1 + s4.valid / 2;
  assert.equal(t2, 600131400);
  const s6 = grant(t2, apl5);
  assert.equal(s6.valid, 259200);
  assert.equal(s6.expiry, 600390600);
  assert.equal(send(t2, s6.valid, apl5).partnerLifetime - t2, 4.5 * DAY);
});

Deno.test("worked example steps 7-9 (communications lost after step 6): lifetimes shrink to the MCLT", () => {
  const apl = 600390600; // frozen
  const s7 = grant(600261000, apl, "COMMUNICATIONS-INTERRUPTED");
  assert.equal(s7.valid, 133200);
  assert.equal(s7.expiry, 600394200);
  assert.equal(s7.expiry, apl + MCLT);
  const s8 = grant(600327600, apl, "COMMUNICATIONS-INTERRUPTED");
  assert.equal(s8.valid, 66600);
  assert.equal(s8.expiry, 600394200);
  const s9 = grant(600400000, apl, "COMMUNICATIONS-INTERRUPTED");
  assert.equal(s9.valid, 3600);
  assert.equal(s9.expiry, 600400000 + MCLT);
});

Deno.test("PARTNER-DOWN lifts the MCLT cap; every other state keeps it", () => {
  for (const state of STATES) {
    const r = grant(T0, null, state, true);
    if (state === "PARTNER-DOWN") {
      assert.equal(r.valid, DESIRED);
      assert.equal(r.rule, "partner-down");
      assert.equal(r.boundApplies, false);
    } else {
      assert.equal(r.valid, MCLT, state);
      assert.equal(r.boundApplies, true);
    }
  }
});

Deno.test("the 30 s floor applies to new leases only; preferred is capped at valid", () => {
  const base = { ackedPartnerLifetime: null, now: T0, mclt: 60, state: "NORMAL" as const };
  assert.equal(clientValidLifetime({ ...base, desired: 10, newLease: true }).valid, 30);
  assert.equal(clientValidLifetime({ ...base, desired: 10, newLease: true }).rule, "floor");
  assert.equal(clientValidLifetime({ ...base, desired: 10, newLease: false }).valid, 10);
  const pd = clientValidLifetime({ ...base, state: "PARTNER-DOWN", desired: 10, newLease: true });
  assert.equal(pd.valid, MIN_LEASE_LIFETIME);
  const pref = clientValidLifetime({
    ...base,
    desired: 7200,
    desiredPreferred: 5400,
    newLease: true,
  });
  assert.equal(pref.valid, 60);
  assert.equal(pref.preferred, 60);
  assert.match(pref.explanation, /R8/);
  const roomy = clientValidLifetime({
    ...base,
    ackedPartnerLifetime: T0 + DAY,
    desired: 7200,
    desiredPreferred: 5400,
    newLease: false,
  });
  assert.equal(roomy.valid, 7200);
  assert.equal(roomy.preferred, 5400);
});

Deno.test("bad inputs are typed errors naming the field", () => {
  assert.throws(
    () =>
      clientValidLifetime({
        desired: DESIRED,
        ackedPartnerLifetime: null,
        now: T0,
        mclt: 0,
        state: "NORMAL",
        newLease: true,
      }),
    (e) => e instanceof McltInputError && e.field === "mclt",
  );
  assert.throws(
    () => grant(-1, null),
    (e) => e instanceof McltInputError && e.field === "now",
  );
  assert.throws(
    () => grant(T0, Number.NaN),
    (e) => e instanceof McltInputError && e.field === "ackedPartnerLifetime",
  );
  assert.equal(checkLifetimeSettings({ desired: 1, mclt: 29 })?.field, "mclt");
  assert.equal(checkLifetimeSettings({ desired: 0, mclt: 30 })?.field, "desired");
  assert.equal(checkLifetimeSettings({ desired: 2 ** 32, mclt: 30 })?.field, "desired");
  assert.equal(
    checkLifetimeSettings({ desired: 60, mclt: 30, t1Fraction: 1 })?.field,
    "t1Fraction",
  );
  assert.equal(checkLifetimeSettings({ desired: 60, mclt: 30, t1Fraction: 0.5 }), undefined);
  assert.throws(
    () => partnerLifetimeToSend({ now: T0, granted: 60, desired: 60, t1Fraction: 0 }),
    (e) => e instanceof McltInputError && e.field === "t1Fraction",
  );
});

Deno.test("property: outside PARTNER-DOWN no client expiry passes max(acked, now) + MCLT", () => {
  fc.assert(
    fc.property(
      fc.record({
        desired: fc.integer({ min: 1, max: 10_000_000 }),
        mclt: fc.integer({ min: 30, max: 1_000_000 }),
        now: fc.integer({ min: 0, max: 2 ** 32 }),
        aplOffset: fc.option(fc.integer({ min: -10_000_000, max: 10_000_000 })),
        state: fc.constantFrom(...STATES),
        newLease: fc.boolean(),
      }),
      ({ desired, mclt, now, aplOffset, state, newLease }) => {
        const apl = aplOffset === null ? null : Math.max(0, now + aplOffset);
        const r = clientValidLifetime({
          desired,
          ackedPartnerLifetime: apl,
          now,
          mclt,
          state,
          newLease,
        });
        const limit = Math.max(apl ?? 0, now) + mclt;
        if (state !== "PARTNER-DOWN") {
          assert.ok(r.expiry <= limit, `${r.expiry} > ${limit}`);
          assert.equal(
            checkFundamentalRule({
              ...r,
              clientExpiry: r.expiry,
              ackedPartnerLifetime: apl,
              now,
              mclt,
              state,
            }).ok,
            true,
          );
        } else {
          assert.equal(r.valid, Math.max(desired, newLease ? MIN_LEASE_LIFETIME : 0));
        }
        if (newLease) assert.ok(r.valid >= MIN_LEASE_LIFETIME);
        assert.ok(r.valid <= Math.max(desired, MIN_LEASE_LIFETIME));
        assert.ok(r.preferred <= r.valid);
        assert.equal(r.expiry, now + r.valid);
        assert.equal(r.bound, limit);
        // Maximal: whatever the floor did not raise is exactly the smaller of desired and the cap.
        if (r.rule === "desired") assert.equal(r.valid, desired);
        if (r.rule === "mclt") assert.equal(r.expiry, limit);
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("checkFundamentalRule reports by how much a grant is too long", () => {
  const bad = checkFundamentalRule({
    clientExpiry: T0 + 2 * HOUR,
    ackedPartnerLifetime: null,
    now: T0,
    mclt: HOUR,
    state: "NORMAL",
  });
  assert.equal(bad.ok, false);
  if (!bad.ok) {
    assert.equal(bad.rule, "fundamental-rule");
    assert.equal(bad.limit, T0 + HOUR);
    assert.match(bad.message, /1h beyond/);
  }
  const pd = checkFundamentalRule({
    clientExpiry: T0 + 2 * HOUR,
    ackedPartnerLifetime: null,
    now: T0,
    mclt: HOUR,
    state: "PARTNER-DOWN",
  });
  assert.equal(pd.ok, true);
  assert.equal(mcltBound(T0 + DAY, T0, HOUR), T0 + DAY + HOUR);
  assert.equal(mcltBound(T0 - DAY, T0, HOUR), T0 + HOUR);
});

Deno.test("partnerLifetimeToSend raises a short policy and the check finds the faults", () => {
  const short = partnerLifetimeToSend({
    now: T0,
    granted: DAY,
    desired: DESIRED,
    t1Fraction: 0.5,
    policy: (i) => i.now + 60,
  });
  assert.equal(short.policyValue, T0 + 60);
  assert.equal(short.partnerLifetime, T0 + DAY);
  assert.equal(short.rule, "client-expiry");
  const back = partnerLifetimeToSend({
    now: T0,
    granted: HOUR,
    desired: DESIRED,
    t1Fraction: 0.5,
    ackedPartnerLifetime: T0 + 10 * DAY,
  });
  assert.equal(back.partnerLifetime, T0 + 10 * DAY);
  assert.equal(back.rule, "acked-partner-lifetime");

  const c1 = checkPartnerLifetime({
    partnerLifetime: T0 + 10,
    clientExpiry: T0 + 20,
    ackedPartnerLifetime: null,
  });
  assert.equal(c1.ok ? "ok" : c1.rule, "partner-lifetime-below-client-expiry");
  const c2 = checkPartnerLifetime({
    partnerLifetime: T0 + 30,
    clientExpiry: T0 + 20,
    ackedPartnerLifetime: T0 + 40,
  });
  assert.equal(c2.ok ? "ok" : c2.rule, "partner-lifetime-decreases");

  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 31 }),
      fc.integer({ min: 0, max: 10_000_000 }),
      fc.integer({ min: 1, max: 10_000_000 }),
      fc.double({ min: 0.01, max: 0.99, noNaN: true }),
      fc.option(fc.integer({ min: 0, max: 2 ** 31 })),
      fc.integer({ min: -10_000_000, max: 10_000_000 }),
      (now, granted, desired, t1Fraction, apl, policyOffset) => {
        const d = partnerLifetimeToSend({
          now,
          granted,
          desired,
          t1Fraction,
          ackedPartnerLifetime: apl,
          policy: (i) => i.now + policyOffset,
        });
        const check = checkPartnerLifetime({
          partnerLifetime: d.partnerLifetime,
          clientExpiry: now + granted,
          ackedPartnerLifetime: apl,
        });
        assert.equal(check.ok, true);
        assert.ok(d.partnerLifetime >= d.policyValue);
        if (d.rule === "policy") assert.equal(d.partnerLifetime, now + policyOffset);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("reuseTime: max(latest lease time + MCLT, PARTNER-DOWN entry + MCLT) (§8.4.1, §15 item 4)", () => {
  const late = reuseTime({
    mclt: HOUR,
    partnerDownEntry: T0,
    clientExpiry: T0 + DAY,
    partnerLifetimeSent: T0 + 2 * DAY,
    ackedPartnerLifetime: T0 + DAY,
    expirationTime: null,
  });
  assert.equal(late.at, T0 + 2 * DAY + HOUR);
  assert.equal(late.rule, "lease-times");
  assert.equal(late.latest, "partnerLifetimeSent");
  const early = reuseTime({ mclt: HOUR, partnerDownEntry: T0, clientExpiry: T0 - DAY });
  assert.equal(early.at, T0 + HOUR);
  assert.equal(early.rule, "partner-down-entry");
  assert.equal(early.fromLeaseTimes, T0 - DAY + HOUR);
  const none = reuseTime({ mclt: HOUR, partnerDownEntry: T0 });
  assert.equal(none.at, T0 + HOUR);
  assert.equal(none.latest, "none");
  const expiration = reuseTime({ mclt: 60, partnerDownEntry: T0, expirationTime: T0 + 500 });
  assert.equal(expiration.latest, "expirationTime");
  assert.equal(expiration.at, T0 + 560);
  assert.throws(
    () => reuseTime({ mclt: HOUR, partnerDownEntry: T0, clientExpiry: -5 }),
    (e) => e instanceof McltInputError && e.field === "clientExpiry",
  );
  assert.equal(partnerPoolUsableAt(T0, HOUR), T0 + HOUR);
  assert.equal(pendingFreeWithoutAckAt(T0 + 10, HOUR), T0 + 10 + HOUR);

  fc.assert(
    fc.property(
      fc.integer({ min: 30, max: 100_000 }),
      fc.integer({ min: 0, max: 2 ** 31 }),
      fc.array(fc.option(fc.integer({ min: 0, max: 2 ** 31 })), { minLength: 4, maxLength: 4 }),
      (mclt, entry, [a, b, c, d]) => {
        const r = reuseTime({
          mclt,
          partnerDownEntry: entry,
          clientExpiry: a,
          partnerLifetimeSent: b,
          ackedPartnerLifetime: c,
          expirationTime: d,
        });
        const known = [a, b, c, d].filter((x): x is number => x !== null);
        assert.ok(r.at >= entry + mclt);
        for (const k of known) assert.ok(r.at >= k + mclt);
        assert.ok([entry, ...known].some((k) => r.at === k + mclt));
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("recoverWaitEnd: TIME-OF-FAILURE + MCLT, else start time + MCLT (§8.6.2)", () => {
  const known = recoverWaitEnd({ timeOfFailure: T0, startTime: T0 + DAY, mclt: HOUR });
  assert.equal(known.at, T0 + HOUR);
  assert.equal(known.rule, "time-of-failure");
  const unknown = recoverWaitEnd({ timeOfFailure: 0, startTime: T0 + DAY, mclt: HOUR });
  assert.equal(unknown.at, T0 + DAY + HOUR);
  assert.equal(unknown.rule, "start-time");
  assert.equal(recoverWaitEnd({ startTime: 100, mclt: 60 }).at, 160);
  assert.throws(
    () => recoverWaitEnd({ startTime: Number.POSITIVE_INFINITY, mclt: 60 }),
    (e) => e instanceof McltInputError && e.field === "startTime",
  );
});
