/**
 * The same runner over real loopback TCP with the wall clock: a few quick conformance
 * scenarios against the double, each role. (The whole suite against our engine over TCP is in
 * engine_tcp_test.ts.)
 */
import assert from "node:assert/strict";
import { tcpNetwork } from "../../lib/partner/net.ts";
import { Acceptor, runScenarios } from "../../lib/partner/runner.ts";
import { realScheduler } from "../../lib/partner/scheduler.ts";
import { conformanceFor, SUITE_VARS } from "../../lib/partner/suite.ts";
import type { RunReport } from "../../lib/partner/types.ts";
import { TestPeer } from "./double.ts";
import { PARTNER_SETTINGS } from "./helpers.ts";

const QUICK_PRIMARY = [
  "connect-accept",
  "bndupd-bndreply",
  "conflict-outdated",
  "missing-binding-information",
  "skew-later-message",
];

function why(r: RunReport): string {
  return r.scenarios.filter((s) => s.verdict !== "pass").map((s) =>
    `${s.name}: ${s.steps.find((x) => x.verdict === "fail" || x.verdict === "error")?.message}`
  ).join("\n");
}

Deno.test("over TCP: partner as primary against the double", async () => {
  const double = new TestPeer({
    role: "secondary",
    network: tcpNetwork,
    scheduler: realScheduler,
    listen: { address: "::1", port: 0 },
    mclt: 3600,
    keepalive: 5,
    maxUnacked: 10,
  });
  double.start();
  try {
    const report = await runScenarios(conformanceFor("primary", QUICK_PRIMARY), {
      role: "primary",
      settings: PARTNER_SETTINGS,
      network: tcpNetwork,
      peer: double.local,
      scheduler: realScheduler,
      vars: { ...SUITE_VARS },
    });
    assert.equal(report.passed, QUICK_PRIMARY.length, why(report));
  } finally {
    double.stop();
  }
});

Deno.test("over TCP: partner as secondary against the double as primary", async () => {
  const acceptor = new Acceptor(tcpNetwork.listen({ address: "127.0.0.1", port: 0 }));
  const double = new TestPeer({
    role: "primary",
    network: tcpNetwork,
    scheduler: realScheduler,
    connect: acceptor.listener.local,
    mclt: 3600,
    keepalive: 5,
    maxUnacked: 10,
    retryMs: 100,
  });
  double.start();
  try {
    const report = await runScenarios(
      conformanceFor("secondary", ["connect-as-secondary", "conflict-address-in-use"]),
      {
        role: "secondary",
        settings: PARTNER_SETTINGS,
        network: tcpNetwork,
        acceptor,
        scheduler: realScheduler,
        vars: { ...SUITE_VARS },
        acceptTimeoutMs: 5000,
      },
    );
    assert.equal(report.passed, 2, why(report));
  } finally {
    double.stop();
    acceptor.close();
  }
});
