/**
 * Binding transitions of a pair (RFC 8156 §7.2, §4.2): release and expiry reach the partner,
 * a lease becomes FREE / FREE-BACKUP only after the partner's ack (or, in PARTNER-DOWN, an
 * MCLT later), and delegable prefixes are shared proportionally by POOLREQ and BNDUPDs.
 */
import assert from "node:assert/strict";
import { ClientSocket, TestClient } from "../serve/client.ts";
import { TestPair, until } from "./helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const MCLT = 30;

function duid(n: number): Uint8Array {
  return new Uint8Array([0, 3, 0, 1, 0x02, 0xbd, 0, 0, (n >> 8) & 255, n & 255]);
}

async function obtain(
  socket: ClientSocket,
  n: number,
  want: { na?: number[]; pd?: number[] } = { na: [1] },
) {
  const c = new TestClient(socket, duid(n), { timeoutMs: 300, attempts: 5 });
  assert.ok(await c.solicit(want), `client ${n}: no Advertise`);
  const r = await c.request(want);
  assert.ok(r && r.leases.length > 0, `client ${n}: nothing granted`);
  return c;
}

Deno.test({
  name: "bindings: release and expiry go to the partner; FREE only after its ack",
  ...opts,
  fn: async () => {
    const pair = await TestPair.start({ mclt: MCLT });
    const socket = await ClientSocket.open(pair.primary!.udp);
    try {
      const released = await obtain(socket, 1);
      const expiring = await obtain(socket, 2);
      await pair.drained();
      const a1 = released.leases[0].address;
      const a2 = expiring.leases[0].address;
      assert.ok(await released.release(), "Release answered");
      await pair.drained();
      assert.equal(
        pair.lease("primary", a1)?.status,
        "FREE",
        "acked: the primary's address is FREE",
      );
      assert.equal(
        pair.lease("secondary", a1)?.status,
        "RELEASED",
        "the partner recorded the release",
      );
      // Expiry: the MCLT-capped lease runs out.
      pair.advance((MCLT + 1) * 1000);
      assert.equal(await pair.primary!.server.runExpiry(), 1);
      await pair.drained();
      assert.equal(pair.lease("primary", a2)?.status, "FREE");
      assert.equal(pair.lease("secondary", a2)?.status, "EXPIRED");
    } finally {
      await socket.close();
      await pair.close();
    }
  },
});

Deno.test({
  name:
    "bindings: without the partner a release waits for an ack; PARTNER-DOWN frees it an MCLT later",
  ...opts,
  fn: async () => {
    const pair = await TestPair.start({ mclt: MCLT });
    const socket = await ClientSocket.open(pair.secondary!.udp);
    try {
      await pair.stopNode("primary");
      await pair.waitStates(undefined, "COMMUNICATIONS-INTERRUPTED");
      const c = await obtain(socket, 3);
      const a = c.leases[0].address;
      assert.ok(await c.release());
      const l = pair.lease("secondary", a)!;
      assert.equal(l.status, "RELEASED");
      assert.equal(l.updatePending, true, "the partner still has to hear of it");
      pair.advance((MCLT + 1) * 1000);
      await pair.secondary!.server.runExpiry();
      assert.equal(
        pair.lease("secondary", a)?.status,
        "RELEASED",
        "no ack, not PARTNER-DOWN: it waits",
      );
      assert.equal(pair.secondary!.failover.partnerDown().kind, "done");
      pair.advance((MCLT + 1) * 1000);
      await pair.secondary!.server.runExpiry();
      assert.equal(
        pair.lease("secondary", a)?.status,
        "FREE-BACKUP",
        "an MCLT in PARTNER-DOWN: the secondary's half",
      );
      // Another client may now have it (it is the secondary's and free).
      assert.equal(pair.lease("secondary", a)?.updatePending, true);
    } finally {
      await socket.close();
      await pair.close();
    }
  },
});

Deno.test({
  name: "bindings: delegable prefixes are shared proportionally; each side delegates only its own",
  ...opts,
  fn: async () => {
    const pair = await TestPair.start({ mclt: MCLT });
    try {
      const count = (role: "primary" | "secondary", status: string) =>
        [...pair[role]!.server.core.leases.values()].filter((l) =>
          l.kind === "pd" && l.status === status
        )
          .length;
      await pair.drained();
      // The POOLREQ goes out after the first flush in NORMAL, so the hand-over may still be on
      // its way when the queues first look drained: wait for it before counting.
      await until(
        () => count("secondary", "FREE-BACKUP") >= 128,
        "the prefix hand-over to reach the secondary",
      );
      await pair.drained();
      // proportion 0.5 of the 256 /64s of the /56 (POOLREQ after the first flush in NORMAL).
      assert.equal(count("secondary", "FREE-BACKUP"), 128);
      assert.equal(count("primary", "FREE-BACKUP"), 128);
      assert.equal(count("primary", "FREE"), 128);
      const toPrimary = await ClientSocket.open(pair.primary!.udp);
      const toSecondary = await ClientSocket.open(pair.secondary!.udp);
      try {
        const p = await obtain(toPrimary, 10, { pd: [1] });
        const got = pair.primary!.server.core.leases.getByClient(p.duidHex)[0];
        assert.equal(got.kind, "pd");
        assert.equal(got.owner, "primary", "the primary delegates one of its FREE prefixes");
        await pair.stopNode("primary");
        await pair.waitStates(undefined, "COMMUNICATIONS-INTERRUPTED");
        const s = await obtain(toSecondary, 11, { pd: [1] });
        const sl = pair.secondary!.server.core.leases.getByClient(s.duidHex)[0];
        assert.equal(sl.kind, "pd");
        assert.equal(sl.owner, "secondary", "the secondary delegates a FREE-BACKUP prefix");
        assert.equal(s.leases[0].valid, MCLT);
      } finally {
        await toPrimary.close();
        await toSecondary.close();
      }
    } finally {
      await pair.close();
    }
  },
});
