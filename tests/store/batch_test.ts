/** BatchCommitter: grouping, resolve-after-commit, isolation of bad writers. Fake timers only. */
import assert from "node:assert/strict";
import { BatchCommitter, type BatchInfo, type BatchTimer } from "../../lib/store/batch.ts";
import { MemoryBindingStore } from "../../lib/store/memory.ts";
import { SqliteBindingStore } from "../../lib/store/sqlite.ts";
import { type BindingStore, StoreError, type StoreWrite } from "../../lib/store/types.ts";
import { naLease, tempDir } from "./helpers.ts";

/** A timer that fires only when the test says so. */
class ManualTimer implements BatchTimer {
  #next = 1;
  pending = new Map<number, { fn: () => void; ms: number }>();
  set(fn: () => void, ms: number): unknown {
    const h = this.#next++;
    this.pending.set(h, { fn, ms });
    return h;
  }
  clear(h: unknown): void {
    this.pending.delete(h as number);
  }
  fireAll(): void {
    const due = [...this.pending.values()];
    this.pending.clear();
    for (const d of due) d.fn();
  }
}

/** Lets queued promise callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

function track(p: Promise<void>): { done: () => boolean; error: () => unknown } {
  let done = false, error: unknown;
  p.then(() => (done = true), (e) => (error = e));
  return { done: () => done, error: () => error };
}

const lease = (i: number): StoreWrite[] => [{ type: "lease", lease: naLease(i) }];

Deno.test("batch: writes within one window become one transaction, resolved only after it", async () => {
  const store = new MemoryBindingStore();
  const timer = new ManualTimer();
  const infos: BatchInfo[] = [];
  const c = new BatchCommitter(store, { windowMs: 2, timer, onBatch: (i) => infos.push(i) });
  const ws = Array.from({ length: 10 }, (_, i) => track(c.write(lease(i))));
  await settle();
  assert.equal(timer.pending.size, 1, "one window timer for the whole batch");
  assert.equal([...timer.pending.values()][0].ms, 2);
  assert.ok(ws.every((w) => !w.done()), "nothing resolves before the commit");
  assert.equal(store.count(), 0);
  assert.equal(c.waiting, 10);
  timer.fireAll();
  await settle();
  assert.ok(ws.every((w) => w.done()));
  assert.equal(store.commits, 1);
  assert.equal(store.count(), 10);
  assert.deepEqual(c.stats, { transactions: 1, committedWriters: 10, failedWriters: 0 });
  assert.equal(infos.length, 1);
  assert.equal(infos[0].writers, 10);
  assert.equal(infos[0].ok, true);
  // the next write opens a new window
  const w = track(c.write(lease(99)));
  await settle();
  assert.equal(timer.pending.size, 1);
  assert.ok(!w.done());
  timer.fireAll();
  await settle();
  assert.ok(w.done());
  assert.equal(store.commits, 2);
});

Deno.test("batch: reaching maxWriters commits without waiting for the window", async () => {
  const store = new MemoryBindingStore();
  const timer = new ManualTimer();
  const c = new BatchCommitter(store, { timer, maxWriters: 4 });
  const ws = Array.from({ length: 9 }, (_, i) => track(c.write(lease(i))));
  await settle();
  assert.equal(ws.filter((w) => w.done()).length, 8);
  assert.equal(store.commits, 2);
  assert.equal(c.waiting, 1);
  timer.fireAll();
  await settle();
  assert.ok(ws.every((w) => w.done()));
  assert.equal(store.commits, 3);
});

Deno.test("batch: an invalid write is rejected at once and does not disturb the batch", async () => {
  const store = new MemoryBindingStore();
  const timer = new ManualTimer();
  const c = new BatchCommitter(store, { timer });
  const good = track(c.write(lease(1)));
  const bad = track(c.write([{ type: "lease", lease: naLease(2, { address: "zz::" }) }]));
  await settle();
  assert.ok(bad.error() instanceof StoreError);
  assert.equal((bad.error() as StoreError).kind, "invalid");
  assert.ok(!good.done());
  timer.fireAll();
  await settle();
  assert.ok(good.done());
  assert.equal(store.count(), 1);
  assert.equal(c.stats.failedWriters, 1);
});

Deno.test("batch: when the grouped commit fails, each writer is retried alone", async () => {
  const inner = new MemoryBindingStore();
  // a store whose disk "fails" for one particular address
  const flaky: BindingStore = Object.create(inner);
  flaky.apply = (ws) => {
    if (ws.some((w) => w.type === "lease" && w.lease.address === "2001:db8::3")) {
      throw new StoreError("io", "disk I/O error");
    }
    inner.apply(ws);
  };
  const timer = new ManualTimer();
  const infos: BatchInfo[] = [];
  const c = new BatchCommitter(flaky, { timer, onBatch: (i) => infos.push(i) });
  const ws = Array.from({ length: 5 }, (_, i) => track(c.write(lease(i + 1))));
  timer.fireAll();
  await settle();
  assert.deepEqual(ws.map((w) => w.done()), [true, true, false, true, true]);
  assert.equal((ws[2].error() as StoreError).kind, "io");
  assert.equal(inner.count(), 4);
  assert.equal(infos[0].ok, false);
  assert.deepEqual(c.stats, { transactions: 4, committedWriters: 4, failedWriters: 1 });
});

Deno.test("batch: flush commits now; close flushes and refuses further writes", async () => {
  const store = new MemoryBindingStore();
  const timer = new ManualTimer();
  const c = new BatchCommitter(store, { timer });
  const a = track(c.write(lease(1)));
  await c.flush();
  await settle();
  assert.ok(a.done());
  assert.equal(timer.pending.size, 0, "the window timer is cancelled");
  const b = track(c.write(lease(2)));
  await c.close();
  await settle();
  assert.ok(b.done());
  await assert.rejects(
    c.write(lease(3)),
    (e: unknown) => e instanceof StoreError && e.kind === "closed",
  );
  assert.equal(store.count(), 2);
});

Deno.test("batch: on SQLite, a resolved write is visible to a fresh connection", async () => {
  const t = tempDir();
  try {
    const path = `${t.dir}/a.db`;
    const store = SqliteBindingStore.open(path);
    const c = new BatchCommitter(store, { windowMs: 0 }); // real timers, no waiting on time
    await Promise.all(Array.from({ length: 50 }, (_, i) => c.write(lease(i))));
    assert.ok(store.commits < 50, `expected grouping, got ${store.commits} commits`);
    const other = SqliteBindingStore.open(path);
    assert.equal(other.count(), 50);
    other.close();
    await c.close();
    store.close();
  } finally {
    t.remove();
  }
});
