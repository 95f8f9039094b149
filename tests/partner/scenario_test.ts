import assert from "node:assert/strict";
import { loadScenarioFile, parseScenarios, ScenarioError } from "../../lib/partner/scenario.ts";

const fixtures = new URL("../../fixtures/scenarios/", import.meta.url);

function err(text: string, line: number | undefined, re: RegExp): void {
  assert.throws(() => parseScenarios(text, "t.yaml"), (e: Error) => {
    assert.ok(e instanceof ScenarioError, `not a ScenarioError: ${e}`);
    assert.equal(e.line, line, `line of: ${e.message}`);
    assert.match(e.message, re);
    return true;
  });
}

Deno.test("a scenario with every step kind loads, with line numbers", () => {
  const text = `name: all
role: primary
settings: {mclt: 60, state: partner-down}
vars: {a: 1}
steps:
  - handshake:
  - send: BNDUPD
    lease: {client: "0001", address: "::1"}
  - expect: BNDREPLY
    within: 2s
    match: {transactionId: "\${xid}"}
    save: {pl: CLIENT_DATA.IA_NA.IAADDR.F_PARTNER_LIFETIME_SENT.partnerLifetimeSent}
    checks: [bndreply-mirrors]
  - expect-none: UPDDONE
  - wait: 1s
  - withhold-bndreply:
  - release-bndreply:
  - delay-bndreply: 500ms
  - skew: -10s
  - cut:
  - reconnect:
  - corrupt-frame: short-header
  - expect-state: NORMAL
    flags: {startup: false}
  - expect-close: 5s
  - set: {b: 2}
  - auto: {contact: false}
  - send: raw
    raw: "0011"
    frame: raw
`;
  const [s] = parseScenarios(text, "t.yaml");
  assert.equal(s.name, "all");
  assert.equal(s.role, "primary");
  assert.deepEqual(s.settings, { mclt: 60, state: 4 });
  assert.deepEqual(s.steps.map((x) => x.kind), [
    "handshake",
    "send",
    "expect",
    "expect-none",
    "wait",
    "withhold-bndreply",
    "withhold-bndreply",
    "delay-bndreply",
    "skew",
    "cut",
    "reconnect",
    "corrupt-frame",
    "expect-state",
    "expect-close",
    "set",
    "auto",
    "send",
  ]);
  assert.deepEqual(s.steps.map((x) => x.line), [
    6,
    7,
    9,
    14,
    15,
    16,
    17,
    18,
    19,
    20,
    21,
    22,
    23,
    25,
    26,
    27,
    28,
  ]);
  const w = s.steps[5], r = s.steps[6];
  assert.ok(w.kind === "withhold-bndreply" && w.on && r.kind === "withhold-bndreply" && !r.on);
  const e = s.steps[2];
  assert.ok(e.kind === "expect" && e.msgType === 25 && e.within === "2s");
  const close = s.steps[13];
  assert.ok(close.kind === "expect-close" && close.within === "5s");
});

Deno.test("several scenarios in one file; duplicate names are refused", () => {
  const two =
    `scenarios:\n  - name: a\n    steps: [{wait: 1}]\n  - name: b\n    steps: [{wait: 1}]\n`;
  assert.deepEqual(parseScenarios(two).map((s) => s.name), ["a", "b"]);
  err(
    `scenarios:\n  - name: a\n    steps: [{wait: 1}]\n  - name: a\n    steps: [{wait: 1}]\n`,
    4,
    /duplicate name "a"/,
  );
});

Deno.test("errors carry file, line and path", () => {
  err(
    "name: x\nsteps:\n  - sned: CONNECT\n",
    3,
    /^t\.yaml:3: steps\[0\]: a step needs one action key/,
  );
  err(
    "name: x\nsteps:\n  - send: CONNECT\n    expect: STATE\n",
    3,
    /a step has one action, got send and expect/,
  );
  err(
    "name: x\nsteps:\n  - send: CONNECTT\n",
    3,
    /steps\[0\]\.send: unknown message type "CONNECTT"/,
  );
  err("name: x\nsteps:\n  - send: CONNECT\n    bogus: 1\n", 3, /unknown key "bogus"/);
  err("name: x\nsteps:\n  - expect: STATE\n    checks: [nope]\n", 4, /unknown check "nope"/);
  err(
    "name: x\nsteps:\n  - send: STATE\n    options:\n      - F_MCLTT: 1\n",
    5,
    /t\.yaml:5: steps\[0\]\.options\[0\]: unknown option "F_MCLTT"/,
  );
  err(
    "name: x\nsteps:\n  - send: STATE\n    override:\n      F_MCLT: {mcl: 1}\n",
    5,
    /override\.F_MCLT\.OPTION_F_MCLT\.mcl: unknown field/,
  );
  err(
    'name: x\nsteps:\n  - send: BNDUPD\n    lease: {adress: "::1"}\n',
    4,
    /unknown lease key "adress"/,
  );
  err("name: x\nsteps:\n  - expect-state: DOZING\n", 3, /unknown failover state "DOZING"/);
  err("name: x\nsteps:\n  - corrupt-frame: melted\n", 3, /steps\[0\]\.corrupt-frame/);
  err("name: x\nsettings: {mclt: -1}\nsteps: [{wait: 1}]\n", 2, /settings\.mclt/);
  err("name: x\nrole: tertiary\nsteps: [{wait: 1}]\n", 2, /^t\.yaml:2: role/);
  err("name: x\n", 1, /steps/);
  err("name: x\nsteps: []\n", 2, /steps/);
  err("name: [unclosed\n", 2, /t\.yaml:2: Flow sequence/);
  err("- just a list\n", 1, /a scenario file is a mapping/);
  err("name: x\nsteps:\n  - send: raw\n", 3, /needs raw:/);
  err(
    "name: x\nsteps:\n  - send: CONNECT\n    options: []\n    override: {F_MCLT: 1}\n",
    5,
    /not both/,
  );
});

Deno.test("loadScenarioFile: a missing file is a ScenarioError, not a crash", async () => {
  await assert.rejects(
    () => loadScenarioFile("/nonexistent/x.yaml"),
    (e: Error) => e instanceof ScenarioError && /no such file/.test(e.message),
  );
});

Deno.test("the scenario fixtures load", async () => {
  const names: string[] = [];
  for await (const f of Deno.readDir(fixtures)) {
    if (!f.name.endsWith(".yaml")) continue;
    const list = await loadScenarioFile(new URL(f.name, fixtures).pathname);
    names.push(...list.map((s) => s.name));
  }
  assert.ok(
    names.includes("bndupd-echo") && names.includes("recovery-flow") &&
      names.includes("raw-garbage"),
    names.join(),
  );
});
