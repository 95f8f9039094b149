/**
 * Configuration reload end to end: an in-process server reloaded through the control API and
 * `failover6 ctl reload`, and a child-process server reloaded with SIGHUP. Clients talk real
 * UDP on [::1]; the lease database is read back.
 */
import assert from "node:assert/strict";
import { type ControlBackend, handleControlRequest } from "../../lib/server/shell/control.ts";
import { readConfigFile } from "../../lib/server/shell/config_file.ts";
import { Logger, MemorySink } from "../../lib/server/shell/log.ts";
import { DhcpServer } from "../../lib/server/shell/server.ts";
import { SqliteBindingStore } from "../../lib/store/sqlite.ts";
import { ClientSocket, type GotLease, TestClient, testDuid } from "./client.ts";
import {
  freeTcpPort,
  freeUdpPort,
  MAIN,
  runCli,
  SERVE_PERMISSIONS,
  startTestServer,
  until,
} from "./helpers.ts";
import { spawnWatched } from "../_helpers/lines.ts";

const TOKEN = "reload-token-0123456789";

interface Shape {
  udpPort: number;
  controlPort: number;
  /** Address pools of subnet `test`: [name, range]. */
  pools: [string, string][];
  preferred: string;
  valid: string;
  level?: string;
}

function yaml(dir: string, s: Shape): string {
  return `leaseDatabase: ${dir}/leases.db
listen:
  - address: "::1"
    port: ${s.udpPort}
lifetimes:
  preferred: ${s.preferred}
  valid: ${s.valid}
subnets:
  - name: test
    prefix: fd00:f6::/64
    pools:
${s.pools.map(([n, r]) => `      - name: ${n}\n        range: ${r}\n`).join("")}    prefixes:
      - name: test-prefixes
        prefix: fd00:f6:0:100::/56
        delegatedLength: 64
control:
  address: 127.0.0.1
  port: ${s.controlPort}
  token: ${TOKEN}
logging:
  format: json
  level: ${s.level ?? "info"}
`;
}

const POOL_A: [string, string] = ["pool-a", "fd00:f6::1000 - fd00:f6::10ff"];
const POOL_B: [string, string] = ["pool-b", "fd00:f6::2000 - fd00:f6::20ff"];

function inRange(address: string, lo: string, hi: string): boolean {
  const n = (a: string) => BigInt(`0x${a.split(":").at(-1)}`);
  return address.startsWith("fd00:f6::") && n(address) >= n(lo) && n(address) <= n(hi);
}

function metric(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/**
 * A temporary directory `prefix`… holding config `name`: free ports, pool A, lifetimes 1h/2h.
 * The shape is returned for the test to change and write again.
 */
async function firstConfig(
  prefix: string,
  name: string,
): Promise<{ dir: string; file: string; shape: Shape }> {
  const dir = await Deno.makeTempDir({ prefix });
  const file = `${dir}/${name}`;
  const shape: Shape = {
    udpPort: await freeUdpPort(),
    controlPort: freeTcpPort(),
    pools: [POOL_A],
    preferred: "1h",
    valid: "2h",
  };
  await Deno.writeTextFile(file, yaml(dir, shape));
  return { dir, file, shape };
}

Deno.test("reload through the control API and ctl: new pool and lifetimes apply, listen waits, leases stay, an invalid file changes nothing", async () => {
  const { dir, file, shape } = await firstConfig("f6reload-", "failover6.yaml");
  const first = await readConfigFile(file);
  if (!first.ok) assert.fail(first.errors.join("\n"));
  const logs = new MemorySink();
  const server = await DhcpServer.start({
    config: first.config,
    configName: file,
    configFile: file,
    logger: new Logger({ format: "json", level: "info", sink: logs }),
  });
  const url = server.control!.url;
  const ctl = (...args: string[]) => runCli(["ctl", "--url", url, "--token", TOKEN, ...args]);
  const sock = await ClientSocket.open({ address: "::1", port: shape.udpPort });
  try {
    const c = new TestClient(sock, testDuid(7));
    const rep = await c.obtain({ na: [1], pd: [2] });
    assert.ok(rep && rep.leases.length === 2, "no lease before the reload");
    const na = rep.leases.find((l) => l.kind === "na")!;
    assert.ok(inRange(na.address, "1000", "10ff"), na.address);
    assert.equal(na.valid, 7200);

    // 1. A new pool, shorter lifetimes, a new listen port, debug logging.
    await Deno.writeTextFile(
      file,
      yaml(dir, {
        ...shape,
        udpPort: shape.udpPort + 1,
        pools: [POOL_A, POOL_B],
        preferred: "10m",
        valid: "20m",
        level: "debug",
      }),
    );
    const r1 = await ctl("reload");
    assert.equal(r1.code, 0, r1.stderr);
    assert.match(r1.stdout, /^reloaded .*failover6\.yaml/);
    assert.match(r1.stdout, /applied: subnets\[test\]\.pools: changed/);
    assert.match(r1.stdout, /applied: subnets\[test\]\.lifetimes: changed/);
    assert.match(r1.stdout, /applied: logging\.level: changed/);
    assert.match(r1.stdout, /not applied: listen: changed; restart to apply/);
    // The listen change was reported and ignored: same socket, still answering there.
    assert.equal(server.listeners.length, 1);
    assert.equal(server.listeners[0].port, shape.udpPort);
    assert.ok(
      logs.lines.some((l) => {
        const o = JSON.parse(l);
        return o.msg === "configuration change not applied" &&
          o.change === "listen: changed; restart to apply";
      }),
    );

    // The lease is untouched in the database; a Renew now gets the new lifetimes.
    const db = SqliteBindingStore.open(`${dir}/leases.db`);
    try {
      assert.equal(db.get({ kind: "na", address: na.address })?.status, "ACTIVE");
      assert.equal(db.get({ kind: "na", address: na.address })?.validLifetime, 7200);
    } finally {
      db.close();
    }
    const renewed = await c.renew();
    assert.ok(renewed, "no Reply to Renew after the reload");
    const na2 = renewed.leases.find((l) => l.kind === "na")!;
    assert.equal(na2.address, na.address);
    assert.equal(na2.valid, 1200);
    assert.equal(na2.preferred, 600);
    assert.equal(renewed.leases.find((l) => l.kind === "pd")?.valid, 1200);
    // Debug logging took effect (the server logs each reply at debug).
    assert.ok(logs.lines.some((l) => JSON.parse(l).msg === "replied"));

    // 2. The client's pool goes away: its Renew gets the old address with lifetimes 0 and a
    // new address from the remaining pool (RFC 8415 §18.3.4); the old lease stays stored.
    await Deno.writeTextFile(
      file,
      yaml(dir, { ...shape, pools: [POOL_B], preferred: "10m", valid: "20m", level: "debug" }),
    );
    const r2 = await ctl("--json", "reload");
    assert.equal(r2.code, 0, r2.stderr);
    const j2 = JSON.parse(r2.stdout);
    assert.deepEqual(j2.applied, ["subnets[test].pools: changed"]);
    assert.deepEqual(j2.needsRestart, []);
    assert.equal(server.core.leases.get({ kind: "na", address: na.address })?.status, "ACTIVE");
    const moved = await c.renew([na2]);
    assert.ok(moved, "no Reply to Renew after the pool went away");
    const iaNa = moved.ias.find((i) => i.kind === "na")!;
    const zero = iaNa.leases.find((l) => l.address === na.address);
    assert.deepEqual([zero?.preferred, zero?.valid], [0, 0]);
    const fresh = iaNa.leases.find((l) => l.valid > 0) as GotLease;
    assert.ok(fresh && inRange(fresh.address, "2000", "20ff"), JSON.stringify(iaNa));
    assert.equal(fresh.valid, 1200);
    assert.ok(server.store.get({ kind: "na", address: na.address }), "old lease gone from store");

    // 3. An invalid file: ctl prints the line and exits 1; the server keeps the old settings.
    const bad = yaml(dir, { ...shape, pools: [POOL_A], preferred: "10m", valid: "banana" });
    const badLine = bad.split("\n").findIndex((l) => l.includes("banana")) + 1;
    await Deno.writeTextFile(file, bad);
    const r3 = await ctl("reload");
    assert.equal(r3.code, 1);
    assert.match(
      r3.stderr,
      new RegExp(`failover6: .*failover6\\.yaml:${badLine}: lifetimes\\.valid: `),
    );
    assert.match(r3.stderr, /still running on the previous configuration/);
    assert.ok(
      logs.lines.some((l) => {
        const o = JSON.parse(l);
        return o.msg === "configuration error" && o.error.includes(`failover6.yaml:${badLine}:`);
      }),
    );
    const still = await c.renew([fresh]);
    assert.ok(still, "the server stopped answering after an invalid reload");
    const kept = still.leases.find((l) => l.kind === "na")!;
    assert.equal(kept.address, fresh.address);
    assert.equal(kept.valid, 1200);

    // 4. A half-written file (cut mid-line) is refused the same way.
    const whole = yaml(dir, { ...shape, pools: [POOL_A, POOL_B], preferred: "1h", valid: "2h" });
    await Deno.writeTextFile(file, whole.slice(0, whole.indexOf("fd00:f6::20ff") + 9));
    const r4 = await ctl("reload");
    assert.equal(r4.code, 1, r4.stdout);

    // Metrics and status count it all.
    const m = await ctl("metrics");
    assert.equal(metric(m.stdout, 'failover6_config_reloads_total{result="ok"}'), 2);
    assert.equal(metric(m.stdout, 'failover6_config_reloads_total{result="invalid"}'), 2);
    const at = metric(m.stdout, "failover6_config_last_reload_success_timestamp_seconds");
    assert.ok(at !== undefined && Math.abs(at - Date.now() / 1000) < 600, String(at));
    const st = await ctl("status");
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, /reloads\s+2 ok, 2 invalid/);
    assert.match(st.stdout, /last reload\s+\S+ invalid \(control API\)/);
    const js = server.status().configuration as Record<string, unknown>;
    assert.equal(js.file, file);
    assert.equal(typeof js.loadedAt, "string");
  } finally {
    await sock.close();
    await server.stop("test");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("reload with no configuration file says so and changes nothing (control API 409, ctl exit 1)", async () => {
  const t = await startTestServer();
  try {
    const before = t.server.core.settings;
    const r = await runCli(["ctl", "--url", t.url, "--token", "test-token", "reload"]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^failover6: ctl: no configuration file: running on the embedded default/,
    );
    assert.equal(t.server.core.settings, before);
    const out = await t.server.reload("SIGHUP");
    assert.equal(out.result, "no-file");
    assert.ok(
      t.logs.lines.some((l) => JSON.parse(l).msg === "configuration reload: nothing to reload"),
    );
  } finally {
    await t.close();
  }
});

Deno.test("POST /v1/reload: routing and answers over a fake backend", async () => {
  const outcomes = [
    { result: "applied", file: "f.yaml", loadedAt: 0, applied: ["x: changed"], needsRestart: [] },
    { result: "invalid", file: "f.yaml", errors: ["f.yaml:3: listen: is required"] },
    { result: "no-file", message: "no configuration file" },
  ] as const;
  let i = 0;
  const backend: ControlBackend = {
    status: () => ({}),
    lookup: () => [],
    list: () => ({ leases: [] }),
    release: () => Promise.resolve({ kind: "not-found" }),
    shutdown: () => {},
    metrics: () => "",
    reload: () => Promise.resolve(structuredClone(outcomes[i++]) as never),
  };
  const post = () =>
    handleControlRequest(
      new Request("http://127.0.0.1/v1/reload", {
        method: "POST",
        headers: { authorization: "Bearer tok" },
      }),
      backend,
      "tok",
    );
  const a = await post();
  assert.equal(a.status, 200);
  assert.deepEqual((await a.json()).applied, ["x: changed"]);
  const b = await post();
  assert.equal(b.status, 422);
  assert.deepEqual((await b.json()).errors, ["f.yaml:3: listen: is required"]);
  const c = await post();
  assert.equal(c.status, 409);
  await c.body?.cancel();
  const get = await handleControlRequest(
    new Request("http://127.0.0.1/v1/reload", { headers: { authorization: "Bearer tok" } }),
    backend,
    "tok",
  );
  assert.equal(get.status, 405);
  await get.body?.cancel();
  const anon = await handleControlRequest(
    new Request("http://127.0.0.1/v1/reload", { method: "POST" }),
    backend,
    "tok",
  );
  assert.equal(anon.status, 401);
  await anon.body?.cancel();
  assert.equal(i, 3, "the unauthenticated request must not reload");
});

Deno.test("serve as a child process: SIGHUP reloads lifetimes, reports and ignores a listen change, survives an invalid file", async () => {
  const { dir, file, shape } = await firstConfig("f6hup-", "c.yaml");
  const serve = spawnWatched(["run", ...SERVE_PERMISSIONS, MAIN, "serve", "--config", file]);
  const { child, err } = serve;
  const msgs = () =>
    err.lines.map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return { msg: l };
      }
    });
  const count = (msg: string) => msgs().filter((m) => m.msg === msg).length;
  const sock = await ClientSocket.open({ address: "::1", port: shape.udpPort });
  try {
    await until(() => {
      if (serve.exited) throw new Error(`serve exited early: ${err.lines.join("\n")}`);
      return count("control API listening") > 0;
    }, 30_000);
    const c = new TestClient(sock, testDuid(9));
    const rep = await c.obtain({ na: [1] });
    assert.ok(rep && rep.leases.length === 1);
    assert.equal(rep.leases[0].valid, 7200);

    await Deno.writeTextFile(
      file,
      yaml(dir, { ...shape, udpPort: shape.udpPort + 1, preferred: "5m", valid: "15m" }),
    );
    child.kill("SIGHUP");
    await until(() => count("configuration reloaded") === 1, 10_000);
    const ignored = msgs().filter((m) => m.msg === "configuration change not applied");
    assert.deepEqual(ignored.map((m) => m.change), ["listen: changed; restart to apply"]);
    const renewed = await c.renew();
    assert.ok(renewed, "no Reply on the old port after the reload");
    assert.equal(renewed.leases[0].address, rep.leases[0].address);
    assert.equal(renewed.leases[0].valid, 900);

    const bad = yaml(dir, shape).replace("    port: " + shape.udpPort, "    port: seventy");
    const badLine = bad.split("\n").findIndex((l) => l.includes("seventy")) + 1;
    await Deno.writeTextFile(file, bad);
    child.kill("SIGHUP");
    await until(
      () => count("configuration reload failed; still running on the previous configuration") === 1,
      10_000,
    );
    const errors = msgs().filter((m) => m.msg === "configuration error");
    assert.equal(errors.length, 1, err.lines.join("\n"));
    assert.match(
      String(errors[0].error),
      new RegExp(`c\\.yaml:${badLine}: listen\\[0\\]\\.port: `),
    );
    const again = await c.renew();
    assert.ok(again, "no Reply after an invalid reload");
    assert.equal(again.leases[0].valid, 900);

    child.kill("SIGTERM");
    const status = await child.status;
    await err.done;
    assert.equal(status.code, 0, err.lines.join("\n"));
  } finally {
    await sock.close();
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
