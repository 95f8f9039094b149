/**
 * The writer-thread committer: writes made in one turn of the event loop travel to the writer
 * thread together, each writer still settles on its own, and one writer whose writes cannot be
 * passed to the thread fails alone.
 */
import assert from "node:assert/strict";
import { openCommitter } from "../../../lib/server/shell/committer.ts";
import { emptyLease } from "../../../lib/store/lease.ts";
import { SqliteBindingStore } from "../../../lib/store/sqlite.ts";
import type { Lease, StoreWrite } from "../../../lib/store/types.ts";

const NOW = 1_709_294_400_000;

function active(n: number): Lease {
  return {
    ...emptyLease({ kind: "na", address: `fd00:f6::${(0x1000 + n).toString(16)}` }, "ACTIVE"),
    clientDuid: `0003000102b5${n.toString(16).padStart(8, "0")}`,
    iaid: 1,
    preferredLifetime: 1800,
    validLifetime: 3600,
    expirationTime: NOW + 3_600_000,
    cltTime: NOW,
    startTimeOfState: NOW,
    pool: "p",
  };
}

const write = (lease: Lease): StoreWrite[] => [{ type: "lease", lease }];

async function withWorker(
  body: (c: Awaited<ReturnType<typeof openCommitter>>["committer"], path: string) => Promise<void>,
) {
  const dir = await Deno.makeTempDir({ prefix: "f6commit-" });
  const store = SqliteBindingStore.open(`${dir}/leases.db`);
  try {
    const { committer, fallback } = await openCommitter({ store, path: store.path, windowMs: 0 });
    assert.equal(fallback, undefined);
    assert.equal(committer.mode, "worker");
    try {
      await body(committer, store.path);
    } finally {
      await committer.close();
    }
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("worker committer: 200 writers of one turn are all durable when they resolve", async () => {
  await withWorker(async (committer, path) => {
    const leases = Array.from({ length: 200 }, (_, i) => active(i));
    await Promise.all(leases.map((l) => committer.write(write(l))));
    // Fewer commits than writers: they travelled and were committed together.
    assert.ok(committer.commits < leases.length, `commits ${committer.commits}`);
    const reader = SqliteBindingStore.open(path, { integrityCheck: "none", create: false });
    try {
      assert.equal(reader.count(), 200);
      for (const l of leases) assert.deepEqual(reader.get(l), l);
    } finally {
      reader.close();
    }
  });
});

Deno.test("worker committer: a write that cannot reach the thread fails alone", async () => {
  await withWorker(async (committer, path) => {
    const bad = { ...active(2), pool: (() => "x") as unknown as string }; // not cloneable
    const results = await Promise.allSettled([
      committer.write(write(active(1))),
      committer.write(write(bad)),
      committer.write(write(active(3))),
    ]);
    assert.equal(results[0].status, "fulfilled");
    assert.equal(results[1].status, "rejected");
    assert.match(String((results[1] as PromiseRejectedResult).reason), /writer thread/);
    assert.equal(results[2].status, "fulfilled");
    const reader = SqliteBindingStore.open(path, { integrityCheck: "none", create: false });
    try {
      assert.equal(reader.count(), 2);
    } finally {
      reader.close();
    }
  });
});
