/**
 * UPDREQALL benchmark (a script, not a `deno bench` file):
 *
 *   deno run -A bench/updreqall.ts [--count 1000000] [--window 4096] [--store sqlite|memory]
 *                                  [--commit worker|thread] [--processes 2|1] [--batch 512]
 *                                  [--profile DIR] [--keep]
 *
 * Two failover engines in one process, over real loopback TCP (`[::1]`, ephemeral port):
 * a primary in PARTNER-DOWN holding `--count` ACTIVE bindings and a secondary with empty
 * storage. The secondary comes up in RECOVER and, having no record of the partner while the
 * partner has one, sends UPDREQALL (RFC 8156 §8.5.2); the primary streams every binding as a
 * BNDUPD, never more than the secondary's OPTION_F_MAX_UNACKED_BNDUPD (`--window`) unanswered,
 * and sends UPDDONE after the last BNDREPLY. Each BNDREPLY leaves the secondary only after
 * its binding is committed to the secondary's store. `--commit worker` (the default) commits
 * on the server's writer thread (`lib/server/shell/committer.ts`, as `failover6 serve` runs
 * with SQLite; the writes go there packed, `lib/store/packed.ts`), so that SQLite's work on
 * one batch overlaps the handling of the next; `--commit thread` commits on the secondary's
 * main thread. `--profile DIR` writes V8 CPU profiles of the secondary process (and its
 * writer thread) there.
 *
 * Printed: bindings, seconds from UPDREQALL to UPDDONE, bindings/s, CPU seconds and µs per
 * binding of each process (`process.cpuUsage()`: the secondary's from UPDREQALL to UPDDONE,
 * the primary's from connecting to the end), peak RSS (sampled every 100 ms) and the stores
 * used. Filling the primary's store is not timed. Targets (issue 4):
 * at least 50,000 bindings/s and memory under 1 GB.
 *
 * @module
 */

import { parseArgs } from "node:util";
import process from "node:process";
import { SqliteBindingStore } from "../lib/store/sqlite.ts";
import { MemoryBindingStore } from "../lib/store/memory.ts";
import { BatchCommitter } from "../lib/store/batch.ts";
import { openCommitter } from "../lib/server/shell/committer.ts";
import { emptyLease } from "../lib/store/lease.ts";
import type { BindingStore, Lease } from "../lib/store/types.ts";
import type { BatchInfo } from "../lib/store/batch.ts";
import { formatIPv6, parseIPv6 } from "../lib/util/ipv6.ts";
import { systemClock } from "../lib/util/clock.ts";
import { EngineDriver } from "../lib/failover/driver.ts";
import { runPrimary, runSecondary } from "../lib/failover/connection.ts";

interface Options {
  count: number;
  window: number;
  store: "sqlite" | "memory";
  /** Where the secondary commits: a writer thread or the main thread. */
  commit: "worker" | "thread";
  batch: number;
  keep: boolean;
  processes: 1 | 2;
  /** Write a V8 CPU profile of the secondary process into this directory. */
  profile?: string;
  /** Internal: run as the secondary child process. */
  child: boolean;
}

function options(): Options {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      count: { type: "string", default: "1000000" },
      window: { type: "string", default: "4096" },
      store: { type: "string", default: "sqlite" },
      commit: { type: "string" },
      batch: { type: "string", default: "512" },
      processes: { type: "string", default: "2" },
      keep: { type: "boolean", default: false },
      profile: { type: "string" },
      child: { type: "boolean", default: false },
    },
  });
  const count = Number(values.count);
  const window = Number(values.window);
  const batch = Number(values.batch);
  const processes = Number(values.processes);
  if (!Number.isInteger(count) || count < 1) throw new Error(`--count: ${values.count}`);
  if (!Number.isInteger(window) || window < 1) throw new Error(`--window: ${values.window}`);
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`--batch: ${values.batch}`);
  if (processes !== 1 && processes !== 2) throw new Error(`--processes: 1 or 2`);
  if (values.store !== "sqlite" && values.store !== "memory") {
    throw new Error(`--store: sqlite or memory, not ${values.store}`);
  }
  const commit = values.commit ?? "worker";
  if (commit !== "worker" && commit !== "thread") {
    throw new Error(`--commit: worker or thread, not ${commit}`);
  }
  return {
    count,
    window,
    store: values.store,
    commit,
    batch,
    keep: values.keep,
    processes,
    profile: values.profile,
    child: values.child,
  };
}

const REL = "bench";
const BASE = parseIPv6("2001:db8::")!;

function lease(i: number, now: number): Lease {
  const hex = (i + 1).toString(16).padStart(8, "0");
  return {
    ...emptyLease({ kind: "na", address: formatIPv6(BASE + BigInt(2 * i + 1)) }, "ACTIVE"),
    clientDuid: `00010001${hex}`,
    iaid: 1,
    preferredLifetime: 1800,
    validLifetime: 3600,
    expirationTime: now + 3_600_000,
    stateExpirationTime: now + 3_600_000,
    partnerLifetime: 0,
    ackedPartnerLifetime: now + 5_400_000,
    cltTime: now - 60_000,
    startTimeOfState: now - 60_000,
    updatePending: false,
    owner: "primary",
    relationship: REL,
    pool: "p",
  };
}

function openStore(kind: "sqlite" | "memory", path: string): BindingStore {
  return kind === "sqlite"
    ? SqliteBindingStore.open(path, { integrityCheck: "none" })
    : new MemoryBindingStore();
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(0)} MiB`;
}

/** Peak RSS, sampled every 100 ms until stopped. */
function rssSampler(): { stop(): number } {
  let peak = Deno.memoryUsage().rss;
  const id = setInterval(() => {
    peak = Math.max(peak, Deno.memoryUsage().rss);
  }, 100);
  return {
    stop() {
      clearInterval(id);
      return Math.max(peak, Deno.memoryUsage().rss);
    },
  };
}

const BASE_CONFIG = { relationship: REL, mclt: 3600, startupTime: 30, keepaliveTime: 60 };

/** The primary's store: `count` clean ACTIVE bindings and a PARTNER-DOWN record. */
function fillPrimary(o: Options, dir: string): BindingStore {
  const store = openStore(o.store, `${dir}/primary.db`);
  const now = systemClock.now();
  const t = performance.now();
  for (let i = 0; i < o.count; i += 10_000) {
    const chunk: Lease[] = [];
    for (let j = i; j < Math.min(o.count, i + 10_000); j++) chunk.push(lease(j, now));
    store.upsert(chunk);
  }
  store.apply([{
    type: "endpoint-state",
    record: {
      relationship: REL,
      state: "PARTNER-DOWN",
      previousState: "COMMUNICATIONS-INTERRUPTED",
      startTimeOfState: now - 3_600_000,
      partnerState: "COMMUNICATIONS-INTERRUPTED",
      partnerStartTimeOfState: now - 7_200_000,
      partnerFlags: 1,
      partnerDownTime: 0,
      lastContactTime: now - 3_600_000,
      lastOperationTime: now,
      mclt: 3600,
    },
  }]);
  console.log(
    `filled ${o.count} bindings into the primary's ${o.store} store in ${
      ((performance.now() - t) / 1000).toFixed(1)
    } s (not timed)`,
  );
  return store;
}

interface SecondaryResult {
  received: number;
  seconds: number;
  stored: number;
  peakRss: number;
  cpuSeconds: number;
  /** The secondary's TCP reads and writes and store transactions. */
  reads: number;
  writes: number;
  transactions: number;
  /** Milliseconds spent in the secondary's store transactions (main thread blocked). */
  commitMs: number;
}

/** The secondary: empty store, RECOVER, UPDREQALL; resolves at UPDDONE. */
async function secondarySide(
  o: Options,
  dir: string,
  onPort: (port: number) => void,
): Promise<SecondaryResult> {
  const store = openStore(o.store, `${dir}/secondary.db`);
  let t0 = 0, t1 = 0, c0 = 0, c1 = 0, received = 0;
  const finished = Promise.withResolvers<void>();
  const sampler = rssSampler();
  let commitMs = 0;
  let transactions = 0;
  const onBatch = (info: BatchInfo) => {
    commitMs += info.commitMs;
    if (info.ok) transactions++;
  };
  const committer = o.commit === "worker" && o.store === "sqlite"
    ? await openCommitter({ store, path: `${dir}/secondary.db`, windowMs: 0, onBatch })
      .then(({ committer, fallback }) => {
        if (fallback) console.error(`secondary: commits on the main thread (${fallback})`);
        return committer;
      })
    : new BatchCommitter(store, { windowMs: 0, maxWriters: o.batch, onBatch });
  const driver = new EngineDriver({
    config: { ...BASE_CONFIG, role: "secondary", maxUnackedBndupd: o.window },
    store,
    clock: systemClock,
    committer,
    hooks: {
      onSend: (m) => {
        if (m.msgType === 29) {
          t0 = performance.now();
          c0 = cpuSeconds();
        }
      },
      onReceive: (m) => {
        if (m?.msgType === 24) received++;
        if (m?.msgType === 30) {
          t1 = performance.now();
          c1 = cpuSeconds();
          finished.resolve();
        }
      },
      onAction: (a) => {
        if (a.type === "alarm" || (a.type === "log" && a.level === "warn")) {
          console.error(`secondary: ${a.text}`);
        }
      },
    },
  });
  driver.start();
  const listener = runSecondary({ drivers: [driver], hostname: "::1", port: 0 });
  onPort(listener.addr.port);
  await finished.promise;
  const peakRss = sampler.stop();
  await driver.idle();
  const stored = store.count();
  const { reads, writes } = driver.stats;
  await listener.stop();
  await committer.close();
  store.close();
  return {
    received,
    seconds: (t1 - t0) / 1000,
    stored,
    peakRss,
    cpuSeconds: c1 - c0,
    reads,
    writes,
    transactions,
    commitMs,
  };
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** The primary: connects and answers the UPDREQALL until stopped. */
function primarySide(o: Options, store: BindingStore, port: number) {
  const driver = new EngineDriver({
    config: {
      ...BASE_CONFIG,
      role: "primary",
      maxUnackedBndupd: o.window,
      readBatch: Math.min(10_000, Math.max(256, o.window)),
    },
    store,
    clock: systemClock,
    committer: new BatchCommitter(store, { windowMs: 0, maxWriters: o.batch }),
  });
  driver.start();
  const conn = runPrimary({ driver, hostname: "::1", port });
  return { driver, conn };
}

function report(o: Options, r: SecondaryResult, primaryRss: number, primaryCpu: number): boolean {
  const rate = r.received / r.seconds;
  console.log(
    `UPDREQALL: ${r.received} BNDUPDs in ${r.seconds.toFixed(2)} s = ${
      Math.round(rate).toLocaleString("en")
    } bindings/s (UPDREQALL sent → UPDDONE received, at the secondary)`,
  );
  const perBinding = (s: number) => `${(s * 1e6 / r.received).toFixed(1)} µs per binding`;
  console.log(
    `CPU: secondary ${r.cpuSeconds.toFixed(1)} s (${perBinding(r.cpuSeconds)}), primary ${
      primaryCpu.toFixed(1)
    } s (${perBinding(primaryCpu)}) ` +
      `(${o.processes === 2 ? "separate processes" : "one process: the figures overlap"})`,
  );
  console.log(
    `window (max unacked BNDUPD): ${o.window}; bindings stored by the secondary: ${r.stored} ` +
      `(commits on ${o.commit === "worker" ? "a writer thread" : "the main thread"})`,
  );
  console.log(
    `secondary: ${r.reads} TCP reads (${(r.received / r.reads).toFixed(1)} BNDUPDs each), ` +
      `${r.writes} writes, ${r.transactions} store transactions ` +
      `(${(r.stored / r.transactions).toFixed(1)} bindings each, ` +
      `${(r.commitMs / r.transactions).toFixed(1)} ms each, ` +
      `${(r.commitMs * 1000 / r.stored).toFixed(1)} µs per binding)`,
  );
  console.log(
    o.processes === 2
      ? `peak RSS: primary ${mib(primaryRss)}, secondary ${mib(r.peakRss)} (${o.store} stores)`
      : `peak RSS: ${
        mib(Math.max(primaryRss, r.peakRss))
      } (both engines and ${o.store} stores in one process)`,
  );
  const ok = r.received === o.count && r.stored === o.count;
  const mem = o.processes === 2 ? Math.max(primaryRss, r.peakRss) : Math.max(primaryRss, r.peakRss);
  console.log(
    `targets: >= 50,000 bindings/s ${rate >= 50_000 ? "met" : "MISSED"}; < 1 GB per process ${
      mem < 1024 ** 3 ? "met" : "MISSED"
    }; all bindings transferred ${ok ? "yes" : "NO"}`,
  );
  return ok;
}

async function main(): Promise<void> {
  const o = options();
  const dir = Deno.makeTempDirSync({ prefix: "failover6-updreqall-" });
  if (o.child) {
    const r = await secondarySide(o, dir, (port) => console.log(`PORT ${port}`));
    console.log(`RESULT ${JSON.stringify(r)}`);
    if (!o.keep) Deno.removeSync(dir, { recursive: true });
    return;
  }
  const pStore = fillPrimary(o, dir);
  let result: SecondaryResult;
  let primaryRss: number;
  let primaryCpu: number;
  if (o.processes === 1) {
    const sampler = rssSampler();
    const c0 = cpuSeconds();
    let p: ReturnType<typeof primarySide> | undefined;
    result = await secondarySide(o, dir, (port) => {
      p = primarySide(o, pStore, port);
    });
    primaryCpu = cpuSeconds() - c0;
    primaryRss = sampler.stop();
    await p!.conn.stop();
  } else {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        ...(o.profile ? ["--cpu-prof", `--cpu-prof-dir=${o.profile}`] : []),
        new URL(import.meta.url).pathname,
        "--child",
        "--count",
        String(o.count),
        "--window",
        String(o.window),
        "--store",
        o.store,
        "--commit",
        o.commit,
        "--batch",
        String(o.batch),
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(
      new TransformStream<string, string>(
        {
          buffer: "",
          transform(chunk, ctl) {
            const all = (this as unknown as { buffer: string }).buffer + chunk;
            const parts = all.split("\n");
            (this as unknown as { buffer: string }).buffer = parts.pop()!;
            for (const l of parts) ctl.enqueue(l);
          },
        } as Transformer<string, string> & { buffer: string },
      ),
    ).getReader();
    const sampler = rssSampler();
    let p: ReturnType<typeof primarySide> | undefined;
    let c0 = 0;
    for (;;) {
      const { value, done } = await lines.read();
      if (done) throw new Error("the secondary process ended without a result");
      if (value.startsWith("PORT ")) {
        c0 = cpuSeconds();
        p = primarySide(o, pStore, Number(value.slice(5)));
      } else if (value.startsWith("RESULT ")) {
        result = JSON.parse(value.slice(7));
        break;
      } else console.log(`secondary: ${value}`);
    }
    primaryCpu = cpuSeconds() - c0;
    primaryRss = sampler.stop();
    await p!.conn.stop();
    await child.status;
  }
  pStore.close();
  if (!o.keep) Deno.removeSync(dir, { recursive: true });
  else console.log(`stores kept in ${dir}`);
  if (!report(o, result, primaryRss, primaryCpu)) Deno.exit(1);
}

if (import.meta.main) await main();
