/**
 * Pool balancing must never hand the secondary a prefix a client holds (fault (a) of
 * `tests/faults/kill_primary_test.ts`: a prefix the primary delegated while its FREE-BACKUP
 * BNDUPD waited in the queue was overwritten with FREE-BACKUP, the primary lost the lease and
 * the secondary, in PARTNER-DOWN, gave the prefix to a second client).
 *
 * The engine level: the prefixes read for a pool-give are stored FREE-BACKUP in the step
 * that read them, whatever the partner's window lets out. The store level: the list the
 * engine reads leaves out a FREE prefix the server's lease index already holds for a client.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Action, type EngineState, step } from "../../lib/failover/engine.ts";
import { IndexedReads } from "../../lib/server/shell/failover_store.ts";
import { LeaseIndex } from "../../lib/server/lease_index.ts";
import { emptyLease } from "../../lib/store/lease.ts";
import { MemoryBindingStore } from "../../lib/store/memory.ts";
import type { Lease } from "../../lib/store/types.ts";
import { engineIn, fo, sent, T0 } from "../failover/helpers.ts";

function persisted(actions: readonly Action[]): Lease[] {
  return actions.flatMap((a) =>
    a.type === "persist" ? a.writes.flatMap((w) => (w.type === "lease" ? [w.lease] : [])) : []
  );
}

function freePrefix(i: number): Lease {
  return {
    ...emptyLease({ kind: "pd", address: `2001:db8:0:${i + 1}::`, prefixLength: 64 }, "FREE"),
    owner: "primary",
    pool: "pd",
    relationship: "rel",
  };
}

/** A primary in NORMAL that answered a POOLREQ and asked for `n` FREE prefixes to give. */
function askedToGive(n: number, maxUnacked: number): { state: EngineState; stream: number } {
  let r = step(engineIn("NORMAL", { partner: "NORMAL", maxUnacked }), {
    type: "message-received",
    message: fo(26, [], 0x66),
  }, T0);
  const count = r.actions.find((a) => a.type === "read-bindings");
  assert.ok(count?.type === "read-bindings");
  r = step(r.state, {
    type: "bindings-read",
    stream: count.stream,
    leases: [],
    done: true,
    counts: [{ pool: "pd", kind: "pd", owner: "primary", status: "FREE", count: 2 * n }],
  }, T0);
  const list = r.actions.find((a) => a.type === "read-bindings");
  assert.ok(list?.type === "read-bindings" && list.source.kind === "list");
  assert.equal(list.source.query.limit, n);
  return { state: r.state, stream: list.stream };
}

Deno.test("pool give: every prefix read is stored FREE-BACKUP at once, before the window lets its BNDUPD out", () => {
  const { state, stream } = askedToGive(4, 1);
  const leases = [0, 1, 2, 3].map(freePrefix);
  const r = step(state, { type: "bindings-read", stream, leases, done: true }, T0 + 5);
  // One BNDUPD (the partner's window is 1), but all four are the secondary's already: the
  // primary's allocator can no longer delegate any of them while the others wait.
  assert.equal(sent(r.actions).filter((m) => m.msgType === 24).length, 1);
  assert.deepEqual(
    persisted(r.actions).map((l) => [l.address, l.status, l.owner]),
    leases.map((l) => [l.address, "FREE-BACKUP", "secondary"]),
  );
  const firstPersist = r.actions.findIndex((a) => a.type === "persist");
  const firstSend = r.actions.findIndex((a) => a.type === "send");
  assert.ok(firstPersist >= 0 && firstPersist < firstSend, "stored before the BNDUPD");
});

Deno.test("pool give: a prefix that is no longer FREE when read is neither stored nor sent", () => {
  const { state, stream } = askedToGive(2, 10);
  const taken: Lease = {
    ...freePrefix(1),
    status: "ACTIVE",
    clientDuid: "000100010000000000000001",
    iaid: 1,
    expirationTime: T0 + 30_000,
  };
  const r = step(state, {
    type: "bindings-read",
    stream,
    leases: [freePrefix(0), taken],
    done: true,
  }, T0 + 5);
  assert.deepEqual(persisted(r.actions).map((l) => l.address), ["2001:db8:0:1::"]);
  assert.equal(sent(r.actions).filter((m) => m.msgType === 24).length, 1);
  assert.ok(
    !persisted(r.actions).some((l) => l.address === taken.address),
    "the client's prefix is left as it is",
  );
});

Deno.test("IndexedReads.list: a FREE prefix the index already holds for a client is left out", () => {
  const store = new MemoryBindingStore();
  const prefixes = [0, 1, 2].map(freePrefix);
  store.upsert(prefixes);
  const index = LeaseIndex.from(prefixes);
  // A client's Request took prefix 1: in the index at once, its commit still in flight.
  const granted: Lease = {
    ...prefixes[1],
    status: "ACTIVE",
    clientDuid: "000100010000000000000001",
    iaid: 1,
    owner: "primary",
    expirationTime: T0 + 30_000,
  };
  index.apply([{ before: prefixes[1], after: granted }]);
  const reads = new IndexedReads(store, index);
  const page = reads.list({ kind: "pd", status: "FREE", owner: "primary", pool: "pd" });
  assert.deepEqual(page.leases.map((l) => l.address), [prefixes[0].address, prefixes[2].address]);
  // An array of statuses is honoured too; the newest version is what is returned.
  const any = reads.list({ kind: "pd", status: ["FREE", "ACTIVE"] });
  assert.deepEqual(any.leases.map((l) => l.status), ["FREE", "ACTIVE", "FREE"]);
  // The store itself still lists the old version (what the engine read before the fix).
  assert.equal(store.list({ kind: "pd", status: "FREE" }).leases.length, 3);
});
