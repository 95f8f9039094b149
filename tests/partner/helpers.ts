/**
 * Shared set-up for the partner tests: the conformance suite (or any scenarios) run against
 * the test double over the in-memory network, under virtual time; and, for the loopback TCP
 * and TLS tests, our engine in process, runs in wall-clock time and a report's failures.
 *
 * @module
 */

import { MemoryNetwork, tcpNetwork } from "../../lib/partner/net.ts";
import { Acceptor, type RunnerOptions, runScenarios } from "../../lib/partner/runner.ts";
import { realScheduler, VirtualScheduler } from "../../lib/partner/scheduler.ts";
import { SUITE_VARS } from "../../lib/partner/suite.ts";
import type { PartnerSettings, Role, RunReport, Scenario } from "../../lib/partner/types.ts";
import { type Break, type DoubleOptions, TestPeer } from "./double.ts";
import { EnginePeer } from "../../lib/partner/engine_peer.ts";
import type { EngineConfig } from "../../lib/failover/engine.ts";
import { EngineDriver } from "../../lib/failover/driver.ts";
import { MemoryBindingStore } from "../../lib/store/memory.ts";
import { systemClock } from "../../lib/util/clock.ts";

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

/**
 * Our engine as the shell runs it: an EngineDriver in `role` (relationship "conformance",
 * keepalive 3 s) with an in-memory store and the wall clock, started.
 */
export function engineDriver(role: Role): EngineDriver {
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

/** The scenarios of `r` that did not pass, one a line with their first failing step's message. */
export function why(r: RunReport): string {
  return r.scenarios.filter((s) => s.verdict !== "pass").map((s) =>
    `${s.name}: ${s.steps.find((x) => x.verdict === "fail" || x.verdict === "error")?.message}`
  ).join("\n");
}

/** A TCP port on [::1] that was free a moment ago. */
export function freeTcpPort(): number {
  const l = Deno.listen({ hostname: "::1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** What {@linkcode runLive} needs: the runner's options less those it fills in. */
export type LiveRunOptions = Omit<RunnerOptions, "settings" | "scheduler" | "network"> & {
  /** Default: loopback TCP (`tcpNetwork`). */
  network?: RunnerOptions["network"];
};

/**
 * Runs `scenarios` in wall-clock time (`realScheduler`) with {@linkcode PARTNER_SETTINGS},
 * over loopback TCP unless `o.network` says otherwise.
 */
export function runLive(scenarios: Scenario[], o: LiveRunOptions): Promise<RunReport> {
  return runScenarios(scenarios, {
    settings: PARTNER_SETTINGS,
    network: tcpNetwork,
    scheduler: realScheduler,
    ...o,
  });
}

/**
 * A test double over loopback TCP in wall-clock time (MCLT 3600 s, keepalive 5 s, 10 unacked
 * BNDUPDs unless `o` says otherwise), started.
 */
export function tcpDouble(
  o: Pick<DoubleOptions, "role"> & Partial<DoubleOptions>,
): TestPeer {
  const double = new TestPeer({
    network: tcpNetwork,
    scheduler: realScheduler,
    mclt: 3600,
    keepalive: 5,
    maxUnacked: 10,
    ...o,
  });
  double.start();
  return double;
}
