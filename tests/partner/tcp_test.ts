/**
 * The same runner over real loopback TCP with the wall clock: a few quick conformance
 * scenarios against the double, each role. (The whole suite against our engine over TCP is in
 * engine_tcp_test.ts.)
 */
import assert from "node:assert/strict";
import { tcpNetwork } from "../../lib/partner/net.ts";
import { Acceptor } from "../../lib/partner/runner.ts";
import { conformanceFor, SUITE_VARS } from "../../lib/partner/suite.ts";
import { runLive, tcpDouble, why } from "./helpers.ts";

const QUICK_PRIMARY = [
  "connect-accept",
  "bndupd-bndreply",
  "conflict-outdated",
  "missing-binding-information",
  "skew-later-message",
];

Deno.test("over TCP: partner as primary against the double", async () => {
  const double = tcpDouble({ role: "secondary", listen: { address: "::1", port: 0 } });
  try {
    const report = await runLive(conformanceFor("primary", QUICK_PRIMARY), {
      role: "primary",
      peer: double.local,
      vars: { ...SUITE_VARS },
    });
    assert.equal(report.passed, QUICK_PRIMARY.length, why(report));
  } finally {
    double.stop();
  }
});

Deno.test("over TCP: partner as secondary against the double as primary", async () => {
  const acceptor = new Acceptor(tcpNetwork.listen({ address: "127.0.0.1", port: 0 }));
  const double = tcpDouble({ role: "primary", connect: acceptor.listener.local, retryMs: 100 });
  try {
    const report = await runLive(
      conformanceFor("secondary", ["connect-as-secondary", "conflict-address-in-use"]),
      { role: "secondary", acceptor, vars: { ...SUITE_VARS }, acceptTimeoutMs: 5000 },
    );
    assert.equal(report.passed, 2, why(report));
  } finally {
    double.stop();
    acceptor.close();
  }
});
