/**
 * A quick load figure for the failover pair on loopback (not a test; the namespace benchmark
 * against Kea is `bench/pair-perfdhcp.sh`): `failover6 serve` alone, then a primary and a
 * secondary, all as child processes; simulated clients (Solicit + Request, `CONCURRENCY` in
 * flight) against each. Prints exchanges per second, latency percentiles, CPU seconds of each
 * server process, and how long the BNDUPD queue takes to drain after the load.
 *
 *   deno run -A bench/pair_load.ts [EXCHANGES=5000] [CONCURRENCY=32]
 *
 * Figures from a shared 2-core machine vary a lot from run to run; compare the two rows of one
 * run, and the CPU seconds, rather than absolute rates.
 *
 * @module
 */

import { ClientSocket, TestClient } from "../tests/serve/client.ts";
import { freeTcpPort, freeUdpPort } from "../tests/serve/helpers.ts";
import { pairYaml } from "../tests/pair/config.ts";
import { waitForControl } from "./lib/control.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const TOKEN = "pair-test-token-0123456789";
const PROFILE = Deno.env.get("PROFILE");

interface Child {
  process: Deno.ChildProcess;
  udp: number;
  control: number;
}

async function start(
  role: "primary" | "secondary",
  dir: string,
  failoverPort: number,
  alone = false,
): Promise<Child> {
  await Deno.mkdir(dir, { recursive: true });
  const udp = await freeUdpPort();
  const control = freeTcpPort();
  let yaml = pairYaml({
    role,
    dir,
    udpPort: udp,
    controlPort: control,
    failoverPort,
    mclt: 3600,
    keepalive: 30,
    level: "warn",
  })
    .replace("::1000 - fd00:f6:0:0::1fff", "::1000 - fd00:f6:0:0::ffff")
    .replace("maxUnacked: 16", "maxUnacked: 100");
  if (alone) yaml = yaml.slice(0, yaml.indexOf("failover:"));
  await Deno.writeTextFile(`${dir}/serve.yaml`, yaml);
  const process = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      // PROFILE=DIR: a V8 CPU profile of each server (written when it exits).
      ...(PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE}/${alone ? "alone" : role}`] : []),
      "--config",
      `${ROOT}deno.json`,
      `${ROOT}cli/main.ts`,
      "serve",
      "--config",
      `${dir}/serve.yaml`,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  await waitForControl(control, TOKEN, 20_000, `${role} did not start`);
  return { process, udp, control };
}

function cpuSeconds(pid: number): number {
  const f = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function load(port: number, n: number, concurrency: number, tag: number) {
  const socket = await ClientSocket.open({ address: "::1", port });
  let next = 0;
  const latency: number[] = [];
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) {
      const i = next++;
      const duid = new Uint8Array([
        0,
        3,
        0,
        1,
        2,
        tag,
        (i >> 16) & 255,
        (i >> 8) & 255,
        i & 255,
        7,
      ]);
      const c = new TestClient(socket, duid, { timeoutMs: 1000, attempts: 3 });
      const a = performance.now();
      if (await c.solicit({ na: [1] }) && (await c.request({ na: [1] }))?.leases.length) {
        latency.push(performance.now() - a);
      }
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  await socket.close();
  latency.sort((x, y) => x - y);
  const pct = (p: number) =>
    latency[Math.min(latency.length - 1, Math.floor(latency.length * p))].toFixed(2);
  return {
    done: latency.length,
    perSecond: Math.round(latency.length / seconds),
    p50ms: pct(0.5),
    p99ms: pct(0.99),
  };
}

async function failover(
  control: number,
): Promise<{ state: string; bndupd: Record<string, number> }> {
  const r = await fetch(`http://127.0.0.1:${control}/v1/failover`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  return (await r.json()).relationships[0];
}

/** Commits and their total seconds so far, from the server's metrics. */
async function commits(control: number): Promise<{ n: number; s: number }> {
  const r = await fetch(`http://127.0.0.1:${control}/metrics`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  const text = await r.text();
  const get = (name: string) =>
    Number(text.match(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, "m"))?.[1] ?? NaN);
  return { n: get("failover6_commit_seconds_count"), s: get("failover6_commit_seconds_sum") };
}

function commitDelta(a: { n: number; s: number }, b: { n: number; s: number }): string {
  return `${b.n - a.n} commits (${
    ((b.s - a.s) * 1000 / Math.max(1, b.n - a.n)).toFixed(2)
  } ms each)`;
}

const N = Number(Deno.args[0] ?? 5000);
const C = Number(Deno.args[1] ?? 32);
const base = await Deno.makeTempDir({ prefix: "f6pairload-" });
const children: Child[] = [];
try {
  const alone = await start("primary", `${base}/alone`, 1, true);
  children.push(alone);
  await load(alone.udp, 500, C, 1); // warm-up
  let cpu = cpuSeconds(alone.process.pid);
  const c0 = await commits(alone.control);
  console.log(
    "failover off",
    await load(alone.udp, N, C, 2),
    "cpu s",
    (cpuSeconds(alone.process.pid) - cpu).toFixed(2),
    commitDelta(c0, await commits(alone.control)),
  );
  alone.process.kill("SIGTERM");
  await alone.process.status;
  children.pop();

  const port = freeTcpPort();
  const s = await start("secondary", `${base}/s`, port);
  children.push(s);
  const p = await start("primary", `${base}/p`, port);
  children.push(p);
  while ((await failover(p.control)).state !== "NORMAL") {
    await new Promise((r) => setTimeout(r, 100));
  }
  await load(p.udp, 500, C, 1);
  cpu = cpuSeconds(p.process.pid);
  const cpuS = cpuSeconds(s.process.pid);
  const cp0 = await commits(p.control);
  const cs0 = await commits(s.control);
  const r = await load(p.udp, N, C, 2);
  const cp1 = await commits(p.control);
  const cs1 = await commits(s.control);
  console.log(
    "failover on ",
    r,
    "cpu s primary",
    (cpuSeconds(p.process.pid) - cpu).toFixed(2),
    "secondary",
    (cpuSeconds(s.process.pid) - cpuS).toFixed(2),
    "primary",
    commitDelta(cp0, cp1),
    "secondary",
    commitDelta(cs0, cs1),
  );
  const t = performance.now();
  for (;;) {
    const b = (await failover(p.control)).bndupd;
    if (b.unacked + b.queued + b.pendingInStore === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  console.log("BNDUPD queue drained", Math.round(performance.now() - t), "ms after the load");
} finally {
  for (const c of children) {
    try {
      c.process.kill("SIGTERM");
    } catch { /* gone */ }
    await c.process.status;
  }
  await Deno.remove(base, { recursive: true }).catch(() => {});
}
