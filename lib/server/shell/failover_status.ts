/**
 * The operator's view of one failover endpoint (`failover6 ctl status`, `GET /v1/failover`):
 * own and partner state with their times, the communications, clock skew, unacked and queued
 * BNDUPDs, the time left before auto-partner-down, and why the server is or is not in
 * PARTNER-DOWN; plus the decision of the `partner-down` command. Pure: plain data in, JSON
 * and text lines out.
 *
 * @module
 */

import type { EngineState } from "../../failover/engine.ts";
import { findTransition } from "../../failover/endpoint.ts";
import type { EndpointStateName, Role } from "../../failover/types.ts";
import { type Responsiveness, responsiveness } from "../failover_policy.ts";

/** Everything besides the engine state that the view shows. */
export interface EndpointFacts {
  /** The partner's address and port (where a primary connects, or a secondary accepts from). */
  peer: { address: string; port: number };
  /** Where a secondary listens (absent for a primary). */
  listen?: { address: string; port: number };
  /** Auto-partner-down period from the configuration, seconds (`null`: off). */
  autoPartnerDown: number | null;
  /** TLS in use. */
  tls: boolean;
  /** Clock skew of the last message received (our time − its sent-time), seconds. */
  clockSkew: number | null;
  /** Leases with an update the partner has not confirmed (the lease index's count). */
  pendingInStore: number;
  /** The last state change: from, to, why, when (ms). */
  lastTransition?: { from: string; to: string; reason: string; at: number };
  /** Now (ms). */
  now: number;
}

/** One endpoint's status, JSON-ready (times ISO 8601, `null` for none). */
export interface EndpointStatus {
  relationship: string;
  role: Role;
  state: EndpointStateName;
  stateSince: string | null;
  stateSeconds: number;
  previousState: EndpointStateName | null;
  responsiveness: Responsiveness;
  mcltSeconds: number;
  partner: {
    address: string;
    port: number;
    state: EndpointStateName | null;
    stateSince: string | null;
    startup: boolean;
    partnerDownTime: string | null;
    lastMessage: string | null;
    lastMessageSecondsAgo: number | null;
  };
  communications: {
    status: "ok" | "connecting" | "down";
    phase: string;
    since: string | null;
    peer: string | null;
    tls: boolean;
    listen: string | null;
    keepaliveSeconds: number;
    partnerKeepaliveSeconds: number | null;
  };
  clockSkewSeconds: number | null;
  bndupd: {
    unacked: number;
    window: number | null;
    queued: number;
    pendingInStore: number;
    sent: number;
    received: number;
    rejectedByUs: number;
    rejectedByPartner: number;
  };
  autoPartnerDown: {
    configuredSeconds: number | null;
    remainingSeconds: number | null;
  };
  partnerDown: {
    active: boolean;
    since: string | null;
    why: string;
    commandAllowed: boolean;
  };
  lastTransition: { from: string; to: string; reason: string; at: string } | null;
}

function iso(ms: number): string | null {
  return ms > 0 && Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

function whole(s: number): number {
  return Math.max(0, Math.round(s));
}

function hostPort(a: { address: string; port: number }): string {
  return a.address.includes(":") ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/** What the `partner-down` command would do now. */
export type PartnerDownCheck =
  | { allowed: true }
  | { allowed: false; already: boolean; reason: string };

/**
 * Whether the operator's "partner is down" command may be given now (§8.4, §8.8.2, §8.9.2,
 * §8.11.2): refused while the partner is reachable (any connection to it), refused in a state
 * that has no "partner down" transition, and a no-op in PARTNER-DOWN.
 */
export function checkPartnerDown(s: EngineState): PartnerDownCheck {
  const state = s.endpoint.state;
  if (state === "PARTNER-DOWN") {
    return { allowed: false, already: true, reason: "already in PARTNER-DOWN" };
  }
  if (s.comms.phase !== "down") {
    return {
      allowed: false,
      already: false,
      reason: s.comms.phase === "ok"
        ? "the partner is reachable (communications are OK): it is not down"
        : "a connection to the partner is open: it is not down",
    };
  }
  const row = findTransition(state, { on: "command", command: "partner-down" }, s.config.role);
  if (!row || row.to === "stay") {
    return {
      allowed: false,
      already: false,
      reason: `${state} has no transition to PARTNER-DOWN (§8.4: only from ` +
        "COMMUNICATIONS-INTERRUPTED, RESOLUTION-INTERRUPTED or NORMAL)",
    };
  }
  return { allowed: true };
}

function whyPartnerDown(s: EngineState, f: EndpointFacts, remaining: number | null): string {
  const state = s.endpoint.state;
  if (state === "PARTNER-DOWN") {
    const t = f.lastTransition;
    return t && t.to === "PARTNER-DOWN"
      ? `in PARTNER-DOWN: ${t.reason}`
      : "in PARTNER-DOWN (state restored from the lease database)";
  }
  if (s.comms.phase === "ok") return "not in PARTNER-DOWN: communications with the partner are OK";
  if (state === "COMMUNICATIONS-INTERRUPTED" || state === "RESOLUTION-INTERRUPTED") {
    if (state === "COMMUNICATIONS-INTERRUPTED" && remaining !== null) {
      return `not yet: auto-partner-down in ${
        whole(remaining)
      }s, or run \`failover6 ctl partner-down\``;
    }
    return "not in PARTNER-DOWN: auto-partner-down is off, an operator must run " +
      "`failover6 ctl partner-down` once the partner is known to be down";
  }
  return `not in PARTNER-DOWN: ${state} does not lead there`;
}

/** The status of one endpoint from its engine state and the facts around it. */
export function endpointStatus(s: EngineState, f: EndpointFacts): EndpointStatus {
  const e = s.endpoint;
  const now = f.now;
  const phase = s.comms.phase;
  const remaining = e.state === "COMMUNICATIONS-INTERRUPTED" && f.autoPartnerDown !== null
    ? Math.max(0, (e.startTimeOfState + f.autoPartnerDown * 1000 - now) / 1000)
    : null;
  const pd = checkPartnerDown(s);
  const lastContact = phase !== "down"
    ? Math.max(e.lastContactTime, s.comms.lastReceived)
    : e.lastContactTime;
  return {
    relationship: s.config.relationship,
    role: s.config.role,
    state: e.state,
    stateSince: iso(e.startTimeOfState),
    stateSeconds: whole((now - e.startTimeOfState) / 1000),
    previousState: e.previousState,
    responsiveness: responsiveness(s.config.role, e.state),
    mcltSeconds: e.mclt,
    partner: {
      address: f.peer.address,
      port: f.peer.port,
      state: e.partnerState,
      stateSince: iso(e.partnerStartTimeOfState),
      startup: (e.partnerFlags & 0x02) !== 0,
      partnerDownTime: iso(e.partnerDownTime),
      lastMessage: iso(lastContact),
      lastMessageSecondsAgo: lastContact > 0 ? whole((now - lastContact) / 1000) : null,
    },
    communications: {
      status: phase === "ok" ? "ok" : phase === "down" ? "down" : "connecting",
      phase,
      since: phase === "down" ? null : iso(s.comms.since),
      peer: phase === "down" ? null : s.comms.peer ?? null,
      tls: f.tls,
      listen: f.listen ? hostPort(f.listen) : null,
      keepaliveSeconds: s.config.keepaliveTime,
      partnerKeepaliveSeconds: s.comms.partner?.keepaliveTime ?? null,
    },
    clockSkewSeconds: f.clockSkew,
    bndupd: {
      unacked: s.outstanding.size,
      window: s.comms.partner?.maxUnackedBndupd ?? null,
      queued: s.queue.length,
      pendingInStore: f.pendingInStore,
      sent: s.counters.bndupdSent,
      received: s.counters.bndupdReceived,
      rejectedByUs: s.counters.rejectionsSent,
      rejectedByPartner: s.counters.rejectionsReceived,
    },
    autoPartnerDown: {
      configuredSeconds: f.autoPartnerDown,
      remainingSeconds: remaining === null ? null : whole(remaining),
    },
    partnerDown: {
      active: e.state === "PARTNER-DOWN",
      since: e.state === "PARTNER-DOWN" ? iso(e.startTimeOfState) : null,
      why: whyPartnerDown(s, f, remaining),
      commandAllowed: pd.allowed,
    },
    lastTransition: f.lastTransition
      ? { ...f.lastTransition, at: iso(f.lastTransition.at) ?? "" }
      : null,
  };
}

function ago(seconds: number | null): string {
  return seconds === null ? "" : ` (${seconds}s ago)`;
}

function since(isoText: string | null): string {
  return isoText === null ? "" : ` since ${isoText.replace(/\.\d{3}Z$/, "Z")}`;
}

/**
 * The text lines `failover6 ctl status` prints for one endpoint (tolerant of missing fields:
 * it renders whatever JSON the server sent).
 */
export function renderEndpointStatus(j: Partial<EndpointStatus>): string[] {
  const lines: string[] = [];
  const put = (k: string, v: string) => lines.push(`  ${k.padEnd(18)} ${v}`);
  lines.push(`failover ${j.relationship ?? "?"} (${j.role ?? "?"})`);
  put("state", `${j.state ?? "?"}${since(j.stateSince ?? null)} (${j.stateSeconds ?? "?"}s)`);
  if (j.responsiveness) put("clients", j.responsiveness);
  const p = j.partner;
  if (p) {
    put(
      "partner",
      `${p.state ?? "unknown"}${p.startup ? " (in STARTUP)" : ""}${since(p.stateSince)}` +
        (j.role === "secondary" ? ` from ${p.address}` : ` at ${hostPort(p)}`),
    );
    put(
      "last message",
      p.lastMessage ? `${p.lastMessage}${ago(p.lastMessageSecondsAgo)}` : "never",
    );
  }
  const c = j.communications;
  if (c) {
    put(
      "communications",
      `${c.status}${since(c.since)}${c.peer ? ` with ${c.peer}` : ""}${
        c.tls ? ", TLS" : ", insecure"
      }` +
        `${c.listen ? `; listening on ${c.listen}` : ""}`,
    );
    put(
      "keepalive",
      `${c.keepaliveSeconds}s${
        c.partnerKeepaliveSeconds !== null ? ` (partner ${c.partnerKeepaliveSeconds}s)` : ""
      }`,
    );
  }
  put(
    "clock skew",
    j.clockSkewSeconds === null || j.clockSkewSeconds === undefined
      ? "unknown"
      : `${j.clockSkewSeconds}s`,
  );
  if (j.mcltSeconds !== undefined) put("MCLT", `${j.mcltSeconds}s`);
  const b = j.bndupd;
  if (b) {
    put(
      "BNDUPD",
      `${b.unacked} unacked${
        b.window !== null ? ` (window ${b.window})` : ""
      }, ${b.queued} queued, ` +
        `${b.pendingInStore} pending`,
    );
    put(
      "BNDUPD totals",
      `${b.sent} sent, ${b.received} received, ${b.rejectedByUs} rejected by us, ` +
        `${b.rejectedByPartner} by the partner`,
    );
  }
  const a = j.autoPartnerDown;
  if (a) {
    put(
      "auto partner-down",
      a.configuredSeconds === null
        ? "off"
        : `${a.configuredSeconds}s${
          a.remainingSeconds !== null ? `, ${a.remainingSeconds}s left` : ""
        }`,
    );
  }
  if (j.partnerDown) put("partner-down", j.partnerDown.why);
  if (j.lastTransition) {
    put(
      "last change",
      `${j.lastTransition.from} -> ${j.lastTransition.to} at ${j.lastTransition.at}: ${j.lastTransition.reason}`,
    );
  }
  return lines;
}

/** The outcome of the operator's `partner-down` command. */
export type PartnerDownOutcome =
  /** The endpoint moved to PARTNER-DOWN. */
  | { kind: "done"; status: EndpointStatus }
  /** It was in PARTNER-DOWN already. */
  | { kind: "already"; reason: string; status: EndpointStatus }
  /** Refused: the partner is reachable, or the state has no such transition. */
  | { kind: "refused"; reason: string; status: EndpointStatus }
  /** Several relationships and none named. */
  | { kind: "ambiguous"; reason: string }
  /** No such relationship. */
  | { kind: "unknown-relationship"; reason: string };
