/**
 * The pure core from creation: STARTUP from empty storage for each role, with stored state,
 * the STARTUP timer, and the CONNECT/CONNECTREPLY checks (RFC 8156 §6.1, §8.3), asserted as
 * exact action sequences on a fake time line.
 */
import assert from "node:assert/strict";
import { type Action, createEngine, type EngineState, step } from "../../lib/failover/engine.ts";
import { findOption } from "../../lib/wire/options.ts";
import type { FailoverMessage } from "../../lib/wire/types.ts";
import { toWireTime } from "../../lib/failover/binding.ts";
import { changes, connectMsg, feed, fo, record, sent, sentNames, stateMsg, T0 } from "./helpers.ts";

const W0 = toWireTime(T0);

function serverState(m: FailoverMessage): [number, number] {
  return [findOption(m.options, 132)!.serverState, findOption(m.options, 131)!.flags];
}

function timers(actions: readonly Action[]): string[] {
  return actions.flatMap((a) =>
    a.type === "set-timer"
      ? [`set ${a.name} +${(a.at - T0) / 1000}`]
      : a.type === "cancel-timer"
      ? [`cancel ${a.name}`]
      : []
  );
}

Deno.test("STARTUP from empty storage, primary: exact actions through to RECOVER and UPDREQ", () => {
  const created = createEngine({ role: "primary", relationship: "rel", mclt: 3600 }, undefined, T0);
  // Stores the STARTUP record (PREVIOUS-STATE RECOVER, §8.3.2 step 1) and arms the timers.
  assert.deepEqual(created.actions.map((a) => a.type), [
    "persist",
    "set-timer",
    "set-timer",
    "set-timer",
  ]);
  const p = created.actions[0];
  assert.ok(p.type === "persist" && p.writes[0].type === "endpoint-state");
  const rec = p.writes[0].record;
  assert.equal(rec.state, "STARTUP");
  assert.equal(rec.previousState, "RECOVER");
  assert.equal(rec.lastContactTime, 0);
  assert.deepEqual(timers(created.actions), [
    "set startup +10",
    "set heartbeat +60",
    "set update-scan +30",
  ]);

  // TCP up: the primary sends CONNECT with the five options and its relationship name.
  let r = step(created.state, { type: "connection-up", peer: "::1" }, T0 + 1000);
  assert.deepEqual(timers(r.actions).map((t) => t.replace("+61", "+K")), ["set keepalive +K"]);
  const [connect] = sent(r.actions);
  assert.equal(connect.msgType, 31);
  assert.equal(connect.sentTime, W0 + 1);
  assert.deepEqual(connect.options.map((o) => o.code), [127, 122, 128, 121, 115, 130]);
  assert.equal(findOption(connect.options, 122)!.mclt, 3600);
  assert.equal(findOption(connect.options, 130)!.relationshipName, "rel");
  assert.equal(r.state.comms.phase, "awaiting-connectreply");

  // An accepting CONNECTREPLY: STATE with the STARTUP flag and the previous state (§8.3.1).
  r = step(r.state, {
    type: "message-received",
    message: connectMsg(32, { now: T0 + 1000 }, connect.transactionId),
  }, T0 + 1000);
  assert.deepEqual(sentNames(r.actions), ["STATE"]);
  assert.deepEqual(serverState(sent(r.actions)[0]), [6, 0x02]); // RECOVER, S=1, C=0
  assert.deepEqual(timers(r.actions), ["set contact +16"]); // FO_SEND_TIME = 60/4 s after the send
  assert.equal(r.state.comms.phase, "awaiting-state");

  // The secondary's STATE (itself in STARTUP): communications OK → STARTUP ends (§8.3.2 step 5).
  r = step(r.state, {
    type: "message-received",
    message: stateMsg("RECOVER", { flags: 0x02, now: T0 + 2000 }),
  }, T0 + 2000);
  assert.deepEqual(changes(r.actions), ["STARTUP>RECOVER"]);
  assert.ok(timers(r.actions).includes("cancel startup"));
  // The new state goes out without the S flag and with A set (the partner is in STARTUP);
  // no UPDREQ yet: a partner in STARTUP drives no transition.
  assert.deepEqual(sentNames(r.actions), ["STATE"]);
  assert.deepEqual(serverState(sent(r.actions)[0]), [6, 0x04]);

  // The secondary leaves STARTUP and says RECOVER: the primary asks for updates (§8.5.2).
  r = step(r.state, {
    type: "message-received",
    message: stateMsg("RECOVER", { flags: 0x00, now: T0 + 3000 }),
  }, T0 + 3000);
  assert.deepEqual(changes(r.actions), []);
  assert.deepEqual(sentNames(r.actions), ["UPDREQ"]);
  assert.deepEqual(timers(r.actions), ["set upddone +123"]);
  assert.equal(r.state.request?.kind, "UPDREQ");
});

Deno.test("STARTUP from empty storage, secondary: waits for CONNECT, answers, STATE", () => {
  const created = createEngine(
    { role: "secondary", relationship: "rel", mclt: 600 },
    undefined,
    T0,
  );
  assert.equal(created.state.endpoint.previousState, "RECOVER");
  let r = step(created.state, { type: "connection-up" }, T0);
  assert.deepEqual(sentNames(r.actions), []); // the secondary never speaks first
  assert.equal(r.state.comms.phase, "awaiting-connect");
  r = step(
    r.state,
    { type: "message-received", message: connectMsg(31, { mclt: 3600 }, 0x77) },
    T0,
  );
  // Adopts the primary's MCLT (stored), answers CONNECTREPLY echoing the id, then STATE.
  assert.deepEqual(r.actions.map((a) => a.type), ["log", "persist", "send", "send", "set-timer"]);
  const [reply, state] = sent(r.actions);
  assert.equal(reply.msgType, 32);
  assert.equal(reply.transactionId, 0x77);
  assert.equal(findOption(reply.options, 122)!.mclt, 3600);
  assert.equal(findOption(reply.options, 13), undefined);
  assert.equal(r.state.endpoint.mclt, 3600);
  assert.deepEqual(serverState(state), [6, 0x02]);
  r = step(r.state, {
    type: "message-received",
    message: stateMsg("PARTNER-DOWN", { flags: 0x01, start: T0 - 10_000 }),
  }, T0);
  // The partner went PARTNER-DOWN after this server last ran (never): RECOVER, then UPDREQALL?
  // No: this server has no record of the partner but the partner has one (C=1) → UPDREQALL.
  assert.deepEqual(changes(r.actions), ["STARTUP>RECOVER"]);
  assert.deepEqual(sentNames(r.actions), ["STATE", "UPDREQALL"]);
});

Deno.test("STARTUP timer: empty storage goes to RECOVER, or PARTNER-DOWN when so configured", () => {
  for (const [cfg, expect] of [[undefined, "RECOVER"], ["PARTNER-DOWN", "PARTNER-DOWN"]] as const) {
    const c = createEngine(
      { role: "primary", relationship: "rel", mclt: 3600, emptyStorageState: cfg },
      undefined,
      T0,
    );
    const r = step(c.state, { type: "timer-fired", name: "startup" }, T0 + 10_000);
    assert.deepEqual(changes(r.actions), [`STARTUP>${expect}`]);
    assert.deepEqual(sentNames(r.actions), []); // communications are not OK
  }
  // A stored record wins over the option: previous state.
  const c = createEngine(
    { role: "secondary", relationship: "rel", mclt: 3600, emptyStorageState: "PARTNER-DOWN" },
    record("RECOVER-WAIT"),
    T0,
  );
  assert.deepEqual(changes(step(c.state, { type: "timer-fired", name: "startup" }, T0).actions), [
    "STARTUP>RECOVER-WAIT",
  ]);
});

Deno.test("STARTUP with a stored NORMAL: PREVIOUS-STATE is COMMUNICATIONS-INTERRUPTED (§8.3.2 step 2)", () => {
  const c = createEngine(
    { role: "primary", relationship: "rel", mclt: 3600 },
    record("NORMAL"),
    T0,
  );
  assert.deepEqual(changes(c.actions), ["NORMAL>STARTUP"]);
  assert.equal(c.state.endpoint.previousState, "COMMUNICATIONS-INTERRUPTED");
  assert.equal(c.state.startup.timeOfFailure, T0 - 600_000);
  let r = feed(c.state, [
    { type: "connection-up" },
    { type: "message-received", message: connectMsg(32, {}, 1) },
  ]);
  // STATE during STARTUP: S and C set (the record shows earlier contact).
  assert.deepEqual(serverState(sent(r.actions).at(-1)!), [3, 0x03]);
  // Partner NORMAL: STARTUP → COMMUNICATIONS-INTERRUPTED → NORMAL (§8.9.2).
  r = step(r.state, { type: "message-received", message: stateMsg("NORMAL") }, T0);
  assert.deepEqual(changes(r.actions), [
    "STARTUP>COMMUNICATIONS-INTERRUPTED",
    "COMMUNICATIONS-INTERRUPTED>NORMAL",
  ]);
  assert.deepEqual(sentNames(r.actions).slice(0, 2), ["STATE", "STATE"]);
  // NORMAL starts flushing unacknowledged updates.
  assert.ok(r.actions.some((a) => a.type === "read-bindings" && a.source.kind === "pending"));
});

Deno.test("STARTUP meets a partner in PARTNER-DOWN: RECOVER if it went down after us, else POTENTIAL-CONFLICT", () => {
  const tof = T0 - 600_000; // record() stores lastOperationTime T0 - 600 s
  for (
    const [start, expect] of [[tof + 60_000, "RECOVER"], [
      tof - 60_000,
      "POTENTIAL-CONFLICT",
    ]] as const
  ) {
    const c = createEngine(
      { role: "primary", relationship: "rel", mclt: 3600 },
      record("NORMAL"),
      T0,
    );
    const r = feed(c.state, [
      { type: "connection-up" },
      { type: "message-received", message: connectMsg(32, {}, 1) },
      { type: "message-received", message: stateMsg("PARTNER-DOWN", { start }) },
    ]);
    assert.equal(changes(r.actions)[0], `STARTUP>${expect}`);
    // Either way the primary then asks for updates: UPDREQ (RECOVER §8.5.2, or
    // POTENTIAL-CONFLICT §8.10 entry).
    assert.ok(sentNames(r.actions).includes("UPDREQ"));
  }
});

// ---------------------------------------------------------------------------------------
// CONNECT checks (secondary, §6.1.2)
// ---------------------------------------------------------------------------------------

function secondaryConnected(): EngineState {
  const c = createEngine({ role: "secondary", relationship: "rel", mclt: 3600 }, undefined, T0);
  return step(c.state, { type: "connection-up" }, T0).state;
}

function rejectStatus(actions: readonly Action[]): number | undefined {
  const reply = sent(actions).find((m) => m.msgType === 32);
  return reply ? findOption(reply.options, 13)?.statusCode : undefined;
}

Deno.test("CONNECT with sent-time 6 s off → CONNECTREPLY ExcessiveTimeSkew (22) and close", () => {
  for (const off of [6000, -6000]) {
    const r = step(secondaryConnected(), {
      type: "message-received",
      message: connectMsg(31, { now: T0 + off }),
    }, T0);
    assert.equal(rejectStatus(r.actions), 22);
    assert.deepEqual(sentNames(r.actions), ["CONNECTREPLY"]);
    const close = r.actions.find((a) => a.type === "close-connection");
    assert.ok(close && close.type === "close-connection" && close.status === 22);
    assert.equal(r.state.comms.phase, "down");
  }
  // 5 s is within the allowance.
  const ok = step(secondaryConnected(), {
    type: "message-received",
    message: connectMsg(31, { now: T0 + 5000 }),
  }, T0);
  assert.equal(rejectStatus(ok.actions), undefined);
  assert.deepEqual(sentNames(ok.actions), ["CONNECTREPLY", "STATE"]);
});

Deno.test("CONNECT rejections: version → NotSupported, relationship/flags → ConfigurationConflict, missing → UnspecFail", () => {
  const version = fo(31, [
    { code: 127, majorVersion: 2, minorVersion: 0 },
    { code: 122, mclt: 3600 },
    { code: 128, keepaliveTime: 60 },
    { code: 121, maxUnackedBndupd: 10 },
    { code: 115, flags: 0 },
  ]);
  assert.equal(
    rejectStatus(
      step(secondaryConnected(), { type: "message-received", message: version }, T0).actions,
    ),
    14,
  );
  const name = connectMsg(31, { name: "other" });
  assert.equal(
    rejectStatus(
      step(secondaryConnected(), { type: "message-received", message: name }, T0).actions,
    ),
    17,
  );
  const flags = connectMsg(31);
  flags.options[4] = { code: 115, flags: 1 };
  assert.equal(
    rejectStatus(
      step(secondaryConnected(), { type: "message-received", message: flags }, T0).actions,
    ),
    17,
  );
  const missing = fo(31, [{ code: 127, majorVersion: 1, minorVersion: 0 }, {
    code: 122,
    mclt: 3600,
  }]);
  const r = step(secondaryConnected(), { type: "message-received", message: missing }, T0);
  assert.equal(rejectStatus(r.actions), 1);
  const st = findOption(sent(r.actions)[0].options, 13)!;
  assert.match(st.statusMessage, /OPTION_F_KEEPALIVE_TIME/);
  // A CONNECT without a relationship name is accepted (§6.1.1).
  const anon = fo(31, [
    { code: 127, majorVersion: 1, minorVersion: 0 },
    { code: 122, mclt: 3600 },
    {
      code: 128,
      keepaliveTime: 60,
    },
    { code: 121, maxUnackedBndupd: 10 },
    { code: 115, flags: 0 },
  ]);
  assert.equal(
    rejectStatus(
      step(secondaryConnected(), { type: "message-received", message: anon }, T0).actions,
    ),
    undefined,
  );
});

// ---------------------------------------------------------------------------------------
// CONNECTREPLY checks (primary, §6.1.3)
// ---------------------------------------------------------------------------------------

function primaryConnecting(): EngineState {
  const c = createEngine({ role: "primary", relationship: "rel", mclt: 3600 }, undefined, T0);
  return step(c.state, { type: "connection-up" }, T0).state;
}

function disconnectStatus(actions: readonly Action[]): number | undefined {
  const d = sent(actions).find((m) => m.msgType === 33);
  return d ? findOption(d.options, 13)?.statusCode : undefined;
}

Deno.test("CONNECTREPLY with another MCLT → DISCONNECT ConfigurationConflict and close", () => {
  const r = step(primaryConnecting(), {
    type: "message-received",
    message: connectMsg(32, { mclt: 1800 }, 1),
  }, T0);
  assert.deepEqual(sentNames(r.actions), ["DISCONNECT"]);
  assert.equal(disconnectStatus(r.actions), 17);
  assert.ok(r.actions.some((a) => a.type === "close-connection" && a.rejected === true));
  assert.equal(r.state.comms.phase, "down");
});

Deno.test("CONNECTREPLY with an unsupported version → DISCONNECT NotSupported", () => {
  const m = connectMsg(32, {}, 1);
  m.options[0] = { code: 127, majorVersion: 1, minorVersion: 9 };
  const r = step(primaryConnecting(), { type: "message-received", message: m }, T0);
  assert.equal(disconnectStatus(r.actions), 14);
});

Deno.test("CONNECTREPLY carrying a status: the secondary rejected us; close, retry less often", () => {
  const m = fo(32, [{ code: 13, statusCode: 22, statusMessage: "skew" }], 1);
  const r = step(primaryConnecting(), { type: "message-received", message: m }, T0);
  assert.deepEqual(sentNames(r.actions), []);
  const close = r.actions.find((a) => a.type === "close-connection");
  assert.ok(close && close.type === "close-connection" && close.rejected === true);
  assert.ok(r.actions.some((a) => a.type === "alarm"));
});

Deno.test("CONNECTREPLY 6 s skewed → DISCONNECT ExcessiveTimeSkew (§7.1)", () => {
  const r = step(primaryConnecting(), {
    type: "message-received",
    message: connectMsg(32, { now: T0 - 6000 }, 1),
  }, T0);
  assert.equal(disconnectStatus(r.actions), 22);
});

Deno.test("keepalive values: CONTACT period follows the partner's FO_KEEPALIVE_TIME / 4", () => {
  const r = step(primaryConnecting(), {
    type: "message-received",
    message: connectMsg(32, { keepalive: 20 }, 1),
  }, T0);
  assert.deepEqual(timers(r.actions), ["set contact +5"]);
});
