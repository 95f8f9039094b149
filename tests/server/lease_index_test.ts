import assert from "node:assert/strict";
import fc from "fast-check";
import { emptyLease } from "../../lib/store/lease.ts";
import type { Lease } from "../../lib/store/types.ts";
import { LeaseIndex } from "../../lib/server/lease_index.ts";
import { clientHex } from "./helpers.ts";

function lease(i: number, over: Partial<Lease> = {}): Lease {
  return {
    ...emptyLease({ kind: "na", address: `2001:db8::${(i + 1).toString(16)}` }, "ACTIVE"),
    clientDuid: clientHex(i % 3),
    expirationTime: 1000 + i,
    pool: "p",
    ...over,
  };
}

Deno.test("lease index: get, getByClient and occupancy follow apply", () => {
  const ix = LeaseIndex.from([lease(0), lease(1), lease(2), lease(3)]);
  assert.equal(ix.size, 4);
  assert.equal(ix.get({ kind: "na", address: "2001:db8::1" })?.clientDuid, clientHex(0));
  assert.equal(ix.get({ kind: "na", address: "2001:0db8:0::1" }), undefined, "get: canonical only");
  assert.equal(ix.lookup({ kind: "na", address: "2001:0DB8:0::1" })?.clientDuid, clientHex(0));
  assert.equal(ix.lookup({ kind: "na", address: "nonsense" }), undefined);
  assert.equal(ix.get({ kind: "pd", address: "2001:db8::1" }), undefined);
  assert.deepEqual(ix.getByClient(clientHex(0)).map((l) => l.address).sort(), [
    "2001:db8::1",
    "2001:db8::4",
  ]);
  assert.equal(ix.getByClient(clientHex(0).toUpperCase()).length, 2);
  assert.equal(ix.poolOccupancy("p"), 4);
  ix.apply([{ before: lease(0), after: lease(0, { status: "RELEASED" }) }]);
  assert.equal(ix.poolOccupancy("p"), 3);
  ix.apply([{
    before: lease(1),
    after: lease(1, { clientDuid: clientHex(2), status: "ABANDONED" }),
  }]);
  assert.equal(ix.poolOccupancy("p"), 3);
  assert.deepEqual(ix.getByClient(clientHex(1)), []);
  assert.equal(ix.poolOccupancy("nope"), 0);
});

Deno.test("lease index: revert restores `before`, deletes fresh rows, skips replaced ones", () => {
  const ix = LeaseIndex.from([lease(0)]);
  const a = { before: lease(0), after: lease(0, { clientDuid: clientHex(5) }) };
  const b = { after: lease(9) };
  ix.apply([a, b]);
  assert.equal(ix.size, 2);
  ix.revert([a, b]);
  assert.equal(ix.size, 1);
  assert.equal(ix.get({ kind: "na", address: "2001:db8::1" })?.clientDuid, clientHex(0));
  assert.deepEqual(ix.getByClient(clientHex(5)), []);
  // A later change wins over the revert of an earlier one.
  const first = { before: lease(0), after: lease(0, { iaid: 1 }) };
  const second = { before: first.after, after: lease(0, { iaid: 2 }) };
  ix.apply([first]);
  ix.apply([second]);
  ix.revert([first]);
  assert.equal(ix.get({ kind: "na", address: "2001:db8::1" })?.iaid, 2);
});

Deno.test("lease index: due heap returns leases in due order, each once, skipping stale entries", () => {
  const ix = LeaseIndex.from([5, 3, 9, 1, 7].map((i) => lease(i)));
  assert.equal(ix.nextDue(), 1001);
  // Lease 3 is renewed: its old due time is stale.
  ix.apply([{ before: lease(3), after: lease(3, { expirationTime: 5000 }) }]);
  const due = ix.takeDue(1008);
  assert.deepEqual(due.map((l) => l.expirationTime), [1001, 1005, 1007]);
  assert.equal(ix.nextDue(), 1009);
  assert.deepEqual(ix.takeDue(1008), []);
  assert.deepEqual(ix.takeDue(10_000, 1).map((l) => l.expirationTime), [1009]);
  assert.deepEqual(ix.takeDue(10_000).map((l) => l.expirationTime), [5000]);
  assert.equal(ix.nextDue(), undefined);
});

Deno.test("lease index: due heap keeps order over many random due times", () => {
  const times = Array.from({ length: 500 }, (_, i) => ((i * 7919) % 997) + 1);
  const ix = LeaseIndex.from(times.map((t, i) => lease(i, { expirationTime: t })));
  const out = ix.takeDue(10_000, 10_000).map((l) => l.expirationTime);
  assert.deepEqual(out, [...times].sort((a, b) => a - b));
});

Deno.test("lease index: getByClient, occupancy, tallies, pending updates and the due heap match a plain model under random changes", () => {
  // Few addresses and clients, so that clients gain and lose second and third leases.
  const change = fc.record({
    slot: fc.integer({ min: 0, max: 7 }),
    client: fc.integer({ min: -1, max: 3 }),
    owner: fc.constantFrom("primary", "secondary", "none") as fc.Arbitrary<Lease["owner"]>,
    pool: fc.constantFrom("p", "q"),
    status: fc.constantFrom("ACTIVE", "RELEASED", "ABANDONED", "FREE") as fc.Arbitrary<
      Lease["status"]
    >,
    due: fc.integer({ min: 1, max: 50 }),
    pending: fc.boolean(),
    relationship: fc.constantFrom("", "r", "s"),
    revert: fc.boolean(),
  });
  fc.assert(
    fc.property(fc.array(change, { maxLength: 60 }), (steps) => {
      const ix = new LeaseIndex();
      const model = new Map<string, Lease>();
      for (const s of steps) {
        const key = `2001:db8::${s.slot + 1}`;
        const before = model.get(key);
        const after = lease(s.slot, {
          clientDuid: s.client < 0 ? "" : clientHex(s.client),
          owner: s.owner,
          pool: s.pool,
          status: s.status,
          expirationTime: s.due,
          stateExpirationTime: s.due + 100,
          updatePending: s.pending,
          relationship: s.relationship,
        });
        ix.apply([{ before, after }]);
        if (s.revert) {
          ix.revert([{ before, after }]);
        } else model.set(key, after);
      }
      for (let c = 0; c < 4; c++) {
        const want = [...model.values()].filter((l) => l.clientDuid === clientHex(c))
          .map((l) => l.address).sort();
        assert.deepEqual(ix.getByClient(clientHex(c)).map((l) => l.address).sort(), want);
      }
      const occupied = [...model.values()].filter((l) =>
        l.pool === "p" && (l.status === "ACTIVE" || l.status === "ABANDONED")
      ).length;
      assert.equal(ix.poolOccupancy("p"), occupied);
      const tally = new Map<string, number>();
      for (const l of model.values()) {
        const k = `${l.pool} ${l.status}`;
        tally.set(k, (tally.get(k) ?? 0) + 1);
      }
      assert.deepEqual(
        ix.countByPool().map((c) => [`${c.pool} ${c.status}`, c.count]).sort(),
        [...tally].sort(),
      );
      // Per pool, kind, owner and status, in that order: what the database's GROUP BY answers.
      const rows = new Map<
        string,
        { pool: string; kind: string; owner: string; status: string; count: number }
      >();
      for (const l of model.values()) {
        const k = [l.pool, l.kind, l.owner, l.status].join(" ");
        const r = rows.get(k) ??
          { pool: l.pool, kind: l.kind, owner: l.owner, status: l.status, count: 0 };
        r.count++;
        rows.set(k, r);
      }
      assert.deepEqual(
        ix.countByPoolOwner(),
        [...rows.keys()].sort().map((k) =>
          rows.get(k)
        ),
      );
      // Updates pending per relationship (the control API's figure).
      for (const r of ["", "r", "s"]) {
        const want = [...model.values()].filter((l) => l.updatePending && l.relationship === r);
        assert.equal(ix.pendingUpdates(r), want.length, `pending for "${r}"`);
      }
      const due = (l: Lease) => l.status === "ACTIVE" ? l.expirationTime : l.stateExpirationTime;
      const wantDue = [...model.values()].map(due).filter((d) => d > 0).sort((a, b) => a - b);
      assert.equal(ix.nextDue(), wantDue[0]);
      assert.deepEqual(ix.takeDue(1_000, 1_000).map(due), wantDue);
    }),
    { numRuns: 300 },
  );
});
