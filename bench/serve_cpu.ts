/**
 * CPU per DHCPv6 exchange of `failover6 serve` (not a test): the server runs as a child
 * process on [::1] (the same `failover6 serve --config FILE` code path as the CLI, with a
 * SQLite lease file and the writer thread), and simulated clients written here (the serve
 * tests' client, new DUID per exchange) drive `EXCHANGES` 4-message exchanges
 * (Solicit/Advertise, Request/Reply), `WINDOW` exchanges outstanding. Prints the server's CPU
 * µs per exchange (whole process, and per thread, from /proc/PID/task/TID/stat), exchanges per
 * second, and latency percentiles of Solicit→Advertise and Request→Reply.
 *
 *   deno run -A bench/serve_cpu.ts [EXCHANGES=20000] [WINDOW=64] [--profile FILE] [--runs N]
 *
 * `--profile FILE` samples the server's main thread with the V8 profiler (through
 * `node:inspector` inside the child) during the measured phase, writes FILE (a .cpuprofile
 * for Chrome DevTools) and prints the top functions by self time.
 *
 *   deno run -A bench/serve_cpu.ts --core [EXCHANGES=20000]
 *
 * `--core` measures only the main thread's per-packet work in this process, without sockets
 * or database: decode, `ServerCore.handle`, the lease writes and encode of both exchanges
 * (µs per 4-message exchange; steadier than the whole-server figure on a busy machine).
 *
 * The machine is shared (2 cores, the client runs on them too): compare runs made back to
 * back, and prefer the CPU figure over the rate.
 *
 * @module
 */

import { ClientSocket, TestClient } from "../tests/serve/client.ts";
import { loadConfig } from "../lib/config/mod.ts";
import { compileSettings } from "../lib/server/settings.ts";
import { leaseWrites, ServerCore } from "../lib/server/service.ts";
import { decodeMessage } from "../lib/wire/decode.ts";
import { encodeMessage } from "../lib/wire/encode.ts";
import { type ClientServerMessage, type DhcpOption, MessageType } from "../lib/wire/types.ts";
import { freeTcpPort, freeUdpPort } from "../tests/serve/helpers.ts";
import { waitForControl } from "./lib/control.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const SELF = new URL(import.meta.url).pathname;
const TOKEN = "bench-token-0123456789abcdef";
const TICKS = 100; // USER_HZ on Linux

// ---------------------------------------------------------------------------------------
// Child: the server, with an optional profiler toggled by SIGUSR2
// ---------------------------------------------------------------------------------------

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

async function child(args: string[]): Promise<void> {
  const yaml = args[0];
  const profileFile = args[1];
  if (profileFile !== undefined) {
    const { Session } = await import("node:inspector");
    const s = new Session();
    s.connect();
    const post = (m: string, p: Record<string, unknown> = {}) =>
      new Promise<unknown>((res, rej) =>
        s.post(m, p, (e: Error | null, r: unknown) => e ? rej(e) : res(r))
      );
    await post("Profiler.enable");
    await post("Profiler.setSamplingInterval", { interval: 200 });
    let running = false;
    Deno.addSignalListener("SIGUSR2", async () => {
      if (!running) {
        running = true;
        await post("Profiler.start");
        return;
      }
      running = false;
      const r = await post("Profiler.stop") as { profile: Profile };
      await Deno.writeTextFile(profileFile, JSON.stringify(r.profile));
      await Deno.writeTextFile(profileFile + ".done", "");
    });
  }
  const { main } = await import("../cli/main.ts");
  Deno.exit(await main(["serve", "--config", yaml]));
}

// ---------------------------------------------------------------------------------------
// Parent: start, load, measure
// ---------------------------------------------------------------------------------------

/** CPU ticks per thread name (and `total`) of a process. */
function threadTicks(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  let total = 0;
  for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/stat`);
    } catch {
      continue; // the thread ended
    }
    const close = stat.lastIndexOf(")");
    let name = stat.slice(stat.indexOf("(") + 1, close);
    if (t.name === String(pid)) name = "main";
    const f = stat.slice(close + 2).split(" ");
    const ticks = Number(f[11]) + Number(f[12]);
    out.set(name, (out.get(name) ?? 0) + ticks);
    out.set(`${name} sys`, (out.get(`${name} sys`) ?? 0) + Number(f[12]));
    total += ticks;
  }
  out.set("total", total);
  return out;
}

function yamlFor(dir: string, udp: number, control: number): string {
  return `leaseDatabase: ${dir}/leases.db
listen:
  - address: "::1"
    port: ${udp}
lifetimes:
  preferred: 1h
  valid: 2h
subnets:
  - name: bench
    prefix: fd00:f6::/64
    pools:
      - name: bench-addresses
        range: fd00:f6::1:0 - fd00:f6::ffff:ffff
control:
  address: 127.0.0.1
  port: ${control}
  token: ${TOKEN}
logging:
  format: text
  level: warn
`;
}

interface LoadResult {
  done: number;
  failed: number;
  seconds: number;
  sa: number[];
  rr: number[];
}

async function load(
  socket: ClientSocket,
  first: number,
  n: number,
  window: number,
): Promise<LoadResult> {
  let next = 0;
  let failed = 0;
  const sa: number[] = [];
  const rr: number[] = [];
  const t0 = performance.now();
  await Promise.all(Array.from({ length: window }, async () => {
    while (next < n) {
      const i = first + next++;
      const duid = new Uint8Array([0, 3, 0, 1, 2, 0xb5, (i >>> 24) & 255, (i >> 16) & 255, 0, 0]);
      new DataView(duid.buffer).setUint16(8, i & 0xffff);
      const c = new TestClient(socket, duid, { timeoutMs: 1000, attempts: 3 });
      const a = performance.now();
      const adv = await c.solicit({ na: [1] });
      const b = performance.now();
      const rep = adv && await c.request({ na: [1] }, adv.leases);
      if (rep && rep.leases.length > 0) {
        sa.push(b - a);
        rr.push(performance.now() - b);
      } else failed++;
    }
  }));
  return { done: sa.length, failed, seconds: (performance.now() - t0) / 1000, sa, rr };
}

/** Grouped commits and writers committed so far, from the server's metrics. */
async function commitFigures(control: number): Promise<{ commits: number; writers: number }> {
  const r = await fetch(`http://127.0.0.1:${control}/metrics`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  const text = await r.text();
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  return {
    commits: num(/^failover6_commit_batch_writers_count (\S+)$/m),
    writers: num(/^failover6_commit_batch_writers_sum (\S+)$/m),
  };
}

function pct(v: number[], p: number): string {
  if (v.length === 0) return "-";
  const s = [...v].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))].toFixed(2);
}

/** Self time per function of a V8 CPU profile, largest first. */
function selfTimes(p: Profile): { name: string; ms: number }[] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const acc = new Map<string, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]);
    if (n === undefined) continue;
    const f = n.callFrame;
    const file = f.url.replace(/^file:\/\//, "").replace(ROOT, "");
    const name = `${f.functionName || "(anonymous)"} ${file}:${f.lineNumber + 1}`;
    acc.set(name, (acc.get(name) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  }
  return [...acc].map(([name, ms]) => ({ name, ms })).sort((a, b) => b.ms - a.ms);
}

async function run(exchanges: number, window: number, profile?: string): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "f6cpu-" });
  const udp = await freeUdpPort();
  const control = freeTcpPort();
  await Deno.writeTextFile(`${dir}/serve.yaml`, yamlFor(dir, udp, control));
  const args = ["run", "-A", "--config", `${ROOT}deno.json`, SELF, "--child", `${dir}/serve.yaml`];
  if (profile !== undefined) args.push(profile);
  const proc = new Deno.Command(Deno.execPath(), { args, stdout: "inherit", stderr: "inherit" })
    .spawn();
  try {
    await waitForControl(control, TOKEN, 30_000, "the server did not start");
    const socket = await ClientSocket.open({ address: "::1", port: udp });
    const warm = Math.min(2000, Math.ceil(exchanges / 5));
    await load(socket, 0, warm, window);
    if (profile !== undefined) Deno.kill(proc.pid, "SIGUSR2");
    const c0 = await commitFigures(control);
    const before = threadTicks(proc.pid);
    const r = await load(socket, warm, exchanges, window);
    const after = threadTicks(proc.pid);
    const c1 = await commitFigures(control);
    if (profile !== undefined) {
      Deno.kill(proc.pid, "SIGUSR2");
      const until = Date.now() + 10_000;
      while (Date.now() < until) {
        try {
          Deno.statSync(profile + ".done");
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      Deno.removeSync(profile + ".done");
    }
    await socket.close();
    const us = (name: string) =>
      ((after.get(name) ?? 0) - (before.get(name) ?? 0)) / TICKS * 1e6 / Math.max(1, r.done);
    const threads = [...after.keys()].filter((k) =>
      k !== "total" && !k.endsWith(" sys") && (after.get(k) ?? 0) - (before.get(k) ?? 0) > 0
    );
    console.log(
      `exchanges ${r.done} (failed ${r.failed}), window ${window}, ` +
        `${Math.round(r.done / r.seconds)}/s`,
    );
    console.log(
      `server CPU µs/exchange: total ${us("total").toFixed(0)} (` +
        threads.map((t) => `${t} ${us(t).toFixed(0)} [sys ${us(`${t} sys`).toFixed(0)}]`).join(
          ", ",
        ) + ")",
    );
    console.log(
      `latency ms: SA p50 ${pct(r.sa, 0.5)} p99 ${pct(r.sa, 0.99)}; ` +
        `RR p50 ${pct(r.rr, 0.5)} p99 ${pct(r.rr, 0.99)}`,
    );
    const commits = c1.commits - c0.commits;
    console.log(
      `commits ${commits}, writers per commit ${((c1.writers - c0.writers) / commits).toFixed(1)}`,
    );
    if (profile !== undefined) {
      const p = JSON.parse(await Deno.readTextFile(profile)) as Profile;
      const top = selfTimes(p);
      const sum = top.reduce((a, t) => a + t.ms, 0);
      console.log(`profile (main thread, ${sum.toFixed(0)} ms sampled) -> ${profile}`);
      for (const t of top.slice(0, 40)) {
        console.log(
          `${(100 * t.ms / sum).toFixed(1).padStart(5)}% ${
            t.ms.toFixed(0).padStart(6)
          } ms  ${t.name}`,
        );
      }
    }
  } finally {
    try {
      proc.kill("SIGTERM");
    } catch { /* gone */ }
    await proc.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** µs of main-thread work per exchange for decode, handle, lease writes and encode. */
function core(exchanges: number): void {
  const loaded = loadConfig(yamlFor("/tmp", 547, 548), "bench.yaml");
  if (!loaded.ok) throw new Error(loaded.errors[0].message);
  const settings = compileSettings(loaded.config);
  const serverDuid = new Uint8Array([0, 3, 0, 1, 2, 0, 0, 0, 0, 0xaa]);
  const meta = { sourceAddress: "::1", sourcePort: 546, unicast: false };
  const fresh = () => new ServerCore({ settings, serverDuid });
  const msg = (type: number, xid: number, duid: Uint8Array, opts: DhcpOption[]) =>
    encodeMessage({
      kind: "client-server",
      msgType: type,
      transactionId: xid,
      options: [{ code: 1, duid }, { code: 8, elapsedTime: 0 }, ...opts],
    });
  /** The client's Solicit and Request of `n` exchanges (a first run on a scratch core). */
  const script = (first: number, n: number, now: number): Uint8Array[][] => {
    const scratch = fresh();
    const out: Uint8Array[][] = [];
    for (let i = first; i < first + n; i++) {
      const duid = new Uint8Array([0, 3, 0, 1, 2, 0xb5, (i >>> 24) & 255, (i >> 16) & 255, 0, 0]);
      new DataView(duid.buffer).setUint16(8, i & 0xffff);
      const sol = msg(MessageType.SOLICIT, i & 0xffffff, duid, [
        { code: 3, iaid: 1, t1: 0, t2: 0, options: [] },
      ]);
      const a = scratch.handle({ ...meta, message: decodeMessage(sol).message! }, now);
      if (a.kind !== "reply") throw new Error("no Advertise");
      const offered = decodeMessage(encodeMessage(a.message)).message as ClientServerMessage;
      const ia = offered.options.find((o) => o.code === 3)!;
      const req = msg(MessageType.REQUEST, (i + 1) & 0xffffff, duid, [
        { code: 2, duid: serverDuid },
        ia,
      ]);
      scratch.handle({ ...meta, message: decodeMessage(req).message! }, now);
      out.push([sol, req]);
    }
    return out;
  };
  /** What the server's main thread does with each exchange: decode, handle, writes, encode. */
  const serve = (core: ServerCore, datagrams: Uint8Array[][], now: number): number => {
    let sink = 0;
    for (const [sol, req] of datagrams) {
      const a = core.handle({ ...meta, message: decodeMessage(sol).message! }, now);
      if (a.kind !== "reply") throw new Error("no Advertise");
      sink += encodeMessage(a.message).length;
      const r = core.handle({ ...meta, message: decodeMessage(req).message! }, now);
      if (r.kind !== "reply" || r.changes.length !== 1) throw new Error("no Reply");
      sink += leaseWrites(r.changes).length + encodeMessage(r.message).length;
    }
    return sink;
  };
  const now = Date.parse("2025-01-01T00:00:00Z");
  serve(fresh(), script(0, 5000, now), now); // warm up the JIT
  const runs: number[] = [];
  for (let k = 0; k < 5; k++) {
    const datagrams = script(1_000_000 * (k + 1), exchanges, now);
    const cr = fresh();
    const t0 = threadTicks(Deno.pid).get("main")!;
    serve(cr, datagrams, now);
    runs.push((threadTicks(Deno.pid).get("main")! - t0) / TICKS * 1e6 / exchanges);
  }
  const best = [...runs].sort((x, y) => x - y);
  console.log(
    `core CPU µs/exchange (main thread, server side): best ${best[0].toFixed(1)}, ` +
      `median ${best[2].toFixed(1)}`,
  );
}

if (import.meta.main) {
  const a = [...Deno.args];
  if (a[0] === "--core") {
    core(Number(a[1] ?? 20000));
  } else if (a[0] === "--child") {
    await child(a.slice(1));
  } else {
    let profile: string | undefined;
    let runs = 1;
    const pi = a.indexOf("--profile");
    if (pi >= 0) profile = a.splice(pi, 2)[1];
    const ri = a.indexOf("--runs");
    if (ri >= 0) runs = Number(a.splice(ri, 2)[1]);
    const exchanges = Number(a[0] ?? 20000);
    const window = Number(a[1] ?? 64);
    for (let i = 0; i < runs; i++) await run(exchanges, window, profile);
  }
}
