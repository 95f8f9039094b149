/**
 * Shared set-up for the partner tests: the conformance suite (or any scenarios) run against
 * the test double over the in-memory network, under virtual time.
 *
 * @module
 */

import { MemoryNetwork } from "../../lib/partner/net.ts";
import { Acceptor, runScenarios } from "../../lib/partner/runner.ts";
import { VirtualScheduler } from "../../lib/partner/scheduler.ts";
import { SUITE_VARS } from "../../lib/partner/suite.ts";
import type { PartnerSettings, Role, RunReport, Scenario } from "../../lib/partner/types.ts";
import { type Break, TestPeer } from "./double.ts";
import { EnginePeer } from "../../lib/partner/engine_peer.ts";
import type { EngineConfig } from "../../lib/failover/engine.ts";

/** What a run against the double gives back. */
export interface DoubleRun {
  report: RunReport;
  lines: string[];
  double: TestPeer;
}

/** Settings the partner uses against the double (small keepalive: the suite runs in seconds). */
export const PARTNER_SETTINGS: Partial<PartnerSettings> = {
  relationship: "conformance",
  mclt: 3600,
  keepalive: 4,
  maxUnacked: 10,
};

/**
 * Runs `scenarios` with the partner in `role` against our own engine (EngineDriver with an
 * in-memory store) in the other role, over a MemoryNetwork under a VirtualScheduler.
 */
export async function runAgainstEngine(
  role: Role,
  scenarios: Scenario[],
  config: Partial<EngineConfig> = {},
): Promise<{ report: RunReport; lines: string[]; engine: EnginePeer }> {
  const scheduler = new VirtualScheduler();
  const network = new MemoryNetwork("2001:db8::1");
  const lines: string[] = [];
  const log = (l: string) => lines.push(l);
  const base: EngineConfig = {
    role: role === "primary" ? "secondary" : "primary",
    relationship: "conformance",
    mclt: 3600,
    keepaliveTime: 3,
    maxUnackedBndupd: 10,
    startupTime: 1,
    ...config,
  };
  let acceptor: Acceptor | undefined;
  let engine: EnginePeer;
  if (role === "primary") {
    engine = new EnginePeer({
      config: base,
      network,
      scheduler,
      listen: { address: "2001:db8::2", port: 647 },
      log: (l) => log(`[engine] ${l}`),
      hooks: {
        onAction: (a) =>
          a.type === "log" || a.type === "state-changed"
            ? log(`[engine] ${JSON.stringify(a)}`)
            : undefined,
      },
    });
  } else {
    acceptor = new Acceptor(network.listen({ address: "2001:db8::3", port: 647 }));
    engine = new EnginePeer({
      config: base,
      network,
      scheduler,
      connect: { address: "2001:db8::3", port: 647 },
      retryMs: 500,
      log: (l) => log(`[engine] ${l}`),
      hooks: {
        onAction: (a) =>
          a.type === "log" || a.type === "state-changed"
            ? log(`[engine] ${JSON.stringify(a)}`)
            : undefined,
      },
    });
  }
  engine.start();
  try {
    const report = await scheduler.run(runScenarios(scenarios, {
      role,
      settings: PARTNER_SETTINGS,
      network,
      peer: engine.local,
      acceptor,
      scheduler,
      log,
      vars: { ...SUITE_VARS },
    }));
    return { report, lines, engine };
  } finally {
    await scheduler.run(engine.stop());
    acceptor?.close();
  }
}

/**
 * Runs `scenarios` with the partner in `role` against a double in the other role that breaks
 * `breaks`, over a MemoryNetwork under a VirtualScheduler.
 */
export async function runAgainstDouble(
  role: Role,
  scenarios: Scenario[],
  breaks: readonly Break[] = [],
): Promise<DoubleRun> {
  const scheduler = new VirtualScheduler();
  const network = new MemoryNetwork("2001:db8::1");
  const lines: string[] = [];
  const log = (l: string) => lines.push(l);
  const common = { network, scheduler, mclt: 3600, keepalive: 3, maxUnacked: 10, breaks, log };
  let double: TestPeer;
  let acceptor: Acceptor | undefined;
  let peer;
  if (role === "primary") {
    double = new TestPeer({
      ...common,
      role: "secondary",
      listen: { address: "2001:db8::2", port: 647 },
    });
    double.start();
    peer = double.local;
  } else {
    acceptor = new Acceptor(network.listen({ address: "2001:db8::3", port: 647 }));
    double = new TestPeer({
      ...common,
      role: "primary",
      connect: { address: "2001:db8::3", port: 647 },
    });
    double.start();
  }
  try {
    const report = await scheduler.run(runScenarios(scenarios, {
      role,
      settings: PARTNER_SETTINGS,
      network,
      peer,
      acceptor,
      scheduler,
      log,
      vars: { ...SUITE_VARS },
    }));
    return { report, lines, double };
  } finally {
    double.stop();
    acceptor?.close();
  }
}
