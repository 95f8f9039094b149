/**
 * Crash test: `failover6 serve` runs as a child process under load (concurrent simulated
 * clients doing Solicit/Request and Renew over [::1]) and is killed with SIGKILL at a random
 * moment, 22 times. After each kill the lease database is opened and:
 *
 * - every lease any client received a Reply for is there, ACTIVE, bound to that client;
 * - no address or prefix was ever confirmed to two clients;
 * - after the restart, a Renew of an earlier client gets exactly its leases back.
 *
 * Bounded: each round is a start-up plus a few hundred milliseconds of load.
 */
import assert from "node:assert/strict";
import { SqliteBindingStore } from "../../lib/store/sqlite.ts";
import { ClientSocket, type GotLease, hex, TestClient, testDuid } from "./client.ts";
import {
  childConfigYaml,
  freeTcpPort,
  freeUdpPort,
  MAIN,
  SERVE_PERMISSIONS,
  until,
} from "./helpers.ts";

const ROUNDS = 22;
const WORKERS = 24;

interface Confirmed {
  duid: string;
  client: TestClient;
  leases: GotLease[];
}

const keyOf = (l: { kind: string; address: string; prefixLength: number }) =>
  `${l.kind} ${l.address}/${l.prefixLength}`;

Deno.test("crash: kill -9 under load 22 times; every replied lease survives, none is shared", async () => {
  const dir = await Deno.makeTempDir({ prefix: "f6crash-" });
  const udpPort = await freeUdpPort();
  const cfg = `${dir}/c.yaml`;
  await Deno.writeTextFile(
    cfg,
    childConfigYaml(dir, udpPort, freeTcpPort(), "", {
      prefix: "fd00:f6:8000::/40",
      delegatedLength: 64,
    }),
  );
  const owner = new Map<string, string>(); // lease key -> client DUID, over the whole test
  const confirmed: Confirmed[] = [];
  let nextClient = 1;
  let unanswered = 0;
  let renewChecks = 0;
  let killedWithRequestsInFlight = 0;
  const sock = await ClientSocket.open({ address: "::1", port: udpPort });
  const started = performance.now();

  const record = (client: TestClient, leases: GotLease[]) => {
    for (const l of leases) {
      const k = keyOf(l);
      const prev = owner.get(k);
      assert.ok(
        prev === undefined || prev === client.duidHex,
        `${k} confirmed to ${prev} and ${client.duidHex}`,
      );
      owner.set(k, client.duidHex);
    }
  };

  try {
    for (let round = 0; round < ROUNDS; round++) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", ...SERVE_PERMISSIONS, MAIN, "serve", "--config", cfg],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      let ready = false;
      let exited = false;
      const stderrLines: string[] = [];
      const reading = (async () => {
        for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
          stderrLines.push(chunk);
          if (chunk.includes('"control API listening"')) ready = true;
        }
      })();
      child.status.then(() => exited = true);
      await until(() => {
        if (exited) throw new Error(`serve exited: ${stderrLines.join("")}`);
        return ready;
      }, 30_000);

      // Renew one earlier client first: the restarted server must give its leases back.
      if (confirmed.length > 0) {
        const old = confirmed[Math.floor(Math.random() * confirmed.length)];
        const r = await old.client.renew(old.leases);
        assert.ok(r, `round ${round}: Renew after restart got no Reply`);
        assert.deepEqual(r.leases.map(keyOf).sort(), old.leases.map(keyOf).sort());
        renewChecks++;
      }

      let stop = false;
      let inFlight = 0;
      const worker = async () => {
        while (!stop) {
          const c = new TestClient(sock, testDuid(nextClient++), { attempts: 2, timeoutMs: 250 });
          const want = { na: [1], pd: [2] };
          const adv = await c.solicit(want);
          if (adv === undefined || stop) continue;
          inFlight++;
          const rep = await c.request(want, adv.leases);
          inFlight--;
          if (rep === undefined) {
            unanswered++;
            continue;
          }
          assert.equal(rep.leases.length, 2, `client ${c.duidHex}: ${JSON.stringify(rep.ias)}`);
          record(c, rep.leases);
          confirmed.push({ duid: c.duidHex, client: c, leases: rep.leases });
        }
      };
      const workers = Array.from({ length: WORKERS }, worker);
      // A random moment under load.
      await new Promise((r) => setTimeout(r, 60 + Math.random() * 400));
      if (inFlight > 0) killedWithRequestsInFlight++;
      child.kill("SIGKILL");
      await child.status;
      stop = true;
      await Promise.all(workers);
      await reading.catch(() => {});

      // Every confirmed lease is in the database, ACTIVE, for its client.
      const store = SqliteBindingStore.open(`${dir}/leases.db`);
      try {
        for (const c of confirmed) {
          for (const l of c.leases) {
            const s = store.get({ kind: l.kind, address: l.address, prefixLength: l.prefixLength });
            assert.ok(s, `round ${round}: ${keyOf(l)} replied to ${c.duid} is not in the database`);
            assert.equal(s.status, "ACTIVE", keyOf(l));
            assert.equal(s.clientDuid, c.duid, keyOf(l));
          }
        }
      } finally {
        store.close();
      }
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `crash: ${ROUNDS} kills in ${seconds.toFixed(1)} s, ${confirmed.length} clients confirmed ` +
        `(${owner.size} leases), ${renewChecks} renew-after-restart checks, ` +
        `${killedWithRequestsInFlight} kills with Requests in flight, ${unanswered} Requests unanswered`,
    );
    assert.ok(confirmed.length > ROUNDS, "the load generator got replies");
    assert.equal(new Set(confirmed.map((c) => c.duid)).size, confirmed.length);
    // Nothing in the database is ACTIVE for a client that does not own it.
    const store = SqliteBindingStore.open(`${dir}/leases.db`);
    try {
      for (const l of store.all()) {
        if (l.status !== "ACTIVE") continue;
        const o = owner.get(keyOf(l));
        if (o !== undefined) assert.equal(l.clientDuid, o);
      }
    } finally {
      store.close();
    }
  } finally {
    await sock.close();
    await Deno.remove(dir, { recursive: true });
  }
});

export { hex };
