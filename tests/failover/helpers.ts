/**
 * Test helpers for the failover engine: an in-memory pipe between two drivers, a pair of
 * drivers on one fake clock, lease builders and action filters.
 */
import { FakeClock } from "../../lib/util/clock.ts";
import { MemoryBindingStore } from "../../lib/store/memory.ts";
import { emptyLease } from "../../lib/store/lease.ts";
import type { Lease } from "../../lib/store/types.ts";
import { EngineDriver, type Transport } from "../../lib/failover/driver.ts";
import { ManualScheduler } from "../../lib/failover/scheduler.ts";
import type { Action, EngineConfig } from "../../lib/failover/engine.ts";
import type { FailoverMessage } from "../../lib/wire/types.ts";
import { messageTypeName } from "../../lib/wire/names.ts";

/** 2024-01-01T00:00:00Z in ms. */
export const T0 = Date.UTC(2024, 0, 1);

/** An ACTIVE address lease. */
export function activeLease(
  address: string,
  duid: string,
  now: number,
  over: Partial<Lease> = {},
): Lease {
  return {
    ...emptyLease({ kind: "na", address }, "ACTIVE"),
    clientDuid: duid,
    iaid: 1,
    preferredLifetime: 1800,
    validLifetime: 3600,
    expirationTime: now + 3600_000,
    stateExpirationTime: now + 3600_000,
    partnerLifetime: now + 5400_000,
    cltTime: now,
    startTimeOfState: now,
    updatePending: true,
    owner: "primary",
    relationship: "rel",
    ...over,
  };
}

/** Names of the messages in a list of actions. */
export function sentNames(actions: readonly Action[]): string[] {
  return actions.filter((a): a is Extract<Action, { type: "send" }> => a.type === "send")
    .map((a) => messageTypeName(a.message.msgType));
}

/** The messages sent in a list of actions. */
export function sent(actions: readonly Action[]): FailoverMessage[] {
  return actions.filter((a): a is Extract<Action, { type: "send" }> => a.type === "send")
    .map((a) => a.message);
}

/** An in-memory connection: writes on one side arrive, asynchronously, on the other. */
export class MemoryLink {
  a?: EngineDriver;
  b?: EngineDriver;
  closed = false;
  /** Octets in flight, counted for waiting. */
  inflight = 0;
  /** Set to hold deliveries (a cut cable that TCP has not noticed). */
  hold = false;
  held: [EngineDriver, Uint8Array][] = [];

  transport(from: "a" | "b"): Transport {
    return {
      write: (data) => {
        if (this.closed) return Promise.reject(new Error("closed"));
        const to = from === "a" ? this.b : this.a;
        if (!to) return Promise.resolve();
        const copy = data.slice();
        if (this.hold) {
          this.held.push([to, copy]);
          return Promise.resolve();
        }
        this.inflight++;
        queueMicrotask(() => {
          this.inflight--;
          if (!this.closed) to.receive(copy);
        });
        return Promise.resolve();
      },
      close: () => {
        if (this.closed) return;
        this.closed = true;
        queueMicrotask(() => {
          this.a?.detach("closed");
          this.b?.detach("closed");
        });
      },
    };
  }

  connect(a: EngineDriver, b: EngineDriver): void {
    this.a = a;
    this.b = b;
    b.attach(this.transport("b"), "a");
    a.attach(this.transport("a"), "b");
  }
}

/** Two drivers (primary, secondary) sharing one fake clock and manual scheduler per side. */
export class Pair {
  readonly clock = new FakeClock(T0);
  readonly pStore: MemoryBindingStore;
  readonly sStore: MemoryBindingStore;
  readonly p: EngineDriver;
  readonly s: EngineDriver;
  readonly pTimers: ManualScheduler;
  readonly sTimers: ManualScheduler;
  readonly log: string[] = [];
  link?: MemoryLink;

  constructor(
    opts: {
      primary?: Partial<EngineConfig>;
      secondary?: Partial<EngineConfig>;
      pStore?: MemoryBindingStore;
      sStore?: MemoryBindingStore;
    } = {},
  ) {
    this.pStore = opts.pStore ?? new MemoryBindingStore();
    this.sStore = opts.sStore ?? new MemoryBindingStore();
    this.pTimers = new ManualScheduler(this.clock);
    this.sTimers = new ManualScheduler(this.clock);
    const hooks = (who: string) => ({
      onSend: (m: FailoverMessage) => this.log.push(`${who}>${messageTypeName(m.msgType)}`),
      onAction: (a: Action) => {
        if (a.type === "state-changed") this.log.push(`${who}:${a.to}`);
      },
    });
    this.p = new EngineDriver({
      config: { role: "primary", relationship: "rel", mclt: 3600, ...opts.primary },
      store: this.pStore,
      clock: this.clock,
      scheduler: this.pTimers,
      hooks: hooks("P"),
    });
    this.s = new EngineDriver({
      config: { role: "secondary", relationship: "rel", mclt: 3600, ...opts.secondary },
      store: this.sStore,
      clock: this.clock,
      scheduler: this.sTimers,
      hooks: hooks("S"),
    });
  }

  start(): void {
    this.p.start();
    this.s.start();
  }

  connect(): MemoryLink {
    this.link = new MemoryLink();
    this.link.connect(this.p, this.s);
    return this.link;
  }

  /** Lets every microtask, commit and delivery run until nothing moves. */
  async settle(): Promise<void> {
    for (let i = 0; i < 10_000; i++) {
      await this.p.idle();
      await this.s.idle();
      await new Promise((r) => setTimeout(r, 0));
      if ((this.link?.inflight ?? 0) === 0) {
        await this.p.idle();
        await this.s.idle();
        if ((this.link?.inflight ?? 0) === 0) return;
      }
    }
    throw new Error("Pair.settle: still busy");
  }

  /** Advances the clock by `ms`, firing timers on both sides, and settles. */
  async advance(ms: number, stepMs = 1000): Promise<void> {
    let left = ms;
    while (left > 0) {
      const d = Math.min(stepMs, left);
      left -= d;
      // Fire both schedulers in time order at each stop.
      const end = this.clock.now() + d;
      for (;;) {
        const next = Math.min(
          this.pTimers.pending()[0]?.at ?? Infinity,
          this.sTimers.pending()[0]?.at ?? Infinity,
        );
        if (next > end) break;
        this.clock.set(Math.max(this.clock.now(), next));
        this.pTimers.runDue();
        this.sTimers.runDue();
        await this.settle();
      }
      this.clock.set(end);
      await this.settle();
    }
  }
}

// ---------------------------------------------------------------------------------------
// Pure-core helpers
// ---------------------------------------------------------------------------------------

import {
  createEngine,
  type EngineState,
  type Event,
  step,
  type StepResult,
} from "../../lib/failover/engine.ts";
import type { EndpointStateName, EndpointStateRecord } from "../../lib/store/types.ts";
import { toWireTime } from "../../lib/failover/binding.ts";
import { stateCode } from "../../lib/failover/endpoint.ts";
import { connectOptions, failoverMessage, stateOptions } from "../../lib/wire/options.ts";
import type { DhcpOption, FailoverMsgType } from "../../lib/wire/types.ts";

/** A failover message as the partner would send it at `now` (ms). */
export function fo(
  msgType: FailoverMsgType,
  options: DhcpOption[] = [],
  xid = 0x1000,
  now = T0,
): FailoverMessage {
  return failoverMessage(msgType, xid, toWireTime(now), options);
}

/** A STATE from the partner. */
export function stateMsg(
  state: EndpointStateName,
  opts: { flags?: number; start?: number; now?: number; partnerDownTime?: number } = {},
): FailoverMessage {
  const now = opts.now ?? T0;
  return fo(
    34,
    stateOptions({
      serverState: stateCode(state),
      flags: opts.flags ?? 1,
      startTimeOfState: toWireTime(opts.start ?? now - 60_000),
      partnerDownTime: state === "PARTNER-DOWN"
        ? toWireTime(opts.partnerDownTime ?? opts.start ?? now - 60_000)
        : undefined,
    }),
    0x2000,
    now,
  );
}

/** A stored endpoint record. */
export function record(
  state: EndpointStateName,
  over: Partial<EndpointStateRecord> = {},
): EndpointStateRecord {
  return {
    relationship: "rel",
    state,
    previousState: null,
    startTimeOfState: T0 - 86_400_000,
    partnerState: null,
    partnerStartTimeOfState: 0,
    partnerFlags: 0,
    partnerDownTime: 0,
    lastContactTime: T0 - 3_600_000,
    lastOperationTime: T0 - 600_000,
    mclt: 3600,
    ...over,
  };
}

/** Feeds events one by one at `now`, collecting the actions. */
export function feed(
  state: EngineState,
  events: readonly Event[],
  now = T0,
): StepResult<EngineState> {
  let s = state;
  const actions: StepResult<EngineState>["actions"] = [];
  for (const e of events) {
    const r = step(s, e, now);
    s = r.state;
    actions.push(...r.actions);
  }
  return { state: s, actions };
}

/** The CONNECT a primary sends, or a CONNECTREPLY, with overrides. */
export function connectMsg(
  type: 31 | 32,
  over: { mclt?: number; keepalive?: number; maxUnacked?: number; name?: string; now?: number } =
    {},
  xid = 0x10,
): FailoverMessage {
  return fo(
    type,
    connectOptions({
      mclt: over.mclt ?? 3600,
      keepaliveTime: over.keepalive ?? 60,
      maxUnackedBndupd: over.maxUnacked ?? 10,
      relationshipName: type === 31 ? over.name ?? "rel" : undefined,
    }),
    xid,
    over.now ?? T0,
  );
}

/**
 * An engine put directly into `state` with communications OK (CONNECT exchange done and the
 * partner's STATE received) and the partner in `partner` — plain data, built by hand.
 */
export function engineIn(
  state: EndpointStateName,
  opts: {
    role?: "primary" | "secondary";
    partner?: EndpointStateName | null;
    commsOk?: boolean;
    config?: Partial<EngineConfig>;
    maxUnacked?: number;
  } = {},
): EngineState {
  const role = opts.role ?? "primary";
  const base = createEngine(
    { role, relationship: "rel", mclt: 3600, ...opts.config },
    record(state),
    T0 - 1000,
  ).state;
  const ok = opts.commsOk ?? true;
  return {
    ...base,
    endpoint: {
      ...base.endpoint,
      state,
      previousState: null,
      startTimeOfState: T0 - 1000,
      partnerState: opts.partner === undefined ? null : opts.partner,
      partnerFlags: 1,
    },
    comms: ok
      ? {
        phase: "ok",
        since: T0 - 1000,
        lastReceived: T0 - 1000,
        lastSent: T0 - 1000,
        partner: {
          version: { major: 1, minor: 0 },
          mclt: 3600,
          keepaliveTime: 60,
          maxUnackedBndupd: opts.maxUnacked ?? 10,
          flags: 0,
        },
      }
      : { phase: "down", since: 0, lastReceived: 0, lastSent: 0 },
  };
}

/** The state changes in a list of actions, as `FROM>TO`. */
export function changes(actions: readonly Action[]): string[] {
  return actions.filter((a): a is Extract<Action, { type: "state-changed" }> =>
    a.type === "state-changed"
  ).map((a) => `${a.from}>${a.to}`);
}
