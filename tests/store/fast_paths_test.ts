/**
 * The store's fast paths give the answers of the general ones: `canonicalLease` of a lease
 * already canonical (its fast path) ≡ the general rule (reached through a spelling of the same
 * lease that is not canonical), `getMany` ≡ `get` per key, and `apply` with its multi-row
 * UPSERTs (pieces of 128, 64, ... rows) ≡ the same writes applied one by one.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { canonicalLease, canonicalWrites } from "../../lib/store/lease.ts";
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

/**
 * The same lease spelled so that it is not canonical (upper-case address and DUID): the
 * general rule must handle it, and its canonical form is the same.
 */
function respelled(l: Lease): Lease {
  return {
    ...l,
    address: typeof l.address === "string" ? l.address.toUpperCase() : l.address,
    clientDuid: typeof l.clientDuid === "string" ? l.clientDuid.toUpperCase() : l.clientDuid,
  };
}

Deno.test("canonicalLease: the fast path gives what the general rule gives", () => {
  let fast = 0;
  fc.assert(
    fc.property(lease, (l) => {
      const direct = outcome(() => [{ type: "lease", lease: canonicalLease(l) }]);
      const general = outcome(() => [{ type: "lease", lease: canonicalLease(respelled(l)) }]);
      const ok = (direct as { ok?: unknown }).ok !== undefined;
      if (ok) {
        assert.deepEqual(direct, general);
        // A canonical lease comes back equal (and is counted as having taken the fast path).
        const [w] = (direct as { ok: StoreWrite[] }).ok;
        if (w.type === "lease" && JSON.stringify(w.lease) === JSON.stringify(l)) fast++;
      } else {
        // Both refuse it; the messages name the same field (the address may be spelled
        // differently in them).
        const d = direct as { error: string; kind: string };
        const g = general as { error?: string; kind?: string };
        assert.equal(g.kind, d.kind);
        assert.equal(
          g.error?.replace(/^lease \S+:/, "lease:").toLowerCase(),
          d.error.replace(/^lease \S+:/, "lease:").toLowerCase(),
        );
      }
    }),
    { numRuns: 2000 },
  );
  assert.ok(fast > 100, `only ${fast} canonical leases generated`);
});

Deno.test("canonicalWrites: the same writes and errors as lease by lease", () => {
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
          outcome(() => canonicalWrites(writes)),
          outcome(() => writes.map((w) => canonicalWrites([w])[0])),
        );
      },
    ),
    { numRuns: 500 },
  );
  // An array canonicalWrites made is passed through as it is.
  const done = canonicalWrites([{ type: "lease", lease: naLease(1) }]);
  assert.equal(canonicalWrites(done), done);
});

Deno.test("canonicalLease: the copies are the caller's no more", () => {
  const l = naLease(3);
  const [w] = canonicalWrites([{ type: "lease", lease: l }]);
  assert.ok(w.type === "lease");
  assert.notEqual(w.lease, l);
  assert.deepEqual(w.lease, l);
  // Extra properties of the caller's object are not carried into the store's copy.
  const extra = canonicalLease({ ...l, note: "x" } as Lease);
  assert.deepEqual(extra, l);
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

Deno.test("SqliteBindingStore.getMany: far-apart keys (read key by key) and empty ranges", () => {
  const store = SqliteBindingStore.open(":memory:");
  try {
    store.upsert(Array.from({ length: 600 }, (_, i) => naLease(i)));
    const check = (keys: LeaseKey[]) => {
      const many = store.getMany(keys);
      assert.deepEqual(
        many,
        keys.map((k) => {
          try {
            return store.get(k);
          } catch {
            return undefined; // an invalid key: get throws, getMany has no lease
          }
        }),
      );
      return many.filter((l) => l !== undefined).length;
    };
    // 600 leases between two keys: more than 4 per key, so the range is not read at once.
    assert.equal(check([{ kind: "na", address: naLease(599).address }, naLease(0)]), 2);
    // A range with no lease, keys out of order, repeats, and a kind that does not match.
    assert.equal(check([naLease(700), naLease(650), naLease(700), naLease(5)]), 1);
    assert.equal(check([{ kind: "pd", address: naLease(7).address, prefixLength: 128 }]), 0);
    assert.equal(check([{ kind: "na", address: "bogus" }]), 0);
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
        { maxLength: 300 }, // full 128-row statements and every smaller piece
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
