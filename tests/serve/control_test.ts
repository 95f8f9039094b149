/**
 * The control API: routing and authentication over a fake backend, then against a live
 * server with the ControlClient and with `failover6 ctl` run in-process.
 */
import assert from "node:assert/strict";
import {
  type ControlBackend,
  handleControlRequest,
  parseLeaseLookup,
} from "../../lib/server/shell/control.ts";
import { ControlClient, ControlError } from "../../lib/server/shell/control_client.ts";
import { emptyLease } from "../../lib/store/lease.ts";
import type { Lease, LeaseQuery } from "../../lib/store/types.ts";
import { ClientSocket, hex, TestClient, testDuid } from "./client.ts";
import { runCli, startTestServer } from "./helpers.ts";

function fakeBackend(): ControlBackend & { calls: string[] } {
  const lease: Lease = {
    ...emptyLease({ kind: "na", address: "fd00:f6::1000" }),
    status: "ACTIVE",
    clientDuid: "000300010102",
    expirationTime: Date.UTC(2026, 0, 1),
  };
  const calls: string[] = [];
  return {
    calls,
    status: () => ({ server: "failover6" }),
    lookup: (q) => {
      calls.push(`lookup ${JSON.stringify(q)}`);
      return q.kind === "address" && q.address === "fd00:f6::1000" ? [lease] : [];
    },
    list: (q: LeaseQuery) => {
      calls.push(`list ${JSON.stringify(q)}`);
      return { leases: [lease], next: "cursor-1" };
    },
    release: (k) => {
      calls.push(`release ${k.kind} ${k.address}/${k.prefixLength}`);
      return Promise.resolve(
        k.address === "fd00:f6::1000" ? { kind: "released", lease } : { kind: "not-found" },
      );
    },
    shutdown: (r) => void calls.push(`shutdown ${r}`),
    metrics: () => "# metrics\n",
  };
}

const req = (path: string, method = "GET", token: string | null = "tok") =>
  new Request(`http://127.0.0.1${path}`, {
    method,
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });

Deno.test("control API refuses requests without the right bearer token", async () => {
  const b = fakeBackend();
  for (const token of [null, "wrong", "tok2", "", "tok tok"]) {
    for (const path of ["/v1/status", "/metrics", "/v1/shutdown"]) {
      const r = await handleControlRequest(req(path, "GET", token), b, "tok");
      assert.equal(r.status, 401, `${path} with ${token}`);
      assert.match(r.headers.get("www-authenticate") ?? "", /Bearer/);
    }
  }
  assert.deepEqual(b.calls, []);
});

Deno.test("control API routes: status, lookup, list with paging, release, shutdown, metrics", async () => {
  const b = fakeBackend();
  const status = await handleControlRequest(req("/v1/status"), b, "tok");
  assert.equal(status.status, 200);
  assert.deepEqual(await status.json(), { server: "failover6" });

  const found = await handleControlRequest(req("/v1/lease/fd00:f6::1000"), b, "tok");
  assert.equal(found.status, 200);
  const body = await found.json();
  assert.equal(body.leases[0].address, "fd00:f6::1000");
  assert.equal(body.leases[0].expirationTime, "2026-01-01T00:00:00.000Z");
  assert.equal(body.leases[0].cltTime, null, "0 means none");

  const missing = await handleControlRequest(req("/v1/lease/fd00:f6::2"), b, "tok");
  assert.equal(missing.status, 404);

  const bad = await handleControlRequest(req("/v1/lease/not-an-address"), b, "tok");
  assert.equal(bad.status, 400);

  const page = await handleControlRequest(
    req("/v1/leases?limit=5&status=active,RELEASED&kind=na"),
    b,
    "tok",
  );
  assert.equal(page.status, 200);
  assert.equal((await page.json()).next, "cursor-1");
  assert.ok(
    b.calls.includes('list {"limit":5,"kind":"na","status":["ACTIVE","RELEASED"]}'),
    b.calls.join("; "),
  );
  for (const q of ["limit=0", "limit=x", "kind=ta", "status=GONE", "duid=xyz"]) {
    assert.equal((await handleControlRequest(req(`/v1/leases?${q}`), b, "tok")).status, 400, q);
  }

  const rel = await handleControlRequest(req("/v1/lease/fd00:f6::1000/release", "POST"), b, "tok");
  assert.equal(rel.status, 200);
  const relPrefix = await handleControlRequest(
    req(`/v1/lease/${encodeURIComponent("fd00:f6:0:100::/64")}/release`, "POST"),
    b,
    "tok",
  );
  assert.equal(relPrefix.status, 404);
  assert.ok(b.calls.includes("release pd fd00:f6:0:100::/64"));
  const relGet = await handleControlRequest(req("/v1/lease/fd00:f6::1000/release"), b, "tok");
  assert.equal(relGet.status, 405);

  const metrics = await handleControlRequest(req("/metrics"), b, "tok");
  assert.match(metrics.headers.get("content-type") ?? "", /text\/plain; version=0.0.4/);
  assert.equal(await metrics.text(), "# metrics\n");

  assert.equal((await handleControlRequest(req("/v1/shutdown"), b, "tok")).status, 405);
  const down = await handleControlRequest(req("/v1/shutdown", "POST"), b, "tok");
  assert.equal(down.status, 202);
  assert.ok(b.calls.includes("shutdown control API"));

  assert.equal((await handleControlRequest(req("/v2/nothing"), b, "tok")).status, 404);
});

Deno.test("lease queries: address, prefix, DUID (with or without colons), duid: prefix", () => {
  assert.deepEqual(parseLeaseLookup("FD00:F6::0100"), { kind: "address", address: "fd00:f6::100" });
  assert.deepEqual(parseLeaseLookup("fd00:f6:0:100::/64"), {
    kind: "prefix",
    address: "fd00:f6:0:100::",
    prefixLength: 64,
  });
  assert.deepEqual(parseLeaseLookup("00:03:00:01:02:f6:00:00:00:01"), {
    kind: "duid",
    duid: "0003000102f600000001",
  });
  assert.deepEqual(parseLeaseLookup("duid:00:01:00:01:00:00:00:01"), {
    kind: "duid",
    duid: "0001000100000001",
  });
  assert.ok("error" in parseLeaseLookup("fd00::/129"));
  assert.ok("error" in parseLeaseLookup("zz"));
  assert.ok("error" in parseLeaseLookup(""));
});

Deno.test("live control API: lookups by address, prefix and DUID, paging, release, shutdown", async () => {
  const t = await startTestServer();
  const sock = await ClientSocket.open(t.udp);
  try {
    const clients = [1, 2, 3].map((n) => new TestClient(sock, testDuid(100 + n)));
    for (const c of clients) assert.ok(await c.obtain({ na: [1], pd: [1] }));
    const api = new ControlClient(t.url, "test-token");

    const status = await api.status();
    assert.equal(status.state, "serving");
    assert.equal((status.leases as { total: number }).total, 6);

    const c0 = clients[0];
    const na = c0.leases.find((l) => l.kind === "na")!;
    const pd = c0.leases.find((l) => l.kind === "pd")!;
    const byAddr = await api.lease(na.address);
    assert.equal(byAddr.length, 1);
    assert.equal(byAddr[0].clientDuid, hex(c0.duid));
    const byPrefix = await api.lease(`${pd.address}/${pd.prefixLength}`);
    assert.equal(byPrefix[0].kind, "pd");
    // An address inside a delegated prefix finds the prefix.
    const inside = await api.lease(pd.address.replace(/::$/, "::42"));
    assert.deepEqual(inside.map((l) => l.kind), ["pd"]);
    const byDuid = await api.lease(hex(c0.duid));
    assert.equal(byDuid.length, 2);

    // Paging: 6 leases, pages of 4.
    const p1 = await api.leases({ limit: 4 });
    assert.equal(p1.leases.length, 4);
    assert.ok(p1.next);
    const p2 = await api.leases({ limit: 4, after: p1.next });
    assert.equal(p2.leases.length, 2);
    assert.equal(p2.next, undefined);
    const all = [...p1.leases, ...p2.leases].map((l) => `${l.kind} ${l.address}`);
    assert.equal(new Set(all).size, 6);

    const released = await api.release(na.address);
    assert.equal(released.status, "RELEASED");
    assert.equal(t.server.store.get({ kind: "na", address: na.address })?.status, "RELEASED");
    await assert.rejects(
      api.release(na.address),
      (e) => e instanceof ControlError && e.kind === "conflict",
    );
    await assert.rejects(
      api.lease("fd00:f6::9999"),
      (e) => e instanceof ControlError && e.kind === "not-found",
    );
    await assert.rejects(
      new ControlClient(t.url, "nope").status(),
      (e) => e instanceof ControlError && e.kind === "unauthorized",
    );

    const metrics = await api.metrics();
    assert.match(metrics, /failover6_replies_sent_total\{type="REPLY",request="REQUEST"\} 3/);
    assert.match(
      metrics,
      /failover6_pool_leases\{pool="test-addresses",kind="na",status="ACTIVE"\} 2/,
    );
    assert.match(metrics, /failover6_commit_seconds_count\{outcome="ok"\} \d+/);
    // Every answer's time in the server, by answer and request type: as many as were sent.
    assert.match(metrics, /failover6_reply_seconds_count\{type="REPLY",request="REQUEST"\} 3\n/);
    const sum = /failover6_reply_seconds_sum\{type="REPLY",request="REQUEST"\} ([0-9.e-]+)/
      .exec(metrics);
    assert.ok(sum && Number(sum[1]) > 0, "time spent is counted");
    assert.match(
      metrics,
      /failover6_reply_seconds_bucket\{type="REPLY",request="REQUEST",le="\+Inf"\} 3\n/,
    );

    await api.shutdown();
    await t.server.finished;
    assert.equal(t.server.state, "stopped");
  } finally {
    await sock.close();
    await t.close();
  }
});

Deno.test("failover6 ctl: status, lease, leases, release, shutdown and its exit statuses", async () => {
  const t = await startTestServer();
  const sock = await ClientSocket.open(t.udp);
  const tokenFile = `${t.dir}/token`;
  await Deno.writeTextFile(tokenFile, "test-token\n");
  try {
    const c = new TestClient(sock, testDuid(200));
    assert.ok(await c.obtain({ na: [1], pd: [1] }));
    const na = c.leases.find((l) => l.kind === "na")!;
    const common = ["ctl", "--url", t.url, "--token-file", tokenFile];

    const st = await runCli([...common, "status"]);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, /state +serving/);

    const lease = await runCli([...common, "lease", na.address]);
    assert.equal(lease.code, 0, lease.stderr);
    assert.match(
      lease.stdout,
      new RegExp(`${na.address.replace(/[.:]/g, "\\$&")} +ACTIVE +${hex(c.duid)}`),
    );

    const json = await runCli([...common, "--json", "leases", "--limit", "1"]);
    assert.equal(json.code, 0, json.stderr);
    const page = JSON.parse(json.stdout);
    assert.equal(page.leases.length, 1);
    assert.ok(page.next);
    const next = await runCli([...common, "leases", "--limit", "1", "--page", page.next]);
    assert.equal(next.code, 0);
    assert.match(next.stdout, /^LEASE/);

    const rel = await runCli([...common, "release", na.address]);
    assert.equal(rel.code, 0, rel.stderr);
    assert.match(rel.stdout, /released/);
    const rel2 = await runCli([...common, "release", na.address]);
    assert.equal(rel2.code, 1, "not ACTIVE any more: a check failed");
    assert.match(rel2.stderr, /^failover6: ctl: lease .* is RELEASED, not ACTIVE$/);

    const nf = await runCli([...common, "lease", "fd00:f6::ffff"]);
    assert.equal(nf.code, 1);
    const badQuery = await runCli([...common, "lease", "nonsense"]);
    assert.equal(badQuery.code, 2);
    assert.match(badQuery.stderr, /^failover6: lease: /);
    const badToken = await runCli(["ctl", "--url", t.url, "--token", "wrong", "status"]);
    assert.equal(badToken.code, 2);
    assert.match(badToken.stderr, /bearer token/);
    const badLimit = await runCli([...common, "leases", "--limit", "0"]);
    assert.equal(badLimit.code, 2);
    const noServer = await runCli(["ctl", "--url", "http://127.0.0.1:1", "--token", "x", "status"]);
    assert.equal(noServer.code, 1);
    assert.match(noServer.stderr, /cannot reach the control API/);
    const noToken = await runCli([
      "ctl",
      "--url",
      t.url,
      "--token-file",
      `${t.dir}/missing`,
      "status",
    ]);
    assert.equal(noToken.code, 2);

    const down = await runCli([...common, "shutdown"]);
    assert.equal(down.code, 0);
    await t.server.finished;
  } finally {
    await sock.close();
    await t.close();
  }
});
