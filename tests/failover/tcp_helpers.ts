/**
 * Two engine drivers over real loopback TCP on one fake clock: the secondary listens on an
 * ephemeral port, the primary connects through a connector the test controls (so it can cut
 * the cable and plug it back). Waiting is for I/O to go quiet, never for wall-clock time.
 */
import { FakeClock } from "../../lib/util/clock.ts";
import { MemoryBindingStore } from "../../lib/store/memory.ts";
import type { EndpointStateRecord, Lease } from "../../lib/store/types.ts";
import { EngineDriver } from "../../lib/failover/driver.ts";
import { ManualScheduler } from "../../lib/failover/scheduler.ts";
import {
  type ByteStream,
  type ConnectionHandle,
  type ListenerHandle,
  runPrimary,
  runSecondary,
} from "../../lib/failover/connection.ts";
import type { Action, EngineConfig } from "../../lib/failover/engine.ts";
import type { FailoverMessage } from "../../lib/wire/types.ts";
import { messageTypeName } from "../../lib/wire/names.ts";
import { findOption } from "../../lib/wire/options.ts";
import { stateFromCode } from "../../lib/failover/endpoint.ts";
import { T0 } from "./helpers.ts";

/** A short text of a message: `STATE(NORMAL)`, `BNDREPLY(16)`, `BNDUPD`. */
export function describe(m: FailoverMessage): string {
  const name = messageTypeName(m.msgType);
  if (m.msgType === 34) {
    return `STATE(${stateFromCode(findOption(m.options, 132)?.serverState ?? 0)})`;
  }
  if (m.msgType === 25) {
    const codes: number[] = [];
    const walk = (o: readonly { code: number }[]) => {
      for (const x of o) {
        if (x.code === 13 && "statusCode" in x) {
          codes.push((x as { statusCode: number }).statusCode);
        }
        if ("options" in x && Array.isArray((x as { options: unknown }).options)) {
          walk((x as unknown as { options: { code: number }[] }).options);
        }
      }
    };
    walk(m.options);
    return codes.length ? `${name}(${codes.join(",")})` : name;
  }
  return name;
}

/** One side of the pair. */
export interface Side {
  driver: EngineDriver;
  store: MemoryBindingStore;
  timers: ManualScheduler;
  /** Messages sent, described. */
  sent: string[];
  /** States entered. */
  states: string[];
  logs: string[];
}

function side(
  role: "primary" | "secondary",
  clock: FakeClock,
  config: Partial<EngineConfig>,
  stored?: EndpointStateRecord,
  leases: Lease[] = [],
): Side {
  const store = new MemoryBindingStore();
  if (stored) store.apply([{ type: "endpoint-state", record: stored }]);
  if (leases.length) store.upsert(leases);
  const timers = new ManualScheduler(clock);
  const s: Side = { store, timers, sent: [], states: [], logs: [] } as unknown as Side;
  s.driver = new EngineDriver({
    config: { role, relationship: "rel", mclt: 3600, ...config },
    store,
    clock,
    scheduler: timers,
    hooks: {
      onSend: (m) => s.sent.push(describe(m)),
      onAction: (a: Action) => {
        if (a.type === "state-changed") s.states.push(a.to);
        if (a.type === "log" || a.type === "alarm") s.logs.push(`${a.type}: ${a.text}`);
      },
    },
  });
  return s;
}

/** Two drivers over loopback TCP. */
export class TcpPair {
  readonly clock = new FakeClock(T0);
  readonly p: Side;
  readonly s: Side;
  listener?: ListenerHandle;
  primary?: ConnectionHandle;
  /** The primary's current TCP connection. */
  conn?: ByteStream;
  /** While false the primary's connection attempts fail (the cable is cut). */
  plugged = true;
  connects = 0;

  constructor(opts: {
    primary?: Partial<EngineConfig>;
    secondary?: Partial<EngineConfig>;
    pStored?: EndpointStateRecord;
    sStored?: EndpointStateRecord;
    pLeases?: Lease[];
    sLeases?: Lease[];
  } = {}) {
    this.p = side("primary", this.clock, opts.primary ?? {}, opts.pStored, opts.pLeases);
    this.s = side("secondary", this.clock, opts.secondary ?? {}, opts.sStored, opts.sLeases);
  }

  start(): void {
    this.p.driver.start();
    this.s.driver.start();
  }

  /** Starts listening and connecting. */
  run(): void {
    this.listener = runSecondary({
      drivers: [this.s.driver],
      hostname: "::1",
      port: 0,
      allowedPeers: ["::1"],
      log: (line) => this.s.logs.push(`shell: ${line}`),
    });
    const port = this.listener.addr.port;
    this.primary = runPrimary({
      driver: this.p.driver,
      hostname: "::1",
      port,
      backoff: { initialMs: 5, maxMs: 20, rejectedMs: 20 },
      log: (line) => this.p.logs.push(`shell: ${line}`),
      connect: async (hostname, p) => {
        if (!this.plugged) throw new Error("cable cut");
        const c = await Deno.connect({ hostname, port: p, transport: "tcp" });
        this.conn = c;
        this.connects++;
        return c;
      },
    });
  }

  /** Cuts the TCP connection (and keeps it cut until `plug`). */
  cut(): void {
    this.plugged = false;
    try {
      this.conn?.close();
    } catch {
      // closed
    }
  }

  plug(): void {
    this.plugged = true;
  }

  #activity(): number {
    const a = this.p.driver.stats, b = this.s.driver.stats;
    return a.framesIn + a.framesOut + b.framesIn + b.framesOut + a.commits + b.commits +
      this.connects;
  }

  /** Waits until no frame moves for a few polls and both drivers are idle. */
  async settle(quietPolls = 4): Promise<void> {
    let last = -1;
    let quiet = 0;
    for (let i = 0; i < 4000; i++) {
      await this.p.driver.idle();
      await this.s.driver.idle();
      await new Promise((r) => setTimeout(r, 2));
      const now = this.#activity();
      if (now === last) {
        if (++quiet >= quietPolls) return;
      } else {
        quiet = 0;
        last = now;
      }
    }
    throw new Error("TcpPair.settle: traffic never went quiet");
  }

  /** Waits (settling) until `cond` holds; fails after many rounds (a deadlock guard). */
  async until(cond: () => boolean, what: string): Promise<void> {
    for (let i = 0; i < 500; i++) {
      if (cond()) return;
      await this.settle(2);
    }
    throw new Error(`TcpPair.until: never ${what}`);
  }

  /** Moves the fake clock forward, firing both sides' timers in time order. */
  async advance(ms: number): Promise<void> {
    const end = this.clock.now() + ms;
    for (;;) {
      const next = Math.min(
        this.p.timers.pending()[0]?.at ?? Infinity,
        this.s.timers.pending()[0]?.at ?? Infinity,
      );
      if (next > end) break;
      this.clock.set(Math.max(this.clock.now(), next));
      this.p.timers.runDue();
      this.s.timers.runDue();
      await this.settle(2);
    }
    this.clock.set(end);
    await this.settle(2);
  }

  async stop(): Promise<void> {
    await this.primary?.stop();
    await this.listener?.stop();
    this.p.timers.cancelAll();
    this.s.timers.cancelAll();
  }
}
