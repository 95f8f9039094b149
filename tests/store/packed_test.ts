import assert from "node:assert/strict";
import fc from "fast-check";
import { packedTransfer, packWrites, unpackWrites } from "../../lib/store/packed.ts";
import type { StoreWrite } from "../../lib/store/types.ts";
import { BINDING_STATUSES } from "../../lib/store/types.ts";
import { naLease, pdLease } from "./helpers.ts";

const writeArb: fc.Arbitrary<StoreWrite> = fc.oneof(
  fc.record({
    i: fc.integer({ min: 0, max: 1000 }),
    status: fc.constantFrom(...BINDING_STATUSES),
    pd: fc.boolean(),
    updatePending: fc.boolean(),
    ackPending: fc.boolean(),
    partnerLifetime: fc.integer({ min: 0, max: 2 ** 52 }),
    relationship: fc.string({ maxLength: 6 }),
    pool: fc.string({ maxLength: 6 }),
  }).map((r): StoreWrite => ({
    type: "lease",
    lease: r.pd
      ? pdLease(r.i, r.status, {
        updatePending: r.updatePending,
        ackPending: r.ackPending,
        partnerLifetime: r.partnerLifetime,
        relationship: r.relationship,
        pool: r.pool,
      })
      : naLease(r.i, {
        status: r.status,
        updatePending: r.updatePending,
        ackPending: r.ackPending,
        partnerLifetime: r.partnerLifetime,
        relationship: r.relationship,
        pool: r.pool,
      }),
  })),
  fc.integer({ min: 0, max: 1000 }).map((i): StoreWrite => ({
    type: "delete-lease",
    key: { kind: "na", address: naLease(i).address },
  })),
  fc.uint8Array({ minLength: 1, maxLength: 20 }).map((b): StoreWrite => ({
    type: "server-duid",
    duid: Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(""),
  })),
);

Deno.test("packed writes: unpack(pack(writes)) is the writes, in order", () => {
  fc.assert(
    fc.property(fc.array(writeArb, { maxLength: 60 }), (writes) => {
      assert.deepStrictEqual(unpackWrites(packWrites(writes)), writes);
    }),
    { numRuns: 300 },
  );
});

Deno.test("packed writes: survive structured cloning with their buffers transferred", () => {
  const writes: StoreWrite[] = [
    { type: "lease", lease: naLease(1) },
    { type: "server-duid", duid: "000100017a" },
    { type: "lease", lease: pdLease(2, "ACTIVE", { clientDuid: "0003000102" }) },
  ];
  const packed = packWrites(writes);
  const copy = structuredClone(packed, { transfer: packedTransfer(packed) });
  assert.equal(packed.numbers.length, 0, "the numbers were moved, not copied");
  assert.deepStrictEqual(unpackWrites(copy), writes);
});

Deno.test("packed writes: distinct strings are kept once in the table", () => {
  const writes: StoreWrite[] = Array.from({ length: 50 }, (_, i) => ({
    type: "lease" as const,
    lease: naLease(i, { relationship: "r", pool: "p", owner: "primary" }),
  }));
  const packed = packWrites(writes);
  assert.ok(packed.table.length <= 5, `table ${packed.table.join(",")}`);
  assert.equal(packed.texts.length, 100);
});

Deno.test("packed writes: a malformed pack is refused with what is wrong", () => {
  const packed = packWrites([{ type: "lease", lease: naLease(1) }]);
  assert.throws(() => unpackWrites({ ...packed, count: 2 }), /2/);
  assert.throws(
    () => unpackWrites({ ...packed, count: 2, tags: new Uint8Array([0, 0]) }),
    /lease 1 is past the numbers/,
  );
  assert.throws(
    () => unpackWrites({ ...packed, tags: new Uint8Array([1]) }),
    /write 0: no such entry/,
  );
});
