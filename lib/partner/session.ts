/**
 * One partner session: the imperative shell around a connection. It frames and logs every
 * message both ways (the `renderMessage` text, prefixed with direction and time), keeps the
 * received messages for `expect` steps, checks every received message against the protocol
 * monitors, answers by itself where the scenario lets it (BNDREPLY, CONTACT, UPDDONE, POOLRESP,
 * STARTTLS refusal), and hands every octet to an optional recorder (pcapng).
 *
 * All time comes from the injected {@linkcode Scheduler}.
 *
 * @module
 */

import { bytesToHex } from "../wire/bytes.ts";
import { decodeMessage } from "../wire/decode.ts";
import { encodeMessage } from "../wire/encode.ts";
import { formatWireError, type WireError } from "../wire/errors.ts";
import { Deframer, frameMessage } from "../wire/framing.ts";
import { messageTypeName } from "../wire/names.ts";
import { findOption, statusCode } from "../wire/options.ts";
import { renderMessage } from "../wire/render.ts";
import { absoluteTimeFromMs } from "../wire/time.ts";
import type { FailoverMessage, FailoverMsgType, Message } from "../wire/types.ts";
import type { Conn, Endpoint } from "./net.ts";
import { bndreplyFor } from "./reply.ts";
import { mandatoryOptionProblems, REQUEST_OF_REPLY, type RuleContext, statusOf } from "./rules.ts";
import type { Scheduler, TimerId } from "./scheduler.ts";
import {
  type AutoSettings,
  DEFAULT_AUTO,
  DEFAULT_MONITORS,
  type MonitorSettings,
  type PartnerSettings,
  type Role,
} from "./types.ts";

/** A message (or undecodable frame) received from the peer. */
export interface Received {
  /** 1-based over the session. */
  seq: number;
  /** Connection number (1 = first). */
  conn: number;
  /** Unix ms of arrival. */
  at: number;
  /** The message octets (without the size prefix). */
  bytes: Uint8Array;
  /** Decoded message (absent if even the header is cut). */
  message?: Message;
  errors: WireError[];
  /** Taken by an `expect` step. */
  consumed: boolean;
}

/** A broken protocol rule seen by a monitor. */
export interface Violation {
  at: number;
  monitor: keyof MonitorSettings;
  text: string;
  /** The offending octets. */
  hex?: string;
  /** `Received.seq` of the offending message. */
  seq?: number;
}

/** A STATE the peer announced. */
export interface AnnouncedState {
  seq: number;
  at: number;
  serverState: number;
  flags: number;
  startTimeOfState?: number;
}

/** Where a session's octets go for capture (see `capture.ts`). */
export interface SessionRecorder {
  /** A connection opened; `weConnected` says which end is the TCP client. */
  open(local: Endpoint, remote: Endpoint, weConnected: boolean, atMs: number): void;
  /** Octets on the wire. */
  data(fromUs: boolean, bytes: Uint8Array, atMs: number): void;
  /** The connection closed; `byUs` says who closed it. */
  close(byUs: boolean, atMs: number): void;
}

/** Options of a {@linkcode Session}. */
export interface SessionOptions {
  role: Role;
  settings: PartnerSettings;
  scheduler: Scheduler;
  /** Receives every log line (default: none). */
  log?: (line: string) => void;
  recorder?: SessionRecorder;
  monitors?: Partial<MonitorSettings>;
  auto?: Partial<AutoSettings>;
  /** First transaction-id we use (default 1). */
  firstTransactionId?: number;
}

/** What the peer announced in its CONNECT or accepting CONNECTREPLY. */
export interface PeerSettings {
  mclt?: number;
  keepalive?: number;
  maxUnacked?: number;
  relationship?: string;
}

/** Where the peer is in the connect sequence, as the `sequence` monitor sees it. */
type Phase = "connect" | "state" | "open";

const SKEW_LIMIT_S = 5;
/** Allowance for whole-second sent-times: a message sent at x.999 s reads as x. */
const SKEW_ROUNDING_S = 1;

function timeOfDay(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

function indent(text: string, pad: string): string {
  return text.split("\n").map((l, i) => (i === 0 ? l : pad + l)).join("\n");
}

/** Signed difference a − b of two absolute times modulo 2^32. */
export function absoluteDiff(a: number, b: number): number {
  const d = (a - b) % 0x1_0000_0000;
  const m = (d + 0x1_0000_0000) % 0x1_0000_0000;
  return m >= 0x8000_0000 ? m - 0x1_0000_0000 : m;
}

/** Binding keys of a BNDUPD for storage: `address` or `prefix/len`. */
function bindingKey(m: FailoverMessage): string | undefined {
  for (const o of m.options) {
    if (o.code === 26 && "prefix" in o) return `${o.prefix}/${o.prefixLength}`;
    if (o.code === 45 && "options" in o) {
      const keys: string[] = [];
      for (const ia of o.options) {
        if (!("options" in ia)) continue;
        for (const l of ia.options) {
          if (l.code === 5 && "address" in l) keys.push(l.address);
          if (l.code === 26 && "prefix" in l) keys.push(`${l.prefix}/${l.prefixLength}`);
        }
      }
      return keys.join(",") || undefined;
    }
  }
  return undefined;
}

/** One partner session over successive connections. */
export class Session {
  readonly role: Role;
  readonly settings: PartnerSettings;
  readonly scheduler: Scheduler;
  /** What the partner does by itself; may be changed while running. */
  readonly auto: AutoSettings;
  readonly monitors: MonitorSettings;
  /** Every received message, in order. */
  readonly inbox: Received[] = [];
  /** Violations not yet taken by the runner. */
  readonly violations: Violation[] = [];
  /** STATEs the peer announced, in order. */
  readonly peerStates: AnnouncedState[] = [];
  /** Peer's announced settings (per connection). */
  peer: PeerSettings = {};
  /** Our sent-time offset in seconds (the `skew` step). */
  skewSeconds = 0;
  /** Answer BNDUPDs this many ms after arrival. */
  bndreplyDelayMs = 0;
  /** Counts of messages each way. */
  readonly stats = { sent: 0, received: 0 };
  /** Our current connection's remote end. */
  remote: Endpoint | undefined;
  /** Our current connection's local end. */
  local: Endpoint | undefined;

  #log: (line: string) => void;
  #recorder: SessionRecorder | undefined;
  #conn: Conn | undefined;
  #connNo = 0;
  #open = false;
  #closedAt: number | undefined;
  #deframer = new Deframer();
  #xid: number;
  #seq = 0;
  #waiters: (() => void)[] = [];
  #writeChain: Promise<void> = Promise.resolve();
  #phase: Phase = "connect";
  #weSentConnect = false;
  #ourMaxUnacked: number;
  #ourMclt: number;
  #outstanding = new Map<string, Message>();
  #history = new Map<string, Message>();
  #peerUnacked = new Map<number, Received>();
  #held: Received[] = [];
  #withhold = false;
  #contactTimer: TimerId | undefined;
  #store = new Map<string, FailoverMessage>();
  #syncQueue: FailoverMessage[] = [];
  #syncOutstanding = new Set<number>();
  #syncDone: { xid: number } | undefined;
  #listeners: ((r: Received) => void)[] = [];

  /** Creates a session; call `attach` with each connection. */
  constructor(opts: SessionOptions) {
    this.role = opts.role;
    this.settings = opts.settings;
    this.scheduler = opts.scheduler;
    this.auto = { ...DEFAULT_AUTO, ...opts.auto };
    this.monitors = { ...DEFAULT_MONITORS, ...opts.monitors };
    this.#log = opts.log ?? (() => {});
    this.#recorder = opts.recorder;
    this.#xid = opts.firstTransactionId ?? 1;
    this.#ourMaxUnacked = opts.settings.maxUnacked;
    this.#ourMclt = opts.settings.mclt;
  }

  /** Writes one log line (prefixed with the time). */
  log(text: string): void {
    this.#log(`${timeOfDay(this.scheduler.now())} ${text}`);
  }

  /** True while a connection is open. */
  get connected(): boolean {
    return this.#open;
  }

  /** Unix ms when the last connection closed. */
  get closedAt(): number | undefined {
    return this.#closedAt;
  }

  /** The connection number (1 = first; 0 before any). */
  get connectionNumber(): number {
    return this.#connNo;
  }

  /** Our absolute time now (seconds since 2000), without skew. */
  nowAbsolute(): number {
    return absoluteTimeFromMs(this.scheduler.now());
  }

  /** The sent-time for a message sent now: our clock plus the skew. */
  sentTime(): number {
    return ((this.nowAbsolute() + this.skewSeconds) % 0x1_0000_0000 + 0x1_0000_0000) %
      0x1_0000_0000;
  }

  /** A fresh transaction-id (24-bit, skipping ids still outstanding). */
  nextTransactionId(): number {
    for (let i = 0; i < 0x1000000; i++) {
      const x = this.#xid;
      this.#xid = (this.#xid + 1) & 0xffffff;
      if (this.#xid === 0) this.#xid = 1;
      let used = false;
      for (const k of this.#outstanding.keys()) if (k.endsWith(`/${x}`)) used = true;
      if (!used) return x;
    }
    return this.#xid;
  }

  /** Registers a callback for every received message (after monitors and auto answers). */
  onMessage(cb: (r: Received) => void): void {
    this.#listeners.push(cb);
  }

  /** Starts using a new connection (previous state of the connect sequence is reset). */
  attach(conn: Conn, weConnected: boolean): void {
    if (this.#open) this.cut();
    this.#conn = conn;
    this.#connNo++;
    this.#open = true;
    this.#closedAt = undefined;
    this.#deframer = new Deframer();
    this.#phase = "connect";
    this.#weSentConnect = false;
    this.#outstanding.clear();
    this.#peerUnacked.clear();
    this.#held = [];
    this.#syncQueue = [];
    this.#syncOutstanding.clear();
    this.#syncDone = undefined;
    this.peer = {};
    this.remote = conn.remote;
    this.local = conn.local;
    this.#writeChain = Promise.resolve();
    this.#recorder?.open(conn.local, conn.remote, weConnected, this.scheduler.now());
    this.log(
      `== connection ${this.#connNo} ${weConnected ? "to" : "from"} ${endpointText(conn.remote)}`,
    );
    this.#readLoop(conn, this.#connNo);
    this.#armContact();
    this.#notify();
  }

  /** Closes the connection (the `cut` step, or the end of a scenario). */
  cut(): void {
    if (!this.#open || !this.#conn) return;
    this.#open = false;
    this.#closedAt = this.scheduler.now();
    this.#disarmContact();
    this.#conn.close();
    this.#recorder?.close(true, this.scheduler.now());
    this.log("-- we closed the connection");
    this.#notify();
  }

  /** Resolves at the next event (message, close) or at `deadlineMs`, whichever is first. */
  waitForChange(deadlineMs: number): Promise<void> {
    return new Promise((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        this.scheduler.clearTimer(timer);
        resolve();
      };
      const timer = this.scheduler.setTimer(deadlineMs - this.scheduler.now(), finish);
      this.#waiters.push(finish);
    });
  }

  #notify(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Takes the violations recorded so far. */
  takeViolations(): Violation[] {
    return this.violations.splice(0);
  }

  /** The rule context for `rules.ts` checks. */
  ruleContext(): RuleContext {
    return {
      requestFor: (replyType, xid) => {
        for (const t of REQUEST_OF_REPLY[replyType] ?? []) {
          const m = this.#history.get(`${t}/${xid}`);
          if (m) return m;
        }
        return undefined;
      },
      mclt: this.#ourMclt,
    };
  }

  /** The latest received BNDUPD not yet answered (oldest first if `oldest`). */
  unansweredBndupd(xid?: number): Received | undefined {
    if (xid !== undefined) return this.#peerUnacked.get(xid);
    return this.#peerUnacked.values().next().value;
  }

  /** The latest received request of one of `types` (for reply transaction-ids). */
  lastReceived(types: number[]): Received | undefined {
    for (let i = this.inbox.length - 1; i >= 0; i--) {
      const m = this.inbox[i].message;
      if (m && types.includes(m.msgType) && this.inbox[i].conn === this.#connNo) {
        return this.inbox[i];
      }
    }
    return undefined;
  }

  /** Number of peer BNDUPDs we have not answered. */
  get unackedFromPeer(): number {
    return this.#peerUnacked.size;
  }

  // -------------------------------------------------------------------------------------------
  // Sending
  // -------------------------------------------------------------------------------------------

  /** Encodes, logs and sends a message (throws `WireEncodeError` for unencodable values). */
  send(m: Message): Promise<void> {
    const bytes = encodeMessage(m);
    const framed = frameMessage(bytes);
    this.log(`-> ${indent(renderMessage(m), "                ")}`);
    this.#bookkeepSent(m);
    return this.#write(framed);
  }

  /** Sends octets as they are (`framed`: add the size prefix first). */
  sendRaw(bytes: Uint8Array, framed: boolean, label = "raw octets"): Promise<void> {
    const out = framed ? frameMessage(bytes) : bytes;
    const d = decodeMessage(bytes);
    const text = d.message && framed
      ? `${label}: ${indent(renderMessage(d.message, d.errors), "                ")}`
      : `${label} (${out.length} octets${framed ? " framed" : ", no size prefix"}): ${
        bytesToHex(out)
      }`;
    this.log(`-> ${text}`);
    if (d.message && framed) this.#bookkeepSent(d.message);
    else this.#afterSend();
    return this.#write(out);
  }

  #write(bytes: Uint8Array): Promise<void> {
    const conn = this.#conn;
    if (!this.#open || !conn) {
      this.log("!! not sent: the connection is closed");
      return Promise.resolve();
    }
    this.#recorder?.data(true, bytes, this.scheduler.now());
    this.stats.sent++;
    const p = this.#writeChain.then(() => conn.write(bytes)).catch(() => {
      if (conn === this.#conn) this.log("!! write failed: the connection is closed");
    });
    this.#writeChain = p;
    return p;
  }

  #afterSend(): void {
    this.#armContact();
  }

  #bookkeepSent(m: Message): void {
    this.#bookkeep(m);
    this.#afterSend();
  }

  #bookkeep(m: Message): void {
    if (m.kind !== "failover") return;
    const t = m.msgType;
    if (t === 24 || t === 26 || t === 28 || t === 29 || t === 31) {
      this.#outstanding.set(`${t}/${m.transactionId}`, m);
      this.#history.set(`${t}/${m.transactionId}`, m);
    }
    if (t === 31) {
      this.#weSentConnect = true;
      const mu = findOption(m.options, 121);
      if (mu) this.#ourMaxUnacked = mu.maxUnackedBndupd;
      const mc = findOption(m.options, 122);
      if (mc) this.#ourMclt = mc.mclt;
    }
    if (t === 32) {
      const st = statusOf(m.options);
      if (!st || st.code === 0) {
        const mu = findOption(m.options, 121);
        if (mu) this.#ourMaxUnacked = mu.maxUnackedBndupd;
        const mc = findOption(m.options, 122);
        if (mc) this.#ourMclt = mc.mclt;
        if (this.#phase === "connect") this.#phase = "state";
      }
    }
    if (t === 25) {
      this.#peerUnacked.delete(m.transactionId);
      this.#held = this.#held.filter((r) =>
        r.message?.kind !== "failover" || r.message.transactionId !== m.transactionId
      );
    }
  }

  // -------------------------------------------------------------------------------------------
  // BNDREPLY control
  // -------------------------------------------------------------------------------------------

  /** Withhold BNDREPLYs (true), or release the held ones and answer again (false). */
  withholdBndreply(on: boolean): void {
    this.#withhold = on;
    if (!on) {
      const held = this.#held;
      this.#held = [];
      for (const r of held) this.#answerBndupd(r);
    }
  }

  /** Number of BNDUPDs held unanswered. */
  get heldCount(): number {
    return this.#held.length;
  }

  #answerBndupd(r: Received): void {
    const m = r.message as FailoverMessage;
    if (!this.#peerUnacked.has(m.transactionId) || r.conn !== this.#connNo) return;
    try {
      void this.send(bndreplyFor(m, this.sentTime()));
    } catch (e) {
      this.#violate(
        "framing",
        `cannot answer this BNDUPD: ${e instanceof Error ? e.message : e}`,
        r,
      );
    }
  }

  // -------------------------------------------------------------------------------------------
  // Receiving
  // -------------------------------------------------------------------------------------------

  async #readLoop(conn: Conn, connNo: number): Promise<void> {
    while (true) {
      const chunk = await conn.read();
      if (connNo !== this.#connNo) return;
      if (chunk === null) {
        this.#peerClosed();
        return;
      }
      this.#recorder?.data(false, chunk, this.scheduler.now());
      const r = this.#deframer.push(chunk);
      for (const f of r.frames) this.#onFrame(f.data);
      if (r.error) {
        this.#violate("framing", `${formatWireError(r.error)}; closing`, undefined);
        this.cut();
        return;
      }
    }
  }

  #peerClosed(): void {
    if (!this.#open) return;
    const rest = this.#deframer.finish();
    if (rest && this.monitors.framing) {
      this.#violate("framing", `stream ended inside a frame: ${formatWireError(rest)}`);
    }
    this.#open = false;
    this.#closedAt = this.scheduler.now();
    this.#disarmContact();
    this.#conn?.close();
    this.#recorder?.close(false, this.scheduler.now());
    this.log("<- connection closed by the peer");
    this.#notify();
  }

  #violate(monitor: keyof MonitorSettings, text: string, r?: Received): void {
    if (!this.monitors[monitor]) return;
    const v: Violation = {
      at: this.scheduler.now(),
      monitor,
      text,
      hex: r ? bytesToHex(r.bytes) : undefined,
      seq: r?.seq,
    };
    this.violations.push(v);
    this.log(
      `!! ${monitor}: ${text}${v.hex !== undefined ? `\n                octets: ${v.hex}` : ""}`,
    );
  }

  #onFrame(bytes: Uint8Array): void {
    const d = decodeMessage(bytes);
    const r: Received = {
      seq: ++this.#seq,
      conn: this.#connNo,
      at: this.scheduler.now(),
      bytes,
      message: d.message,
      errors: d.errors,
      consumed: false,
    };
    this.stats.received++;
    this.inbox.push(r);
    if (d.message) this.log(`<- ${indent(renderMessage(d.message, d.errors), "                ")}`);
    else {
      this.log(
        `<- ${bytes.length} octets that do not decode: ${d.errors.map(formatWireError).join("; ")}`,
      );
    }
    try {
      this.#monitor(r);
      this.#autoAnswer(r);
      for (const l of this.#listeners) l(r);
    } catch (e) {
      // Never let one message take the session down: report it with the octets.
      this.#violate(
        "framing",
        `internal error handling this message: ${e instanceof Error ? e.message : e}`,
        r,
      );
    }
    this.#notify();
  }

  #monitor(r: Received): void {
    const m = r.message;
    if (!m || r.errors.length > 0) {
      const why = r.errors.length > 0 ? r.errors.map(formatWireError).join("; ") : "no message";
      this.#violate("framing", `frame of ${r.bytes.length} octets does not decode: ${why}`, r);
      if (!m) return;
    }
    const isTls = m.kind === "client-server" && (m.msgType === 23 || m.msgType === 7);
    if (m.kind !== "failover" && !isTls) {
      this.#violate(
        "framing",
        `${messageTypeName(m.msgType)} (${m.msgType}) is not a failover message`,
        r,
      );
      return;
    }
    if (m.kind !== "failover") return;
    if (this.monitors.skew) {
      const d = absoluteDiff(m.sentTime, this.nowAbsolute());
      if (Math.abs(d) > SKEW_LIMIT_S + SKEW_ROUNDING_S) {
        this.#violate(
          "skew",
          `${messageTypeName(m.msgType)} sent-time ${m.sentTime} is ${
            d > 0 ? "+" : ""
          }${d}s off our clock (limit 5 s, §7.1)`,
          r,
        );
      }
    }
    for (const p of mandatoryOptionProblems(m)) this.#violate("options", p, r);
    this.#sequence(r, m);
    if (m.msgType === 24) {
      if (this.#peerUnacked.has(m.transactionId)) {
        this.#violate(
          "xid",
          `BNDUPD reuses transaction-id ${m.transactionId} of a BNDUPD still unanswered (§5.4)`,
          r,
        );
      }
      this.#peerUnacked.set(m.transactionId, r);
      if (this.#peerUnacked.size > this.#ourMaxUnacked) {
        this.#violate(
          "flowControl",
          `${this.#peerUnacked.size} BNDUPDs unanswered, over the MAX_UNACKED_BNDUPD of ${this.#ourMaxUnacked} we announced (§6.1.1)`,
          r,
        );
      }
    }
    if (m.msgType === 31 || m.msgType === 32) {
      const st = statusOf(m.options);
      if (!st || st.code === 0) {
        this.peer = {
          mclt: findOption(m.options, 122)?.mclt,
          keepalive: findOption(m.options, 128)?.keepaliveTime,
          maxUnacked: findOption(m.options, 121)?.maxUnackedBndupd,
          relationship: findOption(m.options, 130)?.relationshipName,
        };
        this.#armContact();
      }
    }
    if (m.msgType === 34) {
      const s = findOption(m.options, 132);
      if (s) {
        this.peerStates.push({
          seq: r.seq,
          at: r.at,
          serverState: s.serverState,
          flags: findOption(m.options, 131)?.flags ?? 0,
          startTimeOfState: findOption(m.options, 133)?.startTimeOfState,
        });
      }
    }
    const replyTo = REQUEST_OF_REPLY[m.msgType];
    if (replyTo) { for (const t of replyTo) this.#outstanding.delete(`${t}/${m.transactionId}`); }
  }

  #sequence(r: Received, m: FailoverMessage): void {
    const name = messageTypeName(m.msgType);
    const t = m.msgType;
    if (t === 31 && this.role === "primary") {
      this.#violate(
        "sequence",
        "CONNECT received by a primary: only the primary sends CONNECT (§6.1)",
        r,
      );
    }
    if (t === 32 && this.role === "secondary") {
      this.#violate(
        "sequence",
        "CONNECTREPLY received by a secondary: only the secondary sends it (§6.1)",
        r,
      );
    }
    if (t === 26 && this.role === "secondary") {
      this.#violate(
        "sequence",
        "POOLREQ from a primary: only the secondary sends POOLREQ (§5.3.3)",
        r,
      );
    }
    if (t === 27 && this.role === "primary") {
      this.#violate(
        "sequence",
        "POOLRESP from a secondary: only the primary sends POOLRESP (§5.3.4)",
        r,
      );
    }
    const replyTo = REQUEST_OF_REPLY[t];
    if (replyTo && !replyTo.some((q) => this.#outstanding.has(`${q}/${m.transactionId}`))) {
      this.#violate(
        "sequence",
        `${name} with transaction-id ${m.transactionId} answers no outstanding request of ours (§5.4)`,
        r,
      );
    }
    // The connect sequence (§6.1, §6.1.2, §6.1.3).
    if (this.#phase === "connect") {
      if (this.role === "secondary") {
        if (t === 31) return; // phase moves on when we send an accepting CONNECTREPLY
        if (t !== 33) {
          this.#violate(
            "sequence",
            `${name} before CONNECT: the primary's first message must be CONNECT (§6.1)`,
            r,
          );
        }
      } else {
        if (t === 32) {
          const st = statusOf(m.options);
          if (!st || st.code === 0) this.#phase = "state";
          if (!this.#weSentConnect) {
            this.#violate("sequence", "CONNECTREPLY before we sent CONNECT (§6.1)", r);
          }
          return;
        }
        if (t !== 33) {
          this.#violate(
            "sequence",
            `${name} before an accepting CONNECTREPLY: the secondary answers CONNECT first (§6.1.2)`,
            r,
          );
        }
      }
      return;
    }
    if (this.#phase === "state") {
      if (t === 34) this.#phase = "open";
      else if (t !== 33) {
        this.#violate(
          "sequence",
          `${name} before STATE: the next message after CONNECT/CONNECTREPLY is STATE (§6.1, §6.1.2, §6.1.3)`,
          r,
        );
        this.#phase = "open";
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Answers of our own
  // -------------------------------------------------------------------------------------------

  #autoAnswer(r: Received): void {
    const m = r.message;
    if (!m || !this.#open) return;
    if (m.kind === "client-server" && m.msgType === 23 && this.auto.starttls) {
      const reply: Message = {
        kind: "client-server",
        msgType: 7,
        transactionId: m.transactionId,
        options: [statusCode(15, "TLS is not offered by failover6 partner")],
      };
      void this.send(reply);
      return;
    }
    if (m.kind !== "failover") return;
    switch (m.msgType) {
      case 24:
        if (r.errors.length > 0) return;
        if (this.auto.store) {
          const k = bindingKey(m);
          if (k) this.#store.set(k, m);
        }
        if (!this.auto.bndreply) return;
        if (this.#withhold) this.#held.push(r);
        else if (this.bndreplyDelayMs > 0) {
          this.scheduler.setTimer(this.bndreplyDelayMs, () => this.#answerBndupd(r));
        } else this.#answerBndupd(r);
        return;
      case 25:
        if (this.#syncOutstanding.delete(m.transactionId)) this.#pumpSync();
        return;
      case 26:
        if (this.auto.poolreq) {
          void this.send(this.#reply(27, m.transactionId));
        }
        return;
      case 28:
      case 29:
        if (!this.auto.updreq) return;
        this.#syncDone = { xid: m.transactionId };
        if (m.msgType === 29 && this.auto.store) {
          this.#syncQueue.push(...[...this.#store.values()].map((b) => ({ ...b })));
        }
        this.#pumpSync();
        return;
    }
  }

  #reply(type: FailoverMsgType, xid: number): FailoverMessage {
    return {
      kind: "failover",
      msgType: type,
      transactionId: xid,
      sentTime: this.sentTime(),
      options: [],
    };
  }

  /** Sends queued sync BNDUPDs within the peer's MAX_UNACKED_BNDUPD, then UPDDONE. */
  #pumpSync(): void {
    const limit = Math.max(1, this.peer.maxUnacked ?? 1);
    while (this.#syncQueue.length > 0 && this.#syncOutstanding.size < limit && this.#open) {
      const b = this.#syncQueue.shift()!;
      const xid = this.nextTransactionId();
      this.#syncOutstanding.add(xid);
      void this.send({ ...b, transactionId: xid, sentTime: this.sentTime() });
    }
    if (this.#syncDone && this.#syncQueue.length === 0 && this.#syncOutstanding.size === 0) {
      const x = this.#syncDone.xid;
      this.#syncDone = undefined;
      void this.send(this.#reply(30, x));
    }
  }

  // -------------------------------------------------------------------------------------------
  // CONTACT
  // -------------------------------------------------------------------------------------------

  /** FO_SEND_TIME in ms: the peer's keepalive (else ours) ÷ 4 (RFC 8156 §6.5). */
  get sendTimeMs(): number {
    return ((this.peer.keepalive ?? this.settings.keepalive) * 1000) / 4;
  }

  #armContact(): void {
    this.#disarmContact();
    if (!this.#open) return;
    const started = this.role === "primary" ? this.#weSentConnect : this.#phase !== "connect";
    if (!started) return;
    this.#contactTimer = this.scheduler.setTimer(this.sendTimeMs, () => {
      this.#contactTimer = undefined;
      if (!this.#open) return;
      if (this.auto.contact) void this.send(this.#reply(35, this.nextTransactionId()));
      else this.#armContact();
    });
  }

  #disarmContact(): void {
    if (this.#contactTimer !== undefined) this.scheduler.clearTimer(this.#contactTimer);
    this.#contactTimer = undefined;
  }

  /** Stops timers and closes the connection (end of the session). */
  close(): void {
    this.cut();
    this.#disarmContact();
  }
}

function endpointText(e: Endpoint): string {
  return e.address.includes(":") ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}
