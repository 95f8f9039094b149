/**
 * Two engines over real loopback TCP on one fake clock, through the RFC's flows (digest §6.4
 * "Typical flows": recovery, communications break, conflict) and STARTUP from empty storage,
 * with the exact sequence of states and messages on each side (CONTACTs left out).
 */
import assert from "node:assert/strict";
import { TcpPair } from "./tcp_helpers.ts";
import { activeLease, record, T0 } from "./helpers.ts";
import type { Lease } from "../../lib/store/types.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function noContact(list: string[]): string[] {
  return list.filter((m) => m !== "CONTACT");
}

function bindings(leases: Iterable<Lease>): string[] {
  return [...leases].map((l) => `${l.address} ${l.status} ${l.clientDuid}`);
}

async function connected(pair: TcpPair): Promise<void> {
  await pair.until(
    () => pair.p.driver.state.comms.phase === "ok" && pair.s.driver.state.comms.phase === "ok",
    "connected",
  );
  await pair.settle();
}

Deno.test({
  name:
    "STARTUP from empty storage, primary: RECOVER, UPDREQALL from a PARTNER-DOWN secondary, NORMAL",
  ...opts,
  fn: async () => {
    const leases = [2, 4].map((i) =>
      activeLease(`2001:db8::${i}`, `00010001000000000000000${i}`, T0 - 60_000, {
        owner: "secondary",
      })
    );
    const pair = new TcpPair({ sStored: record("PARTNER-DOWN"), sLeases: leases });
    pair.start();
    pair.run();
    await connected(pair);
    // The primary (STARTUP, previous RECOVER) meets a secondary still in STARTUP: both leave
    // STARTUP; the primary has no record but the secondary has (C=1): UPDREQALL (§8.5.2).
    assert.deepEqual(noContact(pair.p.sent), [
      "CONNECT",
      "STATE(RECOVER)", // with the STARTUP flag
      "STATE(RECOVER)",
      "UPDREQALL",
      "BNDREPLY",
      "BNDREPLY",
      "STATE(RECOVER-WAIT)",
    ]);
    assert.deepEqual(noContact(pair.s.sent), [
      "CONNECTREPLY",
      "STATE(PARTNER-DOWN)", // with the STARTUP flag
      "STATE(PARTNER-DOWN)",
      "BNDUPD",
      "BNDUPD",
      "UPDDONE",
    ]);
    assert.deepEqual(pair.p.states, ["RECOVER", "RECOVER-WAIT"]);
    assert.deepEqual(pair.s.states, ["STARTUP", "PARTNER-DOWN"]);
    await pair.advance(3600_000);
    assert.deepEqual(pair.p.states, ["RECOVER", "RECOVER-WAIT", "RECOVER-DONE", "NORMAL"]);
    assert.deepEqual(pair.s.states, ["STARTUP", "PARTNER-DOWN", "NORMAL"]);
    assert.deepEqual(bindings(pair.p.store.all()), bindings(leases));
    await pair.stop();
  },
});

Deno.test({
  name: "STARTUP from empty storage, both roles: both reach NORMAL with the same (empty) bindings",
  ...opts,
  fn: async () => {
    const pair = new TcpPair();
    pair.start();
    pair.run();
    await connected(pair);
    await pair.advance(1000);
    // Both recover at once; whether the primary passes through COMMUNICATIONS-INTERRUPTED
    // (RECOVER-DONE meeting a partner still in RECOVER, §8.7.2) depends on which STATE
    // crosses which on the wire, so only the ends are fixed here.
    assert.deepEqual(pair.p.states.slice(0, 3), ["RECOVER", "RECOVER-WAIT", "RECOVER-DONE"]);
    assert.deepEqual(pair.s.states.slice(0, 3), ["RECOVER", "RECOVER-WAIT", "RECOVER-DONE"]);
    assert.equal(pair.p.states.at(-1), "NORMAL");
    assert.equal(pair.s.states.at(-1), "NORMAL");
    assert.ok(pair.p.sent.includes("UPDREQ") && pair.s.sent.includes("UPDREQ"));
    await pair.stop();
  },
});

Deno.test({
  name: "Recovery (Figure 7): secondary with lost storage in RECOVER, primary in PARTNER-DOWN",
  ...opts,
  fn: async () => {
    const leases = [1, 3, 5].map((i) =>
      activeLease(`2001:db8::${i}`, `00010001000000000000000${i}`, T0 - 60_000, {
        updatePending: false,
        partnerLifetime: 0,
        ackedPartnerLifetime: T0 + 3600_000,
      })
    );
    const pair = new TcpPair({
      pStored: record("PARTNER-DOWN", { startTimeOfState: T0 - 7200_000 }),
      pLeases: leases,
    });
    pair.start();
    await pair.advance(11_000); // both STARTUP timers expire before the cable is plugged
    assert.deepEqual(pair.p.states, ["STARTUP", "PARTNER-DOWN"]);
    assert.deepEqual(pair.s.states, ["RECOVER"]);
    pair.run();
    await connected(pair);
    // B sends every binding (UPDREQALL: A has no record, B has one, §8.5.2), then UPDDONE only
    // after the last BNDREPLY; A waits in RECOVER-WAIT.
    assert.deepEqual(noContact(pair.s.sent), [
      "CONNECTREPLY",
      "STATE(RECOVER)",
      "UPDREQALL",
      "BNDREPLY",
      "BNDREPLY",
      "BNDREPLY",
      "STATE(RECOVER-WAIT)",
    ]);
    assert.deepEqual(noContact(pair.p.sent), [
      "CONNECT",
      "STATE(PARTNER-DOWN)",
      "BNDUPD",
      "BNDUPD",
      "BNDUPD",
      "UPDDONE",
    ]);
    assert.equal(pair.s.driver.endpointState, "RECOVER-WAIT");
    assert.deepEqual(bindings(pair.s.store.all()), bindings(leases));
    // A waits the MCLT from its start (no TIME-OF-FAILURE recorded), then RECOVER-DONE;
    // B goes NORMAL, then A.
    await pair.advance(3600_000 - 12_000);
    assert.equal(pair.s.driver.endpointState, "RECOVER-WAIT");
    await pair.advance(2000);
    assert.deepEqual(pair.s.states, ["RECOVER", "RECOVER-WAIT", "RECOVER-DONE", "NORMAL"]);
    assert.deepEqual(pair.p.states, ["STARTUP", "PARTNER-DOWN", "NORMAL"]);
    assert.deepEqual(noContact(pair.s.sent).slice(7), [
      "STATE(RECOVER-DONE)",
      "STATE(NORMAL)",
      "POOLREQ",
    ]);
    assert.deepEqual(noContact(pair.p.sent).slice(6), ["STATE(NORMAL)", "POOLRESP"]);
    await pair.stop();
  },
});

Deno.test({
  name:
    "Communications break (Figure 8): NORMAL → COMMUNICATIONS-INTERRUPTED → reconnect → NORMAL, updates both ways",
  ...opts,
  fn: async () => {
    const pair = new TcpPair({
      pStored: record("NORMAL"),
      sStored: record("NORMAL"),
    });
    pair.start();
    pair.run();
    await connected(pair);
    assert.equal(pair.p.driver.endpointState, "NORMAL");
    assert.equal(pair.s.driver.endpointState, "NORMAL");
    const before = {
      p: pair.p.sent.length,
      s: pair.s.sent.length,
      ps: pair.p.states.length,
      ss: pair.s.states.length,
    };
    pair.cut();
    await pair.until(
      () =>
        pair.p.driver.endpointState === "COMMUNICATIONS-INTERRUPTED" &&
        pair.s.driver.endpointState === "COMMUNICATIONS-INTERRUPTED",
      "interrupted",
    );
    // Each side serves clients on its own: a lease changes on each (stored, pending).
    const pl = activeLease("2001:db8::11", "0001aa", pair.clock.now());
    const sl = activeLease("2001:db8::12", "0001bb", pair.clock.now(), { owner: "secondary" });
    pair.p.store.upsert([pl]);
    pair.p.driver.leaseChanged(pl);
    pair.s.store.upsert([sl]);
    pair.s.driver.leaseChanged(sl);
    await pair.advance(5000);
    assert.equal(pair.p.sent.length, before.p); // nothing goes out while interrupted
    pair.plug();
    await connected(pair);
    await pair.settle();
    assert.deepEqual(pair.p.states.slice(before.ps), ["COMMUNICATIONS-INTERRUPTED", "NORMAL"]);
    assert.deepEqual(pair.s.states.slice(before.ss), ["COMMUNICATIONS-INTERRUPTED", "NORMAL"]);
    assert.deepEqual(noContact(pair.p.sent.slice(before.p)), [
      "CONNECT",
      "STATE(COMMUNICATIONS-INTERRUPTED)",
      "STATE(NORMAL)",
      "BNDUPD",
      "BNDREPLY",
      "POOLRESP",
    ]);
    assert.deepEqual(noContact(pair.s.sent.slice(before.s)), [
      "CONNECTREPLY",
      "STATE(COMMUNICATIONS-INTERRUPTED)",
      "STATE(NORMAL)",
      "BNDUPD",
      "BNDREPLY",
      "POOLREQ",
    ]);
    // Both stores now hold both leases, acknowledged.
    assert.deepEqual(bindings(pair.p.store.all()), bindings(pair.s.store.all()));
    assert.equal(pair.p.store.get({ kind: "na", address: "2001:db8::11" })!.updatePending, false);
    assert.equal(pair.s.store.get({ kind: "na", address: "2001:db8::12" })!.updatePending, false);
    await pair.stop();
  },
});

Deno.test({
  name: "Conflict (Figure 9): both PARTNER-DOWN → POTENTIAL-CONFLICT → CONFLICT-DONE → NORMAL",
  ...opts,
  fn: async () => {
    const now = T0;
    const at = (ms: number) => ({ cltTime: now - ms, startTimeOfState: now - ms });
    // Both served clients alone. ::21 went to different clients, the secondary's client is the
    // more recent; ::25 too, the primary's client is the more recent.
    const pLeases = [
      activeLease("2001:db8::21", "0001aa", now - 600_000, at(600_000)),
      activeLease("2001:db8::23", "0001ab", now - 500_000),
      activeLease("2001:db8::25", "0001ac", now - 100_000, at(100_000)),
    ];
    const sLeases = [
      activeLease("2001:db8::21", "0001bb", now - 300_000, { ...at(300_000), owner: "secondary" }),
      activeLease("2001:db8::22", "0001bc", now - 200_000, { owner: "secondary" }),
      activeLease("2001:db8::25", "0001bd", now - 500_000, { ...at(500_000), owner: "secondary" }),
    ];
    const pair = new TcpPair({
      pStored: record("PARTNER-DOWN"),
      sStored: record("PARTNER-DOWN"),
      pLeases,
      sLeases,
    });
    pair.start();
    await pair.advance(11_000);
    pair.run();
    await connected(pair);
    await pair.advance(1000);
    assert.deepEqual(pair.p.states, [
      "STARTUP",
      "PARTNER-DOWN",
      "POTENTIAL-CONFLICT",
      "CONFLICT-DONE",
      "NORMAL",
    ]);
    assert.deepEqual(pair.s.states, ["STARTUP", "PARTNER-DOWN", "POTENTIAL-CONFLICT", "NORMAL"]);
    // 1. The primary asks (UPDREQ); the secondary sends its three pending bindings and UPDDONE;
    //    the primary takes ::21 (newer client, time(2)) and ::22, refuses ::25 (AddressInUse:
    //    its own client is newer, accept(3)), and moves to CONFLICT-DONE.
    // 2. The secondary asks; the primary sends its pending ::23 and ::25; the secondary (it
    //    yields to the primary) takes both; UPDDONE; both NORMAL; POOLREQ/POOLRESP.
    assert.deepEqual(noContact(pair.p.sent), [
      "CONNECT",
      "STATE(PARTNER-DOWN)",
      "STATE(POTENTIAL-CONFLICT)",
      "UPDREQ",
      "BNDREPLY",
      "BNDREPLY",
      "BNDREPLY(16)",
      "STATE(CONFLICT-DONE)",
      "BNDUPD",
      "BNDUPD",
      "UPDDONE",
      "STATE(NORMAL)",
      "POOLRESP",
    ]);
    assert.deepEqual(noContact(pair.s.sent), [
      "CONNECTREPLY",
      "STATE(PARTNER-DOWN)",
      "STATE(POTENTIAL-CONFLICT)",
      "BNDUPD",
      "BNDUPD",
      "BNDUPD",
      "UPDDONE",
      "UPDREQ",
      "BNDREPLY",
      "BNDREPLY",
      "STATE(NORMAL)",
      "POOLREQ",
    ]);
    // Both sides hold the same bindings; no address is ACTIVE for two clients.
    const expected = [
      "2001:db8::21 ACTIVE 0001bb",
      "2001:db8::22 ACTIVE 0001bc",
      "2001:db8::23 ACTIVE 0001ab",
      "2001:db8::25 ACTIVE 0001ac",
    ];
    assert.deepEqual(bindings(pair.p.store.all()), expected);
    assert.deepEqual(bindings(pair.s.store.all()), expected);
    await pair.stop();
  },
});
