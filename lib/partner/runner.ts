/**
 * The scenario runner: opens the connection for the partner's role (connect as primary, accept
 * as secondary), runs each step against a {@linkcode Session}, and returns a verdict per step
 * and per scenario. A step fails on an unmet expectation or on any protocol rule the session's
 * monitors saw broken while it ran (reported with the offending octets in hex); a step whose
 * own values are wrong (bad variable, unencodable field) is an `error`. The first step that
 * does not pass ends the scenario; the rest are reported as skipped.
 *
 * @module
 */

import { bytesToHex, hexToBytes } from "../wire/bytes.ts";
import { WireEncodeError } from "../wire/errors.ts";
import { failoverStateName, messageTypeName, statusName } from "../wire/names.ts";
import { connectOptions, failoverMessage, stateOptions, statusCode } from "../wire/options.ts";
import { messageToJson } from "../wire/render.ts";
import {
  type DhcpOption,
  type FailoverMsgType,
  isFailoverMsgType,
  type Message,
} from "../wire/types.ts";
import {
  BuildError,
  buildOption,
  buildOptions,
  leaseTree,
  serverFlagsValue,
  stateValue,
  statusValue,
} from "./build.ts";
import { checkMatcher, matchAll, resolvePath } from "./match.ts";
import { optionCodeOf } from "./names.ts";
import { type Conn, type Endpoint, formatEndpoint, type Listener, type Network } from "./net.ts";
import { bndreplyOptions } from "./reply.ts";
import { TlsSetupError } from "../failover/tls.ts";
import { isRuleName, RULES } from "./rules.ts";
import { type Scheduler, sleep } from "./scheduler.ts";
import { type Received, Session, type SessionRecorder } from "./session.ts";
import {
  DEFAULT_SETTINGS,
  type PartnerSettings,
  type Role,
  type RunReport,
  type Scenario,
  type ScenarioResult,
  type Step,
  type StepResult,
  type Verdict,
} from "./types.ts";
import {
  formatMs,
  parseTimeMs,
  substitute,
  VariableError,
  type Vars,
  type VarValue,
} from "./variables.ts";

/** How to run scenarios. */
export interface RunnerOptions {
  /** The role the partner plays. */
  role: Role;
  /** What the partner announces and accepts (defaults: `DEFAULT_SETTINGS`). */
  settings?: Partial<PartnerSettings>;
  /** Real TCP or in memory. */
  network: Network;
  /** Primary: the secondary to connect to. */
  peer?: Endpoint;
  /** Secondary: where connections come from (shared by all scenarios of a run). */
  acceptor?: Acceptor;
  /** Wall clock or virtual time. */
  scheduler: Scheduler;
  /** Log lines (messages as they flow, verdicts). */
  log?: (line: string) => void;
  /** Records what flows (e.g. a pcapng file). */
  recorder?: SessionRecorder;
  /** Variables given on the command line; they win over the scenario's. */
  vars?: Record<string, VarValue>;
  /** `within` when a step gives none (default 5 s). */
  defaultWithinMs?: number;
  /** How long to try to connect / wait for a connection (default 10 s / 60 s). */
  connectTimeoutMs?: number;
  /** How long a secondary waits for a connection (default 60 s). */
  acceptTimeoutMs?: number;
}

/**
 * Hands out accepted connections one at a time; an accept that outlives its caller's timeout
 * is kept for the next caller instead of being lost. A connection that failed to become secure
 * (a {@linkcode TlsSetupError} from a `listenTls` listener) is handed out as that error.
 *
 * @example The partner as secondary: our engine (primary) connects to its listener
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   Acceptor,
 *   conformanceFor,
 *   EnginePeer,
 *   MemoryNetwork,
 *   runScenarios,
 * } from "@failover6/failover6";
 * import { VirtualScheduler } from "./scheduler.ts"; // not in mod.ts yet (see its docs)
 *
 * const scheduler = new VirtualScheduler();
 * const network = new MemoryNetwork("2001:db8::1");
 * const acceptor = new Acceptor(network.listen({ address: "2001:db8::3", port: 647 }));
 * const engine = new EnginePeer({
 *   config: { role: "primary", relationship: "pair", mclt: 3600, startupTime: 1 },
 *   network,
 *   scheduler,
 *   connect: { address: "2001:db8::3", port: 647 },
 * });
 * engine.start();
 * const report = await scheduler.run(
 *   runScenarios(conformanceFor("secondary", ["connect-as-secondary"]), {
 *     role: "secondary",
 *     settings: { relationship: "pair" },
 *     network,
 *     acceptor,
 *     scheduler,
 *   }),
 * );
 * await scheduler.run(engine.stop());
 * acceptor.listener.close();
 * assert.equal(report.passed, 1);
 * ```
 */
export class Acceptor {
  /** The listener connections come from. */
  readonly listener: Listener;
  #pending: Promise<Conn> | undefined;
  #ready: (Conn | TlsSetupError)[] = [];

  /** Wraps a listener. */
  constructor(listener: Listener) {
    this.listener = listener;
  }

  /**
   * The next connection, or undefined after `timeoutMs`; throws the {@linkcode TlsSetupError}
   * of a connection whose STARTTLS failed.
   */
  async next(scheduler: Scheduler, timeoutMs: number): Promise<Conn | undefined> {
    const got = () => {
      const r = this.#ready.shift();
      if (r instanceof TlsSetupError) throw r;
      return r;
    };
    if (this.#ready.length > 0) return got();
    if (!this.#pending) {
      this.#pending = this.listener.accept();
      this.#pending.then((c) => {
        this.#pending = undefined;
        this.#ready.push(c);
      }, (e) => {
        this.#pending = undefined;
        if (e instanceof TlsSetupError) this.#ready.push(e);
      });
    }
    let timer = 0;
    const timeout = new Promise<undefined>((r) =>
      timer = scheduler.setTimer(timeoutMs, () => r(undefined))
    );
    const won = await Promise.race([
      this.#pending.then(() => true, (e) => e instanceof TlsSetupError),
      timeout.then(() => false),
    ]);
    scheduler.clearTimer(timer);
    return won ? got() : undefined;
  }

  /** Stops listening and closes connections accepted but never handed out. */
  close(): void {
    this.listener.close();
    for (const c of this.#ready.splice(0)) if (!(c instanceof TlsSetupError)) c.close();
    this.#pending?.then((c) => c.close(), () => {});
  }
}

class StepFailure extends Error {
  verdict: Verdict;
  detail: string[];
  constructor(verdict: Verdict, message: string, detail: string[] = []) {
    super(message);
    this.verdict = verdict;
    this.detail = detail;
  }
}

/** Any error as a step outcome: ours as they are, anything else as an `error` verdict. */
function asFailure(e: unknown): StepFailure {
  if (e instanceof StepFailure) return e;
  return new StepFailure("error", `internal error: ${e instanceof Error ? e.message : String(e)}`);
}

const fail = (message: string, detail: string[] = []): never => {
  throw new StepFailure("fail", message, detail);
};
const bad = (message: string): never => {
  throw new StepFailure("error", message);
};

/** Short title of a step for reports. */
export function stepTitle(step: Step): string {
  const type = (t: number | "raw" | "any") => (typeof t === "number" ? messageTypeName(t) : t);
  let t: string;
  switch (step.kind) {
    case "send":
      t = `send ${type(step.msgType)}`;
      break;
    case "expect":
      t = `expect ${type(step.msgType)}`;
      break;
    case "expect-none":
      t = `expect-none ${type(step.msgType)}`;
      break;
    case "expect-state":
      t = `expect-state ${String(step.state)}`;
      break;
    case "withhold-bndreply":
      t = step.on ? "withhold-bndreply" : "release-bndreply";
      break;
    case "corrupt-frame":
      t = `corrupt-frame ${step.corruption}`;
      break;
    default:
      t = step.kind;
  }
  return step.name ? `${step.name} (${t})` : t;
}

/** The first error status (non-zero OPTION_STATUS_CODE) anywhere in `options`, depth first. */
function errorStatus(options: readonly DhcpOption[]): number | undefined {
  for (const o of options) {
    if (o.code === 13 && "statusCode" in o && o.statusCode !== 0) return o.statusCode;
    if ("options" in o && Array.isArray(o.options)) {
      const s = errorStatus(o.options);
      if (s !== undefined) return s;
    }
  }
  return undefined;
}

/**
 * A received message as matchers see it: `messageToJson` plus `bytes` (hex) and `errorStatus`
 * / `errorStatusName` (the first non-zero status code anywhere, absent if none).
 */
function receivedJson(r: Received): Record<string, unknown> {
  if (!r.message) return { bytes: bytesToHex(r.bytes) };
  const out: Record<string, unknown> = { ...messageToJson(r.message), bytes: bytesToHex(r.bytes) };
  const st = errorStatus(r.message.options);
  if (st !== undefined) {
    out.errorStatus = st;
    out.errorStatusName = statusName(st);
  }
  return out;
}

function describe(r: Received): string {
  const name = r.message ? messageTypeName(r.message.msgType) : "undecodable frame";
  return `#${r.seq} ${name}`;
}

/** Runs one scenario in its own session. */
class ScenarioRun {
  readonly s: Scenario;
  readonly o: RunnerOptions;
  readonly settings: PartnerSettings;
  readonly session: Session;
  readonly vars: Vars = new Map();
  readonly log: (line: string) => void;
  #stateSince = new Map<number, number>();

  constructor(s: Scenario, o: RunnerOptions) {
    this.s = s;
    this.o = o;
    this.settings = { ...DEFAULT_SETTINGS, ...o.settings, ...s.settings };
    this.log = o.log ?? (() => {});
    this.session = new Session({
      role: o.role,
      settings: this.settings,
      scheduler: o.scheduler,
      log: this.log,
      recorder: o.recorder,
      monitors: s.monitors,
      auto: s.auto,
    });
    for (const [k, v] of Object.entries(s.vars ?? {})) this.vars.set(k, v as VarValue);
    for (const [k, v] of Object.entries(o.vars ?? {})) this.vars.set(k, v);
  }

  get now(): number {
    return this.o.scheduler.now();
  }

  #builtins(): void {
    const v = this.vars;
    const p = this.session.peer;
    v.set("now", this.session.nowAbsolute());
    v.set("mclt", this.settings.mclt);
    v.set("keepalive", this.settings.keepalive);
    v.set("maxUnacked", this.settings.maxUnacked);
    v.set("relationship", this.settings.relationship ?? "");
    v.set("role", this.o.role);
    v.set("skew", this.session.skewSeconds);
    if (p.mclt !== undefined) v.set("peerMclt", p.mclt);
    if (p.keepalive !== undefined) v.set("peerKeepalive", p.keepalive);
    if (p.maxUnacked !== undefined) v.set("peerMaxUnacked", p.maxUnacked);
    const last = this.session.peerStates.at(-1);
    if (last) v.set("peerState", failoverStateName(last.serverState));
  }

  #sub(v: unknown, what: string): unknown {
    try {
      return substitute(v, this.vars);
    } catch (e) {
      if (e instanceof VariableError) bad(`${what}: ${e.message}`);
      throw e;
    }
  }

  #ms(v: unknown, what: string, dflt?: number, negative = false): number {
    if (v === undefined) {
      if (dflt === undefined) bad(`${what}: missing`);
      return dflt!;
    }
    try {
      return parseTimeMs(this.#sub(v, what), what, negative);
    } catch (e) {
      if (e instanceof VariableError) bad(e.message);
      throw e;
    }
  }

  #int(v: unknown, what: string, max: number): number {
    const x = this.#sub(v, what);
    const n = typeof x === "string" && /^(?:0x[0-9a-fA-F]+|\d+)$/.test(x.trim())
      ? Number(x.trim())
      : x;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > max) {
      bad(`${what}: expected an integer 0-${max}, got ${JSON.stringify(x)}`);
    }
    return n as number;
  }

  get within(): number {
    return this.o.defaultWithinMs ?? 5000;
  }

  // -------------------------------------------------------------------------------------------

  async connect(): Promise<void> {
    if (this.o.role === "primary") {
      const peer = this.o.peer ?? bad("no peer to connect to");
      const deadline = this.now + (this.o.connectTimeoutMs ?? 10_000);
      let last = "";
      while (true) {
        try {
          const conn = await this.#connectBefore(peer!, deadline);
          if (conn) {
            this.session.attach(conn, true);
            return;
          }
          last = "timed out";
        } catch (e) {
          // A peer that answers but cannot be secured will not change its mind: no retry.
          if (e instanceof TlsSetupError) fail(e.message);
          last = e instanceof Error ? e.message : String(e);
        }
        if (this.now >= deadline) fail(`cannot connect to ${formatEndpoint(peer!)}: ${last}`);
        await sleep(this.o.scheduler, 250);
      }
    }
    const acc = this.o.acceptor ?? bad("no listener to accept connections on");
    const t = this.o.acceptTimeoutMs ?? 60_000;
    let conn: Conn | undefined;
    try {
      conn = await acc!.next(this.o.scheduler, t);
    } catch (e) {
      if (e instanceof TlsSetupError) fail(e.message);
      throw e;
    }
    if (!conn) fail(`no connection from the primary within ${formatMs(t)}`);
    this.session.attach(conn!, false);
  }

  /** One connection attempt, given up at `deadline` (a late connection is closed). */
  async #connectBefore(peer: Endpoint, deadline: number): Promise<Conn | undefined> {
    const attempt = this.o.network.connect(peer);
    let timer = 0;
    const timeout = new Promise<undefined>((r) =>
      timer = this.o.scheduler.setTimer(deadline - this.now, () => r(undefined))
    );
    try {
      const conn = await Promise.race([attempt, timeout]);
      if (!conn) attempt.then((c) => c.close(), () => {});
      return conn;
    } finally {
      this.o.scheduler.clearTimer(timer);
    }
  }

  // -------------------------------------------------------------------------------------------
  // send
  // -------------------------------------------------------------------------------------------

  #replyXid(type: number, to: unknown): number {
    if (to !== undefined) return this.#int(to, "to", 0xffffff);
    const req = type === 25
      ? this.session.unansweredBndupd()
      : this.session.lastReceived(type === 27 ? [26] : type === 30 ? [28, 29] : [31]);
    if (!req?.message || req.message.kind !== "failover") {
      const wanted =
        { 25: "BNDUPD", 27: "POOLREQ", 30: "UPDREQ/UPDREQALL", 32: "CONNECT" }[type as 25];
      return bad(
        `${messageTypeName(type)} answers a ${wanted}, and none was received; give transactionId:`,
      );
    }
    return req.message.transactionId;
  }

  #startOf(state: number): number {
    let t = this.#stateSince.get(state);
    if (t === undefined) {
      t = this.session.nowAbsolute();
      this.#stateSince.set(state, t);
    }
    return t;
  }

  /** Default options of a message type (digest §2.2), before `override`. */
  #defaults(
    type: number,
    step: { state?: unknown; flags?: unknown; status?: unknown; lease?: unknown; to?: unknown },
    xid: number,
  ): DhcpOption[] {
    const st = this.settings;
    const status = step.status === undefined
      ? undefined
      : this.#build(() => statusValue(this.#sub(step.status, "status"), "status"));
    switch (type) {
      case 31:
        return connectOptions({
          mclt: st.mclt,
          keepaliveTime: st.keepalive,
          maxUnackedBndupd: st.maxUnacked,
          relationshipName: st.relationship,
        });
      case 32:
        if (status && status.code !== 0) return [statusCode(status.code, status.message)];
        return connectOptions({
          mclt: this.session.peer.mclt ?? st.mclt,
          keepaliveTime: st.keepalive,
          maxUnackedBndupd: st.maxUnacked,
        });
      case 34: {
        const state = step.state === undefined
          ? st.state
          : this.#build(() => stateValue(this.#sub(step.state, "state"), "state"));
        const flags = step.flags === undefined
          ? 0x01
          : this.#build(() => serverFlagsValue(this.#sub(step.flags, "flags"), "flags"));
        return stateOptions({
          serverState: state,
          flags,
          startTimeOfState: this.#startOf(state),
          partnerDownTime: state === 4 ? this.#startOf(state) : undefined,
        });
      }
      case 33:
        return [
          statusCode(
            status?.code ?? 20,
            status?.message ?? "failover6 partner: scenario ends the connection",
          ),
        ];
      case 24:
        if (step.lease === undefined) return bad("BNDUPD needs lease: or options:");
        return this.#build(() =>
          leaseTree(this.#sub(step.lease, "lease"), {
            now: this.session.nowAbsolute(),
            mclt: st.mclt,
          })
        );
      case 25: {
        if (step.lease !== undefined) {
          const tree = this.#build(() =>
            leaseTree(this.#sub(step.lease, "lease"), {
              now: this.session.nowAbsolute(),
              mclt: st.mclt,
            }, true)
          );
          if (status) {
            const top = tree[0] as DhcpOption & { options: DhcpOption[] };
            top.options.unshift(statusCode(status.code, status.message));
          }
          return tree;
        }
        const r = this.session.unansweredBndupd(xid) ??
          this.session.inbox.findLast((x) =>
            x.message?.msgType === 24 && x.message.kind === "failover" &&
            x.message.transactionId === xid
          );
        if (!r?.message || r.message.kind !== "failover") {
          return bad(`no BNDUPD with transaction-id ${xid} to answer`);
        }
        return bndreplyOptions(r.message, status);
      }
      case 35:
      case 26:
      case 27:
      case 28:
      case 29:
      case 30:
      default:
        return status ? [statusCode(status.code, status.message)] : [];
    }
  }

  #build<T>(f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof BuildError) bad(e.message);
      throw e;
    }
  }

  async send(step: Extract<Step, { kind: "send" }>): Promise<void> {
    if (step.msgType === "raw") {
      const hex = this.#sub(step.raw, "raw");
      const bytes = typeof hex === "string" ? hexToBytes(hex) : undefined;
      if (!bytes) bad(`raw: not hex octets: ${JSON.stringify(hex)}`);
      if (step.frame !== "raw" && bytes!.length > 65535) bad("raw: over 65535 octets");
      await this.session.sendRaw(bytes!, step.frame !== "raw");
      return;
    }
    const type = step.msgType;
    const isReply = type === 25 || type === 27 || type === 30 || type === 32;
    const xid = step.transactionId !== undefined
      ? this.#int(step.transactionId, "transactionId", 0xffffff)
      : isReply
      ? this.#replyXid(type, step.to)
      : this.session.nextTransactionId();
    let options: DhcpOption[];
    if (step.options !== undefined) {
      options = this.#build(() => buildOptions(this.#sub(step.options, "options"), "options"));
    } else {
      options = this.#defaults(type, step, xid);
      for (const [name, value] of Object.entries(step.override ?? {})) {
        const code = optionCodeOf(name) ?? bad(`override: unknown option ${name}`);
        const i = options.findIndex((o) => o.code === code);
        if (value === null) {
          if (i >= 0) options.splice(i, 1);
          continue;
        }
        const o = this.#build(() =>
          buildOption({ [name]: this.#sub(value, `override.${name}`) }, `override.${name}`)
        );
        if (i >= 0) options[i] = o;
        else options.push(o);
      }
    }
    const sentTime = step.sentTime !== undefined
      ? this.#int(step.sentTime, "sentTime", 0xffffffff)
      : this.session.sentTime();
    const m: Message = isFailoverMsgType(type)
      ? failoverMessage(type as FailoverMsgType, xid, sentTime, options)
      : { kind: "client-server", msgType: type, transactionId: xid, options };
    try {
      await this.session.send(m);
    } catch (e) {
      if (e instanceof WireEncodeError) bad(`cannot encode: ${e.message}`);
      throw e;
    }
    this.vars.set("xid", xid);
    this.vars.set(`xid_${messageTypeName(type).replaceAll("-", "_")}`, xid);
  }

  // -------------------------------------------------------------------------------------------
  // expect
  // -------------------------------------------------------------------------------------------

  #otherWaiting(type: number | "any", since: number): string[] {
    const others = this.session.inbox.filter((r) =>
      !r.consumed && r.seq > since &&
      (type === "any" || r.message?.msgType !== type)
    );
    return others.length === 0 ? [] : [`received meanwhile: ${others.map(describe).join(", ")}`];
  }

  #checkReceived(
    r: Received,
    matchers: Record<string, unknown> | undefined,
    checks: string[],
  ): string[] {
    const problems: string[] = [];
    if (!r.message || r.errors.length > 0) {
      problems.push(
        `${describe(r)} does not decode cleanly: ${r.errors.map((e) => e.message).join("; ")}`,
      );
    }
    if (r.message) {
      if (matchers) problems.push(...matchAll(receivedJson(r), matchers));
      for (const c of checks) {
        if (isRuleName(c)) problems.push(...RULES[c].check(r.message, this.session.ruleContext()));
      }
    }
    return problems;
  }

  async expect(step: Extract<Step, { kind: "expect" }>): Promise<string | undefined> {
    const count = step.count === undefined ? 1 : this.#int(step.count, "count", 1_000_000);
    const within = this.#ms(step.within, "within", this.within);
    const matchers = step.match === undefined
      ? undefined
      : this.#sub(step.match, "match") as Record<string, unknown>;
    const xidWanted = matchers &&
        (typeof matchers.transactionId === "number" || typeof matchers.transactionId === "string")
      ? matchers.transactionId
      : undefined;
    const startSeq = this.session.inbox.at(-1)?.seq ?? 0;
    const deadline = this.now + within;
    const got: Received[] = [];
    const typeName = typeof step.msgType === "number" ? messageTypeName(step.msgType) : "a message";
    const fits = (r: Received) =>
      !r.consumed && (step.msgType === "any" || r.message?.msgType === step.msgType) &&
      (xidWanted === undefined ||
        (r.message?.kind !== "relay" &&
          checkMatcher({ found: true, value: r.message?.transactionId }, xidWanted) === undefined));
    while (got.length < count) {
      const r = this.session.inbox.find(fits);
      if (r) {
        r.consumed = true;
        got.push(r);
        const problems = this.#checkReceived(r, matchers, step.checks ?? []);
        if (problems.length > 0) {
          fail(`${describe(r)}: ${problems[0]}`, [
            ...problems.slice(1),
            `octets: ${bytesToHex(r.bytes)}`,
          ]);
        }
        continue;
      }
      const n = got.length > 0 ? ` (${got.length} of ${count} arrived)` : "";
      if (!this.session.connected) {
        fail(
          `connection closed by the peer before ${typeName}${n}`,
          this.#otherWaiting(step.msgType, startSeq),
        );
      }
      if (this.now >= deadline) {
        fail(
          `no ${typeName} within ${formatMs(within)}${n}`,
          this.#otherWaiting(step.msgType, startSeq),
        );
      }
      await this.session.waitForChange(deadline);
    }
    const last = got[got.length - 1];
    this.vars.set("last", receivedJson(last) as VarValue);
    if (last.message && last.message.kind !== "relay") {
      this.vars.set("lastXid", last.message.transactionId);
    }
    for (const [name, path] of Object.entries(step.save ?? {})) {
      const res = resolvePath(receivedJson(last), path);
      if (!res.found) {
        fail(`save ${name}: nothing at ${path} (missing ${res.at})`, [
          `octets: ${bytesToHex(last.bytes)}`,
        ]);
      }
      this.vars.set(name, (res as { value: VarValue }).value);
    }
    return count > 1 ? `${count} messages` : describe(last);
  }

  async expectNone(step: Extract<Step, { kind: "expect-none" }>): Promise<void> {
    const within = this.#ms(step.within, "within", this.within);
    const deadline = this.now + within;
    while (true) {
      const r = this.session.inbox.find((x) =>
        !x.consumed && (step.msgType === "any" || x.message?.msgType === step.msgType)
      );
      if (r) {
        r.consumed = true;
        fail(`${describe(r)} arrived, and none was allowed yet`, [
          `octets: ${bytesToHex(r.bytes)}`,
        ]);
      }
      if (this.now >= deadline || !this.session.connected) return;
      await this.session.waitForChange(deadline);
    }
  }

  async expectState(step: Extract<Step, { kind: "expect-state" }>): Promise<void> {
    const want = this.#build(() =>
      stateValue(this.#sub(step.state, "expect-state"), "expect-state")
    );
    const flags = step.flags === undefined
      ? undefined
      : this.#sub(step.flags, "flags") as Record<string, unknown>;
    const within = this.#ms(step.within, "within", this.within);
    const deadline = this.now + within;
    const flagNames = (f: number) => ({
      communicated: (f & 1) !== 0,
      startup: (f & 2) !== 0,
      ackStartup: (f & 4) !== 0,
      flags: f,
    });
    while (true) {
      const last = this.session.peerStates.at(-1);
      if (last && last.serverState === want) {
        const problems = flags ? matchAll(flagNames(last.flags), flags) : [];
        for (const r of this.session.inbox) {
          if (r.message?.msgType === 34 && r.seq <= last.seq) r.consumed = true;
        }
        if (problems.length === 0) return;
        if (this.now >= deadline) fail(`STATE ${failoverStateName(want)}: flags ${problems[0]}`);
      }
      if (this.now >= deadline || !this.session.connected) {
        const said = last
          ? `the peer last announced ${failoverStateName(last.serverState)}`
          : "the peer announced no state";
        fail(`expected the peer in ${failoverStateName(want)} within ${formatMs(within)}; ${said}`);
      }
      await this.session.waitForChange(deadline);
    }
  }

  async expectClose(step: Extract<Step, { kind: "expect-close" }>): Promise<void> {
    const within = this.#ms(step.within, "within", this.within);
    const deadline = this.now + within;
    while (this.session.connected) {
      if (this.now >= deadline) fail(`the peer kept the connection open for ${formatMs(within)}`);
      await this.session.waitForChange(deadline);
    }
  }

  async handshake(step: Extract<Step, { kind: "handshake" }>): Promise<string> {
    const state = step.state === undefined ? undefined : step.state;
    const within = step.within;
    const sub = async (what: string, f: () => Promise<unknown>) => {
      try {
        await f();
      } catch (e) {
        if (e instanceof StepFailure) {
          throw new StepFailure(e.verdict, `${what}: ${e.message}`, e.detail);
        }
        throw e;
      }
    };
    if (this.o.role === "primary") {
      await sub("CONNECT", () => this.send({ kind: "send", msgType: 31 }));
      await sub(
        "CONNECTREPLY",
        () => this.expect({ kind: "expect", msgType: 32, within, checks: ["connectreply-accept"] }),
      );
      await sub("our STATE", () => this.send({ kind: "send", msgType: 34, state }));
      await sub(
        "peer STATE",
        () => this.expect({ kind: "expect", msgType: 34, within, checks: ["state-options"] }),
      );
    } else {
      await sub(
        "CONNECT",
        () => this.expect({ kind: "expect", msgType: 31, within, checks: ["connect-options"] }),
      );
      const rel = this.settings.relationship;
      if (
        rel !== undefined && this.session.peer.relationship !== undefined &&
        this.session.peer.relationship !== rel
      ) {
        fail(
          `CONNECT names relationship ${JSON.stringify(this.session.peer.relationship)}, we serve ${
            JSON.stringify(rel)
          }`,
        );
      }
      await sub("CONNECTREPLY", () => this.send({ kind: "send", msgType: 32 }));
      await sub("our STATE", () => this.send({ kind: "send", msgType: 34, state }));
      await sub(
        "peer STATE",
        () => this.expect({ kind: "expect", msgType: 34, within, checks: ["state-options"] }),
      );
    }
    const s = this.session.peerStates.at(-1);
    return s ? `peer in ${failoverStateName(s.serverState)}` : "";
  }

  async corrupt(kind: string): Promise<void> {
    const t = this.session.sentTime();
    const time = [t >>> 24, (t >>> 16) & 0xff, (t >>> 8) & 0xff, t & 0xff];
    let bytes: number[];
    switch (kind) {
      case "short-header":
        bytes = [35, 0x00, 0x00];
        break;
      case "bad-option":
        bytes = [35, 0x00, 0x00, 0x77, ...time, 0x00, 0x7a, 0x00, 0x40, 0x00, 0x00];
        break;
      case "unknown-type":
        bytes = [99, 0x00, 0x00, 0x77, ...time];
        break;
      default:
        bytes = [0x00, 0x12, 0x34, 0x56, 0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0x00, 0x01, 0x02];
    }
    await this.session.sendRaw(Uint8Array.from(bytes), true, `corrupt frame (${kind})`);
  }

  // -------------------------------------------------------------------------------------------

  async step(step: Step): Promise<string | undefined> {
    this.#builtins();
    switch (step.kind) {
      case "send":
        await this.send(step);
        return;
      case "expect":
        return await this.expect(step);
      case "expect-none":
        await this.expectNone(step);
        return;
      case "wait":
        await sleep(this.o.scheduler, this.#ms(step.duration, "wait"));
        return;
      case "withhold-bndreply":
        this.session.withholdBndreply(step.on);
        return;
      case "delay-bndreply":
        this.session.bndreplyDelayMs = this.#ms(step.delay, "delay-bndreply");
        return;
      case "skew":
        this.session.skewSeconds = Math.round(
          this.#ms(step.offset, "skew", undefined, true) / 1000,
        );
        return `sent-time now ${
          this.session.skewSeconds >= 0 ? "+" : ""
        }${this.session.skewSeconds}s`;
      case "cut":
        this.session.cut();
        return;
      case "reconnect": {
        this.session.cut();
        const saved = this.o.acceptTimeoutMs;
        if (step.within !== undefined) this.o.acceptTimeoutMs = this.#ms(step.within, "within");
        try {
          await this.connect();
        } finally {
          this.o.acceptTimeoutMs = saved;
        }
        return;
      }
      case "corrupt-frame":
        await this.corrupt(step.corruption);
        return;
      case "expect-state":
        await this.expectState(step);
        return;
      case "expect-close":
        await this.expectClose(step);
        return;
      case "handshake":
        return await this.handshake(step);
      case "set":
        for (const [k, v] of Object.entries(step.vars)) {
          this.vars.set(k, this.#sub(v, `set.${k}`) as VarValue);
        }
        return;
      case "auto":
        Object.assign(this.session.auto, step.auto);
        return;
    }
  }

  violationsAsFailure(): StepFailure | undefined {
    const v = this.session.takeViolations();
    if (v.length === 0) return undefined;
    const lines = v.map((x) =>
      `${x.monitor}: ${x.text}${x.hex !== undefined ? ` [octets ${x.hex}]` : ""}`
    );
    return new StepFailure("fail", `peer broke a rule: ${v[0].monitor}: ${v[0].text}`, [
      ...(v[0].hex !== undefined ? [`octets: ${v[0].hex}`] : []),
      ...lines.slice(1),
    ]);
  }
}

function verdictLine(r: StepResult): string {
  const tag = { pass: "ok  ", fail: "FAIL", error: "ERR ", skip: "skip" }[r.verdict];
  const where = r.line !== undefined ? ` (line ${r.line})` : "";
  const msg = r.message ? `: ${r.message}` : "";
  const lines = [`   ${tag} [${r.index}] ${r.title}${where}${msg} (${formatMs(r.durationMs)})`];
  for (const d of r.detail ?? []) lines.push(`          ${d}`);
  return lines.join("\n");
}

/** Runs one scenario and returns its result (never throws for protocol or scenario problems). */
export async function runScenario(s: Scenario, o: RunnerOptions): Promise<ScenarioResult> {
  const run = new ScenarioRun(s, o);
  const log = run.log;
  const started = o.scheduler.now();
  const steps: StepResult[] = [];
  const role = o.role;
  log(`== scenario ${s.name} (partner as ${role})${s.description ? `: ${s.description}` : ""}`);
  const record = (
    index: number,
    title: string,
    line: number | undefined,
    t0: number,
    verdict: Verdict,
    message?: string,
    detail?: string[],
  ) => {
    const r: StepResult = {
      index,
      title,
      line,
      verdict,
      startedAt: t0,
      durationMs: o.scheduler.now() - t0,
    };
    if (message) r.message = message;
    if (detail && detail.length > 0) r.detail = detail;
    steps.push(r);
    log(verdictLine(r));
    return r;
  };
  let stopped = false;
  if (s.role !== undefined && s.role !== role) {
    record(
      0,
      "role",
      undefined,
      started,
      "error",
      `scenario is for the partner as ${s.role}, the run is as ${role}`,
    );
    stopped = true;
  }
  if (!stopped) {
    const t0 = o.scheduler.now();
    try {
      await run.connect();
      record(0, role === "primary" ? "connect" : "accept", undefined, t0, "pass");
    } catch (err) {
      const e = asFailure(err);
      record(
        0,
        role === "primary" ? "connect" : "accept",
        undefined,
        t0,
        e.verdict,
        e.message,
        e.detail,
      );
      stopped = true;
    }
  }
  s.steps.forEach((step, i) => {
    if (stopped) {
      steps.push({
        index: i + 1,
        title: stepTitle(step),
        line: step.line,
        verdict: "skip",
        startedAt: o.scheduler.now(),
        durationMs: 0,
      });
    }
  });
  for (let i = 0; i < s.steps.length && !stopped; i++) {
    const step = s.steps[i];
    const t0 = o.scheduler.now();
    let failure: StepFailure | undefined;
    let note: string | undefined;
    try {
      note = await run.step(step);
    } catch (e) {
      failure = asFailure(e);
    }
    const v = run.violationsAsFailure();
    if (v) {
      if (!failure) failure = v;
      else failure.detail.push(v.message, ...v.detail);
    }
    if (failure) {
      record(
        i + 1,
        stepTitle(step),
        step.line,
        t0,
        failure.verdict,
        failure.message,
        failure.detail,
      );
      stopped = true;
      for (let j = i + 1; j < s.steps.length; j++) {
        const k = s.steps[j];
        const r: StepResult = {
          index: j + 1,
          title: stepTitle(k),
          line: k.line,
          verdict: "skip",
          startedAt: o.scheduler.now(),
          durationMs: 0,
        };
        steps.push(r);
      }
    } else {
      record(i + 1, stepTitle(step), step.line, t0, "pass", note);
    }
  }
  if (!stopped) {
    const v = run.violationsAsFailure();
    if (v) {
      record(
        s.steps.length + 1,
        "monitors after the last step",
        undefined,
        o.scheduler.now(),
        "fail",
        v.message,
        v.detail,
      );
    }
  }
  run.session.close();
  const verdict: Verdict = steps.some((x) => x.verdict === "error")
    ? "error"
    : steps.some((x) => x.verdict === "fail")
    ? "fail"
    : "pass";
  const result: ScenarioResult = {
    name: s.name,
    description: s.description,
    role,
    reference: s.reference,
    source: s.source,
    verdict,
    steps,
    sent: run.session.stats.sent,
    received: run.session.stats.received,
    startedAt: started,
    durationMs: o.scheduler.now() - started,
  };
  const passed = steps.filter((x) => x.verdict === "pass").length;
  log(
    `== ${s.name}: ${verdict.toUpperCase()} (${passed}/${steps.length} steps passed, ${
      formatMs(result.durationMs)
    })`,
  );
  return result;
}

/**
 * Runs scenarios one after the other and sums them up.
 *
 * @example The partner as primary against our own engine (secondary), in memory and virtual time
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   conformanceFor,
 *   EnginePeer,
 *   MemoryNetwork,
 *   parseScenarios,
 *   runScenarios,
 * } from "@failover6/failover6";
 * import { VirtualScheduler } from "./scheduler.ts"; // not in mod.ts yet (see its docs)
 *
 * const scheduler = new VirtualScheduler(); // `realScheduler` and `tcpNetwork` for a live peer
 * const network = new MemoryNetwork("2001:db8::1");
 * const engine = new EnginePeer({
 *   config: {
 *     role: "secondary",
 *     relationship: "pair",
 *     mclt: 3600,
 *     keepaliveTime: 3, // a CONTACT every 0.75 s
 *     startupTime: 1,
 *   },
 *   network,
 *   scheduler,
 *   listen: { address: "2001:db8::2", port: 647 },
 * });
 * engine.start();
 *
 * const scenarios = [
 *   ...parseScenarios(`name: contact
 * role: primary
 * steps:
 *   - handshake:
 *   - expect: CONTACT
 *     within: 30s
 * `),
 *   ...conformanceFor("primary", ["connect-accept"]),
 * ];
 * const lines: string[] = [];
 * const report = await scheduler.run(runScenarios(scenarios, {
 *   role: "primary",
 *   settings: { relationship: "pair" },
 *   network,
 *   peer: engine.local,
 *   scheduler,
 *   log: (line) => lines.push(line),
 * }));
 * await scheduler.run(engine.stop());
 * assert.deepEqual([report.passed, report.failed, report.errors], [2, 0, 0]);
 * assert.match(lines.at(-1) ?? "", /^== 2 passed, 0 failed, 0 in error, of 2 scenarios/);
 * ```
 */
export async function runScenarios(
  list: Scenario[],
  o: RunnerOptions,
  title = "failover6 partner",
): Promise<RunReport> {
  const started = o.scheduler.now();
  const scenarios: ScenarioResult[] = [];
  for (const s of list) scenarios.push(await runScenario(s, o));
  const peer = o.role === "primary"
    ? (o.peer ? formatEndpoint(o.peer) : "")
    : (o.acceptor ? `listening on ${formatEndpoint(o.acceptor.listener.local)}` : "");
  const report: RunReport = {
    title,
    role: o.role,
    peer,
    scenarios,
    startedAt: started,
    durationMs: o.scheduler.now() - started,
    passed: scenarios.filter((s) => s.verdict === "pass").length,
    failed: scenarios.filter((s) => s.verdict === "fail").length,
    errors: scenarios.filter((s) => s.verdict === "error").length,
  };
  o.log?.(
    `== ${report.passed} passed, ${report.failed} failed, ${report.errors} in error, of ${scenarios.length} scenarios (${
      formatMs(report.durationMs)
    })`,
  );
  return report;
}

/** Exit status for a report: 0 all passed, 1 a check failed, 2 a scenario was in error. */
export function exitCodeOf(report: RunReport): 0 | 1 | 2 {
  if (report.errors > 0) return 2;
  return report.failed > 0 ? 1 : 0;
}
