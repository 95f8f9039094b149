/**
 * Two real `failover6 serve` instances in one process on loopback (see helpers.ts): lazy
 * updates from the primary reach the secondary, client lifetimes obey the MCLT rule, the
 * secondary takes over when the primary stops, and a restarted primary recovers to NORMAL with
 * the same bindings on both sides.
 */
import assert from "node:assert/strict";
import { checkFundamentalRule } from "../../lib/failover/mclt.ts";
import { addressOwner } from "../../lib/failover/pool.ts";
import { ClientSocket, TestClient } from "../serve/client.ts";
import { REL, TestPair, until } from "./helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const MCLT = 30;
const VALID = 7200;

function duid(n: number): Uint8Array {
  return new Uint8Array([0, 3, 0, 1, 0x02, 0xaa, 0, 0, (n >> 8) & 255, n & 255]);
}

/** Solicit + Request against `server`; returns the client with its lease. */
async function obtain(socket: ClientSocket, n: number): Promise<TestClient> {
  const c = new TestClient(socket, duid(n), { timeoutMs: 300, attempts: 5 });
  const adv = await c.solicit({ na: [1] });
  assert.ok(adv, `client ${n}: no Advertise`);
  const rep = await c.request({ na: [1] });
  assert.ok(rep && rep.leases.length === 1, `client ${n}: no lease in the Reply`);
  return c;
}

Deno.test({
  name: "pair: leases made on the primary reach the secondary; lifetimes obey the MCLT rule",
  ...opts,
  fn: async () => {
    const pair = await TestPair.start({ mclt: MCLT, valid: VALID });
    const socket = await ClientSocket.open(pair.primary!.udp);
    try {
      const clients: TestClient[] = [];
      for (let i = 1; i <= 6; i++) clients.push(await obtain(socket, i));
      for (const c of clients) {
        const l = c.leases[0];
        // Nothing acknowledged yet: one MCLT (R1 with apl = none), from the primary's half.
        assert.equal(l.valid, MCLT);
        assert.equal(addressOwner(l.address), "primary");
      }
      await pair.drained();
      const p = pair.active("primary");
      const s = pair.active("secondary");
      assert.equal(p.size, 6);
      assert.deepEqual(s, p, "the secondary holds the primary's bindings once the queue drained");
      for (const c of clients) {
        const l = pair.lease("secondary", c.leases[0].address)!;
        assert.equal(l.clientDuid, c.duidHex);
        assert.ok(
          l.expirationTime >= pair.clock.now() + MCLT * 1000,
          "expiration-time = the partner lifetime",
        );
      }
      // Renewal after the ack: up to the acked partner lifetime + MCLT.
      pair.advance(15_000);
      for (const c of clients) {
        const before = pair.lease("primary", c.leases[0].address)!;
        assert.ok(before.ackedPartnerLifetime > 0, "the BNDREPLY set the acked partner lifetime");
        const now = pair.clock.now();
        const r = await c.renew();
        assert.ok(r && r.leases.length === 1, "renewed");
        const got = r.leases[0].valid;
        assert.equal(
          got,
          Math.min(
            VALID,
            Math.floor(before.ackedPartnerLifetime / 1000) - Math.floor(now / 1000) + MCLT,
          ),
        );
        const check = checkFundamentalRule({
          clientExpiry: Math.floor(now / 1000) + got,
          ackedPartnerLifetime: Math.floor(before.ackedPartnerLifetime / 1000),
          now: Math.floor(now / 1000),
          mclt: MCLT,
          state: "NORMAL",
        });
        assert.ok(check.ok, JSON.stringify(check));
      }
      await pair.drained();
      assert.deepEqual(pair.active("secondary"), pair.active("primary"));
      // The secondary is renew-responsive in NORMAL: a Solicit to it gets nothing.
      const other = await ClientSocket.open(pair.secondary!.udp);
      try {
        const stray = new TestClient(other, duid(99), { timeoutMs: 200, attempts: 2 });
        assert.equal(await stray.solicit({ na: [1] }), undefined);
      } finally {
        await other.close();
      }
    } finally {
      await socket.close();
      await pair.close();
    }
  },
});

Deno.test({
  name:
    "pair: primary stopped → secondary COMMUNICATIONS-INTERRUPTED → PARTNER-DOWN serves; restart → NORMAL with equal bindings",
  ...opts,
  fn: async () => {
    const pair = await TestPair.start({ mclt: MCLT, valid: VALID, autoPartnerDown: 10 });
    const toPrimary = await ClientSocket.open(pair.primary!.udp);
    const toSecondary = await ClientSocket.open(pair.secondary!.udp);
    try {
      const early: TestClient[] = [];
      for (let i = 1; i <= 4; i++) early.push(await obtain(toPrimary, i));
      await pair.drained();
      await pair.stopNode("primary");
      await pair.waitStates(undefined, "COMMUNICATIONS-INTERRUPTED");
      // COMMUNICATIONS-INTERRUPTED: responsive, own half only, MCLT-capped lifetimes.
      const ci = await obtain(toSecondary, 10);
      assert.equal(addressOwner(ci.leases[0].address), "secondary");
      assert.equal(ci.leases[0].valid, MCLT);
      // The operator may not declare the partner down while... it is down here: allowed, but
      // the auto-partner-down timer does it (10 s on the shared clock).
      pair.advance(10_000);
      await pair.waitStates(undefined, "PARTNER-DOWN");
      const pd = await obtain(toSecondary, 11);
      assert.equal(addressOwner(pd.leases[0].address), "secondary");
      assert.equal(pd.leases[0].valid, VALID, "PARTNER-DOWN lifts the MCLT cap");
      // A client of the primary rebinds to the secondary and keeps its address.
      const moved = new TestClient(toSecondary, early[0].duid, { timeoutMs: 300, attempts: 5 });
      moved.leases = early[0].leases;
      const rb = await moved.rebind();
      assert.ok(rb && rb.leases.length === 1);
      assert.equal(rb.leases[0].address, early[0].leases[0].address);
      // Restart the primary: RECOVER, UPDREQ, RECOVER-WAIT until TIME-OF-FAILURE + MCLT.
      await pair.startNode("primary");
      await pair.waitStates("RECOVER-WAIT", "PARTNER-DOWN");
      pair.advance(MCLT * 1000);
      await pair.waitStates("NORMAL", "NORMAL");
      await pair.drained();
      const p = pair.active("primary");
      const s = pair.active("secondary");
      assert.equal(p.size, 6);
      assert.deepEqual(p, s, "both servers hold the same bindings after recovery");
      const st = pair.secondary!.failover.status()[0];
      assert.equal(st.relationship, REL);
      assert.equal(st.partnerDown.active, false);
      await until(
        () => pair.primary!.failover.status()[0].communications.status === "ok",
        "comms ok",
      );
    } finally {
      await toPrimary.close();
      await toSecondary.close();
      await pair.close();
    }
  },
});

Deno.test({
  name: "pair: a secondary that lost its database recovers every binding by UPDREQALL",
  ...opts,
  fn: async () => {
    const pair = await TestPair.start({ mclt: MCLT, valid: VALID });
    const socket = await ClientSocket.open(pair.primary!.udp);
    try {
      for (let i = 1; i <= 5; i++) await obtain(socket, 20 + i);
      await pair.drained();
      const before = pair.active("primary");
      assert.deepEqual(pair.active("secondary"), before);
      await pair.stopNode("secondary");
      await pair.waitStates("COMMUNICATIONS-INTERRUPTED", undefined);
      await Deno.remove(`${pair.dir}/secondary`, { recursive: true });
      await pair.startNode("secondary");
      // No record of the partner here, a record there (C flag): UPDREQALL (§8.5.2).
      await until(
        () => pair.primary!.logs.lines.some((l) => l.includes("UPDREQALL received")),
        "the secondary to ask for every binding",
      );
      await pair.waitStates(undefined, "RECOVER-WAIT");
      pair.advance(MCLT * 1000);
      await pair.waitStates("NORMAL", "NORMAL");
      await pair.drained();
      assert.deepEqual(pair.active("secondary"), before, "every binding is back on the secondary");
      assert.deepEqual(pair.active("primary"), before);
    } finally {
      await socket.close();
      await pair.close();
    }
  },
});
