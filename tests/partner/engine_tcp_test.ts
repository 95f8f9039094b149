/**
 * The whole conformance suite against our own engine as the system under test, the way `serve`
 * runs it: EngineDriver + the connection shell (lib/failover/connection.ts) on real loopback
 * TCP, wall clock, in process. The engine's keepalive is 3 s so the keepalive scenarios finish
 * in seconds (about 15 s for both roles).
 */
import assert from "node:assert/strict";
import { EngineDriver } from "../../lib/failover/driver.ts";
import { runPrimary, runSecondary } from "../../lib/failover/connection.ts";
import type { EngineConfig } from "../../lib/failover/engine.ts";
import { MemoryBindingStore } from "../../lib/store/memory.ts";
import { systemClock } from "../../lib/util/clock.ts";
import { tcpNetwork } from "../../lib/partner/net.ts";
import { Acceptor, runScenarios } from "../../lib/partner/runner.ts";
import { realScheduler } from "../../lib/partner/scheduler.ts";
import { CONFORMANCE, conformanceFor, SUITE_VARS } from "../../lib/partner/suite.ts";
import type { Role, RunReport } from "../../lib/partner/types.ts";
import { PARTNER_SETTINGS } from "./helpers.ts";

function engine(role: Role): EngineDriver {
  const config: EngineConfig = {
    role,
    relationship: "conformance",
    mclt: 3600,
    keepaliveTime: 3,
    maxUnackedBndupd: 10,
    startupTime: 1,
  };
  const d = new EngineDriver({ config, store: new MemoryBindingStore(), clock: systemClock });
  d.start();
  return d;
}

function why(r: RunReport): string {
  return r.scenarios.filter((s) => s.verdict !== "pass").map((s) =>
    `${s.name}: ${s.steps.find((x) => x.verdict === "fail" || x.verdict === "error")?.message}`
  ).join("\n");
}

Deno.test("conformance over TCP: partner as primary, our engine as secondary (runSecondary)", async () => {
  const handle = runSecondary({ drivers: [engine("secondary")], hostname: "::1", port: 0 });
  try {
    const report = await runScenarios(conformanceFor("primary"), {
      role: "primary",
      settings: PARTNER_SETTINGS,
      network: tcpNetwork,
      peer: { address: "::1", port: handle.addr.port },
      scheduler: realScheduler,
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
    const report = await runScenarios(conformanceFor("secondary"), {
      role: "secondary",
      settings: PARTNER_SETTINGS,
      network: tcpNetwork,
      acceptor,
      scheduler: realScheduler,
      vars: { ...SUITE_VARS },
      acceptTimeoutMs: 10_000,
    });
    assert.equal(report.passed, report.scenarios.length, why(report));
  } finally {
    await handle.stop();
    acceptor.close();
  }
});
