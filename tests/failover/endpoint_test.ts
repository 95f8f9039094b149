/**
 * Every transition of RFC 8156 §8.4.2–§8.12.2 (digest §6.4), driven through the engine: an
 * engine is put into a state (plain data), one event is fed, and the exact chain of state
 * changes (the engine keeps following the partner's state, §8.1) and the STATE messages sent
 * are checked against the digest's table, written out here independently of `endpoint.ts`.
 */
import assert from "node:assert/strict";
import { type EngineState, type Event, step } from "../../lib/failover/engine.ts";
import {
  clientService,
  findTransition,
  startupPreviousState,
  stateCode,
  stateFromCode,
} from "../../lib/failover/endpoint.ts";
import type { EndpointStateName } from "../../lib/store/types.ts";
import { changes, engineIn, fo, sent, stateMsg, T0 } from "./helpers.ts";
import { statusCode } from "../../lib/wire/options.ts";

type Role = "primary" | "secondary";
interface Case {
  from: EndpointStateName;
  role?: Role;
  event: string;
  /** Expected chain of state changes. */
  expect: string[];
  /** Messages expected among those sent (by type name), besides STATE. */
  sends?: string[];
  ref: string;
}

const PD = "PARTNER-DOWN";
const CI = "COMMUNICATIONS-INTERRUPTED";
const PC = "POTENTIAL-CONFLICT";
const RI = "RESOLUTION-INTERRUPTED";
const RW = "RECOVER-WAIT";
const RD = "RECOVER-DONE";
const CD = "CONFLICT-DONE";

const CASES: Case[] = [
  // PARTNER-DOWN §8.4.2
  { from: PD, event: "startup:NORMAL", expect: [], ref: "§8.4.2 ignore STARTUP" },
  { from: PD, event: "partner:NORMAL", expect: [`${PD}>${PC}`], sends: ["UPDREQ"], ref: "§8.4.2" },
  { from: PD, event: `partner:${CI}`, expect: [`${PD}>${PC}`], ref: "§8.4.2" },
  { from: PD, event: `partner:${PD}`, expect: [`${PD}>${PC}`], ref: "§8.4.2" },
  { from: PD, event: `partner:${PC}`, expect: [`${PD}>${PC}`], ref: "§8.4.2" },
  { from: PD, event: `partner:${RI}`, expect: [`${PD}>${PC}`], ref: "§8.4.2" },
  { from: PD, event: `partner:${CD}`, expect: [`${PD}>${PC}`], ref: "§8.4.2" },
  { from: PD, event: "partner:RECOVER", expect: [], ref: "§8.4.2" },
  { from: PD, event: `partner:${RW}`, expect: [], ref: "§8.4.2" },
  { from: PD, event: `partner:${RD}`, expect: [`${PD}>NORMAL`], ref: "§8.4.2" },
  // RECOVER §8.5.2
  { from: "RECOVER", event: `partner:${PC}`, expect: [`RECOVER>${PC}`], ref: "§8.5.2" },
  { from: "RECOVER", event: `partner:${RI}`, expect: [`RECOVER>${PC}`], ref: "§8.5.2" },
  { from: "RECOVER", event: `partner:${CD}`, expect: [`RECOVER>${PC}`], ref: "§8.5.2" },
  { from: "RECOVER", event: `partner:${PD}`, expect: [], sends: ["UPDREQ"], ref: "§8.5.2" },
  { from: "RECOVER", event: "partner:NORMAL", expect: [], sends: ["UPDREQ"], ref: "§8.5.2" },
  { from: "RECOVER", event: `partner:${CI}`, expect: [], sends: ["UPDREQ"], ref: "§8.5.2" },
  { from: "RECOVER", event: "upddone", expect: [`RECOVER>${RW}`], ref: "§8.5.2" },
  { from: "RECOVER", event: "comms-failed", expect: [], ref: "§8.5.2" },
  // RECOVER-WAIT §8.6.2
  { from: RW, event: "timer:recover-wait", expect: [`${RW}>${RD}`], ref: "§8.6.2" },
  { from: RW, event: "comms-failed", expect: [], ref: "§8.6.2" },
  // RECOVER-DONE §8.7.2
  { from: RD, event: "partner:NORMAL", expect: [`${RD}>NORMAL`], role: "secondary", ref: "§8.7.2" },
  { from: RD, event: `partner:${RD}`, expect: [`${RD}>NORMAL`], ref: "§8.7.2" },
  { from: RD, event: "partner:RECOVER", expect: [`${RD}>${CI}`], ref: "§8.7.2" },
  { from: RD, event: `partner:${RW}`, expect: [`${RD}>${CI}`], ref: "§8.7.2" },
  { from: RD, event: `partner:${PC}`, expect: [`${RD}>${PC}`], ref: "§8.7.2" },
  { from: RD, event: `partner:${PD}`, expect: [], ref: "§8.7.2 (waits for the partner)" },
  { from: RD, event: "comms-failed", expect: [], ref: "§8.7.2" },
  // NORMAL §8.8.2
  { from: "NORMAL", event: "command:partner-down", expect: [`NORMAL>${PD}`], ref: "§8.8.2" },
  { from: "NORMAL", event: "comms-failed", expect: [`NORMAL>${CI}`], ref: "§8.8.2" },
  { from: "NORMAL", event: "disconnect", expect: [`NORMAL>${CI}`], ref: "§8.8.2" },
  { from: "NORMAL", event: "timer:keepalive", expect: [`NORMAL>${CI}`], ref: "§8.8.2" },
  {
    from: "NORMAL",
    event: `partner:${PD}`,
    expect: [`NORMAL>${CI}`, `${CI}>${PC}`],
    ref: "§8.8.2",
  },
  {
    from: "NORMAL",
    event: `partner:${PC}`,
    expect: [`NORMAL>${CI}`, `${CI}>${PC}`],
    ref: "§8.8.2",
  },
  { from: "NORMAL", event: "partner:RECOVER", expect: [`NORMAL>${CI}`], ref: "§8.8.2" },
  { from: "NORMAL", event: "partner:NORMAL", expect: [], ref: "§8.8.2 (expected)" },
  { from: "NORMAL", event: `partner:${CI}`, expect: [], ref: "§8.8.2 (expected)" },
  // COMMUNICATIONS-INTERRUPTED §8.9.2
  { from: CI, event: "timer:auto-partner-down", expect: [`${CI}>${PD}`], ref: "§8.9.2" },
  { from: CI, event: "command:partner-down", expect: [`${CI}>${PD}`], ref: "§8.9.2" },
  { from: CI, event: "partner:NORMAL", expect: [`${CI}>NORMAL`], ref: "§8.9.2" },
  { from: CI, event: `partner:${CI}`, expect: [`${CI}>NORMAL`], ref: "§8.9.2" },
  { from: CI, event: "partner:RECOVER", expect: [], ref: "§8.9.2" },
  { from: CI, event: `partner:${RD}`, expect: [`${CI}>NORMAL`], ref: "§8.9.2" },
  { from: CI, event: `partner:${PD}`, expect: [`${CI}>${PC}`], ref: "§8.9.2" },
  { from: CI, event: `partner:${PC}`, expect: [`${CI}>${PC}`], ref: "§8.9.2" },
  { from: CI, event: `partner:${CD}`, expect: [`${CI}>${PC}`], ref: "§8.9.2" },
  { from: CI, event: `partner:${RI}`, expect: [`${CI}>${PC}`], ref: "§8.9.2" },
  { from: CI, event: `partner:${RW}`, expect: [], ref: "Figure 6, decision D3" },
  // POTENTIAL-CONFLICT §8.10.2
  { from: PC, event: "comms-failed", expect: [`${PC}>${RI}`], ref: "§8.10.2" },
  { from: PC, event: "upddone", expect: [`${PC}>${CD}`], ref: "§8.10.2" },
  { from: PC, role: "secondary", event: "upddone", expect: [`${PC}>NORMAL`], ref: "§8.10.2" },
  {
    from: PC,
    role: "secondary",
    event: `partner:${CD}`,
    expect: [],
    sends: ["UPDREQ"],
    ref: "§8.10.2",
  },
  { from: PC, role: "primary", event: `partner:${PC}`, expect: [], ref: "§8.10.2" },
  // RESOLUTION-INTERRUPTED §8.11.2
  { from: RI, event: "command:partner-down", expect: [`${RI}>${PD}`], ref: "§8.11.2" },
  {
    from: RI,
    role: "secondary",
    event: `reconnect:${PC}`,
    expect: [`${RI}>${PC}`],
    ref: "§8.11.2",
  },
  // CONFLICT-DONE §8.12.2
  { from: CD, event: "comms-failed", expect: [], ref: "§8.12.2" },
  { from: CD, event: "partner:NORMAL", expect: [`${CD}>NORMAL`], ref: "§8.12.2" },
];

function commsDownFor(c: Case): boolean {
  return (c.event.startsWith("timer:") && c.event !== "timer:keepalive") ||
    c.event.startsWith("command:") || c.event.startsWith("reconnect:");
}

/** The partner state known before the event, where the event is not a STATE. */
function partnerBefore(c: Case): EndpointStateName | null {
  if (c.event.startsWith("partner:") || c.event.startsWith("startup:")) return null;
  // Realistic partners: RECOVER asked a PARTNER-DOWN partner; the primary in POTENTIAL-CONFLICT
  // asked a partner in POTENTIAL-CONFLICT; the secondary asks once the primary is CONFLICT-DONE.
  if (c.event === "upddone") return c.from === "RECOVER" ? PD : c.role === "secondary" ? CD : PC;
  return "NORMAL";
}

function run(c: Case): { state: EngineState; actions: ReturnType<typeof step>["actions"] } {
  const role = c.role ?? "primary";
  let s = engineIn(c.from, {
    role,
    partner: partnerBefore(c),
    commsOk: !commsDownFor(c),
    config: { autoPartnerDown: 600 },
  });
  const [kind, arg] = c.event.split(":");
  const events: Event[] = [];
  const now = T0;
  switch (kind) {
    case "partner":
      events.push({ type: "message-received", message: stateMsg(arg as EndpointStateName) });
      break;
    case "startup":
      events.push({
        type: "message-received",
        message: stateMsg(arg as EndpointStateName, { flags: 3 }),
      });
      break;
    case "comms-failed":
      events.push({ type: "connection-down", reason: "test" });
      break;
    case "disconnect":
      events.push({ type: "message-received", message: fo(33, [statusCode(20, "bye")]) });
      break;
    case "upddone":
      s = { ...s, request: { xid: 0x3000, kind: "UPDREQ", at: now, progress: now } };
      events.push({ type: "message-received", message: fo(30, [], 0x3000) });
      break;
    case "timer":
      events.push({ type: "timer-fired", name: arg as "auto-partner-down" });
      break;
    case "command":
      events.push({ type: "operator-command", command: "partner-down" });
      break;
    case "reconnect":
      events.push(
        { type: "connection-up" },
        { type: "message-received", message: fo(31, connectFor()) },
        { type: "message-received", message: stateMsg(arg as EndpointStateName) },
      );
      break;
  }
  // The keepalive case: nothing heard for longer than FO_KEEPALIVE_TIME.
  const at = kind === "timer" && arg === "keepalive" ? now + 61_000 : now;
  let actions: ReturnType<typeof step>["actions"] = [];
  for (const e of events) {
    const r = step(s, e, at);
    s = r.state;
    actions = actions.concat(r.actions);
  }
  return { state: s, actions };
}

import { connectOptions } from "../../lib/wire/options.ts";
function connectFor() {
  return connectOptions({
    mclt: 3600,
    keepaliveTime: 60,
    maxUnackedBndupd: 10,
    relationshipName: "rel",
  });
}

for (const c of CASES) {
  Deno.test(`§6.4 ${c.from} (${c.role ?? "primary"}) on ${c.event} → ${c.expect.at(-1)?.split(">")[1] ?? "stays"} [${c.ref}]`, () => {
    const { state, actions } = run(c);
    assert.deepEqual(changes(actions), c.expect);
    const last = c.expect.at(-1)?.split(">")[1] ?? c.from;
    assert.equal(state.endpoint.state, last);
    // STATE goes out on every transition made while communications are OK (§8.1), carrying
    // the new state, in order; none while they are not.
    const states = sent(actions).filter((m) => m.msgType === 34)
      .map((m) =>
        stateFromCode(
          m.options.find((o) => o.code === 132 && "serverState" in o)!
            // deno-lint-ignore no-explicit-any
            ? (m.options.find((o) => o.code === 132) as any).serverState
            : 0,
        )
      );
    const expectedStates = state.comms.phase === "ok" || c.event === "disconnect" ||
        c.event.startsWith("timer:keepalive") || c.event === "comms-failed"
      ? c.expect.map((x) => x.split(">")[1]).filter(() => state.comms.phase === "ok")
      : [];
    if (c.event.startsWith("reconnect:")) {
      // The STATE after CONNECTREPLY reports the old state, then the new one.
      assert.deepEqual(states, [c.from, ...c.expect.map((x) => x.split(">")[1])]);
    } else {
      assert.deepEqual(states, expectedStates);
    }
    for (const name of c.sends ?? []) {
      assert.ok(
        sent(actions).some((m) =>
          m.msgType === ({ UPDREQ: 28, POOLREQ: 26 } as Record<string, number>)[name]
        ),
        `${name} sent`,
      );
    }
    // Each transition is written to stable storage before anything else goes out (§8.1).
    const persisted = actions.filter((a) =>
      a.type === "persist" && a.writes.some((w) => w.type === "endpoint-state")
    );
    assert.ok(persisted.length >= c.expect.length);
  });
}

Deno.test("stateCode/stateFromCode follow OPTION_F_SERVER_STATE (§5.5.16)", () => {
  assert.equal(stateCode("STARTUP"), 1);
  assert.equal(stateCode("NORMAL"), 2);
  assert.equal(stateCode("CONFLICT-DONE"), 10);
  assert.equal(stateFromCode(4), "PARTNER-DOWN");
  assert.equal(stateFromCode(0), undefined);
  assert.equal(stateFromCode(11), undefined);
});

Deno.test("STARTUP step 2: a state with communications OK becomes its failed form (§8.3.2)", () => {
  assert.equal(startupPreviousState("NORMAL", "primary"), "COMMUNICATIONS-INTERRUPTED");
  assert.equal(startupPreviousState("POTENTIAL-CONFLICT", "secondary"), "RESOLUTION-INTERRUPTED");
  assert.equal(startupPreviousState("RECOVER-WAIT", "primary"), "RECOVER-WAIT");
  assert.equal(startupPreviousState("PARTNER-DOWN", "primary"), "PARTNER-DOWN");
  assert.equal(startupPreviousState("CONFLICT-DONE", "primary"), "CONFLICT-DONE");
});

Deno.test("findTransition: roles matter for UPDDONE in POTENTIAL-CONFLICT", () => {
  assert.equal(findTransition(PC, { on: "upddone" }, "primary")?.to, CD);
  assert.equal(findTransition(PC, { on: "upddone" }, "secondary")?.to, "NORMAL");
  assert.equal(findTransition("NORMAL", { on: "upddone" }, "primary"), undefined);
});

Deno.test("clientService per state and role (§8.x.1)", () => {
  assert.equal(clientService("NORMAL", "primary"), "responsive");
  assert.equal(clientService("NORMAL", "secondary"), "renew-responsive");
  assert.equal(clientService(CI, "secondary"), "responsive");
  assert.equal(clientService(RD, "primary"), "renew-responsive");
  for (const s of ["STARTUP", PC, "RECOVER", RW] as const) {
    assert.equal(clientService(s, "primary"), "unresponsive");
  }
});
