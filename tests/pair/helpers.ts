/**
 * Two real `failover6 serve` instances in one process, on loopback: each a `DhcpServer` with
 * its own lease database, UDP socket, control API and failover engine, connected over TCP.
 * Their engines' timers run on {@linkcode ManualScheduler}s over one shared
 * {@linkcode FakeClock} (so auto-partner-down, RECOVER-WAIT and MCLT-capped lifetimes are
 * reached by moving the clock, not by sleeping); sockets and commits are real.
 *
 * @module
 */

import type { Config } from "../../lib/config/types.ts";
import { ManualScheduler } from "../../lib/failover/scheduler.ts";
import type { EndpointStateName } from "../../lib/failover/types.ts";
import { DhcpServer } from "../../lib/server/shell/server.ts";
import type { FailoverService } from "../../lib/server/shell/failover.ts";
import { Logger, MemorySink } from "../../lib/server/shell/log.ts";
import type { Lease } from "../../lib/store/types.ts";
import { FakeClock } from "../../lib/util/clock.ts";
import { pairYaml, parseConfig } from "./config.ts";

/** Relationship name of the test pairs. */
export const REL = "test-pair";

/** One server of the pair. */
export interface PairNode {
  role: "primary" | "secondary";
  server: DhcpServer;
  failover: FailoverService;
  udp: { address: string; port: number };
  url: string;
  logs: MemorySink;
  schedulers: ManualScheduler[];
}

/** Settings of a test pair. */
export interface PairSettings {
  mclt?: number;
  keepalive?: number;
  autoPartnerDown?: number | null;
  valid?: number;
  subnet?: string;
  /** TLS files of each side (a side without them is insecure). */
  tls?: Partial<Record<"primary" | "secondary", { cert: string; key: string; ca: string }>>;
}

/** Waits until `f` holds, polling (real time) at most `timeoutMs`. */
export async function until(
  f: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A failover pair on loopback (see the module doc). */
export class TestPair {
  readonly dir: string;
  readonly clock: FakeClock;
  readonly settings: PairSettings;
  primary?: PairNode;
  secondary?: PairNode;
  #failoverPort = 0;

  private constructor(dir: string, settings: PairSettings) {
    this.dir = dir;
    this.settings = settings;
    this.clock = new FakeClock(Date.now());
  }

  /** Starts the secondary, then the primary, and (unless `wait` is false) waits for NORMAL. */
  static async start(settings: PairSettings = {}, wait = true): Promise<TestPair> {
    const dir = await Deno.makeTempDir({ prefix: "f6pair-" });
    const pair = new TestPair(dir, settings);
    try {
      pair.secondary = await pair.startNode("secondary");
      pair.#failoverPort = pair.secondary.failover.listenAddresses[0].port;
      pair.primary = await pair.startNode("primary");
      if (wait) await pair.waitStates("NORMAL", "NORMAL");
    } catch (e) {
      await pair.close();
      throw e;
    }
    return pair;
  }

  /** The validated configuration of one side (ports 0 where the OS picks). */
  config(role: "primary" | "secondary"): Config {
    const s = this.settings;
    const c = parseConfig(pairYaml({
      role,
      dir: `${this.dir}/${role}`,
      udpPort: 1,
      controlPort: 1,
      failoverPort: this.#failoverPort || 1,
      mclt: s.mclt ?? 30,
      keepalive: s.keepalive ?? 10,
      autoPartnerDown: role === "secondary" ? s.autoPartnerDown ?? null : null,
      valid: s.valid ?? 7200,
      subnet: s.subnet,
      level: "debug",
      tls: s.tls?.[role],
    }));
    c.listen = [{ kind: "unicast", address: "::1", port: 0 }];
    c.control = { ...c.control, port: 0 };
    // The secondary keeps its failover port across restarts (the primary's peer port).
    if (role === "secondary") c.failover[0].local = { address: "::1", port: this.#failoverPort };
    return c;
  }

  /** Starts one side (its database directory is kept across restarts). */
  async startNode(role: "primary" | "secondary"): Promise<PairNode> {
    await Deno.mkdir(`${this.dir}/${role}`, { recursive: true });
    const logs = new MemorySink();
    const schedulers: ManualScheduler[] = [];
    const server = await DhcpServer.start({
      config: this.config(role),
      configName: `<${role}>`,
      clock: this.clock,
      logger: new Logger({ format: "json", level: "debug", sink: logs, clock: this.clock }),
      failover: {
        scheduler: () => {
          const s = new ManualScheduler(this.clock);
          schedulers.push(s);
          return s;
        },
        backoff: { initialMs: 50, maxMs: 200, rejectedMs: 200 },
      },
    });
    const l = server.listeners[0];
    const node: PairNode = {
      role,
      server,
      failover: server.failover!,
      udp: { address: l.address, port: l.port },
      url: server.control?.url ?? "",
      logs,
      schedulers,
    };
    this[role] = node;
    return node;
  }

  /** Stops one side (drain, DISCONNECT). */
  async stopNode(role: "primary" | "secondary"): Promise<void> {
    const n = this[role];
    this[role] = undefined;
    await n?.server.stop("test");
  }

  /** Every running scheduler. */
  #schedulers(): ManualScheduler[] {
    return [...(this.primary?.schedulers ?? []), ...(this.secondary?.schedulers ?? [])];
  }

  /** Moves the shared clock forward in steps, firing the engines' due timers at each. */
  advance(ms: number, stepMs = 1000): void {
    let left = ms;
    while (left > 0) {
      const d = Math.min(stepMs, left);
      this.clock.advance(d);
      left -= d;
      for (const s of this.#schedulers()) s.runDue();
    }
  }

  /** The endpoint state of one side. */
  state(role: "primary" | "secondary"): EndpointStateName | undefined {
    return this[role]?.failover.engineState(REL)?.endpoint.state;
  }

  /** Waits for the given endpoint states (undefined: any). */
  async waitStates(
    p?: EndpointStateName,
    s?: EndpointStateName,
    timeoutMs = 15_000,
  ): Promise<void> {
    await until(
      () =>
        (p === undefined || this.state("primary") === p) &&
        (s === undefined || this.state("secondary") === s),
      `primary ${p ?? "any"} / secondary ${s ?? "any"} (now ${this.state("primary")} / ${
        this.state("secondary")
      })`,
      timeoutMs,
    );
  }

  /** Waits until no BNDUPD is queued, unacked or pending in either database. */
  async drained(timeoutMs = 15_000): Promise<void> {
    await until(
      async () => {
        for (const n of [this.primary, this.secondary]) {
          if (!n) continue;
          await n.failover.idle();
          for (const st of n.failover.status()) {
            if (st.bndupd.unacked + st.bndupd.queued + st.bndupd.pendingInStore > 0) return false;
          }
        }
        return true;
      },
      "the BNDUPD queues to drain",
      timeoutMs,
    );
  }

  /** ACTIVE address bindings of one side: address → client DUID. */
  active(role: "primary" | "secondary", kind: "na" | "pd" = "na"): Map<string, string> {
    const out = new Map<string, string>();
    const n = this[role];
    if (!n) return out;
    for (const l of n.server.core.leases.values()) {
      if (l.status === "ACTIVE" && l.kind === kind) {
        out.set(`${l.address}/${l.prefixLength}`, l.clientDuid);
      }
    }
    return out;
  }

  /** One side's lease for an address. */
  lease(role: "primary" | "secondary", address: string): Lease | undefined {
    return this[role]?.server.core.leases.lookup({ kind: "na", address });
  }

  /** Stops both sides and removes the directory. */
  async close(): Promise<void> {
    await this.stopNode("primary").catch(() => {});
    await this.stopNode("secondary").catch(() => {});
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}
