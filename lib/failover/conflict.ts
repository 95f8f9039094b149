/**
 * Conflict resolution for a received BNDUPD (RFC 8156 §7.5.3, §7.5.4, Figure 4; digest §9):
 * which time each side's record carries, the decision table (local binding-status by received
 * binding-status), the status code of a rejection, and the "partner needs update" damping.
 * Pure functions; times are ms since the Unix epoch.
 *
 * @module
 */

import type { BindingStatus, Lease } from "../store/types.ts";
import type { Role } from "./types.ts";

/** Times within this many ms of each other count as equal (§7.1, §7.5.1). */
export const EQUALITY_WINDOW_MS = 5000;

/** The rule of Figure 4 that decided. */
export type ConflictRule =
  | "no-local-record"
  | "accept"
  | "time(1)"
  | "time(2)"
  | "accept(3)-same-client"
  | "accept(3)-other-client";

/** The received binding as conflict resolution needs it. */
export interface ReceivedBinding {
  /** The received binding status. */
  status: BindingStatus;
  /** Client DUID (lower-case hex), `""` for a standalone IAPREFIX. */
  clientDuid: string;
  /** IAID of the IA holding the lease. */
  iaid: number;
  /** OPTION_CLT_TIME made absolute through OPTION_LQ_BASE_TIME (ms); undefined when absent. */
  cltTime?: number;
  /** OPTION_F_START_TIME_OF_STATE (ms). */
  startTimeOfState: number;
}

/** The outcome. */
export type ConflictDecision =
  | { accept: true; rule: ConflictRule; reason: string }
  | {
    accept: false;
    rule: ConflictRule;
    /** AddressInUse (16) or OutdatedBindingInformation (19). */
    code: 16 | 19;
    reason: string;
  };

/**
 * The time of a BNDUPD (§7.5.3): for ACTIVE, EXPIRED and RELEASED its CLT time if present,
 * else its start-time-of-state; for any other status the later of the two.
 */
export function bndupdTime(r: ReceivedBinding): number {
  if (r.status === "ACTIVE" || r.status === "EXPIRED" || r.status === "RELEASED") {
    return r.cltTime ?? r.startTimeOfState;
  }
  return Math.max(r.cltTime ?? 0, r.startTimeOfState);
}

/**
 * The time of the local record (§7.5.3): client-last-transaction-time if there is one, else
 * start-time-of-state. `own` tells whether that time was read on this server's clock (this
 * server talked to the client) or came from the partner in an earlier BNDUPD.
 */
export function localTime(l: Lease): { time: number; own: boolean } {
  if (l.cltTime > 0) return { time: l.cltTime, own: true };
  return { time: l.startTimeOfState, own: false };
}

/**
 * "Is the received time later than the local time?" (docs/decisions.md D7). When the local
 * time came from the partner (same clock as the BNDUPD) it is a plain comparison and an equal
 * time counts as later: the partner's newer message about the same record wins (one TCP
 * connection keeps its messages in order). When the local time is this server's own, times
 * within ±5 s are equal (§7.5.1) and `tie` decides.
 */
export function receivedIsLater(
  received: number,
  local: { time: number; own: boolean },
  tie: boolean,
): boolean {
  if (!local.own) return received >= local.time;
  if (received > local.time + EQUALITY_WINDOW_MS) return true;
  if (received < local.time - EQUALITY_WINDOW_MS) return false;
  return tie;
}

/**
 * How a tie within the equality window is broken (docs/decisions.md D7): the record that says
 * ACTIVE wins (dropping a live binding could hand its address to a second client; keeping a
 * released one only delays reuse); between two ACTIVE or two non-ACTIVE records the primary's
 * wins, as accept(3) has it for competing clients — the secondary accepts, the primary rejects.
 */
export function tieGoesToReceived(
  received: BindingStatus,
  local: BindingStatus,
  role: Role,
): boolean {
  const r = received === "ACTIVE", l = local === "ACTIVE";
  if (r !== l) return r;
  return role === "secondary";
}

type Column = "ACTIVE" | "EXPIRED" | "RELEASED" | "FREE" | "RESET";
type Cell = "accept" | "time(1)" | "time(2)" | "accept(3)";

function column(s: BindingStatus): Column {
  switch (s) {
    case "ACTIVE":
    case "EXPIRED":
    case "RELEASED":
      return s;
    case "FREE":
    case "FREE-BACKUP":
    case "PENDING-FREE":
      return "FREE";
    case "RESET":
    case "ABANDONED":
      return "RESET";
  }
}

/**
 * Figure 4 as data: row = local binding-status, column = received binding-status. Rows not
 * listed (EXPIRED, RELEASED, FREE, FREE-BACKUP, PENDING-FREE, ABANDONED) are "accept"
 * everywhere.
 */
export const FIGURE_4: Readonly<Partial<Record<BindingStatus, Readonly<Record<Column, Cell>>>>> = {
  "ACTIVE": {
    ACTIVE: "accept(3)",
    EXPIRED: "time(1)",
    RELEASED: "accept",
    FREE: "time(1)",
    RESET: "accept",
  },
  "RESET": {
    ACTIVE: "time(2)",
    EXPIRED: "accept",
    RELEASED: "accept",
    FREE: "accept",
    RESET: "accept",
  },
};

/**
 * Decides whether a received binding replaces the local record (Figure 4). `now` is the
 * receive time. Rejections carry OutdatedBindingInformation (19), except a competing client
 * under accept(3), which is AddressInUse (16).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyLease, resolveConflict } from "@failover6/failover6";
 *
 * const now = 1709294400000;
 * const local = {
 *   ...emptyLease({ kind: "na", address: "2001:db8::10" }, "ACTIVE"),
 *   clientDuid: "00030001020000000001",
 *   iaid: 1,
 *   startTimeOfState: now - 60_000,
 *   cltTime: now - 60_000,
 *   stateExpirationTime: now + 3_600_000,
 * };
 * // The partner says another client holds it, but that client has not talked since.
 * const d = resolveConflict(
 *   local,
 *   {
 *     status: "ACTIVE",
 *     clientDuid: "00030001020000000002",
 *     iaid: 1,
 *     startTimeOfState: now - 120_000,
 *     cltTime: now - 120_000,
 *   },
 *   "primary",
 *   now,
 * );
 * assert.deepEqual([d.accept, d.rule], [false, "accept(3)-other-client"]);
 * assert.equal(d.accept === false ? d.code : 0, 16); // AddressInUse in the BNDREPLY
 * ```
 */
export function resolveConflict(
  local: Lease | undefined,
  received: ReceivedBinding,
  role: Role,
  now: number,
): ConflictDecision {
  if (!local) return { accept: true, rule: "no-local-record", reason: "no local record" };
  const cell: Cell = FIGURE_4[local.status]?.[column(received.status)] ?? "accept";
  const lt = localTime(local);
  const bt = bndupdTime(received);
  const outdated = (rule: ConflictRule, reason: string): ConflictDecision => ({
    accept: false,
    rule,
    code: 19,
    reason,
  });
  switch (cell) {
    case "accept":
      return receivedIsLater(bt, lt, tieGoesToReceived(received.status, local.status, role))
        ? { accept: true, rule: "accept", reason: "the BNDUPD is later than the local record" }
        : outdated("accept", "the local record is as recent or newer");
    case "time(1)":
      // Accept once the local state (an ACTIVE lease) has expired; allow the 5 s skew the
      // partner's clock may have (§7.5.1). An ACTIVE lease's state timeout is the client's
      // expiry (D18): a lease this server granted itself carries no separate
      // state-expiration-time (0), and 0 must not read as "expired long ago".
      return now + EQUALITY_WINDOW_MS >= (local.stateExpirationTime || local.expirationTime)
        ? { accept: true, rule: "time(1)", reason: "the local lease has expired" }
        : outdated("time(1)", "the local lease has not expired yet");
    case "time(2)":
      return time2(received, local, role)
        ? { accept: true, rule: "time(2)", reason: "the client talked after the local state began" }
        : outdated("time(2)", "the client has not talked since the local state began");
    case "accept(3)": {
      const same = local.clientDuid === received.clientDuid && local.iaid === received.iaid;
      if (same) {
        return { accept: true, rule: "accept(3)-same-client", reason: "same client" };
      }
      if (time2(received, local, role) || role === "secondary") {
        return {
          accept: true,
          rule: "accept(3)-other-client",
          reason: role === "secondary"
            ? "another client; the secondary yields to the primary"
            : "another client, who talked after the local state began",
        };
      }
      return {
        accept: false,
        rule: "accept(3)-other-client",
        code: 16,
        reason: "the lease is ACTIVE here for another client",
      };
    }
  }
}

/** time(2): the received CLT time (if present) is later than the local start-time-of-state. */
function time2(received: ReceivedBinding, local: Lease, role: Role): boolean {
  if (received.cltTime === undefined) return false;
  return receivedIsLater(
    received.cltTime,
    { time: local.startTimeOfState, own: true },
    tieGoesToReceived(received.status, local.status, role),
  );
}

/**
 * The "partner needs update" damping after an OutdatedBindingInformation rejection (§7.5.4):
 * set the flag; send the partner a BNDUPD at once only if the flag was not already set (else
 * wait for the periodic scan). Other rejections leave the flag alone.
 */
export function dampUpdate(
  flagWasSet: boolean,
  code: number,
): { setFlag: boolean; sendNow: boolean } {
  if (code !== 19) return { setFlag: flagWasSet, sendNow: false };
  return { setFlag: true, sendNow: !flagWasSet };
}
