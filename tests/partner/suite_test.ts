/**
 * The conformance suite against the test double (well behaved: everything passes; one rule
 * broken: the scenario guarding it fails) and against our own engine. All under virtual time
 * over the in-memory network.
 */
import assert from "node:assert/strict";
import { CONFORMANCE, conformanceFor } from "../../lib/partner/suite.ts";
import type { Role, RunReport } from "../../lib/partner/types.ts";
import { ALL_BREAKS, type Break } from "./double.ts";
import { runAgainstDouble, runAgainstEngine } from "./helpers.ts";

function verdicts(r: RunReport): Record<string, string> {
  return Object.fromEntries(r.scenarios.map((s) => [s.name, s.verdict]));
}

function failures(r: RunReport): string {
  return r.scenarios.filter((s) => s.verdict !== "pass").map((s) => {
    const bad = s.steps.find((x) => x.verdict === "fail" || x.verdict === "error");
    return `${s.name}: step ${bad?.index} ${bad?.title}: ${bad?.message}`;
  }).join("\n");
}

for (const role of ["primary", "secondary"] as const) {
  Deno.test(`conformance as ${role}: every scenario passes against the well-behaved double`, async () => {
    const { report } = await runAgainstDouble(role, conformanceFor(role));
    assert.equal(report.scenarios.length, CONFORMANCE.filter((s) => s.role === role).length);
    assert.equal(report.failed + report.errors, 0, failures(report));
    assert.equal(report.passed, report.scenarios.length);
  });
}

/** For each broken rule, the scenarios that must catch it, with the role the partner plays. */
const GUARD: Record<Break, [Role, string][]> = {
  "connectreply-no-keepalive": [["primary", "connect-accept"]],
  "connectreply-wrong-xid": [["primary", "connect-accept"]],
  "accept-skewed-connect": [["primary", "connect-reject-skew"]],
  "accept-any-version": [["primary", "connect-reject-version"]],
  "no-state-after-connect": [["primary", "state-exchange"]],
  "state-missing-start-time": [["primary", "state-exchange"]],
  "connect-missing-flags": [["secondary", "connect-as-secondary"]],
  "accept-mclt-mismatch": [["secondary", "connectreply-mclt-mismatch"]],
  "bndreply-wrong-xid": [["primary", "bndupd-bndreply"]],
  "bndreply-pl-not-echoed": [["primary", "bndupd-bndreply"]],
  "bndreply-not-mirrored": [["primary", "bndupd-bndreply"]],
  "accept-conflicts": [["primary", "conflict-outdated"], ["secondary", "conflict-address-in-use"]],
  "no-status-on-missing-binding": [["primary", "missing-binding-information"]],
  "updone-early": [["primary", "updreqall-sync"]],
  "updone-wrong-xid": [["primary", "updreq-sync"]],
  "bndupd-partial-timeout-options": [["primary", "updreqall-sync"]],
  "no-poolresp": [["secondary", "poolreq"]],
  "no-contact": [["primary", "keepalive-contact"]],
  "no-keepalive-timeout": [["primary", "keepalive-timeout"]],
  "ignore-max-unacked": [["primary", "flow-control"]],
  "ignore-skew-later": [["primary", "skew-later-message"]],
  "accept-before-connect": [["primary", "message-before-connect"]],
  "crash-on-garbage": [["primary", "garbage-frame"]],
};

Deno.test("every conformance scenario is guarded by at least one broken rule", () => {
  const guarded = new Set(Object.values(GUARD).flat().map(([, n]) => n));
  for (const s of CONFORMANCE) assert.ok(guarded.has(s.name), `no break shows ${s.name} can fail`);
  assert.deepEqual(Object.keys(GUARD).sort(), [...ALL_BREAKS].sort());
});

for (const brk of ALL_BREAKS) {
  for (const [role, name] of GUARD[brk]) {
    Deno.test(`broken rule ${brk}: conformance scenario ${name} fails`, async () => {
      const { report } = await runAgainstDouble(role, conformanceFor(role, [name]), [brk]);
      assert.equal(
        report.scenarios[0].verdict,
        "fail",
        `${name} passed against a double that breaks ${brk}`,
      );
      const bad = report.scenarios[0].steps.find((s) => s.verdict === "fail");
      assert.ok(bad?.message, "a failed step says why");
    });
  }
}

Deno.test("the scenarios a broken rule does not concern still pass (a break is one rule)", async () => {
  // Spot check: the BNDREPLY echo break leaves the connect and keepalive scenarios passing.
  const { report } = await runAgainstDouble("primary", conformanceFor("primary"), [
    "bndreply-pl-not-echoed",
  ]);
  const v = verdicts(report);
  for (
    const n of [
      "connect-accept",
      "connect-reject-skew",
      "keepalive-contact",
      "skew-later-message",
      "garbage-frame",
    ]
  ) {
    assert.equal(v[n], "pass", n);
  }
  assert.equal(v["bndupd-bndreply"], "fail");
});

for (const role of ["primary", "secondary"] as const) {
  Deno.test(`conformance as ${role}: every scenario passes against our own engine (EngineDriver, in-memory store)`, async () => {
    const { report } = await runAgainstEngine(role, conformanceFor(role));
    assert.equal(report.scenarios.length, CONFORMANCE.filter((s) => s.role === role).length);
    assert.equal(report.failed + report.errors, 0, failures(report));
  });
}
