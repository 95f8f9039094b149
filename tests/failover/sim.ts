/**
 * A synchronous two-engine simulation for property tests: each side is the pure engine plus a
 * MemoryBindingStore, actions are carried out at once (writes commit before any later send),
 * messages go through the real codec into a network whose delivery order the test chooses.
 */
import { MemoryBindingStore } from "../../lib/store/memory.ts";
import type { Lease } from "../../lib/store/types.ts";
import {
  createEngine,
  type EngineConfig,
  type EngineState,
  type Event,
  step,
} from "../../lib/failover/engine.ts";
import { bindingKeysOf } from "../../lib/failover/bndupd.ts";
import { encodeMessage } from "../../lib/wire/encode.ts";
import { decodeMessage } from "../../lib/wire/decode.ts";
import type { FailoverMessage } from "../../lib/wire/types.ts";
import { T0 } from "./helpers.ts";

export type Who = "p" | "s";

export interface InFlight {
  from: Who;
  bytes: Uint8Array;
  msgType: number;
  sentAt: number;
  seq: number;
  /** For a BNDUPD: the leases it names (one TCP connection never reorders those). */
  keys: string[];
}

export class SimSide {
  state: EngineState;
  readonly store = new MemoryBindingStore();
  readonly streams = new Map<number, Iterator<Lease>>();
  readonly queue: Event[] = [];

  constructor(readonly who: Who, config: EngineConfig, readonly sim: Sim) {
    const r = createEngine(config, undefined, sim.now);
    this.state = r.state;
    this.execute(r.actions);
  }

  /** Feeds one event (and everything it causes on this side). */
  feed(e: Event): void {
    this.queue.push(e);
    while (this.queue.length > 0) {
      const next = this.queue.shift()!;
      const r = step(this.state, next, this.sim.now);
      this.state = r.state;
      this.execute(r.actions);
    }
  }

  execute(actions: ReturnType<typeof step>["actions"]): void {
    for (const a of actions) {
      switch (a.type) {
        case "persist":
          this.store.apply(a.writes);
          break;
        case "send":
          this.sim.send(this.who, a.message);
          break;
        case "close-connection":
          this.sim.linkDown = true;
          break;
        case "read-bindings": {
          let leases: Lease[] = [];
          let done = true;
          if (a.source.kind === "list") leases = this.store.list(a.source.query).leases;
          else if (a.source.kind === "all" || a.source.kind === "pending") {
            let it = this.streams.get(a.stream);
            if (!it) {
              it = a.source.kind === "all" ? this.store.all() : this.store.needingUpdate();
              this.streams.set(a.stream, it);
            }
            done = false;
            while (leases.length < a.limit) {
              const n = it.next();
              if (n.done) {
                done = true;
                break;
              }
              leases.push(n.value);
            }
          }
          const counts = a.source.kind === "pool-counts" ? this.store.countByPool() : undefined;
          this.queue.unshift({ type: "bindings-read", stream: a.stream, leases, done, counts });
          break;
        }
        case "close-bindings":
          this.streams.delete(a.stream);
          break;
      }
    }
  }

  receive(bytes: Uint8Array): void {
    const { message } = decodeMessage(bytes);
    const m = message as FailoverMessage;
    const bindings = bindingKeysOf(m).flatMap((k) => {
      const l = this.store.get(k);
      return l ? [l] : [];
    });
    this.feed({ type: "message-received", message: m, bindings });
  }
}

const CONTROL = new Set([26, 27, 28, 29, 30, 31, 32, 33, 34, 35]);

export class Sim {
  now = T0;
  seq = 0;
  linkDown = true;
  network: InFlight[] = [];
  readonly p: SimSide;
  readonly s: SimSide;

  constructor(config: Partial<EngineConfig> = {}) {
    const base = { relationship: "rel", mclt: 3600, maxUnackedBndupd: 4, ...config };
    this.p = new SimSide("p", { role: "primary", ...base }, this);
    this.s = new SimSide("s", { role: "secondary", ...base }, this);
  }

  side(w: Who): SimSide {
    return w === "p" ? this.p : this.s;
  }

  send(from: Who, m: FailoverMessage): void {
    if (this.linkDown) return;
    const keys = m.msgType === 24 ? bindingKeysOf(m).map((k) => `${k.kind} ${k.address}`) : [];
    this.network.push({
      from,
      bytes: encodeMessage(m),
      msgType: m.msgType,
      sentAt: this.now,
      seq: this.seq++,
      keys,
    });
  }

  /**
   * Messages that may be delivered now: per direction, the oldest one, and any BNDUPD/BNDREPLY
   * with no control message sent before it still in flight. Binding messages about different
   * leases may overtake each other (delivered late and out of order); a BNDUPD never overtakes
   * an earlier BNDUPD for the same lease, nor anything a control message (TCP keeps the
   * order of one connection; the engine relies on it, as RFC 8156 §6 does).
   */
  eligible(): number[] {
    const out: number[] = [];
    for (const from of ["p", "s"] as const) {
      let sawControl = false;
      let first = true;
      const earlierKeys = new Set<string>();
      this.network.forEach((m, i) => {
        if (m.from !== from) return;
        const clash = m.keys.some((k) => earlierKeys.has(k));
        if (first || (!sawControl && !CONTROL.has(m.msgType) && !clash)) out.push(i);
        if (CONTROL.has(m.msgType)) sawControl = true;
        for (const k of m.keys) earlierKeys.add(k);
        first = false;
      });
    }
    return out;
  }

  deliver(pick: number): boolean {
    const e = this.eligible();
    if (e.length === 0) return false;
    const [m] = this.network.splice(e[pick % e.length], 1);
    this.side(m.from === "p" ? "s" : "p").receive(m.bytes);
    this.checkLink();
    return true;
  }

  /** Delivers everything in order. */
  flush(limit = 100_000): void {
    for (let i = 0; i < limit && this.network.length > 0; i++) this.deliver(0);
  }

  /** Both sides learn the link is gone. */
  checkLink(): void {
    if (!this.linkDown) return;
    this.network = [];
    if (this.p.state.comms.phase !== "down") {
      this.p.feed({ type: "connection-down", reason: "cut" });
    }
    if (this.s.state.comms.phase !== "down") {
      this.s.feed({ type: "connection-down", reason: "cut" });
    }
  }

  cut(): void {
    this.linkDown = true;
    this.checkLink();
  }

  connect(): void {
    if (!this.linkDown) return;
    this.linkDown = false;
    this.s.feed({ type: "connection-up" });
    this.p.feed({ type: "connection-up" });
    // The CONNECT exchange and the STATEs travel in order.
    for (let i = 0; i < 20 && !this.linkDown; i++) {
      if (this.p.state.comms.phase === "ok" && this.s.state.comms.phase === "ok") break;
      if (!this.deliver(0)) break;
    }
  }

  /** Advances the clock; nothing is left in flight longer than 4 s (the skew rule). */
  tick(ms: number): void {
    while (this.network.some((m) => this.now + ms - m.sentAt > 4000)) this.deliver(0);
    this.now += ms;
  }
}
