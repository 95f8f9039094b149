/**
 * The pure core with communications OK: keepalive and CONTACT, skew, bad peer input,
 * DISCONNECT and shutdown, BNDUPD/BNDREPLY and the per-lease time variables (digest §5),
 * conflict resolution with damping (§7.5.4), flow control, UPDREQ/UPDREQALL → BNDUPDs →
 * UPDDONE only after every BNDREPLY (§5.3.7), POOLREQ/POOLRESP and rebalancing (§4.2.2).
 */
import assert from "node:assert/strict";
import { type Action, type EngineState, type Event, step } from "../../lib/failover/engine.ts";
import {
  clientData,
  clientId,
  findOption,
  iaAddr,
  iaNa,
  leaseOptions,
} from "../../lib/wire/options.ts";
import type { DhcpOption, FailoverMessage } from "../../lib/wire/types.ts";
import { fromWireTime, toWireTime } from "../../lib/failover/binding.ts";
import { parseBndreply } from "../../lib/failover/bndupd.ts";
import { emptyLease } from "../../lib/store/lease.ts";
import type { Lease } from "../../lib/store/types.ts";
import {
  activeLease,
  changes,
  engineIn,
  feed,
  fo,
  sent,
  sentNames,
  stateMsg,
  T0,
} from "./helpers.ts";

const W0 = toWireTime(T0);
const DUID = "000100010000000000000001";
const DUID2 = "000100010000000000000002";

function persisted(actions: readonly Action[]): Lease[] {
  return actions.flatMap((a) =>
    a.type === "persist" ? a.writes.flatMap((w) => (w.type === "lease" ? [w.lease] : [])) : []
  );
}

function types(actions: readonly Action[]): string[] {
  return actions.filter((a) => a.type !== "log").map((a) =>
    a.type === "send" ? `send ${a.message.msgType}` : a.type
  );
}

/** A BNDUPD from the partner for one address, with explicit wire fields. */
function bndupdFor(
  address: string,
  f: {
    status?: number;
    duid?: string;
    start?: number;
    ste?: number;
    pl?: number;
    exp?: number;
    clt?: number;
    raw?: number;
    base?: number;
  },
  xid = 0x500,
): FailoverMessage {
  const base = f.base ?? W0;
  const inner = leaseOptions({
    bindingStatus: f.status ?? 1,
    startTimeOfState: f.start ?? W0 - 100,
    stateExpirationTime: f.ste,
    cltTime: f.clt,
    partnerLifetime: f.pl,
    partnerRawCltTime: f.raw,
    expirationTime: f.exp,
  });
  const duid = Uint8Array.from((f.duid ?? DUID).match(/../g)!.map((h) => parseInt(h, 16)));
  return fo(24, [
    clientData([
      clientId(duid),
      { code: 100, baseTime: base },
      iaNa(7, 900, 1440, [iaAddr(address, 1800, 3600, inner)]),
    ]),
  ], xid);
}

function reply(actions: readonly Action[]): FailoverMessage {
  const m = sent(actions).find((x) => x.msgType === 25);
  assert.ok(m, "a BNDREPLY was sent");
  return m;
}

// ---------------------------------------------------------------------------------------
// Keepalive, CONTACT, skew, bad input
// ---------------------------------------------------------------------------------------

Deno.test("CONTACT goes out after FO_SEND_TIME of silence, not while other messages flow", () => {
  let s = engineIn("NORMAL", { partner: "NORMAL" });
  // lastSent = T0 - 1 s; FO_SEND_TIME = 15 s → due at T0 + 14 s.
  let r = step(s, { type: "timer-fired", name: "contact" }, T0 + 10_000);
  assert.deepEqual(sentNames(r.actions), []);
  assert.deepEqual(
    r.actions.filter((a) => a.type === "set-timer").map((a) => a.type === "set-timer" && a.at),
    [T0 + 14_000],
  );
  r = step(r.state, { type: "timer-fired", name: "contact" }, T0 + 14_000);
  assert.deepEqual(sentNames(r.actions), ["CONTACT"]);
  assert.deepEqual(
    r.actions.filter((a) => a.type === "set-timer").map((a) => a.type === "set-timer" && a.at),
    [T0 + 29_000],
  );
  // A message sent in between pushes the next CONTACT back.
  s = step(
    r.state,
    { type: "client-lease-changed", lease: activeLease("2001:db8::1", DUID, T0) },
    T0 + 20_000,
  ).state;
  r = step(s, { type: "timer-fired", name: "contact" }, T0 + 29_000);
  assert.deepEqual(sentNames(r.actions), []);
});

Deno.test("nothing received for FO_KEEPALIVE_TIME: connection dead, NORMAL → COMMUNICATIONS-INTERRUPTED", () => {
  const s = engineIn("NORMAL", { partner: "NORMAL" });
  // Any message resets the watchdog (§6.5).
  let r = step(s, { type: "message-received", message: fo(35, [], 9, T0 + 30_000) }, T0 + 30_000);
  r = step(r.state, { type: "timer-fired", name: "keepalive" }, T0 + 59_000);
  assert.deepEqual(changes(r.actions), []);
  assert.deepEqual(
    r.actions.filter((a) => a.type === "set-timer").map((a) => a.type === "set-timer" && a.at),
    [T0 + 90_000],
  );
  r = step(r.state, { type: "timer-fired", name: "keepalive" }, T0 + 90_000);
  assert.deepEqual(types(r.actions), [
    "close-connection",
    "cancel-timer",
    "cancel-timer",
    "persist",
    "state-changed",
    "alarm",
  ]);
  assert.deepEqual(changes(r.actions), ["NORMAL>COMMUNICATIONS-INTERRUPTED"]);
  assert.equal(r.state.comms.phase, "down");
});

Deno.test("a message more than 5 s skewed → DISCONNECT ExcessiveTimeSkew and drop (§7.1)", () => {
  const r = step(engineIn("NORMAL", { partner: "NORMAL" }), {
    type: "message-received",
    message: fo(35, [], 9, T0 - 7000),
  }, T0);
  assert.deepEqual(sentNames(r.actions), ["DISCONNECT"]);
  assert.equal(findOption(sent(r.actions)[0].options, 13)!.statusCode, 22);
  assert.ok(r.actions.some((a) => a.type === "close-connection"));
  assert.deepEqual(changes(r.actions), ["NORMAL>COMMUNICATIONS-INTERRUPTED"]);
});

Deno.test("bad peer input never throws: garbage, wrong message for the state, STATE without options", () => {
  const cases: [EngineState, Event, RegExp][] = [
    [
      engineIn("NORMAL", { partner: "NORMAL" }),
      { type: "message-received", errors: [] },
      /too short/,
    ],
    [engineIn("NORMAL", { partner: "NORMAL" }), {
      type: "message-received",
      message: fo(34, [{ code: 132, serverState: 2 }]),
    }, /STATE without/],
    [engineIn("NORMAL", { partner: "NORMAL" }), {
      type: "message-received",
      message: stateMsg("STARTUP"),
    }, /invalid server state/],
    [
      engineIn("NORMAL", { partner: "NORMAL" }),
      { type: "message-received", message: fo(31) },
      /unexpected CONNECT/,
    ],
  ];
  for (const [s, e, why] of cases) {
    const r = step(s, e, T0);
    const log = r.actions.find((a) => a.type === "log" && a.level === "warn");
    assert.ok(log && log.type === "log" && why.test(log.text), `${why}`);
    assert.deepEqual(sentNames(r.actions).at(0), "DISCONNECT");
    assert.equal(r.state.comms.phase, "down");
    assert.equal(r.state.counters.badMessages, 1);
  }
  // Before the partner's STATE only STATE, CONTACT and DISCONNECT are allowed.
  const waiting = {
    ...engineIn("NORMAL"),
    comms: { ...engineIn("NORMAL").comms, phase: "awaiting-state" as const },
  };
  const r = step(waiting, { type: "message-received", message: fo(28) }, T0);
  assert.deepEqual(sentNames(r.actions), ["DISCONNECT"]);
});

Deno.test("shutdown: DISCONNECT ServerShuttingDown, close, record the time of operation", () => {
  const r = step(engineIn("NORMAL", { partner: "NORMAL" }), {
    type: "operator-command",
    command: "shutdown",
  }, T0);
  assert.deepEqual(sentNames(r.actions), ["DISCONNECT"]);
  assert.equal(findOption(sent(r.actions)[0].options, 13)!.statusCode, 20);
  const rec = r.actions.find((a) => a.type === "persist");
  assert.ok(
    rec && rec.type === "persist" && rec.writes[0].type === "endpoint-state" &&
      rec.writes[0].record.lastOperationTime === T0,
  );
  assert.equal(r.state.stopped, true);
  // Nothing happens after a shutdown.
  assert.deepEqual(
    step(r.state, { type: "timer-fired", name: "contact" }, T0 + 60_000).actions,
    [],
  );
});

// ---------------------------------------------------------------------------------------
// BNDUPD received
// ---------------------------------------------------------------------------------------

Deno.test("BNDUPD accepted: time variables stored per §7.5.5, BNDREPLY after the write, echoes", () => {
  const s = engineIn("NORMAL", { partner: "NORMAL", role: "secondary" });
  const m = bndupdFor("2001:db8::1", {
    status: 1,
    start: W0 - 100,
    ste: W0 + 3600,
    pl: W0 + 5400,
    exp: W0 + 1800,
    clt: 30,
    raw: W0 - 50,
  }, 0x123);
  const r = step(s, { type: "message-received", message: m, bindings: [] }, T0);
  assert.deepEqual(types(r.actions), ["persist", "send 25"]);
  const [l] = persisted(r.actions);
  assert.equal(l.status, "ACTIVE");
  assert.equal(l.clientDuid, DUID);
  assert.equal(l.iaid, 7);
  assert.equal(l.startTimeOfState, fromWireTime(W0 - 100));
  assert.equal(l.stateExpirationTime, fromWireTime(W0 + 3600));
  assert.equal(l.expirationTime, fromWireTime(W0 + 5400)); // PARTNER_LIFETIME → expiration-time
  assert.equal(l.partnerLifetime, fromWireTime(W0 + 1800)); // EXPIRATION_TIME → partner-lifetime
  assert.equal(l.partnerRawCltTime, fromWireTime(W0 - 30)); // base − CLT_TIME
  assert.equal(l.cltTime, fromWireTime(W0 - 50)); // PARTNER_RAW_CLT_TIME (later than 0)
  assert.equal(l.owner, "primary"); // low-order bit 1
  const rep = reply(r.actions);
  assert.equal(rep.transactionId, 0x123);
  const acked = parseBndreply(rep).leases;
  assert.equal(acked.length, 1);
  assert.equal(acked[0].status.code, 0);
  assert.equal(acked[0].partnerLifetimeSent, fromWireTime(W0 + 5400));
  assert.equal(acked[0].stateExpirationTime, fromWireTime(W0 + 3600));
});

Deno.test("BNDUPD: PARTNER_RAW_CLT_TIME and EXPIRATION_TIME only raise the local values", () => {
  const local = activeLease("2001:db8::1", DUID, T0, {
    iaid: 7,
    cltTime: T0,
    partnerLifetime: T0 + 10_000_000,
  });
  const m = bndupdFor("2001:db8::1", {
    status: 1,
    ste: W0 + 3600,
    pl: W0 + 5400,
    exp: W0 + 1800,
    raw: W0 - 50,
  });
  const r = step(engineIn("NORMAL", { partner: "NORMAL" }), {
    type: "message-received",
    message: m,
    bindings: [local],
  }, T0);
  const [l] = persisted(r.actions);
  assert.equal(l.cltTime, T0);
  assert.equal(l.partnerLifetime, T0 + 10_000_000);
});

Deno.test("BNDUPD missing information → MissingBindingInformation at the lease, nothing stored", () => {
  const m = bndupdFor("2001:db8::1", { status: 1 }); // ACTIVE without the `*` options
  const r = step(engineIn("NORMAL", { partner: "NORMAL" }), {
    type: "message-received",
    message: m,
    bindings: [],
  }, T0);
  assert.deepEqual(types(r.actions), ["send 25"]);
  assert.equal(parseBndreply(reply(r.actions)).leases[0].status.code, 18);
  // No CLIENT_DATA at all: status at message level.
  const r2 = step(engineIn("NORMAL", { partner: "NORMAL" }), {
    type: "message-received",
    message: fo(24),
  }, T0);
  assert.equal(findOption(reply(r2.actions).options, 13)!.statusCode, 18);
});

Deno.test("BNDUPD outside the endpoint's prefixes → ConfigurationConflict", () => {
  const s = engineIn("NORMAL", { partner: "NORMAL", config: { prefixes: ["2001:db8:1::/64"] } });
  const m = bndupdFor("2001:db8::1", { status: 3 });
  const r = step(s, { type: "message-received", message: m, bindings: [] }, T0);
  assert.equal(parseBndreply(reply(r.actions)).leases[0].status.code, 17);
});

Deno.test("conflict: older RELEASED for a newer local ACTIVE → Outdated (19), flag set, BNDUPD at once after the BNDREPLY", () => {
  // Local: ACTIVE, this server talked to the client at T0 (its own clock).
  const local = activeLease("2001:db8::1", DUID, T0, { updatePending: false });
  const m = bndupdFor("2001:db8::1", { status: 3, start: W0 - 600, clt: 600 }, 0x321);
  let s = engineIn("NORMAL", { partner: "NORMAL" });
  const r = step(s, { type: "message-received", message: m, bindings: [local] }, T0 + 1000);
  assert.deepEqual(types(r.actions), ["persist", "send 25", "send 24"]);
  assert.equal(parseBndreply(reply(r.actions)).leases[0].status.code, 19);
  assert.equal(persisted(r.actions)[0].updatePending, true);
  assert.equal(persisted(r.actions)[0].status, "ACTIVE");
  // The second time (flag already set) the BNDREPLY goes alone: wait for the periodic scan.
  s = r.state;
  const flagged = persisted(r.actions)[0];
  const r2 = step(s, {
    type: "message-received",
    message: bndupdFor("2001:db8::1", { status: 3, start: W0 - 600, clt: 600 }, 0x322),
    bindings: [flagged],
  }, T0 + 2000);
  assert.deepEqual(types(r2.actions), ["send 25"]);
  assert.equal(parseBndreply(reply(r2.actions)).leases[0].status.code, 19);
});

Deno.test("conflict: ACTIVE for another client — the primary says AddressInUse, the secondary yields", () => {
  const local = activeLease("2001:db8::1", DUID, T0);
  const m = bndupdFor("2001:db8::1", {
    status: 1,
    duid: DUID2,
    ste: W0 + 3600,
    pl: W0 + 5400,
    exp: W0 + 1800,
    start: W0 - 3600,
  });
  const p = step(engineIn("NORMAL", { partner: "NORMAL" }), {
    type: "message-received",
    message: m,
    bindings: [local],
  }, T0);
  assert.equal(parseBndreply(reply(p.actions)).leases[0].status.code, 16);
  assert.deepEqual(persisted(p.actions), []); // AddressInUse does not touch the flag (§7.5.4)
  const sec = step(engineIn("NORMAL", { partner: "NORMAL", role: "secondary" }), {
    type: "message-received",
    message: m,
    bindings: [local],
  }, T0);
  assert.equal(parseBndreply(reply(sec.actions)).leases[0].status.code, 0);
  assert.equal(persisted(sec.actions)[0].clientDuid, DUID2);
});

// ---------------------------------------------------------------------------------------
// Sending: lease changes, BNDREPLY handling, flow control, UPDREQ → UPDDONE
// ---------------------------------------------------------------------------------------

function ackFor(update: FailoverMessage, code = 0): FailoverMessage {
  // What a partner answers: the BNDREPLY mirroring the BNDUPD (built by the same engine code
  // on the other side would need its own engine; here the tree is mirrored by hand).
  const cd = update.options[0] as { options: DhcpOption[] };
  const ia = cd.options.find((o) => o.code === 3) as {
    iaid: number;
    t1: number;
    t2: number;
    options: DhcpOption[];
  };
  const addr = ia.options[0] as {
    address: string;
    preferredLifetime: number;
    validLifetime: number;
    options: DhcpOption[];
  };
  const pl = findOption(addr.options, 123);
  const ste = findOption(addr.options, 134);
  const inner: DhcpOption[] = [];
  if (code) inner.push({ code: 13, statusCode: code, statusMessage: "no" });
  inner.push({ code: 114, bindingStatus: findOption(addr.options, 114)!.bindingStatus });
  if (ste) inner.push(ste);
  if (pl) inner.push({ code: 124, partnerLifetimeSent: pl.partnerLifetime });
  return fo(25, [
    clientData([
      cd.options[0],
      iaNa(ia.iaid, ia.t1, ia.t2, [
        iaAddr(addr.address, addr.preferredLifetime, addr.validLifetime, inner),
      ]),
    ]),
  ], update.transactionId);
}

Deno.test("lease change in NORMAL → BNDUPD; accepting BNDREPLY → acked-partner-lifetime, partner-lifetime 0", () => {
  const lease = activeLease("2001:db8::1", DUID, T0);
  let r = step(
    engineIn("NORMAL", { partner: "NORMAL" }),
    { type: "client-lease-changed", lease },
    T0,
  );
  assert.deepEqual(sentNames(r.actions), ["BNDUPD"]);
  const upd = sent(r.actions)[0];
  assert.deepEqual(upd.options[0].code, 45);
  assert.equal(r.state.outstanding.size, 1);
  r = step(
    r.state,
    { type: "message-received", message: ackFor(upd), bindings: [lease] },
    T0 + 100,
  );
  const [l] = persisted(r.actions);
  assert.equal(l.ackedPartnerLifetime, fromWireTime(toWireTime(T0 + 5400_000)));
  assert.equal(l.partnerLifetime, 0);
  assert.equal(l.updatePending, false);
  assert.equal(r.state.outstanding.size, 0);
  // The same change in COMMUNICATIONS-INTERRUPTED waits in storage (no send).
  const ci = step(engineIn("COMMUNICATIONS-INTERRUPTED", { commsOk: false }), {
    type: "client-lease-changed",
    lease,
  }, T0);
  assert.deepEqual(ci.actions, []);
});

Deno.test("BNDREPLY after the lease changed again keeps it pending; a rejection only records", () => {
  const lease = activeLease("2001:db8::1", DUID, T0);
  let r = step(
    engineIn("NORMAL", { partner: "NORMAL" }),
    { type: "client-lease-changed", lease },
    T0,
  );
  const upd = sent(r.actions)[0];
  const renewed = { ...lease, stateExpirationTime: T0 + 7200_000, expirationTime: T0 + 7200_000 };
  r = step(
    r.state,
    { type: "message-received", message: ackFor(upd), bindings: [renewed] },
    T0 + 100,
  );
  assert.equal(persisted(r.actions)[0].updatePending, true);
  // Rejected: nothing written, a log line, counted.
  let r2 = step(
    engineIn("NORMAL", { partner: "NORMAL" }),
    { type: "client-lease-changed", lease },
    T0,
  );
  r2 = step(r2.state, {
    type: "message-received",
    message: ackFor(sent(r2.actions)[0], 19),
    bindings: [lease],
  }, T0);
  assert.deepEqual(persisted(r2.actions), []);
  assert.equal(r2.state.counters.rejectionsReceived, 1);
});

Deno.test("EXPIRED/RELEASED acked → PENDING-FREE → FREE (primary's half) or FREE-BACKUP (secondary's half)", () => {
  for (const [addr, expect] of [["2001:db8::1", "FREE"], ["2001:db8::2", "FREE-BACKUP"]] as const) {
    const lease = activeLease(addr, DUID, T0, { status: "RELEASED", startTimeOfState: T0 });
    let r = step(
      engineIn("NORMAL", { partner: "NORMAL" }),
      { type: "client-lease-changed", lease },
      T0,
    );
    const upd = sent(r.actions)[0];
    // RELEASED has no timeout here: no `*` options (§7.4).
    const ia = (upd.options[0] as { options: DhcpOption[] }).options[2] as {
      options: DhcpOption[];
    };
    const codes = (ia.options[0] as { options: DhcpOption[] }).options.map((o) => o.code);
    assert.deepEqual(codes.filter((c) => c === 123 || c === 134 || c === 120), []);
    r = step(
      r.state,
      { type: "message-received", message: ackFor(upd), bindings: [lease] },
      T0 + 500,
    );
    const [l] = persisted(r.actions);
    assert.equal(l.status, expect);
    assert.equal(l.startTimeOfState, T0 + 500);
    assert.equal(l.owner, expect === "FREE" ? "primary" : "secondary");
  }
});

Deno.test("a prefix the secondary freed goes back to the primary: FREE announced after the ack (P17)", () => {
  const config = { prefixes: ["2001:db8:100::/56"] };
  const prefix = { kind: "pd" as const, address: "2001:db8:100:7::", prefixLength: 64 };
  // The secondary delegated it in COMMUNICATIONS-INTERRUPTED; the client's lifetime ended.
  const expired = activeLease(prefix.address, DUID, T0, {
    ...prefix,
    status: "EXPIRED",
    startTimeOfState: T0,
    owner: "secondary",
  });
  // The primary's copy of the grant: ACTIVE until the partner lifetime, the client's end passed.
  const primaryCopy: Lease = {
    ...expired,
    status: "ACTIVE",
    stateExpirationTime: T0,
    cltTime: 0,
    partnerRawCltTime: T0,
    updatePending: false,
  };
  let sec = step(
    engineIn("NORMAL", { partner: "NORMAL", role: "secondary", config }),
    { type: "client-lease-changed", lease: expired },
    T0,
  );
  const announceExpired = sent(sec.actions)[0];
  let pri = step(
    engineIn("NORMAL", { partner: "NORMAL", config }),
    { type: "message-received", message: announceExpired, bindings: [primaryCopy] },
    T0 + 100,
  );
  const [primaryExpired] = persisted(pri.actions);
  assert.equal(primaryExpired.status, "EXPIRED");
  sec = step(
    sec.state,
    { type: "message-received", message: sent(pri.actions)[0], bindings: [expired] },
    T0 + 200,
  );
  const [freed] = persisted(sec.actions);
  assert.deepEqual([freed.status, freed.owner, freed.updatePending], ["FREE", "primary", true]);
  const announceFree = sent(sec.actions).filter((m) => m.msgType === 24);
  assert.equal(announceFree.length, 1, "a BNDUPD tells the primary");
  pri = step(
    pri.state,
    { type: "message-received", message: announceFree[0], bindings: [primaryExpired] },
    T0 + 300,
  );
  const [primaryFree] = persisted(pri.actions);
  assert.deepEqual([primaryFree.status, primaryFree.owner], ["FREE", "primary"]);
  // Its BNDREPLY accepts; the secondary's update is done and nothing more goes out.
  sec = step(
    sec.state,
    { type: "message-received", message: sent(pri.actions)[0], bindings: [freed] },
    T0 + 400,
  );
  assert.equal(persisted(sec.actions)[0]?.updatePending, false);
  assert.deepEqual(sent(sec.actions).filter((m) => m.msgType === 24), []);
  // The primary freeing its own prefix needs to tell nobody: the secondary cannot use it.
  const own = { ...expired, owner: "primary" as const };
  let p2 = step(
    engineIn("NORMAL", { partner: "NORMAL", config }),
    { type: "client-lease-changed", lease: own },
    T0,
  );
  const s2 = step(
    engineIn("NORMAL", { partner: "NORMAL", role: "secondary", config }),
    { type: "message-received", message: sent(p2.actions)[0], bindings: [] },
    T0 + 100,
  );
  p2 = step(
    p2.state,
    { type: "message-received", message: sent(s2.actions)[0], bindings: [own] },
    T0 + 200,
  );
  assert.deepEqual(
    [persisted(p2.actions)[0].status, persisted(p2.actions)[0].updatePending],
    ["FREE", false],
  );
  assert.deepEqual(sent(p2.actions).filter((m) => m.msgType === 24), []);
});

Deno.test("a binding already in an unanswered BNDUPD is not sent again; UPDDONE waits for that BNDREPLY", () => {
  const others = [9, 10].map((n) => activeLease(`2001:db8::${n}`, DUID, T0));
  const lease = activeLease("2001:db8::1", DUID, T0, { status: "EXPIRED", startTimeOfState: T0 });
  // A window of two, both in flight; the lazy update of `lease` waits in the queue.
  let r = step(
    engineIn("NORMAL", { partner: "NORMAL", maxUnacked: 2 }),
    { type: "client-lease-changed", lease: others[0] },
    T0,
  );
  const otherUpds = sent(r.actions);
  r = step(r.state, { type: "client-lease-changed", lease: others[1] }, T0);
  otherUpds.push(...sent(r.actions));
  r = step(r.state, { type: "client-lease-changed", lease }, T0 + 1);
  assert.equal(otherUpds.length, 2);
  assert.deepEqual(sent(r.actions), [], "the window is full");
  // The partner's UPDREQ reads the same pending binding (queued, not yet in flight).
  r = step(r.state, { type: "message-received", message: fo(28, [], 0x77) }, T0 + 2);
  const read = r.actions.find((a) => a.type === "read-bindings");
  assert.ok(read && read.type === "read-bindings");
  r = step(
    r.state,
    { type: "bindings-read", stream: read.stream, leases: [lease], done: true },
    T0 + 3,
  );
  assert.equal(r.state.outstanding.size, 2);
  // One answered: the lazy copy of `lease` goes out.
  r = step(
    r.state,
    { type: "message-received", message: ackFor(otherUpds[0]), bindings: [others[0]] },
    T0 + 4,
  );
  const lazy = sent(r.actions);
  assert.deepEqual(lazy.map((m) => m.msgType), [24]);
  // The other answered: the UPDREQ's copy of `lease` would go now, but the same binding is in
  // flight: it is not sent again, and the UPDREQ waits for that BNDUPD's answer.
  r = step(
    r.state,
    { type: "message-received", message: ackFor(otherUpds[1]), bindings: [others[1]] },
    T0 + 5,
  );
  assert.deepEqual(sent(r.actions), [], "neither a second copy nor UPDDONE");
  r = step(
    r.state,
    { type: "message-received", message: ackFor(lazy[0]), bindings: [lease] },
    T0 + 6,
  );
  assert.deepEqual(sent(r.actions).map((m) => [m.msgType, m.transactionId]), [[30, 0x77]]);
});

Deno.test("UPDREQ: BNDUPDs within the partner's window, UPDDONE (same id) only after the last BNDREPLY", () => {
  let s = engineIn("PARTNER-DOWN", { partner: "RECOVER", maxUnacked: 2, role: "secondary" });
  let r = step(s, { type: "message-received", message: fo(28, [], 0x4242) }, T0);
  const read = r.actions.find((a) => a.type === "read-bindings");
  assert.ok(read && read.type === "read-bindings" && read.source.kind === "pending");
  const leases = [1, 2, 3, 4, 5].map((i) => activeLease(`2001:db8::${i}`, DUID, T0));
  r = step(r.state, { type: "bindings-read", stream: read.stream, leases, done: true }, T0);
  assert.deepEqual(sentNames(r.actions), ["BNDUPD", "BNDUPD"]); // window of 2
  s = r.state;
  const order: string[] = [];
  const inflight = [...sent(r.actions)];
  let maxOutstanding = s.outstanding.size;
  while (inflight.length > 0) {
    const u = inflight.shift()!;
    const key =
      (((u.options[0] as { options: DhcpOption[] }).options[2] as { options: DhcpOption[] })
        .options[0] as { address: string }).address;
    const local = leases.find((l) => l.address === key)!;
    r = step(s, { type: "message-received", message: ackFor(u), bindings: [local] }, T0);
    s = r.state;
    maxOutstanding = Math.max(maxOutstanding, s.outstanding.size);
    for (const m of sent(r.actions)) {
      order.push(m.msgType === 24 ? "BNDUPD" : m.msgType === 30 ? "UPDDONE" : String(m.msgType));
      if (m.msgType === 24) inflight.push(m);
      if (m.msgType === 30) assert.equal(m.transactionId, 0x4242);
    }
  }
  assert.deepEqual(order, ["BNDUPD", "BNDUPD", "BNDUPD", "UPDDONE"]);
  assert.ok(maxOutstanding <= 2);
  assert.equal(s.jobs.length, 0);
});

Deno.test("UPDREQALL with no bindings: UPDDONE at once", () => {
  let r = step(engineIn("PARTNER-DOWN", { partner: "RECOVER" }), {
    type: "message-received",
    message: fo(29, [], 9),
  }, T0);
  const read = r.actions.find((a) => a.type === "read-bindings");
  assert.ok(read && read.type === "read-bindings" && read.source.kind === "all");
  r = step(r.state, { type: "bindings-read", stream: read.stream, leases: [], done: true }, T0);
  assert.deepEqual(sentNames(r.actions), ["UPDDONE"]);
  assert.ok(r.actions.some((a) => a.type === "close-bindings"));
});

Deno.test("transaction-ids: an outstanding UPDREQ's id is never reused (§5.4)", () => {
  let s = engineIn("RECOVER", { partner: null });
  s = { ...s, nextXid: 0xff_fffe };
  let r = step(s, { type: "message-received", message: stateMsg("PARTNER-DOWN") }, T0);
  const req = sent(r.actions).find((m) => m.msgType === 28)!;
  assert.equal(req.transactionId, 0xff_fffe);
  // Wrap the counter around to the same id: it is skipped.
  s = { ...r.state, nextXid: 0xff_fffe };
  r = step(s, { type: "timer-fired", name: "contact" }, T0 + 60_000);
  assert.notEqual(sent(r.actions)[0].transactionId, 0xff_fffe);
});

// ---------------------------------------------------------------------------------------
// Pools
// ---------------------------------------------------------------------------------------

Deno.test("POOLREQ → POOLRESP (same id), then FREE prefixes handed over as FREE-BACKUP (§4.2.2)", () => {
  let r = step(engineIn("NORMAL", { partner: "NORMAL" }), {
    type: "message-received",
    message: fo(26, [], 0x66),
  }, T0);
  assert.deepEqual(sentNames(r.actions), ["POOLRESP"]);
  assert.equal(sent(r.actions)[0].transactionId, 0x66);
  const count = r.actions.find((a) => a.type === "read-bindings");
  assert.ok(count && count.type === "read-bindings" && count.source.kind === "pool-counts");
  r = step(r.state, {
    type: "bindings-read",
    stream: count.stream,
    leases: [],
    done: true,
    counts: [{ pool: "pd", kind: "pd", owner: "primary", status: "FREE", count: 8 }],
  }, T0);
  const list = r.actions.find((a) => a.type === "read-bindings");
  assert.ok(list && list.type === "read-bindings" && list.source.kind === "list");
  assert.equal(list.source.query.limit, 4);
  const prefixes = [0, 1, 2, 3].map((i) => ({
    ...emptyLease({ kind: "pd", address: `2001:db8:0:${i}::`, prefixLength: 64 }, "FREE"),
    owner: "primary" as const,
    pool: "pd",
  }));
  r = step(
    r.state,
    { type: "bindings-read", stream: list.stream, leases: prefixes, done: true },
    T0 + 5,
  );
  // Each is stored as FREE-BACKUP (owner secondary) before its BNDUPD goes out.
  assert.deepEqual(types(r.actions).filter((t) => t === "persist" || t === "send 24"), [
    "persist",
    "send 24",
    "persist",
    "send 24",
    "persist",
    "send 24",
    "persist",
    "send 24",
  ]);
  const first = sent(r.actions)[0];
  assert.equal(first.options[0].code, 26); // standalone IAPREFIX (shape B)
  assert.equal(
    findOption((first.options[0] as { options: DhcpOption[] }).options, 114)!.bindingStatus,
    6,
  );
  assert.deepEqual(
    persisted(r.actions).map((l) => [l.status, l.owner]),
    Array(4).fill(["FREE-BACKUP", "secondary"]),
  );
});

Deno.test("a secondary entering NORMAL flushes its pending updates, then sends POOLREQ", () => {
  let r = step(engineIn("COMMUNICATIONS-INTERRUPTED", { role: "secondary", partner: null }), {
    type: "message-received",
    message: stateMsg("NORMAL"),
  }, T0);
  assert.deepEqual(changes(r.actions), ["COMMUNICATIONS-INTERRUPTED>NORMAL"]);
  const read = r.actions.find((a) => a.type === "read-bindings");
  assert.ok(read && read.type === "read-bindings");
  const lease = activeLease("2001:db8::2", DUID, T0);
  r = step(
    r.state,
    { type: "bindings-read", stream: read.stream, leases: [lease], done: true },
    T0,
  );
  assert.deepEqual(sentNames(r.actions), ["BNDUPD"]);
  r = feed(r.state, [{
    type: "message-received",
    message: ackFor(sent(r.actions)[0]),
    bindings: [lease],
  }]);
  assert.deepEqual(sentNames(r.actions), ["POOLREQ"]);
});
