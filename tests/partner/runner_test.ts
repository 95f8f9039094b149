/**
 * The scenario runner, step by step, against the test double (in memory, virtual time).
 */
import assert from "node:assert/strict";
import { parseScenarios } from "../../lib/partner/scenario.ts";
import { exitCodeOf, runScenarios } from "../../lib/partner/runner.ts";
import { MemoryNetwork } from "../../lib/partner/net.ts";
import { VirtualScheduler } from "../../lib/partner/scheduler.ts";
import type { ScenarioResult } from "../../lib/partner/types.ts";
import type { Break } from "./double.ts";
import { runAgainstDouble } from "./helpers.ts";

async function run(yaml: string, breaks: Break[] = [], role: "primary" | "secondary" = "primary") {
  const r = await runAgainstDouble(role, parseScenarios(yaml, "t.yaml"), breaks);
  return { ...r, s: r.report.scenarios[0] };
}

function bad(s: ScenarioResult) {
  return s.steps.find((x) => x.verdict === "fail" || x.verdict === "error")!;
}

Deno.test("variables: save a received value and use it later; built-ins and --var values", async () => {
  const { s, report } = await run(`
name: vars
vars: {addr: "2001:db8::77"}
steps:
  - handshake:
  - send: BNDUPD
    lease: {client: "\${client}", address: "\${addr}", partnerLifetime: "\${now+100}"}
  - expect: BNDREPLY
    match: {transactionId: "\${xid}"}
    save: {pl: CLIENT_DATA.IA_NA.IAADDR.F_PARTNER_LIFETIME_SENT.partnerLifetimeSent, who: CLIENT_DATA.IA_NA.IAADDR.address}
  - set: {plus: "\${pl+1}"}
  - send: BNDUPD
    lease: {client: "\${client}", address: "\${who}", partnerLifetime: "\${plus}"}
  - expect: BNDREPLY
    match:
      transactionId: "\${xid}"
      CLIENT_DATA.IA_NA.IAADDR.F_PARTNER_LIFETIME_SENT.partnerLifetimeSent: "\${pl+1}"
      sentTime: {near: "\${now}"}
`);
  assert.equal(s.verdict, "pass", JSON.stringify(bad(s ?? report.scenarios[0])));
});

Deno.test("expect: a matcher that fails names the path and gives the octets", async () => {
  const { s } = await run(`
name: m
steps:
  - handshake:
  - send: BNDUPD
    lease: {client: "\${client}", address: "2001:db8::5"}
  - expect: BNDREPLY
    match: {CLIENT_DATA.IA_NA.IAADDR.F_BINDING_STATUS.bindingStatusName: EXPIRED}
  - wait: 1s
`);
  assert.equal(s.verdict, "fail");
  const b = bad(s);
  assert.equal(b.index, 3);
  assert.equal(b.line, 7);
  assert.match(
    b.message!,
    /^#\d+ BNDREPLY: CLIENT_DATA\.IA_NA\.IAADDR\.F_BINDING_STATUS\.bindingStatusName is "ACTIVE", expected "EXPIRED"/,
  );
  assert.match(b.detail!.at(-1)!, /^octets: 19[0-9a-f]+$/);
  assert.equal(s.steps[4].verdict, "skip", "steps after a failure are skipped");
});

Deno.test("expect: timeout says what came instead; a closed connection fails at once", async () => {
  const { s } = await run(`
name: t
steps:
  - handshake:
  - expect: POOLRESP
    within: 1s
`);
  assert.match(bad(s).message!, /^no POOLRESP within 1s/);
  assert.equal(bad(s).durationMs, 1000, "virtual time: exactly the timeout");
  const c = await run(`
name: c
steps:
  - handshake:
  - skew: 30s
  - send: CONTACT
  - expect: POOLRESP
    within: 10s
`);
  assert.match(bad(c.s).message!, /^connection closed by the peer before POOLRESP/);
  assert.ok(bad(c.s).durationMs < 10000);
});

Deno.test("expect: count, and selection by transaction-id among several", async () => {
  const { s } = await run(`
name: n
steps:
  - handshake:
  - withhold-bndreply:
  - send: BNDUPD
    lease: {client: "\${client}", address: "2001:db8::1"}
  - set: {first: "\${xid}"}
  - send: BNDUPD
    lease: {client: "\${client}", address: "2001:db8::2"}
  - expect: BNDREPLY
    match: {transactionId: "\${xid}", CLIENT_DATA.IA_NA.IAADDR.address: "2001:db8::2"}
  - expect: BNDREPLY
    match: {transactionId: "\${first}"}
  - send: UPDREQALL
  - expect: BNDUPD
    count: 2
    checks: [bndupd-shape]
  - release-bndreply:
  - expect: UPDDONE
`);
  assert.equal(s.verdict, "pass", JSON.stringify(bad(s)));
});

Deno.test("a rule broken while a step runs fails that step with the octets (monitors)", async () => {
  const { s } = await run(
    `
name: mon
steps:
  - send: CONNECT
  - expect: CONNECTREPLY
  - wait: 1s
`,
    ["state-missing-start-time"],
  );
  const b = bad(s);
  assert.equal(b.index, 1, "in memory, the STATE arrives while send CONNECT runs");
  assert.match(b.message!, /^peer broke a rule: options: STATE lacks OPTION_F_START_TIME_OF_STATE/);
  assert.match(b.detail![0], /^octets: 22/);
});

Deno.test("monitors can be switched off per scenario", async () => {
  const off = await run(
    `
name: off
monitors: {options: false}
steps:
  - send: CONNECT
  - expect: CONNECTREPLY
  - wait: 1s
`,
    ["state-missing-start-time"],
  );
  assert.equal(off.s.verdict, "pass");
});

Deno.test("expect-state, expect-close, cut and reconnect", async () => {
  const { s } = await run(`
name: st
steps:
  - handshake:
  - expect-state: NORMAL
    flags: {communicated: true, startup: false}
  - cut:
  - reconnect:
  - handshake:
  - auto: {contact: false}
  - expect-close: 10s
`);
  assert.equal(s.verdict, "pass", JSON.stringify(bad(s)));
  const wrong = await run(`
name: st2
steps:
  - handshake:
  - expect-state: RECOVER
    within: 2s
`);
  assert.match(
    bad(wrong.s).message!,
    /expected the peer in RECOVER within 2s; the peer last announced NORMAL/,
  );
  const open = await run(`
name: st3
steps:
  - handshake:
  - expect-close: 2s
`);
  assert.match(bad(open.s).message!, /kept the connection open for 2s/);
});

Deno.test("the partner as secondary accepts, and answers the primary's CONNECT by default", async () => {
  const { s } = await run(
    `
name: sec
role: secondary
steps:
  - expect: CONNECT
    save: {m: options.OPTION_F_MCLT.mclt}
  - send: CONNECTREPLY
  - send: STATE
    state: PARTNER-DOWN
  - expect: STATE
  - send: POOLREQ
  - expect: POOLRESP
    match: {transactionId: "\${xid}"}
`,
    [],
    "secondary",
  );
  assert.equal(s.verdict, "pass", JSON.stringify(bad(s)));
});

Deno.test("scenario errors: bad variable, unencodable value, missing request to answer -> error, exit 2", async () => {
  const { s, report } = await run(`
name: e
steps:
  - handshake:
  - send: CONTACT
    transactionId: "\${nothere}"
`);
  assert.equal(s.verdict, "error");
  assert.match(bad(s).message!, /unknown variable "nothere"/);
  assert.equal(exitCodeOf(report), 2);
  const big = await run(
    `name: e2\nsteps:\n  - handshake:\n  - send: CONTACT\n    sentTime: 99999999999\n`,
  );
  assert.match(bad(big.s).message!, /sentTime: expected an integer/);
  const ans = await run(`name: e3\nsteps:\n  - handshake:\n  - send: UPDDONE\n`);
  assert.match(bad(ans.s).message!, /UPDDONE answers a UPDREQ\/UPDREQALL, and none was received/);
  const enc = await run(
    `name: e4\nsteps:\n  - handshake:\n  - set: {big: 99999999999}\n  - send: BNDUPD\n    options: [{F_MCLT: "\${big}"}]\n`,
  );
  assert.match(bad(enc.s).message!, /OPTION_F_MCLT\.mclt: expected an integer/);
});

Deno.test("exit codes: 0 all passed, 1 a check failed", async () => {
  const ok = await run(`name: a\nsteps:\n  - handshake:\n`);
  assert.equal(exitCodeOf(ok.report), 0);
  const no = await run(`name: b\nsteps:\n  - handshake:\n  - expect: POOLRESP\n    within: 1s\n`);
  assert.equal(exitCodeOf(no.report), 1);
});

Deno.test("role mismatch and unreachable peer", async () => {
  const mismatch = await run(`name: r\nrole: secondary\nsteps:\n  - wait: 1\n`);
  assert.equal(mismatch.s.verdict, "error");
  assert.match(bad(mismatch.s).message!, /scenario is for the partner as secondary/);
  const sched = new VirtualScheduler();
  const report = await sched.run(runScenarios(parseScenarios("name: u\nsteps:\n  - wait: 1\n"), {
    role: "primary",
    network: new MemoryNetwork(),
    peer: { address: "2001:db8::99", port: 647 },
    scheduler: sched,
    connectTimeoutMs: 2000,
  }));
  const st = report.scenarios[0].steps[0];
  assert.equal(st.verdict, "fail");
  assert.match(st.message!, /cannot connect to \[2001:db8::99\]:647: connection refused/);
  assert.equal(report.scenarios[0].steps[1].verdict, "skip");
});

Deno.test("send: raw octets framed or not, and corrupt frames, are logged with their hex", async () => {
  const { s, lines } = await run(`
name: raw
monitors: {sequence: false}
steps:
  - handshake:
  - send: raw
    raw: "23 000001 00000000"
  - corrupt-frame: unknown-type
  - send: raw
    raw: "00"
    frame: raw
`);
  assert.equal(s.verdict, "pass", JSON.stringify(bad(s)));
  assert.ok(lines.some((l) => /-> raw octets: CONTACT \(35\) transactionId=1/.test(l)));
  assert.ok(lines.some((l) => /-> corrupt frame \(unknown-type\): UNKNOWN-99/.test(l)));
  assert.ok(lines.some((l) => /-> raw octets \(1 octets, no size prefix\): 00/.test(l)));
});
