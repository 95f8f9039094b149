/**
 * A lease-time schedule simulator built on the MCLT rules of `mclt.ts`: one client that renews
 * at T1 (or at given times), a server that answers it and updates its partner lazily, a partner
 * that acks at once, late, or never after a given moment (communications lost), and an optional
 * PARTNER-DOWN entry. Pure: parameters in, rows out.
 *
 * Order of events at the same second: a lease expiry, then the client's message and its Reply
 * (lazy update, R2), then communications lost, then PARTNER-DOWN entry, then the BNDUPD, then the
 * BNDREPLY. So "communications lost at the moment of a renewal" means that renewal's BNDUPD is
 * never acked, which is how the digest's steps 7–9 read.
 *
 * @module
 */

import { formatDuration } from "../util/duration.ts";
import {
  checkLifetimeSettings,
  clientValidLifetime,
  mcltBound,
  McltInputError,
  mcltLimitsLifetimes,
  partnerLifetimeToSend,
  reuseTime,
} from "./mclt.ts";

/** How the partner answers BNDUPDs while communications are up. */
export type AckModel =
  /** The BNDREPLY arrives in the same second. */
  | { kind: "at-once" }
  /** The BNDREPLY arrives `delay` seconds after the BNDUPD. */
  | { kind: "late"; delay: number }
  /** No BNDREPLY ever arrives. */
  | { kind: "never" };

/** What to simulate. All times are absolute seconds on one clock; durations are seconds. */
export interface ScheduleParams {
  /** When the client first asks for a lease (the simulation's start). */
  start: number;
  /** The desired valid lifetime, seconds. */
  desired: number;
  /** The desired preferred lifetime, seconds; defaults to `desired`. */
  desiredPreferred?: number;
  /** The MCLT, seconds (>= 30). */
  mclt: number;
  /** The client's T1 as a fraction of the valid lifetime, in (0, 1); also used by the policy. */
  t1Fraction: number;
  /** Renewals at T1 after the first grant (ignored when `renewAt` is given). Default 4. */
  renewals?: number;
  /** Absolute times of the client's later messages instead of T1 renewals, increasing, > start. */
  renewAt?: readonly number[];
  /** The partner's acknowledgement behaviour; default at once. */
  ack?: AckModel;
  /** From this time on no BNDUPD is sent and no BNDREPLY arrives. */
  commsLostAt?: number | null;
  /** The time this server enters PARTNER-DOWN (communications count as lost from then on). */
  partnerDownAt?: number | null;
}

/** What happened in a row. */
export type ScheduleEvent =
  /** The client asked for a new lease (Solicit/Request) and got a Reply. */
  | "request"
  /** The client renewed and got a Reply. */
  | "renew"
  /** The server sent the partner a BNDUPD. */
  | "bndupd"
  /** The partner's BNDREPLY arrived. */
  | "bndreply"
  /** Communications with the partner were lost (COMMUNICATIONS-INTERRUPTED). */
  | "comms-lost"
  /** The server entered PARTNER-DOWN. */
  | "partner-down"
  /** The client's lease ran out. */
  | "expire";

/** The endpoint states the simulator moves through. */
export type ScheduleState = "NORMAL" | "COMMUNICATIONS-INTERRUPTED" | "PARTNER-DOWN";

/** One row of a schedule: the state of the lease just after an event. */
export interface ScheduleRow {
  /** 1-based row number. */
  step: number;
  /** Absolute time of the event. */
  time: number;
  /** What happened. */
  event: ScheduleEvent;
  /** The server's endpoint state after the event. */
  state: ScheduleState;
  /** The acked partner lifetime (absolute) after the event; `null` = none yet. */
  ackedPartnerLifetime: number | null;
  /** The valid lifetime given to the client (request/renew rows only), seconds. */
  clientLifetime: number | null;
  /** The preferred lifetime given to the client (request/renew rows only), seconds. */
  preferredLifetime: number | null;
  /** The client's T1 renewal time (request/renew rows only), absolute. */
  clientT1: number | null;
  /** The client's current lease expiry (absolute); `null` before the first grant. */
  clientExpiry: number | null;
  /** The partner lifetime sent (bndupd rows only), absolute. */
  partnerLifetimeSent: number | null;
  /** The binding limit `max(acked, time) + MCLT` at this time. */
  bound: number;
  /** False in PARTNER-DOWN, where the bound does not limit client lifetimes. */
  boundApplies: boolean;
  /** In PARTNER-DOWN: the earliest time the address may go to a different client (§8.4.1). */
  reuseAt: number | null;
  /** A short machine-readable name of the rule that decided this row's number. */
  rule: string;
  /** One sentence saying which rule decided the number, for `--explain`. */
  explanation: string;
}

/** The event kinds in their order of processing within one second. */
const PRIORITY: Record<ScheduleEvent, number> = {
  "expire": 0,
  "request": 1,
  "renew": 1,
  "comms-lost": 2,
  "partner-down": 3,
  "bndupd": 4,
  "bndreply": 5,
};

/** Most rows a schedule may have (bad parameters must not make a runaway simulation). */
export const MAX_SCHEDULE_ROWS = 100_000;

/** Most client messages a schedule may have. */
export const MAX_CLIENT_MESSAGES = 10_000;

/**
 * Checks schedule parameters and returns the first problem, or `undefined` when usable. The
 * error's `field` is the {@linkcode ScheduleParams} property name.
 */
export function checkScheduleParams(p: ScheduleParams): McltInputError | undefined {
  const settings = checkLifetimeSettings({
    desired: p.desired,
    mclt: p.mclt,
    t1Fraction: p.t1Fraction,
  });
  if (settings) return settings;
  if (!Number.isSafeInteger(p.start) || p.start < 0) {
    return new McltInputError("start", `must be a whole time in seconds >= 0 (got ${p.start})`);
  }
  if (
    p.desiredPreferred !== undefined &&
    (!Number.isSafeInteger(p.desiredPreferred) || p.desiredPreferred < 0)
  ) {
    return new McltInputError("desiredPreferred", "must be a whole number of seconds >= 0");
  }
  const renewals = p.renewals ?? 4;
  if (!Number.isSafeInteger(renewals) || renewals < 0 || renewals > MAX_CLIENT_MESSAGES) {
    return new McltInputError(
      "renewals",
      `must be a whole number from 0 to ${MAX_CLIENT_MESSAGES} (got ${renewals})`,
    );
  }
  if (p.renewAt) {
    if (p.renewAt.length > MAX_CLIENT_MESSAGES) {
      return new McltInputError("renewAt", `at most ${MAX_CLIENT_MESSAGES} times`);
    }
    let last = p.start;
    for (const [i, t] of p.renewAt.entries()) {
      if (!Number.isSafeInteger(t) || t <= last) {
        return new McltInputError(
          "renewAt",
          `time ${i + 1} must be a whole time later than the ${
            i === 0 ? "start" : "time before it"
          }`,
        );
      }
      last = t;
    }
  }
  const ack = p.ack ?? { kind: "at-once" };
  if (ack.kind === "late" && (!Number.isSafeInteger(ack.delay) || ack.delay < 0)) {
    return new McltInputError("ack", `delay must be a whole number of seconds >= 0`);
  }
  for (const field of ["commsLostAt", "partnerDownAt"] as const) {
    const t = p[field];
    if (t !== undefined && t !== null && (!Number.isSafeInteger(t) || t < p.start)) {
      return new McltInputError(field, "must be a whole time no earlier than the start");
    }
  }
  return undefined;
}

type Pending =
  | { kind: "client"; time: number; seq: number }
  | { kind: "expire"; time: number; seq: number; expiry: number }
  | { kind: "comms-lost"; time: number; seq: number }
  | { kind: "partner-down"; time: number; seq: number }
  | {
    kind: "bndupd";
    time: number;
    seq: number;
    partnerLifetime: number;
    explanation: string;
    rule: string;
  }
  | { kind: "bndreply"; time: number; seq: number; partnerLifetime: number };

type WithoutSeq<T> = T extends unknown ? Omit<T, "seq"> : never;

function priorityOf(e: Pending): number {
  return e.kind === "client" ? PRIORITY.request : PRIORITY[e.kind];
}

/** Whether `a` is processed before `b`: by time, then event priority, then creation order. */
function before(a: Pending, b: Pending): boolean {
  return (a.time - b.time || priorityOf(a) - priorityOf(b) || a.seq - b.seq) < 0;
}

/**
 * Runs the schedule and returns its rows in time order.
 *
 * @throws {McltInputError} when {@linkcode checkScheduleParams} finds a problem, or the schedule
 *   would exceed {@linkcode MAX_SCHEDULE_ROWS} rows.
 *
 * @example The worked example of RFC 8156 §4.4.1: MCLT 1 h, desired 3 days, T1 at half
 * ```ts
 * import assert from "node:assert/strict";
 * import { simulateSchedule } from "@failover6/failover6";
 *
 * const rows = simulateSchedule({
 *   start: 600000000,
 *   desired: 3 * 86400,
 *   mclt: 3600,
 *   t1Fraction: 0.5,
 *   renewals: 2,
 * });
 * const grants = rows.filter((r) => r.event === "request" || r.event === "renew");
 * // The first grant is one MCLT; once the partner has acked, the full 3 days.
 * assert.deepEqual(grants.map((r) => r.clientLifetime), [3600, 259200, 259200]);
 * assert.deepEqual(rows.slice(0, 3).map((r) => r.event), ["request", "bndupd", "bndreply"]);
 * ```
 */
export function simulateSchedule(params: ScheduleParams): ScheduleRow[] {
  const problem = checkScheduleParams(params);
  if (problem) throw problem;
  const { start, desired, mclt, t1Fraction } = params;
  const ack: AckModel = params.ack ?? { kind: "at-once" };
  const renewAt = params.renewAt ? [...params.renewAt] : null;
  let renewalsLeft = renewAt ? renewAt.length : params.renewals ?? 4;

  const queue: Pending[] = [];
  let seq = 0;
  // The queue stays sorted by (time, priority, seq); insertion by binary search.
  const push = (e: WithoutSeq<Pending>) => {
    const item = { ...e, seq: seq++ } as Pending;
    let lo = 0, hi = queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(queue[mid], item)) lo = mid + 1;
      else hi = mid;
    }
    queue.splice(lo, 0, item);
  };
  push({ kind: "client", time: start });
  const partnerDownAt = params.partnerDownAt ?? null;
  let commsLostAt = params.commsLostAt ?? null;
  if (partnerDownAt !== null && commsLostAt !== null && commsLostAt > partnerDownAt) {
    commsLostAt = null; // PARTNER-DOWN already means no partner; a later loss adds nothing
  }
  if (commsLostAt !== null) push({ kind: "comms-lost", time: commsLostAt });
  if (partnerDownAt !== null) push({ kind: "partner-down", time: partnerDownAt });

  let state: ScheduleState = "NORMAL";
  let commsUp = true;
  let apl: number | null = null;
  let clientExpiry: number | null = null;
  let leaseActive = false;
  let lastSent: number | null = null;
  let partnerDownEntry: number | null = null;
  const rows: ScheduleRow[] = [];

  const emit = (
    time: number,
    event: ScheduleEvent,
    fields: Partial<ScheduleRow> & { rule: string; explanation: string },
  ) => {
    if (rows.length >= MAX_SCHEDULE_ROWS) {
      throw new McltInputError("renewals", `the schedule would exceed ${MAX_SCHEDULE_ROWS} rows`);
    }
    const reuseAt = partnerDownEntry === null ? null : reuseTime({
      mclt,
      partnerDownEntry,
      clientExpiry,
      partnerLifetimeSent: lastSent,
      ackedPartnerLifetime: apl,
    }).at;
    rows.push({
      step: rows.length + 1,
      time,
      event,
      state,
      ackedPartnerLifetime: apl,
      clientLifetime: null,
      preferredLifetime: null,
      clientT1: null,
      clientExpiry,
      partnerLifetimeSent: null,
      bound: mcltBound(apl, time, mclt),
      boundApplies: mcltLimitsLifetimes(state),
      reuseAt,
      ...fields,
    });
  };

  while (queue.length > 0) {
    const e = queue.shift()!;
    const t = e.time;
    switch (e.kind) {
      case "client": {
        const newLease = !leaseActive;
        const life = clientValidLifetime({
          desired,
          desiredPreferred: params.desiredPreferred,
          ackedPartnerLifetime: apl,
          now: t,
          mclt,
          state,
          newLease,
        });
        clientExpiry = life.expiry;
        leaseActive = true;
        const t1 = t + Math.max(1, Math.floor(t1Fraction * life.valid));
        let explanation = life.explanation;
        if (state === "PARTNER-DOWN") {
          explanation += "; no BNDUPD: the partner is down and will learn of it when it recovers";
        } else if (!commsUp) {
          explanation += "; BNDUPD queued until communications return";
        } else {
          const pl = partnerLifetimeToSend({
            now: t,
            granted: life.valid,
            desired,
            t1Fraction,
            ackedPartnerLifetime: apl,
          });
          push({
            kind: "bndupd",
            time: t,
            partnerLifetime: pl.partnerLifetime,
            explanation: pl.explanation,
            rule: pl.rule,
          });
        }
        emit(t, newLease ? "request" : "renew", {
          clientLifetime: life.valid,
          preferredLifetime: life.preferred,
          clientT1: t1,
          rule: life.rule,
          explanation,
        });
        let next: number | null = null;
        if (renewalsLeft > 0) {
          next = renewAt ? renewAt[renewAt.length - renewalsLeft] : t1;
          renewalsLeft--;
          push({ kind: "client", time: next });
        }
        if (next === null || next >= life.expiry) {
          push({ kind: "expire", time: life.expiry, expiry: life.expiry });
        }
        break;
      }
      case "expire": {
        if (clientExpiry !== e.expiry) break; // a later grant replaced this lease
        leaseActive = false;
        emit(t, "expire", {
          rule: "expired",
          explanation: state === "PARTNER-DOWN"
            ? "the lease ran out; in PARTNER-DOWN another client may have it at the reuse time " +
              "(§8.4.1)"
            : "the lease ran out; another client may have it once a BNDUPD saying EXPIRED is " +
              "acked (§4.2.2.1)",
        });
        break;
      }
      case "comms-lost": {
        if (!commsUp) break;
        commsUp = false;
        if (state === "NORMAL") state = "COMMUNICATIONS-INTERRUPTED";
        emit(t, "comms-lost", {
          rule: "comms-lost",
          explanation: `communications lost: no BNDREPLY from now on, so the acked partner ` +
            `lifetime stays ${
              apl === null ? "unset" : `at +${formatDuration(apl - start)}`
            } and lifetimes shrink toward the MCLT (R5)`,
        });
        break;
      }
      case "partner-down": {
        commsUp = false;
        state = "PARTNER-DOWN";
        partnerDownEntry = t;
        emit(t, "partner-down", {
          rule: "partner-down",
          explanation: `PARTNER-DOWN: the MCLT no longer caps lifetimes (R6); another client may ` +
            `have this address only after max(lease times + MCLT, entry + MCLT) (§8.4.1)`,
        });
        break;
      }
      case "bndupd": {
        if (!commsUp) break;
        lastSent = e.partnerLifetime;
        emit(t, "bndupd", {
          partnerLifetimeSent: e.partnerLifetime,
          rule: e.rule,
          explanation: e.explanation,
        });
        if (ack.kind !== "never") {
          push({
            kind: "bndreply",
            time: t + (ack.kind === "late" ? ack.delay : 0),
            partnerLifetime: e.partnerLifetime,
          });
        }
        break;
      }
      case "bndreply": {
        if (!commsUp) break;
        apl = apl === null ? e.partnerLifetime : Math.max(apl, e.partnerLifetime);
        emit(t, "bndreply", {
          rule: "ack",
          explanation: `BNDREPLY: the partner has stored the lease, so the acked partner ` +
            `lifetime becomes +${formatDuration(apl - start)} (R4)`,
        });
        break;
      }
    }
  }
  return rows;
}
