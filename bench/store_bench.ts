/**
 * Durable lease commits per second: one transaction per lease versus grouped commit through
 * the BatchCommitter. Each file is a real SQLite database in WAL mode with synchronous=FULL
 * on the temp directory's disk, so every COMMIT waits for fsync.
 *
 *   deno bench --allow-all bench/store_bench.ts
 *
 * Leases per second = (leases per iteration) / (time per iteration).
 * With FAILOVER6_BENCH_BIG=1 it also times a 1,000,000-lease database (fill, open with
 * quick_check, full iteration, heap growth while iterating):
 *
 *   FAILOVER6_BENCH_BIG=1 deno bench --allow-all --v8-flags=--expose-gc bench/store_bench.ts
 */
import { BatchCommitter } from "../lib/store/batch.ts";
import { emptyLease } from "../lib/store/lease.ts";
import { SqliteBindingStore } from "../lib/store/sqlite.ts";
import type { Lease } from "../lib/store/types.ts";
import { formatIPv6, parseIPv6 } from "../lib/util/ipv6.ts";

const dir = Deno.makeTempDirSync({ prefix: "failover6-bench-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

const base = parseIPv6("2001:db8::")!;
let serial = 0;
function lease(): Lease {
  const i = serial++;
  return {
    ...emptyLease({ kind: "na", address: formatIPv6(base + BigInt(i)) }, "ACTIVE"),
    clientDuid: `000300010200${(i & 0xffffff).toString(16).padStart(6, "0")}00`,
    iaid: 1,
    preferredLifetime: 1800,
    validLifetime: 3600,
    expirationTime: 1_700_000_000_000 + i,
    cltTime: 1_700_000_000_000,
    startTimeOfState: 1_700_000_000_000,
    updatePending: true,
    owner: "primary",
    relationship: "pair",
    pool: "p0",
  };
}

const single = SqliteBindingStore.open(`${dir}/single.db`);
Deno.bench({
  name: "single: 1 lease per COMMIT",
  group: "durable commit",
  baseline: true,
  fn() {
    single.upsert([lease()]);
  },
});

for (const windowMs of [0, 2]) {
  for (const writers of [16, 64, 256]) {
    const store = SqliteBindingStore.open(`${dir}/grouped-${windowMs}-${writers}.db`);
    const committer = new BatchCommitter(store, { windowMs, maxWriters: 512 });
    Deno.bench({
      name: `grouped (window ${windowMs} ms): ${writers} concurrent writers`,
      group: "durable commit",
      async fn() {
        await Promise.all(
          Array.from(
            { length: writers },
            () => committer.write([{ type: "lease", lease: lease() }]),
          ),
        );
      },
    });
  }
}

{
  // steady state: renewals of existing leases (only the expiry and CLT change)
  const store = SqliteBindingStore.open(`${dir}/renew.db`);
  const existing = Array.from({ length: 10_000 }, lease);
  store.upsert(existing);
  const committer = new BatchCommitter(store, { windowMs: 0, maxWriters: 512 });
  let next = 0, now = 1_700_000_100_000;
  Deno.bench({
    name: "grouped renewals (window 0 ms): 256 concurrent writers",
    group: "durable commit",
    async fn() {
      now += 1000;
      await Promise.all(Array.from({ length: 256 }, () => {
        const l = existing[next++ % existing.length];
        return committer.write([{
          type: "lease",
          lease: { ...l, cltTime: now, expirationTime: now + 3_600_000 },
        }]);
      }));
    },
  });
}

if (Deno.env.get("FAILOVER6_BENCH_BIG") === "1") {
  const path = `${dir}/big.db`;
  const N = 1_000_000;
  let t0 = performance.now();
  const big = SqliteBindingStore.open(path);
  for (let i = 0; i < N; i += 10_000) big.upsert(Array.from({ length: 10_000 }, lease));
  big.close();
  const fillMs = performance.now() - t0;
  t0 = performance.now();
  const reopened = SqliteBindingStore.open(path);
  const openMs = performance.now() - t0;
  t0 = performance.now();
  // run with --v8-flags=--expose-gc for a heap figure without uncollected garbage
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
  gc();
  const heap0 = Deno.memoryUsage().heapUsed;
  let n = 0, peak = 0;
  for (const _ of reopened.all()) {
    if (++n % 100_000 === 0) {
      gc();
      peak = Math.max(peak, Deno.memoryUsage().heapUsed - heap0);
    }
  }
  const iterMs = performance.now() - t0;
  t0 = performance.now();
  const pools = reopened.countByPool();
  const countMs = performance.now() - t0;
  reopened.close();
  console.log(
    `1M leases: fill ${(fillMs / 1000).toFixed(1)} s, open+quick_check ${openMs.toFixed(0)} ms, ` +
      `all() ${n} rows in ${(iterMs / 1000).toFixed(1)} s (heap growth <= ${
        (peak / 1e6).toFixed(1)
      } MB), ` +
      `countByPool ${countMs.toFixed(0)} ms (${pools.length} groups), file ${
        (Deno.statSync(path).size / 1e6).toFixed(0)
      } MB`,
  );
}
