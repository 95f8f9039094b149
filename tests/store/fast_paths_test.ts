/**
 * The store's fast paths give the answers of the general ones: `fastCanonicalWrites` ≡
 * `canonicalWrites` (results and errors), `getMany` ≡ `get` per key, and `apply` with its
 * multi-row UPSERTs ≡ the same writes applied one by one.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { fastCanonicalWrites } from "../../lib/store/batch.ts";
import { canonicalWrites } from "../../lib/store/lease.ts";
import { MemoryBindingStore } from "../../lib/store/memory.ts";
import { SqliteBindingStore } from "../../lib/store/sqlite.ts";
import type { Lease, LeaseKey, StoreWrite } from "../../lib/store/types.ts";
import { naLease, pdLease } from "./helpers.ts";

/** The outcome of a canonicalisation: the writes, or the error message. */
function outcome(f: () => readonly StoreWrite[]): unknown {
  try {
    return { ok: f() };
  } catch (e) {
    return { error: (e as Error).message, kind: (e as { kind?: string }).kind };
  }
}

/** Leases that are mostly valid, with one field sometimes made odd (or wrong). */
const lease: fc.Arbitrary<Lease> = fc.tuple(
  fc.nat({ max: 300 }),
  fc.boolean(),
  fc.option(
    fc.oneof(
      fc.record({
        address: fc.constantFrom("2001:DB8::1", "2001:db8:0::1", "::ffff:1.2.3.4", "x"),
      }),
      fc.record({ clientDuid: fc.constantFrom("00:03:00:01", "0003000A", "abc", "", "zz") }),
      fc.record({ prefixLength: fc.constantFrom(64, 127, 129, -1, 1.5) }),
      fc.record({ iaid: fc.constantFrom(-1, 2 ** 32, 1.5, 7) }),
      fc.record({ expirationTime: fc.constantFrom(-1, 2 ** 53, Number.NaN, 5) }),
      fc.record({ status: fc.constantFrom("ACTIVE", "FREE", "BOGUS") }),
      fc.record({ owner: fc.constantFrom("none", "nobody") }),
      fc.record({ updatePending: fc.constantFrom(true, 1) }),
      fc.record({ pool: fc.constantFrom("p", "x".repeat(300)) }),
    ),
    { nil: undefined },
  ),
).map(([i, pd, odd]) => ({ ...(pd ? pdLease(i, "FREE") : naLease(i)), ...odd }) as Lease);

Deno.test("fastCanonicalWrites: the same writes and errors as canonicalWrites", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          { weight: 5, arbitrary: lease.map((l): StoreWrite => ({ type: "lease", lease: l })) },
          {
            weight: 1,
            arbitrary: fc.constantFrom<StoreWrite>(
              { type: "delete-lease", key: { kind: "na", address: "2001:DB8::5" } },
              { type: "server-duid", duid: "00:03:00:01:02:00:00:00:00:01" },
            ),
          },
        ),
        { maxLength: 6 },
      ),
      (writes) => {
        assert.deepEqual(
          outcome(() => fastCanonicalWrites(writes)),
          outcome(() => canonicalWrites(writes)),
        );
      },
    ),
    { numRuns: 2000 },
  );
  // An array canonicalWrites made is passed through as it is.
  const done = canonicalWrites([{ type: "lease", lease: naLease(1) }]);
  assert.equal(fastCanonicalWrites(done), done);
});

Deno.test("fastCanonicalWrites: the copies are the caller's no more", () => {
  const l = naLease(3);
  const [w] = fastCanonicalWrites([{ type: "lease", lease: l }]);
  assert.ok(w.type === "lease");
  assert.notEqual(w.lease, l);
  assert.deepEqual(w.lease, l);
});

Deno.test("SqliteBindingStore.getMany: the answer of get for every key", () => {
  const store = SqliteBindingStore.open(":memory:");
  try {
    const leases = [
      ...Array.from({ length: 150 }, (_, i) => naLease(2 * i)),
      pdLease(1, "FREE"),
      // An address and a prefix that share their first address.
      naLease(0, { address: "2001:db8:1000::", relationship: "pair-a" }),
      pdLease(0, "FREE"),
      // ... and two that differ only in their kind.
      naLease(0, { address: "2001:db8:2000::7", iaid: 9 }),
      pdLease(0, "FREE", { address: "2001:db8:2000::7", prefixLength: 128 }),
    ];
    store.upsert(leases);
    const keys: LeaseKey[] = [
      ...Array.from(
        { length: 310 },
        (_, i) => ({ kind: "na" as const, address: naLease(i).address }),
      ),
      { kind: "na", address: "2001:DB8:0::4" }, // not canonical text: the same lease
      { kind: "pd", address: pdLease(1).address, prefixLength: 56 },
      { kind: "pd", address: pdLease(1).address, prefixLength: 64 }, // no such prefix
      { kind: "na", address: "2001:db8:1000::" },
      { kind: "pd", address: "2001:db8:1000::", prefixLength: 56 },
      { kind: "na", address: "2001:db8:2000::7" },
      { kind: "pd", address: "2001:db8:2000::7", prefixLength: 128 },
      { kind: "na", address: "not an address" }, // invalid: no lease, no error
      { kind: "pd", address: "2001:db8::1", prefixLength: 64 }, // host bits: invalid
      { kind: "na", address: naLease(4).address }, // a repeat
    ];
    const many = store.getMany(keys);
    assert.equal(many.length, keys.length);
    keys.forEach((k, i) => {
      let one: Lease | undefined;
      try {
        one = store.get(k);
      } catch {
        one = undefined; // get throws for an invalid key; getMany has no lease for it
      }
      assert.deepEqual(many[i], one, `key ${i}: ${k.kind} ${k.address}/${k.prefixLength}`);
    });
    assert.ok(many.filter((l) => l !== undefined).length >= 155);
    assert.deepEqual(store.getMany([]), []);
  } finally {
    store.close();
  }
});

Deno.test("SqliteBindingStore.apply: multi-row UPSERTs end as the writes one by one", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          {
            weight: 8,
            arbitrary: fc.tuple(fc.nat({ max: 40 }), fc.nat({ max: 5 })).map((
              [i, v],
            ): StoreWrite => ({
              type: "lease",
              lease: naLease(i, { iaid: v, expirationTime: 1_700_000_000_000 + v }),
            })),
          },
          {
            weight: 1,
            arbitrary: fc.nat({ max: 40 }).map((i): StoreWrite => ({
              type: "delete-lease",
              key: { kind: "na", address: naLease(i).address },
            })),
          },
        ),
        { maxLength: 120 },
      ),
      (writes) => {
        const sqlite = SqliteBindingStore.open(":memory:");
        const memory = new MemoryBindingStore();
        try {
          sqlite.apply(writes); // one transaction
          for (const w of writes) memory.apply([w]); // one by one
          assert.deepEqual([...sqlite.all()], [...memory.all()]);
        } finally {
          sqlite.close();
        }
      },
    ),
    { numRuns: 60 },
  );
});
