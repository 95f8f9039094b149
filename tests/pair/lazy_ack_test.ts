/**
 * Lazy acknowledgement writes (the primary's record that a BNDUPD was acked): which changes
 * qualify, how the committer folds them into the next ordinary commit, how the engine's
 * committer hands them over without waiting, and that a pair's primary still has them in its
 * database file after a clean stop.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { isAckOnlyChange, newestPerLease } from "../../lib/server/shell/failover.ts";
import { openCommitter } from "../../lib/server/shell/committer.ts";
import {
  IndexedReads,
  ScopedCommitter,
  type WriteQueue,
} from "../../lib/server/shell/failover_store.ts";
import { LeaseIndex } from "../../lib/server/lease_index.ts";
import { MemoryBindingStore } from "../../lib/store/memory.ts";
import { SqliteBindingStore } from "../../lib/store/sqlite.ts";
import { emptyLease } from "../../lib/store/lease.ts";
import type { Lease, StoreWrite } from "../../lib/store/types.ts";
import { ClientSocket, TestClient } from "../serve/client.ts";
import { TestPair } from "./helpers.ts";

const NOW = 1_709_294_400_000;

function active(n: number, patch: Partial<Lease> = {}): Lease {
  return {
    ...emptyLease({ kind: "na", address: `fd00:f6::${(0x1000 + n).toString(16)}` }, "ACTIVE"),
    clientDuid: "000300010203040506",
    iaid: 1,
    preferredLifetime: 1800,
    validLifetime: 3600,
    expirationTime: NOW + 30_000,
    cltTime: NOW,
    startTimeOfState: NOW,
    owner: "primary",
    relationship: "r",
    pool: "p",
    updatePending: true,
    ...patch,
  };
}

const write = (lease: Lease): StoreWrite => ({ type: "lease", lease });

Deno.test("isAckOnlyChange: pending cleared, acked partner lifetime raised, partner lifetime cleared", () => {
  const sent = active(1, { partnerLifetime: NOW + 30_000 });
  const acked = {
    ...sent,
    updatePending: false,
    ackedPartnerLifetime: NOW + 30_000,
    partnerLifetime: 0,
  };
  assert.equal(isAckOnlyChange(sent, acked), true);
  assert.equal(isAckOnlyChange(sent, { ...acked, partnerLifetime: sent.partnerLifetime }), true);
  assert.equal(isAckOnlyChange(sent, { ...acked, updatePending: true }), false, "still pending");
  assert.equal(isAckOnlyChange(sent, { ...acked, ackPending: true }), false);
  assert.equal(isAckOnlyChange(sent, { ...acked, status: "FREE" }), false, "a binding transition");
  assert.equal(
    isAckOnlyChange({ ...sent, ackedPartnerLifetime: NOW + 60_000 }, acked),
    false,
    "the acked partner lifetime never goes down lazily",
  );
});

Deno.test("isAckOnlyChange: any change beyond the ack fields must be durable (property)", () => {
  const fields: [keyof Lease, fc.Arbitrary<unknown>][] = [
    ["clientDuid", fc.constantFrom("", "0003000102", "00030001ff")],
    ["iaid", fc.integer({ min: 2, max: 1000 })],
    ["status", fc.constantFrom("FREE", "EXPIRED", "RELEASED", "FREE-BACKUP", "ABANDONED")],
    ["preferredLifetime", fc.integer({ min: 1, max: 1799 })],
    ["validLifetime", fc.integer({ min: 1, max: 3599 })],
    ["expirationTime", fc.integer({ min: 1, max: NOW })],
    ["cltTime", fc.integer({ min: 1, max: NOW - 1 })],
    ["partnerRawCltTime", fc.integer({ min: 1, max: NOW })],
    ["startTimeOfState", fc.integer({ min: 1, max: NOW - 1 })],
    ["stateExpirationTime", fc.integer({ min: 1, max: NOW })],
    ["owner", fc.constantFrom("secondary", "none")],
    ["relationship", fc.constantFrom("", "other")],
    ["pool", fc.constantFrom("", "q")],
    ["partnerLifetime", fc.integer({ min: 1, max: NOW })],
  ];
  const change = fc.oneof(...fields.map(([f, arb]) => arb.map((v) => [f, v] as const)));
  fc.assert(
    fc.property(change, fc.boolean(), ([field, value], acked) => {
      const before = active(2, { partnerLifetime: NOW + 5 });
      const after = {
        ...before,
        updatePending: false,
        ...(acked ? { ackedPartnerLifetime: NOW + 5 } : {}),
        [field]: value,
      } as Lease;
      return isAckOnlyChange(before, after) === false;
    }),
    { numRuns: 300 },
  );
});

Deno.test("committer (in-thread): a lazy write rides in front of the next write, in its transaction", async () => {
  const store = new MemoryBindingStore();
  const { committer } = await openCommitter({ store, windowMs: 0, worker: false });
  try {
    const a = active(3);
    committer.writeLazy([write({ ...a, updatePending: false })]);
    assert.equal(store.count(), 0, "nothing is committed for a lazy write alone");
    const before = store.commits;
    await committer.write([write(active(4))]);
    assert.equal(store.commits - before, 1, "one transaction for both");
    assert.equal(store.get(a)?.updatePending, false);
    assert.equal(committer.lazy.committed, 1);
    // Order: a lazy write never overtakes a later write of the same lease.
    committer.writeLazy([write({ ...a, validLifetime: 1 })]);
    await committer.write([write({ ...a, validLifetime: 2 })]);
    assert.equal(store.get(a)?.validLifetime, 2);
    // flush commits lazy writes that found no company.
    committer.writeLazy([write(active(5))]);
    await committer.flush();
    assert.ok(store.get(active(5)));
    assert.equal(committer.lazy.committed, 3);
  } finally {
    await committer.close();
  }
});

Deno.test("committer (writer thread): lazy writes reach the file with the next commit and at close", async () => {
  const dir = await Deno.makeTempDir({ prefix: "f6lazy-" });
  const path = `${dir}/leases.db`;
  const store = SqliteBindingStore.open(path);
  try {
    const { committer, fallback } = await openCommitter({ store, path, windowMs: 0 });
    assert.equal(committer.mode, "worker", fallback);
    committer.writeLazy([write(active(6, { updatePending: false }))]);
    await committer.write([write(active(7))]);
    assert.equal(committer.commits, 1, "the lazy write took no commit of its own");
    assert.equal(store.get(active(6))?.updatePending, false, "committed with the write");
    committer.writeLazy([write(active(8, { updatePending: false }))]);
    await committer.close();
    assert.equal(committer.lazy.committed, 2);
    assert.equal(store.get(active(8))?.updatePending, false, "close commits what waits");
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** A WriteQueue that records what it is asked to do. */
class RecordingQueue implements WriteQueue {
  durable: StoreWrite[][] = [];
  lazy: StoreWrite[][] = [];
  write(writes: readonly StoreWrite[]): Promise<void> {
    this.durable.push([...writes]);
    return Promise.resolve();
  }
  writeLazy(writes: readonly StoreWrite[]): void {
    this.lazy.push([...writes]);
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
}

Deno.test("ScopedCommitter: a step of only deferrable writes is lazy; a mixed step is durable", async () => {
  const queue = new RecordingQueue();
  const deferrable = new WeakSet<Lease>();
  const scope = { subnetOf: () => undefined };
  const c = new ScopedCommitter(queue, new MemoryBindingStore(), scope, undefined, {
    deferrable: (w) => w.type === "lease" && deferrable.has(w.lease),
  });
  const ack = active(9, { updatePending: false });
  deferrable.add(ack);
  await c.write([write(ack)]);
  assert.equal(queue.lazy.length, 1);
  assert.equal(queue.durable.length, 0, "nobody waits for an acknowledgement");
  const other = active(10);
  await c.write([write(ack), write(other)]);
  assert.deepEqual(queue.durable, [[write(ack), write(other)]], "in order, durable");
  const plain = new ScopedCommitter(queue, new MemoryBindingStore(), scope);
  await plain.write([write(ack)]);
  assert.equal(queue.durable.length, 2, "without `deferrable` every write is durable");
});

Deno.test("IndexedReads.needingUpdate leaves out leases whose newest version is acknowledged", () => {
  const store = new MemoryBindingStore();
  const pending = [active(11), active(12), active(13)];
  store.apply(pending.map(write));
  const index = LeaseIndex.from(pending);
  const acked = { ...pending[1], updatePending: false };
  index.apply([{ before: pending[1], after: acked }]);
  const reads = new IndexedReads(store, index);
  assert.deepEqual(
    [...reads.needingUpdate("r")].map((l) => l.address),
    [pending[0].address, pending[2].address],
  );
  assert.equal([...store.needingUpdate("r")].length, 3, "the store itself still lists it");
});

Deno.test("newestPerLease: a lease changed twice in one gathered batch goes to the engine once, as it is now", () => {
  const a1 = active(31), b = active(32), a2 = { ...active(31), status: "EXPIRED" as const };
  assert.deepEqual(newestPerLease([a1, b, a2]), [b, a2]);
  assert.deepEqual(newestPerLease([a1, b]), [a1, b]);
  assert.deepEqual(newestPerLease([]), []);
});

Deno.test("IndexedReads: UPDREQ and UPDREQALL answers read each lease as it is now, not as stored", () => {
  const store = new MemoryBindingStore();
  const stored = [active(21), active(22), active(23)];
  store.apply(stored.map(write));
  const index = LeaseIndex.from(stored);
  // Expiry (or a renewal) changed the second lease; its commit has not reached the store yet.
  const expired: Lease = {
    ...stored[1],
    status: "EXPIRED",
    startTimeOfState: NOW + 30_000,
    stateExpirationTime: NOW + 60_000,
  };
  index.apply([{ before: stored[1], after: expired }]);
  const reads = new IndexedReads(store, index);
  const pending = [...reads.needingUpdate("r")];
  assert.deepEqual(pending.map((l) => l.status), ["ACTIVE", "EXPIRED", "ACTIVE"]);
  assert.deepEqual(pending[1], expired);
  assert.deepEqual([...reads.all("r")].map((l) => l.status), ["ACTIVE", "EXPIRED", "ACTIVE"]);
  assert.equal(store.get(stored[1])?.status, "ACTIVE", "the store itself still has the old one");
});

Deno.test({
  name: "pair: the primary's acknowledgements are written lazily and are in its file after a stop",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const pair = await TestPair.start({ mclt: 30 });
    const socket = await ClientSocket.open(pair.primary!.udp);
    try {
      const addresses: string[] = [];
      for (let n = 0; n < 6; n++) {
        const c = new TestClient(
          socket,
          new Uint8Array([0, 3, 0, 1, 2, 0xac, 0, 0, 0, n]),
          { timeoutMs: 300, attempts: 5 },
        );
        assert.ok(await c.solicit({ na: [1] }));
        const r = await c.request({ na: [1] });
        assert.ok(r && r.leases.length === 1);
        addresses.push(r.leases[0].address);
      }
      await pair.drained();
      for (const a of addresses) {
        assert.equal(pair.lease("primary", a)?.updatePending, false, `${a} acked`);
        assert.equal(pair.lease("secondary", a)?.status, "ACTIVE", `${a} on the secondary`);
      }
      await pair.stopNode("primary");
      const file = SqliteBindingStore.open(`${pair.dir}/primary/leases.db`);
      try {
        for (const a of addresses) {
          const l = file.get({ kind: "na", address: a });
          assert.equal(l?.status, "ACTIVE");
          assert.equal(l?.updatePending, false, `${a}: the ack reached the file`);
          assert.ok(l!.ackedPartnerLifetime > 0, `${a}: acked partner lifetime stored`);
        }
      } finally {
        file.close();
      }
    } finally {
      await socket.close();
      await pair.close();
    }
  },
});
