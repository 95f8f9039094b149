import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type AckModel,
  checkScheduleParams,
  type ScheduleParams,
  type ScheduleRow,
  simulateSchedule,
} from "../../lib/failover/mclt_schedule.ts";
import { McltInputError, MIN_LEASE_LIFETIME } from "../../lib/failover/mclt.ts";

const DAY = 86400;
const HOUR = 3600;
const T0 = 600000000;

const grants = (rows: ScheduleRow[]) =>
  rows.filter((r) => r.event === "request" || r.event === "renew");

Deno.test("schedule reproduces the worked example: 1 h, then 3 d + ½ h, then 3 d, then 4.5 d, repeating", () => {
  const rows = simulateSchedule({
    start: T0,
    desired: 3 * DAY,
    mclt: HOUR,
    t1Fraction: 0.5,
    renewals: 4,
  });
  const g = grants(rows);
  assert.deepEqual(g.map((r) => r.time - T0), [
    0,
    1800,
    1800 + 129600,
    1800 + 2 * 129600,
    1800 + 3 * 129600,
  ]);
  assert.deepEqual(g.map((r) => r.clientLifetime), [3600, 3 * DAY, 3 * DAY, 3 * DAY, 3 * DAY]);
  assert.equal(g[0].event, "request");
  assert.ok(g.slice(1).every((r) => r.event === "renew"));
  const sent = rows.filter((r) => r.event === "bndupd");
  assert.deepEqual(
    sent.map((r) => r.partnerLifetimeSent! - r.time),
    [3 * DAY + HOUR / 2, 4.5 * DAY, 4.5 * DAY, 4.5 * DAY, 4.5 * DAY],
  );
  assert.equal(sent[0].partnerLifetimeSent, 600261000);
  assert.equal(sent[1].partnerLifetimeSent, 600390600);
  // Each BNDUPD is acked at once and the ack becomes the acked partner lifetime.
  const acks = rows.filter((r) => r.event === "bndreply");
  assert.deepEqual(acks.map((r) => r.ackedPartnerLifetime), sent.map((r) => r.partnerLifetimeSent));
  // Row order within one second: Reply, BNDUPD, BNDREPLY.
  assert.deepEqual(rows.slice(0, 3).map((r) => r.event), ["request", "bndupd", "bndreply"]);
  assert.equal(rows[rows.length - 1].event, "expire");
  assert.deepEqual(rows.map((r) => r.step), rows.map((_, i) => i + 1));
});

Deno.test("schedule reproduces digest steps 7-9: communications lost after step 6", () => {
  const t1 = 600001800, t2 = 600131400, t3 = 600261000, t4 = 600327600, t5 = 600400000;
  const rows = simulateSchedule({
    start: T0,
    desired: 3 * DAY,
    mclt: HOUR,
    t1Fraction: 0.5,
    renewAt: [t1, t2, t3, t4, t5],
    commsLostAt: t2, // the Reply at t2 goes out, its BNDUPD never gets acked
  });
  const g = grants(rows);
  assert.deepEqual(g.map((r) => r.time), [T0, t1, t2, t3, t4, t5]);
  assert.deepEqual(g.map((r) => r.clientLifetime), [3600, 259200, 259200, 133200, 66600, 3600]);
  assert.deepEqual(g.map((r) => r.clientExpiry), [
    600003600,
    600261000,
    600390600,
    600394200,
    600394200,
    600403600,
  ]);
  assert.deepEqual(g.slice(3).map((r) => r.ackedPartnerLifetime), [
    600390600,
    600390600,
    600390600,
  ]);
  assert.deepEqual(g.slice(3).map((r) => r.state), Array(3).fill("COMMUNICATIONS-INTERRUPTED"));
  assert.deepEqual(g.slice(3).map((r) => r.rule), ["mclt", "mclt", "mclt"]);
  // The lease ran out at apl + MCLT before t5, so the client's message at t5 is a new request.
  assert.equal(g[5].event, "request");
  assert.ok(rows.some((r) => r.event === "expire" && r.time === 600394200));
  // No BNDUPD left after communications were lost.
  assert.ok(rows.filter((r) => r.event === "bndupd").every((r) => r.time < t2));
  const lost = rows.find((r) => r.event === "comms-lost")!;
  assert.equal(lost.time, t2);
  assert.equal(rows[rows.indexOf(lost) - 1].event, "renew");
});

Deno.test("PARTNER-DOWN lifts the cap and gives a reuse time", () => {
  const rows = simulateSchedule({
    start: 0,
    desired: 3 * DAY,
    mclt: HOUR,
    t1Fraction: 0.5,
    renewals: 4,
    commsLostAt: 3 * DAY,
    partnerDownAt: 4 * DAY,
  });
  const pd = rows.find((r) => r.event === "partner-down")!;
  assert.equal(pd.state, "PARTNER-DOWN");
  assert.equal(pd.boundApplies, false);
  // latest lease time is the acked partner lifetime / client expiry at +6d30m; + MCLT.
  assert.equal(pd.reuseAt, 6 * DAY + 1800 + HOUR);
  const after = grants(rows).filter((r) => r.time > 4 * DAY);
  assert.ok(after.length > 0);
  for (const r of after) {
    assert.equal(r.clientLifetime, 3 * DAY);
    assert.equal(r.rule, "partner-down");
    assert.ok(r.reuseAt! >= r.clientExpiry! + HOUR);
  }
  assert.equal(rows.filter((r) => r.event === "bndupd" && r.time >= 4 * DAY).length, 0);
});

Deno.test("late and missing acks: renewals before the ack see the old acked lifetime", () => {
  const late = simulateSchedule({
    start: 0,
    desired: DAY,
    mclt: HOUR,
    t1Fraction: 0.5,
    renewals: 2,
    ack: { kind: "late", delay: 2 * HOUR },
  });
  const g = grants(late);
  // The renewal at +30m comes before the ack at +2h: still only the MCLT.
  assert.equal(g[1].time, 1800);
  assert.equal(g[1].ackedPartnerLifetime, null);
  assert.equal(g[1].clientLifetime, HOUR);
  const firstAck = late.find((r) => r.event === "bndreply")!;
  assert.equal(firstAck.time, 2 * HOUR);

  const never = simulateSchedule({
    start: 0,
    desired: DAY,
    mclt: HOUR,
    t1Fraction: 0.5,
    renewals: 6,
    ack: { kind: "never" },
  });
  assert.ok(grants(never).every((r) => r.clientLifetime === HOUR));
  assert.equal(never.filter((r) => r.event === "bndreply").length, 0);
});

Deno.test("checkScheduleParams names the field", () => {
  const base: ScheduleParams = { start: 0, desired: DAY, mclt: HOUR, t1Fraction: 0.5 };
  assert.equal(checkScheduleParams(base), undefined);
  assert.equal(checkScheduleParams({ ...base, mclt: 0 })?.field, "mclt");
  assert.equal(checkScheduleParams({ ...base, t1Fraction: 1 })?.field, "t1Fraction");
  assert.equal(checkScheduleParams({ ...base, renewals: -1 })?.field, "renewals");
  assert.equal(checkScheduleParams({ ...base, renewAt: [10, 5] })?.field, "renewAt");
  assert.equal(checkScheduleParams({ ...base, start: 100, commsLostAt: 50 })?.field, "commsLostAt");
  assert.equal(
    checkScheduleParams({ ...base, ack: { kind: "late", delay: -1 } })?.field,
    "ack",
  );
  assert.throws(() => simulateSchedule({ ...base, desired: 0 }), McltInputError);
});

const ackArb: fc.Arbitrary<AckModel> = fc.oneof(
  fc.constant({ kind: "at-once" } as AckModel),
  fc.constant({ kind: "never" } as AckModel),
  fc.integer({ min: 1, max: 5 * DAY }).map((delay) => ({ kind: "late", delay }) as AckModel),
);

const paramsArb: fc.Arbitrary<ScheduleParams> = fc
  .record({
    start: fc.integer({ min: 0, max: 2 ** 31 }),
    desired: fc.integer({ min: 1, max: 30 * DAY }),
    mclt: fc.integer({ min: 30, max: 2 * DAY }),
    t1Fraction: fc.double({ min: 0.05, max: 0.95, noNaN: true }),
    renewals: fc.integer({ min: 0, max: 12 }),
    gaps: fc.option(fc.array(fc.integer({ min: 1, max: 10 * DAY }), { maxLength: 10 })),
    ack: ackArb,
    commsLost: fc.option(fc.integer({ min: 0, max: 40 * DAY })),
    partnerDown: fc.option(fc.integer({ min: 0, max: 40 * DAY })),
  })
  .map((r) => {
    const p: ScheduleParams = {
      start: r.start,
      desired: r.desired,
      mclt: r.mclt,
      t1Fraction: r.t1Fraction,
      renewals: r.renewals,
      ack: r.ack,
    };
    if (r.gaps) {
      let t = r.start;
      p.renewAt = r.gaps.map((g) => (t += g));
    }
    if (r.commsLost !== null) p.commsLostAt = r.start + r.commsLost;
    if (r.partnerDown !== null) p.partnerDownAt = r.start + r.partnerDown;
    return p;
  });

Deno.test("property: no schedule row gives a client more than max(acked, now) + MCLT outside PARTNER-DOWN", () => {
  fc.assert(
    fc.property(paramsArb, (p) => {
      const rows = simulateSchedule(p);
      // Track what the partner has acked, independently of the row's own column.
      let acked: number | null = null;
      let lastAcked = -1;
      let lastSent = -1;
      for (const r of rows) {
        if (r.event === "bndreply") {
          acked = Math.max(acked ?? 0, r.ackedPartnerLifetime!);
          assert.ok(r.ackedPartnerLifetime! >= lastAcked, "acked partner lifetime went back");
          lastAcked = r.ackedPartnerLifetime!;
        }
        if (r.event === "bndupd") {
          assert.ok(r.partnerLifetimeSent! >= r.clientExpiry!, "partner lifetime below expiry");
          assert.ok(r.partnerLifetimeSent! >= (acked ?? 0), "partner lifetime below acked");
          lastSent = Math.max(lastSent, r.partnerLifetimeSent!);
        }
        if (r.event !== "request" && r.event !== "renew") continue;
        assert.equal(r.ackedPartnerLifetime, acked);
        assert.equal(r.clientExpiry, r.time + r.clientLifetime!);
        if (r.state !== "PARTNER-DOWN") {
          const limit = Math.max(acked ?? 0, r.time) + p.mclt;
          assert.ok(r.clientExpiry! <= limit, `step ${r.step}: ${r.clientExpiry} > ${limit}`);
          assert.equal(r.bound, limit);
          assert.equal(r.boundApplies, true);
        } else {
          assert.equal(r.clientLifetime, Math.max(p.desired, r.event === "request" ? 30 : 0));
          assert.ok(r.reuseAt! >= r.clientExpiry! + p.mclt);
        }
        if (r.event === "request") assert.ok(r.clientLifetime! >= MIN_LEASE_LIFETIME);
        assert.ok(r.preferredLifetime! <= r.clientLifetime!);
      }
      for (let i = 1; i < rows.length; i++) assert.ok(rows[i].time >= rows[i - 1].time);
    }),
    { numRuns: 300 },
  );
});
