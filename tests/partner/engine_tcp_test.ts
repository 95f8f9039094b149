/**
 * The whole conformance suite against our own engine as the system under test, the way `serve`
 * runs it: EngineDriver + the connection shell (lib/failover/connection.ts) on real loopback
 * TCP, wall clock, in process. The engine's keepalive is 3 s so the keepalive scenarios finish
 * in seconds (about 15 s for both roles).
 */
import assert from "node:assert/strict";
import { runPrimary, runSecondary } from "../../lib/failover/connection.ts";
import { tcpNetwork } from "../../lib/partner/net.ts";
import { Acceptor } from "../../lib/partner/runner.ts";
import { CONFORMANCE, conformanceFor, SUITE_VARS } from "../../lib/partner/suite.ts";
import { engineDriver as engine, runLive, why } from "./helpers.ts";

Deno.test("conformance over TCP: partner as primary, our engine as secondary (runSecondary)", async () => {
  const handle = runSecondary({ drivers: [engine("secondary")], hostname: "::1", port: 0 });
  try {
    const report = await runLive(conformanceFor("primary"), {
      role: "primary",
      peer: { address: "::1", port: handle.addr.port },
      vars: { ...SUITE_VARS },
    });
    assert.equal(report.scenarios.length, CONFORMANCE.filter((s) => s.role === "primary").length);
    assert.equal(report.passed, report.scenarios.length, why(report));
  } finally {
    await handle.stop();
  }
});

Deno.test("conformance over TCP: partner as secondary, our engine as primary (runPrimary)", async () => {
  const acceptor = new Acceptor(tcpNetwork.listen({ address: "::1", port: 0 }));
  const handle = runPrimary({
    driver: engine("primary"),
    hostname: "::1",
    port: acceptor.listener.local.port,
    backoff: { initialMs: 50, maxMs: 200, rejectedMs: 200 },
  });
  try {
    const report = await runLive(conformanceFor("secondary"), {
      role: "secondary",
      acceptor,
      vars: { ...SUITE_VARS },
      acceptTimeoutMs: 10_000,
    });
    assert.equal(report.passed, report.scenarios.length, why(report));
  } finally {
    await handle.stop();
    acceptor.close();
  }
});
