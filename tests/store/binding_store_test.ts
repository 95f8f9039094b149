/**
 * One behavioural suite run against both BindingStore implementations, plus a model-based
 * property test that drives both with the same random operations and compares them.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { MemoryBindingStore } from "../../lib/store/memory.ts";
import { SqliteBindingStore } from "../../lib/store/sqlite.ts";
import {
  BINDING_STATUSES,
  type BindingStore,
  type EndpointStateRecord,
  type Lease,
  StoreError,
  type StoreWrite,
} from "../../lib/store/types.ts";
import { compareIPv6, parseIPv6 } from "../../lib/util/ipv6.ts";
import { duid, naLease, pdLease, tempDir } from "./helpers.ts";

interface Maker {
  name: string;
  make(): { store: BindingStore; done(): void };
}

const makers: Maker[] = [
  {
    name: "memory",
    make() {
      const store = new MemoryBindingStore();
      return { store, done: () => store.close() };
    },
  },
  {
    name: "sqlite",
    make() {
      const t = tempDir();
      const store = SqliteBindingStore.open(`${t.dir}/leases.db`);
      return {
        store,
        done() {
          store.close();
          t.remove();
        },
      };
    },
  },
];

function withStore(m: Maker, f: (s: BindingStore) => void): () => void {
  return () => {
    const { store, done } = m.make();
    try {
      f(store);
    } finally {
      done();
    }
  };
}

function isStoreError(kind: string): (e: unknown) => boolean {
  return (e) => e instanceof StoreError && e.kind === kind;
}

/** A deterministic shuffle (LCG) so failures reproduce. */
function shuffled<T>(xs: T[], seed = 7): T[] {
  const a = [...xs];
  let s = seed;
  for (let i = a.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

const endpoint: EndpointStateRecord = {
  relationship: "pair-a",
  state: "COMMUNICATIONS-INTERRUPTED",
  previousState: "NORMAL",
  startTimeOfState: 1_700_000_100_000,
  partnerState: "NORMAL",
  partnerStartTimeOfState: 1_700_000_000_000,
  partnerFlags: 0,
  partnerDownTime: 0,
  lastContactTime: 1_700_000_099_000,
  lastOperationTime: 1_700_000_100_500,
  mclt: 3600,
};

for (const m of makers) {
  const t = (name: string, f: (s: BindingStore) => void) =>
    Deno.test(`store[${m.name}]: ${name}`, withStore(m, f));

  t("upsert then get returns every field, keyed by canonical address", (s) => {
    const l = naLease(5, {
      partnerLifetime: 1_700_000_500_000,
      ackedPartnerLifetime: 1_700_000_400_000,
      partnerRawCltTime: 1_699_999_999_000,
      stateExpirationTime: 0,
      updatePending: true,
      ackPending: false,
    });
    s.upsert([l]);
    assert.deepEqual(s.get({ kind: "na", address: "2001:db8::5" }), l);
    assert.deepEqual(s.get({ kind: "na", address: "2001:0DB8:0:0:0:0:0:0005" }), l);
    assert.equal(s.get({ kind: "pd", address: "2001:db8::5", prefixLength: 128 }), undefined);
    assert.equal(s.get({ kind: "na", address: "2001:db8::6" }), undefined);
    const p = pdLease(3, "ACTIVE", { clientDuid: duid(1), iaid: 9, expirationTime: 5 });
    s.upsert([p]);
    assert.deepEqual(s.get({ kind: "pd", address: "2001:db8:1000:300::", prefixLength: 56 }), p);
    assert.equal(s.count(), 2);
  });

  t("stores canonical forms of addresses and DUIDs", (s) => {
    s.upsert([
      naLease(1, { address: "2001:DB8:0::1", clientDuid: "00:03:00:01:AA:BB:CC:DD:EE:FF" }),
    ]);
    const got = s.get({ kind: "na", address: "2001:db8::1" });
    assert.equal(got?.address, "2001:db8::1");
    assert.equal(got?.clientDuid, "00030001aabbccddeeff");
    assert.equal(s.getByClient("00:03:00:01:aa:bb:cc:dd:ee:ff").length, 1);
  });

  t("upsert replaces, delete removes, returned leases are copies", (s) => {
    s.upsert([naLease(1)]);
    s.upsert([naLease(1, { status: "RELEASED", validLifetime: 0 })]);
    assert.equal(s.count(), 1);
    const got = s.get({ kind: "na", address: "2001:db8::1" })!;
    assert.equal(got.status, "RELEASED");
    got.status = "ABANDONED";
    assert.equal(s.get({ kind: "na", address: "2001:db8::1" })!.status, "RELEASED");
    s.apply([{ type: "delete-lease", key: { kind: "na", address: "2001:db8::1" } }]);
    assert.equal(s.count(), 0);
    s.apply([{ type: "delete-lease", key: { kind: "na", address: "2001:db8::1" } }]); // no-op
  });

  t("getByClient with and without IAID", (s) => {
    s.upsert(Array.from({ length: 30 }, (_, i) => naLease(i)));
    const c3 = s.getByClient(duid(3));
    assert.deepEqual(c3.map((l) => l.address), [
      "2001:db8::3",
      "2001:db8::a",
      "2001:db8::11",
      "2001:db8::18",
    ]);
    const c3i1 = s.getByClient(duid(3), 1);
    assert.deepEqual(c3i1.map((l) => l.address), ["2001:db8::a"]);
    assert.deepEqual(s.getByClient("not hex"), []);
    assert.deepEqual(s.getByClient(""), []);
    assert.deepEqual(s.getByClient(duid(99)), []);
  });

  t("list pages through everything in numeric address order", (s) => {
    const leases = [
      ...Array.from({ length: 200 }, (_, i) => naLease(i * 37)),
      ...Array.from({ length: 40 }, (_, i) => pdLease(i)),
    ];
    s.upsert(shuffled(leases));
    const seen: Lease[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = s.list({ limit: 37, after });
      assert.ok(page.leases.length <= 37);
      seen.push(...page.leases);
      after = page.next;
      pages++;
    } while (after !== undefined);
    assert.equal(pages, Math.ceil(240 / 37));
    assert.equal(seen.length, 240);
    for (let i = 1; i < seen.length; i++) {
      assert.ok(compareIPv6(parseIPv6(seen[i - 1].address)!, parseIPv6(seen[i].address)!) < 0);
    }
    // 2001:db8::b (11) < 2001:db8::a0 (160): numeric, not text, order
    const small = s.list({ limit: 3, kind: "na" }).leases.map((l) => l.address);
    assert.deepEqual(small, ["2001:db8::", "2001:db8::25", "2001:db8::4a"]);
    assert.equal(s.list({ limit: 240 }).next, undefined);
    assert.ok(s.list({ limit: 239 }).next !== undefined);
  });

  t("list filters combine and page", (s) => {
    s.upsert(
      Array.from(
        { length: 120 },
        (_, i) => naLease(i, { status: BINDING_STATUSES[i % 8], clientDuid: duid(i % 7) }),
      ),
    );
    s.upsert(
      Array.from({ length: 10 }, (_, i) => pdLease(i, "FREE-BACKUP", { owner: "secondary" })),
    );
    const want = (f: (l: Lease) => boolean) => [...s.all()].filter(f).map((l) => l.address);
    const collect = (q: Parameters<BindingStore["list"]>[0]) => {
      const out: string[] = [];
      let after: string | undefined;
      do {
        const p = s.list({ ...q, after, limit: 4 });
        out.push(...p.leases.map((l) => l.address));
        after = p.next;
      } while (after);
      return out;
    };
    assert.deepEqual(collect({ status: "ACTIVE" }), want((l) => l.status === "ACTIVE"));
    assert.deepEqual(
      collect({ status: ["FREE", "FREE-BACKUP"] }),
      want((l) => l.status === "FREE" || l.status === "FREE-BACKUP"),
    );
    assert.deepEqual(collect({ kind: "pd" }), want((l) => l.kind === "pd"));
    assert.deepEqual(
      collect({ kind: "na", owner: "secondary", relationship: "pair-a" }),
      want((l) => l.kind === "na" && l.owner === "secondary" && l.relationship === "pair-a"),
    );
    assert.deepEqual(
      collect({ clientDuid: duid(2).toUpperCase(), pool: "pool-1" }),
      want((l) => l.clientDuid === duid(2) && l.pool === "pool-1"),
    );
    assert.ok(collect({ status: "ACTIVE" }).length > 0);
    assert.deepEqual(s.list({ status: [] }).leases, []);
    assert.throws(() => s.list({ clientDuid: "xyz" }), isStoreError("invalid"));
    assert.throws(() => s.list({ after: "garbage" }), isStoreError("invalid"));
    assert.throws(() => s.list({ limit: 0 }), isStoreError("invalid"));
  });

  t("all() and needingUpdate() iterate across chunk boundaries", (s) => {
    const n = 2_345;
    const batch: Lease[] = [];
    for (let i = 0; i < n; i++) {
      batch.push(naLease(i, { updatePending: i % 5 === 0, ackPending: i % 7 === 0 }));
    }
    s.upsert(batch);
    const all = [...s.all()];
    assert.equal(all.length, n);
    assert.equal(new Set(all.map((l) => l.address)).size, n);
    const pending = [...s.needingUpdate()];
    const expected = batch.filter((l) => l.updatePending || l.ackPending).map((l) => l.address);
    assert.deepEqual(pending.map((l) => l.address), expected);
    const pendingA = [...s.needingUpdate("pair-a")].map((l) => l.address);
    assert.deepEqual(
      pendingA,
      batch.filter((l) => (l.updatePending || l.ackPending) && l.relationship === "pair-a")
        .map((l) => l.address),
    );
    assert.equal(
      [...s.all("pair-b")].length,
      batch.filter((l) => l.relationship === "pair-b").length,
    );
    assert.equal([...s.all("nobody")].length, 0);
  });

  t("countByPool groups by pool, owner and status", (s) => {
    s.upsert(
      Array.from({ length: 30 }, (_, i) => naLease(i, { status: i < 20 ? "ACTIVE" : "FREE" })),
    );
    const counts = s.countByPool();
    let total = 0;
    for (const c of counts) {
      const expect = Array.from({ length: 30 }, (_, i) =>
        naLease(i, { status: i < 20 ? "ACTIVE" : "FREE" }))
        .filter((l) => l.pool === c.pool && l.owner === c.owner && l.status === c.status).length;
      assert.equal(c.count, expect, JSON.stringify(c));
      total += c.count;
    }
    assert.equal(total, 30);
    assert.deepEqual(
      counts.find((c) => c.pool === "pool-0" && c.owner === "secondary" && c.status === "ACTIVE")
        ?.count,
      4,
    );
  });

  t("nextExpiry and dueBy use expirationTime for ACTIVE, stateExpirationTime otherwise", (s) => {
    assert.equal(s.nextExpiry(), undefined);
    s.upsert([
      naLease(1, { expirationTime: 5_000 }),
      naLease(2, { expirationTime: 3_000 }),
      naLease(3, { status: "RELEASED", expirationTime: 1_000, stateExpirationTime: 4_000 }),
      naLease(4, { status: "EXPIRED", expirationTime: 1_000, stateExpirationTime: 0 }),
      naLease(5, { expirationTime: 0 }), // no timeout
      pdLease(1, "ABANDONED", { stateExpirationTime: 3_000 }),
    ]);
    assert.equal(s.nextExpiry(), 3_000);
    assert.deepEqual(s.dueBy(2_999).map((l) => l.address), []);
    assert.deepEqual(s.dueBy(3_000).map((l) => l.address), ["2001:db8::2", "2001:db8:1000:100::"]);
    assert.deepEqual(s.dueBy(10_000, 3).map((l) => l.address), [
      "2001:db8::2",
      "2001:db8:1000:100::",
      "2001:db8::3",
    ]);
    s.upsert([naLease(2, { status: "EXPIRED", stateExpirationTime: 0 })]);
    assert.equal(s.nextExpiry(), 3_000);
    s.upsert([pdLease(1, "FREE")]);
    assert.equal(s.nextExpiry(), 4_000);
  });

  t("endpoint state and server DUID", (s) => {
    assert.equal(s.getEndpointState("pair-a"), undefined);
    assert.equal(s.getServerDuid(), undefined);
    s.apply([
      { type: "endpoint-state", record: endpoint },
      {
        type: "endpoint-state",
        record: { ...endpoint, relationship: "b", previousState: null, partnerState: null },
      },
      { type: "server-duid", duid: "00:01:00:01:2A:2B:2C:2D:00:11:22:33:44:55" },
    ]);
    assert.deepEqual(s.getEndpointState("pair-a"), endpoint);
    assert.equal(s.getEndpointState("b")?.partnerState, null);
    assert.deepEqual(s.listEndpointStates().map((r) => r.relationship), ["b", "pair-a"]);
    assert.equal(s.getServerDuid(), "000100012a2b2c2d001122334455");
    s.apply([{
      type: "endpoint-state",
      record: { ...endpoint, state: "PARTNER-DOWN", partnerDownTime: 9 },
    }]);
    assert.equal(s.getEndpointState("pair-a")?.state, "PARTNER-DOWN");
    assert.equal(s.listEndpointStates().length, 2);
  });

  t("a batch with one invalid write changes nothing", (s) => {
    s.upsert([naLease(1)]);
    const before = s.commits;
    const bad: StoreWrite[] = [
      { type: "lease", lease: naLease(2) },
      { type: "server-duid", duid: "0001000a" },
      { type: "lease", lease: naLease(3, { prefixLength: 64 }) },
    ];
    assert.throws(() => s.apply(bad), isStoreError("invalid"));
    assert.equal(s.count(), 1);
    assert.equal(s.getServerDuid(), undefined);
    assert.equal(s.commits, before);
  });

  t("invalid leases are typed errors naming the field", (s) => {
    const cases: [Partial<Lease>, RegExp][] = [
      [{ address: "2001:db8::zz" }, /not an IPv6 address/],
      [{ prefixLength: 64 }, /prefix length 128/],
      [{ clientDuid: "abc" }, /clientDuid/],
      [{ clientDuid: "" }, /ACTIVE lease needs a client DUID/],
      [{ status: "BOUND" as never }, /binding status/],
      [{ iaid: -1 }, /iaid/],
      [{ validLifetime: 2 ** 32 }, /validLifetime/],
      [{ expirationTime: 1.5 }, /expirationTime/],
      [{ cltTime: Number.NaN }, /cltTime/],
      [{ owner: "both" as never }, /owner/],
      [{ updatePending: 1 as never }, /updatePending/],
    ];
    for (const [over, msg] of cases) {
      assert.throws(() => s.upsert([naLease(1, over)]), (e: unknown) => {
        return e instanceof StoreError && e.kind === "invalid" && msg.test(e.message);
      }, JSON.stringify(over));
    }
    assert.throws(
      () => s.upsert([pdLease(1, "FREE", { address: "2001:db8:1000:101::" })]),
      /bits set beyond/,
    );
    assert.throws(() => s.apply([{ type: "what" } as never]), isStoreError("invalid"));
    assert.throws(
      () =>
        s.apply([{ type: "endpoint-state", record: { ...endpoint, state: "PAUSED" as never } }]),
      isStoreError("invalid"),
    );
    assert.throws(() => s.get({ kind: "na", address: "nope" }), isStoreError("invalid"));
    assert.equal(s.count(), 0);
  });

  t("a closed store refuses work with a typed error", (s) => {
    s.close();
    assert.throws(() => s.get({ kind: "na", address: "::1" }), isStoreError("closed"));
    assert.throws(() => s.upsert([naLease(1)]), isStoreError("closed"));
    assert.throws(() => s.count(), isStoreError("closed"));
  });
}

// ---- model-based: memory and SQLite answer the same to the same random operations ----

type Op =
  | { op: "upsert"; i: number; status: number; rel: number; pending: number; exp: number }
  | { op: "delete"; i: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant("upsert" as const),
    i: fc.integer({ min: 0, max: 60 }),
    status: fc.integer({ min: 0, max: 7 }),
    rel: fc.integer({ min: 0, max: 2 }),
    pending: fc.integer({ min: 0, max: 3 }),
    exp: fc.integer({ min: 0, max: 50 }),
  }),
  fc.record({ op: fc.constant("delete" as const), i: fc.integer({ min: 0, max: 60 }) }),
);

function toWrite(o: Op): StoreWrite {
  if (o.op === "delete") {
    return o.i % 4 === 0
      ? {
        type: "delete-lease",
        key: { kind: "pd", address: pdLease(o.i).address, prefixLength: 56 },
      }
      : { type: "delete-lease", key: { kind: "na", address: naLease(o.i).address } };
  }
  const status = BINDING_STATUSES[o.status];
  const over: Partial<Lease> = {
    status,
    clientDuid: status === "FREE" || status === "FREE-BACKUP" ? "" : duid(o.i % 5),
    relationship: ["", "x", "y"][o.rel],
    updatePending: (o.pending & 1) === 1,
    ackPending: (o.pending & 2) === 2,
    expirationTime: o.exp * 1000,
    stateExpirationTime: (50 - o.exp) * 1000,
  };
  return { type: "lease", lease: o.i % 4 === 0 ? pdLease(o.i, status, over) : naLease(o.i, over) };
}

Deno.test("store: memory and sqlite agree on random operation sequences (property)", () => {
  const t = tempDir();
  let run = 0;
  try {
    fc.assert(
      fc.property(
        fc.array(fc.array(opArb, { minLength: 1, maxLength: 6 }), { maxLength: 25 }),
        (txs) => {
          const mem = new MemoryBindingStore();
          const sql = SqliteBindingStore.open(`${t.dir}/model-${run++}.db`, {
            integrityCheck: "none",
          });
          try {
            for (const tx of txs) {
              const ws = tx.map(toWrite);
              mem.apply(ws);
              sql.apply(ws);
            }
            assert.deepEqual([...sql.all()], [...mem.all()]);
            assert.deepEqual([...sql.needingUpdate("x")], [...mem.needingUpdate("x")]);
            assert.deepEqual(sql.countByPool(), mem.countByPool());
            assert.equal(sql.nextExpiry(), mem.nextExpiry());
            assert.deepEqual(sql.dueBy(20_000, 7), mem.dueBy(20_000, 7));
            assert.deepEqual(sql.getByClient(duid(2)), mem.getByClient(duid(2)));
            assert.deepEqual(
              sql.list({ status: "ACTIVE", limit: 5 }),
              mem.list({ status: "ACTIVE", limit: 5 }),
            );
            assert.equal(sql.commits, mem.commits);
          } finally {
            sql.close();
          }
        },
      ),
      { numRuns: 40 },
    );
  } finally {
    t.remove();
  }
});
