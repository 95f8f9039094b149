/**
 * Property: random interleavings of binding changes on both servers (grants, renewals,
 * releases; communications breaks and PARTNER-DOWN included), with binding messages delivered
 * late and out of order, converge to the same bindings on both servers after sync, and no two
 * clients ever believe they hold the same address.
 *
 * The servers are modelled as RFC 8156 §4.2.1 / §8 allow: each allocates only from its own
 * half of the address pool (low-order bit), only in a state that may allocate; renewals and
 * releases go to a server that serves clients in its state and knows the binding; an address
 * goes to another client only once its release is acknowledged (§4.2.2.1).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { Sim, type SimSide, type Who } from "./sim.ts";
import { clientService } from "../../lib/failover/endpoint.ts";
import { addressOwner } from "../../lib/failover/pool.ts";
import { emptyLease } from "../../lib/store/lease.ts";
import type { Lease } from "../../lib/store/types.ts";

const ADDRESSES = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => `2001:db8::${i}`);
const CLIENTS = ["0001a1", "0001a2", "0001a3", "0001a4", "0001a5", "0001a6", "0001a7", "0001a8"];

type Op =
  | { k: "grant"; side: Who; addr: number; client: number }
  | { k: "renew"; side: Who; client: number }
  | { k: "release"; side: Who; client: number }
  | { k: "deliver"; pick: number }
  | { k: "tick" }
  | { k: "cut" }
  | { k: "reconnect" }
  | { k: "partner-down"; side: Who };

const who = fc.constantFrom<Who>("p", "s");
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant("grant" as const),
      side: who,
      addr: fc.nat(7),
      client: fc.nat(7),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ k: fc.constant("renew" as const), side: who, client: fc.nat(7) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ k: fc.constant("release" as const), side: who, client: fc.nat(7) }),
  },
  { weight: 8, arbitrary: fc.record({ k: fc.constant("deliver" as const), pick: fc.nat(50) }) },
  { weight: 2, arbitrary: fc.constant({ k: "tick" as const }) },
  { weight: 1, arbitrary: fc.constant({ k: "cut" as const }) },
  { weight: 1, arbitrary: fc.constant({ k: "reconnect" as const }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("partner-down" as const), side: who }) },
);

/** What each client believes it holds. */
type Beliefs = Map<number, string>;

function mayAllocate(side: SimSide): boolean {
  const st = side.state.endpoint.state;
  if (st === "NORMAL" || st === "CONFLICT-DONE") return side.state.config.role === "primary";
  return st === "COMMUNICATIONS-INTERRUPTED" || st === "PARTNER-DOWN" ||
    st === "RESOLUTION-INTERRUPTED";
}

function serves(side: SimSide): boolean {
  return clientService(side.state.endpoint.state, side.state.config.role) !== "unresponsive";
}

function change(side: SimSide, lease: Lease): void {
  side.store.upsert([lease]);
  side.feed({ type: "client-lease-changed", lease });
}

function apply(sim: Sim, o: Op, beliefs: Beliefs): void {
  switch (o.k) {
    case "grant": {
      const side = sim.side(o.side);
      // An address of this server's own half (odd: primary, even: secondary).
      const address = ADDRESSES[(o.addr % 4) * 2 + (o.side === "p" ? 0 : 1)];
      if (!mayAllocate(side) || beliefs.has(o.client)) return;
      const local = side.store.get({ kind: "na", address });
      const free = !local || local.status === "FREE" || local.status === "FREE-BACKUP" ||
        ((local.status === "RELEASED" || local.status === "EXPIRED") && !local.updatePending);
      if (!free) return;
      const now = sim.now;
      change(side, {
        ...emptyLease({ kind: "na", address }, "ACTIVE"),
        clientDuid: CLIENTS[o.client],
        iaid: 1,
        preferredLifetime: 1800,
        validLifetime: 3600,
        expirationTime: now + 3600_000,
        stateExpirationTime: now + 3600_000,
        partnerLifetime: now + 5400_000,
        cltTime: now,
        startTimeOfState: now,
        updatePending: true,
        owner: addressOwner(address),
        relationship: "rel",
      });
      beliefs.set(o.client, address);
      return;
    }
    case "renew":
    case "release": {
      const address = beliefs.get(o.client);
      const side = sim.side(o.side);
      if (address === undefined || !serves(side)) return;
      const local = side.store.get({ kind: "na", address });
      // A server renews or releases only a binding it knows for this client.
      if (!local || local.status !== "ACTIVE" || local.clientDuid !== CLIENTS[o.client]) return;
      const now = sim.now;
      if (o.k === "renew") {
        change(side, {
          ...local,
          cltTime: now,
          expirationTime: now + 3600_000,
          stateExpirationTime: now + 3600_000,
          partnerLifetime: now + 5400_000,
          updatePending: true,
        });
      } else {
        change(side, {
          ...local,
          status: "RELEASED",
          cltTime: now,
          startTimeOfState: now,
          stateExpirationTime: 0,
          updatePending: true,
        });
        beliefs.delete(o.client);
      }
      return;
    }
    case "deliver":
      sim.deliver(o.pick);
      return;
    case "tick":
      sim.tick(1000);
      return;
    case "cut":
      sim.cut();
      return;
    case "reconnect":
      sim.connect();
      return;
    case "partner-down": {
      const side = sim.side(o.side);
      if (side.state.comms.phase === "down") {
        side.feed({ type: "operator-command", command: "partner-down" });
      }
      return;
    }
  }
}

/** address → "ACTIVE <client>" or "-" (free in any form), as both servers must agree. */
function view(side: SimSide): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of side.store.all()) {
    out.set(
      l.address,
      l.status === "ACTIVE"
        ? `ACTIVE ${l.clientDuid}`
        : l.status === "ABANDONED"
        ? "ABANDONED"
        : "-",
    );
  }
  for (const a of ADDRESSES) if (!out.has(a)) out.set(a, "-");
  return new Map([...out].sort());
}

function noDoubleBelief(beliefs: Beliefs): void {
  const seen = new Map<string, number>();
  for (const [client, address] of beliefs) {
    assert.equal(
      seen.get(address),
      undefined,
      `${address} held by clients ${seen.get(address)} and ${client}`,
    );
    seen.set(address, client);
  }
}

function sync(sim: Sim): void {
  // Communications restored, everything delivered in order, and the periodic scan run until
  // nothing more moves (the damped and rejected updates are resent by it, §7.5.4).
  for (let round = 0; round < 12; round++) {
    sim.connect();
    sim.flush();
    sim.tick(1000);
    for (const side of [sim.p, sim.s]) side.feed({ type: "timer-fired", name: "update-scan" });
    sim.flush();
    const settled = [sim.p, sim.s].every((x) =>
      x.state.endpoint.state === "NORMAL" && x.state.outstanding.size === 0 &&
      x.state.jobs.length === 0
    ) && sim.network.length === 0;
    if (settled && round > 2) {
      return;
    }
  }
}

Deno.test("property: updates delivered late and out of order converge, no address held twice", () => {
  fc.assert(
    fc.property(fc.array(op, { minLength: 20, maxLength: 150, size: "max" }), (ops) => {
      const sim = new Sim();
      sim.connect();
      sim.flush();
      const beliefs: Beliefs = new Map();
      for (const o of ops) {
        apply(sim, o, beliefs);
        noDoubleBelief(beliefs);
      }
      sync(sim);
      assert.equal(sim.p.state.endpoint.state, "NORMAL", `primary ${sim.p.state.endpoint.state}`);
      assert.equal(sim.s.state.endpoint.state, "NORMAL", `secondary ${sim.s.state.endpoint.state}`);
      assert.deepEqual(view(sim.p), view(sim.s));
      // Every belief is backed by both servers.
      for (const [client, address] of beliefs) {
        assert.equal(view(sim.p).get(address), `ACTIVE ${CLIENTS[client]}`);
      }
    }),
    { numRuns: 500, seed: 8156 },
  );
});
