/**
 * A small RFC 8156 peer for testing the partner: the system under test of the conformance
 * suite when our engine is not in the loop. Built directly on lib/wire (it shares no protocol
 * code with lib/partner or the engine); its connections come from the shared connection shell
 * (lib/failover/connection.ts: the primary's connect-and-retry loop, the secondary's listener
 * where a new connection replaces the old one, optional STARTTLS), over lib/partner's `Network`
 * and `Scheduler` so it runs over the in-memory network under virtual time, or over real TCP.
 * The shell only carries octets: every protocol rule, and so every `Break`, stays in here.
 *
 * Well behaved by default. Each `Break` switches off exactly one rule, so a test can show that
 * the conformance scenario guarding that rule fails.
 *
 * @module
 */

import { bytesEqual, bytesToHex } from "../../lib/wire/bytes.ts";
import { decodeMessage } from "../../lib/wire/decode.ts";
import { encodeMessage } from "../../lib/wire/encode.ts";
import { Deframer, frameMessage } from "../../lib/wire/framing.ts";
import { findOption } from "../../lib/wire/options.ts";
import { absoluteTimeFromMs } from "../../lib/wire/time.ts";
import type {
  DhcpOption,
  FailoverMessage,
  FailoverMsgType,
  Message,
} from "../../lib/wire/types.ts";
import {
  type ConnectionDriver,
  type ConnectionHandle,
  type ConnListener,
  runPrimary,
  runSecondary,
} from "../../lib/failover/connection.ts";
import type { Transport } from "../../lib/failover/driver.ts";
import { startTlsAcceptor, startTlsConnector, type TlsOptions } from "../../lib/failover/tls.ts";
import {
  type Endpoint,
  type Network,
  networkConnector,
  shellListener,
} from "../../lib/partner/net.ts";
import type { Scheduler, TimerId } from "../../lib/partner/scheduler.ts";

/** One rule the double can break. */
export type Break =
  | "connectreply-no-keepalive"
  | "connectreply-wrong-xid"
  | "accept-skewed-connect"
  | "accept-any-version"
  | "no-state-after-connect"
  | "state-missing-start-time"
  | "connect-missing-flags"
  | "accept-mclt-mismatch"
  | "bndreply-wrong-xid"
  | "bndreply-pl-not-echoed"
  | "bndreply-not-mirrored"
  | "accept-conflicts"
  | "no-status-on-missing-binding"
  | "updone-early"
  | "updone-wrong-xid"
  | "bndupd-partial-timeout-options"
  | "no-poolresp"
  | "no-contact"
  | "no-keepalive-timeout"
  | "ignore-max-unacked"
  | "ignore-skew-later"
  | "accept-before-connect"
  | "crash-on-garbage";

/** Every break, for tests that go through them all. */
export const ALL_BREAKS: readonly Break[] = [
  "connectreply-no-keepalive",
  "connectreply-wrong-xid",
  "accept-skewed-connect",
  "accept-any-version",
  "no-state-after-connect",
  "state-missing-start-time",
  "connect-missing-flags",
  "accept-mclt-mismatch",
  "bndreply-wrong-xid",
  "bndreply-pl-not-echoed",
  "bndreply-not-mirrored",
  "accept-conflicts",
  "no-status-on-missing-binding",
  "updone-early",
  "updone-wrong-xid",
  "bndupd-partial-timeout-options",
  "no-poolresp",
  "no-contact",
  "no-keepalive-timeout",
  "ignore-max-unacked",
  "ignore-skew-later",
  "accept-before-connect",
  "crash-on-garbage",
];

/** Configuration of the double. */
export interface DoubleOptions {
  role: "primary" | "secondary";
  network: Network;
  scheduler: Scheduler;
  /** Secondary: where to listen. */
  listen?: Endpoint;
  /** Primary: where to connect. */
  connect?: Endpoint;
  mclt: number;
  keepalive: number;
  maxUnacked: number;
  /** State announced in STATE (default NORMAL). */
  state?: number;
  breaks?: readonly Break[];
  /** Primary: reconnect interval in ms (default 500). */
  retryMs?: number;
  log?: (line: string) => void;
  /**
   * Secure mode over real TCP (the network is then unused). A secondary double needs a
   * `listener` from `nodeListener` for it.
   */
  tls?: TlsOptions;
  /** Secondary: listen on this instead of `network.listen(listen)` (e.g. a `nodeListener`). */
  listener?: ConnListener;
}

interface Binding {
  client?: Uint8Array;
  status: number;
  startTimeOfState: number;
  stateExpirationTime?: number;
  /** The container option as received (CLIENT_DATA or IAPREFIX), re-sent on UPDREQALL. */
  tree: DhcpOption;
}

const SKEW = 5;

function fo(
  msgType: number,
  xid: number,
  sentTime: number,
  options: DhcpOption[] = [],
): FailoverMessage {
  return {
    kind: "failover",
    msgType: msgType as FailoverMsgType,
    transactionId: xid & 0xffffff,
    sentTime,
    options,
  };
}

function status(code: number, message = ""): DhcpOption {
  return { code: 13, statusCode: code, statusMessage: message };
}

/** The test double. */
export class TestPeer {
  readonly o: DoubleOptions;
  readonly breaks: ReadonlySet<Break>;
  /** Bindings by address or prefix. */
  readonly bindings = new Map<string, Binding>();
  /** Number of connections handled. */
  connections = 0;
  #local: Endpoint | undefined;
  #handle: ConnectionHandle | undefined;
  #stopped = false;
  #current: PeerConn | undefined;
  #xid = 0x100;

  /** Creates the double (call `start`). */
  constructor(o: DoubleOptions) {
    this.o = o;
    this.breaks = new Set(o.breaks ?? []);
  }

  /** The endpoint it listens on (secondary). */
  get local(): Endpoint | undefined {
    return this.#local;
  }

  log(line: string): void {
    this.o.log?.(`[double] ${line}`);
  }

  nextXid(): number {
    this.#xid = (this.#xid + 1) & 0xffffff;
    return this.#xid;
  }

  now(): number {
    return absoluteTimeFromMs(this.o.scheduler.now());
  }

  /** What the connection shell drives: one `PeerConn` per attached connection. */
  #driver(): ConnectionDriver {
    // deno-lint-ignore no-this-alias
    const peer = this;
    return {
      relationship: "",
      get connectionAccepted() {
        return peer.#current?.open ?? false;
      },
      attach: (t: Transport) => {
        this.#current?.close();
        this.#current = new PeerConn(this, t);
        if (this.o.role === "primary") this.#current.sendConnect();
      },
      receive: (chunk: Uint8Array) => this.#current?.receive(chunk),
      detach: (_reason: string, t?: Transport) => {
        if (!this.#current || (t && this.#current.transport !== t)) return;
        this.#current.close();
        this.#current = undefined;
      },
      stop: () => Promise.resolve(),
    };
  }

  /** Starts listening (secondary) or connecting (primary). */
  start(): void {
    const log = (line: string) => this.log(line);
    const o = this.o;
    if (o.role === "secondary") {
      const listener = o.listener ??
        shellListener(o.network.listen(o.listen ?? { address: "::1", port: 0 }));
      const a = listener.addr as Deno.NetAddr;
      this.#local = { address: a.hostname, port: a.port };
      this.#handle = runSecondary({
        drivers: [this.#driver()],
        listener,
        accept: o.tls ? startTlsAcceptor(o.tls, log) : undefined,
        log,
      });
    } else {
      const to = o.connect!;
      const retry = o.retryMs ?? 500;
      this.#handle = runPrimary({
        driver: this.#driver(),
        hostname: to.address,
        port: to.port,
        backoff: { initialMs: retry, maxMs: retry, rejectedMs: retry },
        connect: o.tls ? startTlsConnector(o.tls) : networkConnector(o.network),
        timers: o.scheduler,
        log,
      });
    }
  }

  /** Simulates a crash: stops listening and drops the connection. */
  crash(): void {
    this.log("crashing");
    this.stop();
  }

  /** Stops everything. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#current?.close();
    this.#current = undefined;
    this.#handle?.stop();
  }
}

/** One connection of the double. */
class PeerConn {
  readonly p: TestPeer;
  readonly transport: Transport;
  #deframer = new Deframer();
  #open = false;
  #closed = false;
  #partnerKeepalive: number;
  #partnerMaxUnacked = 1;
  #mclt: number;
  #connectXid = 0;
  #sendTimer: TimerId | undefined;
  #recvTimer: TimerId | undefined;
  #queue: FailoverMessage[] = [];
  #outstanding = new Set<number>();
  #updreq: number | undefined;

  constructor(p: TestPeer, transport: Transport) {
    this.p = p;
    this.transport = transport;
    this.#partnerKeepalive = p.o.keepalive;
    this.#mclt = p.o.mclt;
    p.connections++;
    this.#armRecv();
  }

  get breaks(): ReadonlySet<Break> {
    return this.p.breaks;
  }

  /** True once CONNECT/CONNECTREPLY went through. */
  get open(): boolean {
    return this.#open;
  }

  /** Octets from the connection (the shell's read loop). */
  receive(chunk: Uint8Array): void {
    if (this.#closed) return;
    const r = this.#deframer.push(chunk);
    for (const f of r.frames) {
      if (this.#closed) return;
      this.#onMessage(f.data);
    }
    if (r.error) this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#sendTimer !== undefined) this.p.o.scheduler.clearTimer(this.#sendTimer);
    if (this.#recvTimer !== undefined) this.p.o.scheduler.clearTimer(this.#recvTimer);
    this.transport.close();
  }

  send(m: FailoverMessage): void {
    if (this.#closed) return;
    this.transport.write(frameMessage(encodeMessage(m))).catch(() => this.close());
    this.#armSend();
  }

  #armSend(): void {
    const s = this.p.o.scheduler;
    if (this.#sendTimer !== undefined) s.clearTimer(this.#sendTimer);
    this.#sendTimer = undefined;
    if (!this.#open || this.breaks.has("no-contact")) return;
    this.#sendTimer = s.setTimer(this.#partnerKeepalive * 250, () => {
      this.#sendTimer = undefined;
      this.send(fo(35, this.p.nextXid(), this.p.now()));
    });
  }

  #armRecv(): void {
    const s = this.p.o.scheduler;
    if (this.#recvTimer !== undefined) s.clearTimer(this.#recvTimer);
    if (this.breaks.has("no-keepalive-timeout")) return;
    this.#recvTimer = s.setTimer(this.p.o.keepalive * 1000, () => {
      this.p.log("keepalive expired: dropping the connection");
      this.close();
    });
  }

  #connectOptions(mclt: number): DhcpOption[] {
    const out: DhcpOption[] = [
      { code: 127, majorVersion: 1, minorVersion: 0 },
      { code: 122, mclt },
      { code: 128, keepaliveTime: this.p.o.keepalive },
      { code: 121, maxUnackedBndupd: this.p.o.maxUnacked },
      { code: 115, flags: 0 },
    ];
    return out;
  }

  sendConnect(): void {
    let opts = this.#connectOptions(this.p.o.mclt);
    if (this.breaks.has("connect-missing-flags")) opts = opts.filter((o) => o.code !== 115);
    this.#connectXid = this.p.nextXid();
    this.send(fo(31, this.#connectXid, this.p.now(), opts));
  }

  #sendState(): void {
    if (this.breaks.has("no-state-after-connect")) return;
    const state = this.p.o.state ?? 2;
    const opts: DhcpOption[] = [
      { code: 132, serverState: state },
      { code: 131, flags: 0x01 },
      { code: 133, startTimeOfState: this.p.now() - 10 },
    ];
    if (state === 4) opts.push({ code: 125, partnerDownTime: this.p.now() - 10 });
    this.send(
      fo(
        34,
        this.p.nextXid(),
        this.p.now(),
        this.breaks.has("state-missing-start-time") ? opts.filter((o) => o.code !== 133) : opts,
      ),
    );
  }

  #onMessage(bytes: Uint8Array): void {
    const d = decodeMessage(bytes);
    const m = d.message;
    if (!m || d.errors.length > 0 || m.kind !== "failover") {
      this.p.log(`garbage (${bytesToHex(bytes)}): dropping the connection`);
      if (this.breaks.has("crash-on-garbage")) this.p.crash();
      else this.close();
      return;
    }
    this.#armRecv();
    const skew = Math.abs(m.sentTime - this.p.now());
    if (m.msgType === 31) return this.#onConnect(m, skew);
    if (m.msgType === 32) return this.#onConnectReply(m);
    if (!this.#open && !this.breaks.has("accept-before-connect")) {
      this.p.log(`${m.msgType} before the connection is up: dropping`);
      this.close();
      return;
    }
    if (skew > SKEW && !this.breaks.has("ignore-skew-later")) {
      this.p.log(`skew ${skew}s: dropping the connection`);
      this.close();
      return;
    }
    switch (m.msgType) {
      case 24:
        return this.#onBndupd(m);
      case 25:
        this.#outstanding.delete(m.transactionId);
        return this.#pump();
      case 26:
        if (this.p.o.role === "primary" && !this.breaks.has("no-poolresp")) {
          this.send(fo(27, m.transactionId, this.p.now()));
        }
        return;
      case 28:
      case 29:
        return this.#onUpdreq(m);
      case 33:
        return this.close();
    }
  }

  #onConnect(m: FailoverMessage, skew: number): void {
    if (this.p.o.role !== "secondary") return this.close();
    const reply = (opts: DhcpOption[]) => {
      const xid = this.breaks.has("connectreply-wrong-xid") ? m.transactionId + 1 : m.transactionId;
      this.send(fo(32, xid, this.p.now(), opts));
    };
    if (skew > SKEW && !this.breaks.has("accept-skewed-connect")) {
      return reply([status(22, `sent-time is ${skew}s off`)]);
    }
    const v = findOption(m.options, 127);
    if ((!v || v.majorVersion !== 1) && !this.breaks.has("accept-any-version")) {
      return reply([status(14, "protocol version 1.0 only")]);
    }
    this.#mclt = findOption(m.options, 122)?.mclt ?? this.p.o.mclt;
    this.#partnerKeepalive = findOption(m.options, 128)?.keepaliveTime ?? this.p.o.keepalive;
    this.#partnerMaxUnacked = findOption(m.options, 121)?.maxUnackedBndupd ?? 1;
    let opts = this.#connectOptions(this.#mclt);
    if (this.breaks.has("connectreply-no-keepalive")) opts = opts.filter((o) => o.code !== 128);
    this.#open = true;
    reply(opts);
    this.#sendState();
  }

  #onConnectReply(m: FailoverMessage): void {
    if (this.p.o.role !== "primary" || m.transactionId !== this.#connectXid) return this.close();
    const st = findOption(m.options, 13);
    if (st && st.statusCode !== 0) return this.close();
    const v = findOption(m.options, 127);
    const mclt = findOption(m.options, 122)?.mclt;
    const bad = !v || v.majorVersion !== 1
      ? "protocol version"
      : mclt !== this.p.o.mclt && !this.breaks.has("accept-mclt-mismatch")
      ? `MCLT ${mclt}, ours is ${this.p.o.mclt}`
      : undefined;
    if (bad) {
      this.send(fo(33, this.p.nextXid(), this.p.now(), [status(17, `CONNECTREPLY: ${bad}`)]));
      this.close();
      return;
    }
    this.#partnerKeepalive = findOption(m.options, 128)?.keepaliveTime ?? this.p.o.keepalive;
    this.#partnerMaxUnacked = findOption(m.options, 121)?.maxUnackedBndupd ?? 1;
    this.#open = true;
    this.#sendState();
    this.#armSend();
  }

  // ---------------------------------------------------------------------------------------------

  #onBndupd(m: FailoverMessage): void {
    const cd = m.options.filter((o) => o.code === 45);
    const pf = m.options.filter((o) => o.code === 26);
    const xid = this.breaks.has("bndreply-wrong-xid")
      ? (m.transactionId + 7) & 0xffffff
      : m.transactionId;
    if (cd.length + pf.length !== 1) {
      const opts = this.breaks.has("no-status-on-missing-binding")
        ? []
        : [status(18, "no binding")];
      this.send(fo(25, xid, this.p.now(), opts));
      return;
    }
    const top = (cd[0] ?? pf[0]) as DhcpOption & { options: DhcpOption[] };
    const client = findOption(top.options, 1)?.duid;
    const base = findOption(top.options, 100)?.baseTime ?? this.p.now();
    const replyLeaf = (leaf: DhcpOption & { options: DhcpOption[] }, key: string): DhcpOption => {
      const why = this.#conflict(key, leaf, client, base);
      if (!why) {
        this.p.bindings.set(key, {
          client,
          status: findOption(leaf.options, 114)?.bindingStatus ?? 0,
          startTimeOfState: findOption(leaf.options, 133)?.startTimeOfState ?? base,
          stateExpirationTime: findOption(leaf.options, 134)?.stateExpirationTime,
          tree: top,
        });
      }
      const opts: DhcpOption[] = [];
      if (why) opts.push(status(why, "conflict"));
      const bs = findOption(leaf.options, 114);
      if (bs && !this.breaks.has("bndreply-not-mirrored")) opts.push(bs);
      const se = findOption(leaf.options, 134);
      if (se) opts.push(se);
      const pl = findOption(leaf.options, 123);
      if (pl) {
        const v = this.breaks.has("bndreply-pl-not-echoed")
          ? pl.partnerLifetime + 1
          : pl.partnerLifetime;
        opts.push({ code: 124, partnerLifetimeSent: v >>> 0 });
      }
      return { ...leaf, options: opts } as DhcpOption;
    };
    let reply: DhcpOption;
    if (pf.length === 1) {
      const p = top as DhcpOption & { prefix: string; prefixLength: number; options: DhcpOption[] };
      reply = replyLeaf(p, `${p.prefix}/${p.prefixLength}`);
    } else {
      const inner: DhcpOption[] = [];
      for (const o of top.options) {
        if (o.code === 1 || o.code === 68) inner.push(o);
        if ((o.code === 3 || o.code === 4 || o.code === 25) && "options" in o) {
          const leaves: DhcpOption[] = [];
          for (const l of o.options) {
            if (l.code === 5 && "address" in l) leaves.push(replyLeaf(l, l.address));
            if (l.code === 26 && "prefix" in l) {
              leaves.push(replyLeaf(l, `${l.prefix}/${l.prefixLength}`));
            }
          }
          inner.push({ ...o, options: leaves } as DhcpOption);
        }
      }
      reply = { code: 45, options: inner };
    }
    this.send(fo(25, xid, this.p.now(), [reply]));
  }

  /** Figure 4 of RFC 8156, in the few cells the suite needs; returns a status code to reject. */
  #conflict(
    key: string,
    leaf: DhcpOption & { options: DhcpOption[] },
    client: Uint8Array | undefined,
    base: number,
  ): number | undefined {
    if (this.breaks.has("accept-conflicts")) return undefined;
    const local = this.p.bindings.get(key);
    if (!local || local.status !== 1) return undefined;
    const rs = findOption(leaf.options, 114)?.bindingStatus;
    const now = this.p.now();
    if (rs === 2 || rs === 5 || rs === 6) {
      // time(1): accept if now is later than the local state-expiration-time.
      return local.stateExpirationTime !== undefined && now <= local.stateExpirationTime + SKEW
        ? 19
        : undefined;
    }
    if (rs === 1 && client && local.client && !bytesEqual(client, local.client)) {
      const clt = findOption(leaf.options, 46)?.cltTime;
      const later = clt !== undefined && base - clt > local.startTimeOfState + SKEW;
      if (later || this.p.o.role === "secondary") return undefined;
      return 16;
    }
    return undefined;
  }

  #onUpdreq(m: FailoverMessage): void {
    this.#updreq = m.transactionId;
    if (m.msgType === 29) {
      for (const b of this.p.bindings.values()) {
        let tree = b.tree;
        if (this.breaks.has("bndupd-partial-timeout-options")) tree = stripExpiration(tree);
        this.#queue.push(fo(24, 0, 0, [tree]));
      }
    }
    if (this.breaks.has("updone-early")) {
      this.#sendUpddone();
    }
    this.#pump();
  }

  #sendUpddone(): void {
    if (this.#updreq === undefined) return;
    const xid = this.breaks.has("updone-wrong-xid") ? this.#updreq + 1 : this.#updreq;
    this.#updreq = undefined;
    this.send(fo(30, xid, this.p.now()));
  }

  #pump(): void {
    const limit = this.breaks.has("ignore-max-unacked") ? Infinity : this.#partnerMaxUnacked;
    while (this.#queue.length > 0 && this.#outstanding.size < limit) {
      const b = this.#queue.shift()!;
      const xid = this.p.nextXid();
      this.#outstanding.add(xid);
      this.send({ ...b, transactionId: xid, sentTime: this.p.now() });
    }
    if (this.#queue.length === 0 && this.#outstanding.size === 0) this.#sendUpddone();
  }
}

/** Removes OPTION_F_EXPIRATION_TIME from every lease of a BNDUPD tree. */
function stripExpiration(o: DhcpOption): DhcpOption {
  if (!("options" in o) || !Array.isArray(o.options)) return o;
  return {
    ...o,
    options: o.options.filter((x) => x.code !== 120).map(stripExpiration),
  } as DhcpOption;
}

/** Re-exported for tests that want to feed the double's answers through the codec. */
export type { Message };
