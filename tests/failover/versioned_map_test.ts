import assert from "node:assert/strict";
import fc from "fast-check";
import { VersionedMap } from "../../lib/failover/sync.ts";

type Op = { kind: "set"; key: number; value: string } | { kind: "delete"; key: number } | {
  kind: "clear";
};

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("set" as const),
      key: fc.integer({ min: 0, max: 20 }),
      value: fc.string({ maxLength: 3 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("delete" as const),
      key: fc.integer({ min: 0, max: 20 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "clear" as const }) },
);

Deno.test("VersionedMap: every version keeps its contents, whatever is edited after it", () => {
  fc.assert(
    fc.property(
      // Edits: each starts from an earlier version (by index) and applies some operations;
      // some are aborted instead of committed.
      fc.array(
        fc.record({ from: fc.nat(), ops: fc.array(op, { maxLength: 8 }), abort: fc.boolean() }),
        { maxLength: 25 },
      ),
      fc.array(fc.nat(), { maxLength: 30 }),
      (edits, reads) => {
        const versions = [VersionedMap.of<number, string>()];
        const models = [new Map<number, string>()];
        for (const e of edits) {
          const i = e.from % versions.length;
          const draft = versions[i].edit();
          const model = new Map(models[i]);
          for (const o of e.ops) {
            if (o.kind === "set") {
              draft.set(o.key, o.value);
              model.set(o.key, o.value);
            } else if (o.kind === "delete") {
              assert.equal(draft.delete(o.key), model.delete(o.key));
            } else {
              draft.clear();
              model.clear();
            }
            assert.equal(draft.size, model.size);
          }
          if (e.abort) {
            draft.abort();
          } else {
            versions.push(draft.commit());
            models.push(model);
          }
        }
        // Read the versions in any order: each still has exactly its own entries.
        for (const r of [...reads, ...versions.keys()]) {
          const i = r % versions.length;
          const v = versions[i];
          assert.equal(v.size, models[i].size);
          assert.deepEqual(new Map(v), models[i]);
          for (let k = 0; k <= 20; k++) {
            assert.equal(v.get(k), models[i].get(k));
            assert.equal(v.has(k), models[i].has(k));
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("VersionedMap: a draft with no change gives back the same version", () => {
  const v = VersionedMap.of([[1, "a"]]);
  const draft = v.edit();
  assert.equal(draft.get(1), "a");
  assert.equal(draft.delete(2), false);
  assert.equal(draft.commit(), v);
  assert.throws(() => draft.commit(), /already/);
});

Deno.test("VersionedMap: from() copies a plain map once and passes a VersionedMap through", () => {
  const plain = new Map([[1, "a"]]);
  const v = VersionedMap.from(plain);
  plain.set(2, "b");
  assert.equal(v.size, 1);
  assert.equal(VersionedMap.from(v), v);
});
