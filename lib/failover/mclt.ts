/**
 * The Maximum Client Lead Time (MCLT) rules of RFC 8156 (§4.3, §4.4, §4.4.1, §7.2, §8.4.1, §8.6.2,
 * §8.8.1, §8.9.1) as pure functions of plain numbers and an explicit `now`.
 *
 * All times are absolute seconds on one clock (any epoch: Unix, the failover epoch, or seconds
 * since a simulation start); all lifetimes and the MCLT are durations in seconds. Nothing here
 * reads a clock, so the server, the CLI and the tests get the same answer for the same numbers.
 *
 * The rules, in the digest's numbering (`shared/spec/rfc8156-digest.md` §7):
 * - R1 (the fundamental rule): outside PARTNER-DOWN a client's expiry never exceeds
 *   `max(ackedPartnerLifetime, now) + MCLT` — {@linkcode clientValidLifetime},
 *   {@linkcode checkFundamentalRule};
 * - R3: the partner lifetime sent in BNDUPD — {@linkcode partnerLifetimeToSend},
 *   {@linkcode checkPartnerLifetime};
 * - R6: no MCLT cap in PARTNER-DOWN; R7: no new lease below 30 s; R8: preferred ≤ valid;
 * - §7.4 reuse in PARTNER-DOWN — {@linkcode reuseTime}, {@linkcode partnerPoolUsableAt},
 *   {@linkcode pendingFreeWithoutAckAt};
 * - §8.6.2 the RECOVER-WAIT timer — {@linkcode recoverWaitEnd}.
 *
 * @module
 */
import type { EndpointStateName } from "../store/types.ts";

import { formatDuration } from "../util/duration.ts";

/** No new lease may be shorter than this under failover (RFC 8156 §1; digest R7), in seconds. */
export const MIN_LEASE_LIFETIME = 30;

/** The largest finite DHCPv6 lifetime; 0xffffffff means "infinity" (RFC 8415 §7.7). */
export const MAX_FINITE_LIFETIME = 0xffff_fffe;

/** The failover endpoint states of RFC 8156 §8 (wire codes 1–10); defined once, in lib/store. */
export type { EndpointStateName };

/**
 * Whether the MCLT limits the lifetimes given to clients in a state: everywhere except
 * PARTNER-DOWN (§8.1, §8.4.1; digest R6).
 */
export function mcltLimitsLifetimes(state: EndpointStateName): boolean {
  return state !== "PARTNER-DOWN";
}

/**
 * An input that no rule can work with; `field` is the property name of the input object.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { clientValidLifetime, McltInputError } from "@failover6/failover6";
 *
 * assert.throws(
 *   () =>
 *     clientValidLifetime({
 *       desired: 259200,
 *       ackedPartnerLifetime: null,
 *       now: 600000000,
 *       mclt: 10, // below the 30 s floor of RFC 8156 §1
 *       state: "NORMAL",
 *       newLease: true,
 *     }),
 *   (e) => e instanceof McltInputError && e.field === "mclt",
 * );
 * ```
 */
export class McltInputError extends RangeError {
  /** Always `"McltInputError"`. */
  override name = "McltInputError";
  /** The offending input property, e.g. `"mclt"`. */
  readonly field: string;
  /** Creates the error; the message should not repeat the field name. */
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

function requireTime(field: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) {
    throw new McltInputError(field, `must be a time in seconds, >= 0 (got ${value})`);
  }
}

function requireDuration(field: string, value: number, min: number): void {
  if (!Number.isFinite(value) || value < min) {
    throw new McltInputError(field, `must be a duration of at least ${min} s (got ${value})`);
  }
}

/** The settings every MCLT computation starts from. */
export interface LifetimeSettings {
  /** The valid lifetime the server would give with no failover limits, seconds. */
  desired: number;
  /** The MCLT, seconds. */
  mclt: number;
  /** The T1 fraction of the lifetime (`0.5` = renew at half the lifetime); optional here. */
  t1Fraction?: number;
}

/**
 * Checks lifetime settings and returns the first problem, or `undefined` when usable.
 *
 * - `mclt` must be a whole number of seconds >= {@linkcode MIN_LEASE_LIFETIME}: with a smaller MCLT
 *   a new lease could not satisfy both the fundamental rule and the 30 s floor.
 * - `desired` must be whole, >= 1 and at most {@linkcode MAX_FINITE_LIFETIME} (infinite lifetimes
 *   are outside these rules).
 * - `t1Fraction`, when given, must lie strictly between 0 and 1.
 */
export function checkLifetimeSettings(settings: LifetimeSettings): McltInputError | undefined {
  const { desired, mclt, t1Fraction } = settings;
  if (!Number.isSafeInteger(mclt) || mclt < MIN_LEASE_LIFETIME) {
    return new McltInputError(
      "mclt",
      Number.isFinite(mclt) && mclt >= 0 && Number.isInteger(mclt)
        ? `${formatDuration(mclt)} is below ${MIN_LEASE_LIFETIME}s, the shortest lease failover ` +
          "allows (RFC 8156 §1): the MCLT must be at least that long"
        : `must be a whole number of seconds >= ${MIN_LEASE_LIFETIME} (got ${mclt})`,
    );
  }
  if (!Number.isSafeInteger(desired) || desired < 1) {
    return new McltInputError("desired", `must be a whole number of seconds >= 1 (got ${desired})`);
  }
  if (desired > MAX_FINITE_LIFETIME) {
    return new McltInputError(
      "desired",
      `must be at most ${MAX_FINITE_LIFETIME} s; infinite lifetimes are not covered`,
    );
  }
  if (t1Fraction !== undefined && !(t1Fraction > 0 && t1Fraction < 1)) {
    return new McltInputError(
      "t1Fraction",
      `must lie strictly between 0 and 1 (got ${t1Fraction})`,
    );
  }
  return undefined;
}

function requireSettings(settings: LifetimeSettings): void {
  const problem = checkLifetimeSettings(settings);
  if (problem) throw problem;
}

/** The remaining part of the acked partner lifetime at `now`: `max(apl − now, 0)`; null = none. */
export function remainingAcked(ackedPartnerLifetime: number | null, now: number): number {
  return Math.max((ackedPartnerLifetime ?? 0) - now, 0);
}

/**
 * The binding limit of the fundamental rule: `max(ackedPartnerLifetime, now) + MCLT`, the latest
 * client expiry allowed at `now` outside PARTNER-DOWN. `null` means nothing acked yet.
 */
export function mcltBound(ackedPartnerLifetime: number | null, now: number, mclt: number): number {
  return Math.max(ackedPartnerLifetime ?? 0, now) + mclt;
}

/** Which rule decided a client's valid lifetime. */
export type LifetimeRule =
  /** The desired lifetime fits under the MCLT bound: given in full. */
  | "desired"
  /** The MCLT bound was shorter than the desired lifetime (R1). */
  | "mclt"
  /** A new lease was raised to the 30 s floor (R7). */
  | "floor"
  /** PARTNER-DOWN: no MCLT cap, the desired lifetime is given (R6). */
  | "partner-down";

/** The question "what lifetime may this client get now?" */
export interface ClientLifetimeInput {
  /** The valid lifetime the server would give with no failover limits, seconds. */
  desired: number;
  /** The preferred lifetime the server would give; defaults to `desired`. */
  desiredPreferred?: number;
  /** The acknowledged partner lifetime for this lease (absolute); `null` or `0` = none yet. */
  ackedPartnerLifetime: number | null;
  /** The current time (absolute seconds). */
  now: number;
  /** The MCLT, seconds (>= 30). */
  mclt: number;
  /** This server's failover endpoint state. */
  state: EndpointStateName;
  /** True when the lease is new to this client (the 30 s floor applies only then). */
  newLease: boolean;
}

/** The answer to {@linkcode ClientLifetimeInput}. */
export interface ClientLifetime {
  /** Valid lifetime to put in the IA address/prefix, seconds. */
  valid: number;
  /** Preferred lifetime, capped at `valid` (R8). */
  preferred: number;
  /** `now + valid`: when the client's lease ends. */
  expiry: number;
  /** `max(ackedPartnerLifetime, now) + MCLT` at `now`. */
  bound: number;
  /** False in PARTNER-DOWN, where the bound does not limit the lifetime. */
  boundApplies: boolean;
  /** The rule that decided `valid`. */
  rule: LifetimeRule;
  /** One sentence saying how `valid` was reached. */
  explanation: string;
}

/**
 * The valid (and preferred) lifetime a client may be given now (digest R1, R6, R7, R8):
 * `min(desired, max(ackedPartnerLifetime − now, 0) + MCLT)`, raised to 30 s for a new lease, with
 * no MCLT cap in PARTNER-DOWN and the preferred lifetime capped at the valid lifetime.
 *
 * Because the MCLT is at least 30 s, the floor never lifts a lifetime above the bound.
 *
 * @throws {McltInputError} when a number is negative, not finite, or the settings are unusable
 *   (see {@linkcode checkLifetimeSettings}).
 *
 * @example Step 1 of the RFC's example: nothing acked yet, so one MCLT.
 * ```ts
 * import assert from "node:assert/strict";
 * import { clientValidLifetime } from "@failover6/failover6";
 *
 * const r = clientValidLifetime({
 *   desired: 259200,
 *   ackedPartnerLifetime: null,
 *   now: 600000000,
 *   mclt: 3600,
 *   state: "NORMAL",
 *   newLease: true,
 * });
 * assert.deepEqual([r.valid, r.rule], [3600, "mclt"]);
 * ```
 */
export function clientValidLifetime(input: ClientLifetimeInput): ClientLifetime {
  const { desired, now, mclt, state, newLease } = input;
  const apl = input.ackedPartnerLifetime;
  requireSettings({ desired, mclt });
  requireTime("now", now);
  if (apl !== null) requireTime("ackedPartnerLifetime", apl);
  const desiredPreferred = input.desiredPreferred ?? desired;
  requireDuration("desiredPreferred", desiredPreferred, 0);

  const remaining = remainingAcked(apl, now);
  const bound = mcltBound(apl, now, mclt);
  const boundApplies = mcltLimitsLifetimes(state);
  let valid: number;
  let rule: LifetimeRule;
  let explanation: string;
  const d = formatDuration(desired);
  if (!boundApplies) {
    valid = desired;
    rule = "partner-down";
    explanation = `PARTNER-DOWN lifts the MCLT cap (R6): the desired ${d} is given`;
  } else {
    const cap = remaining + mclt;
    const parts = `min(desired ${d}, remaining acked ${formatDuration(remaining)} + MCLT ${
      formatDuration(mclt)
    })`;
    if (desired <= cap) {
      valid = desired;
      rule = "desired";
      explanation = `${parts} = ${d}: the desired lifetime fits under the MCLT bound (R1)`;
    } else {
      valid = cap;
      rule = "mclt";
      explanation = `${parts} = ${formatDuration(cap)}: the MCLT bound decides (R1)`;
    }
  }
  if (newLease && valid < MIN_LEASE_LIFETIME) {
    explanation = `${explanation}; raised to ${MIN_LEASE_LIFETIME}s, the floor for new leases (R7)`;
    valid = MIN_LEASE_LIFETIME;
    rule = "floor";
  }
  const preferred = Math.min(desiredPreferred, valid);
  if (input.desiredPreferred !== undefined && preferred < desiredPreferred) {
    explanation = `${explanation}; preferred lifetime capped at the valid lifetime (R8)`;
  }
  return { valid, preferred, expiry: now + valid, bound, boundApplies, rule, explanation };
}

/** The outcome of a rule check: fine, or what was violated and by how much. */
export type RuleCheck =
  | { ok: true }
  | {
    ok: false;
    /** Which requirement failed. */
    rule:
      | "fundamental-rule"
      | "partner-lifetime-below-client-expiry"
      | "partner-lifetime-decreases";
    /** The value that was too large or too small. */
    value: number;
    /** The limit it crossed. */
    limit: number;
    /** One sentence for a log line. */
    message: string;
  };

/** The facts needed to check the fundamental rule for one lease at one moment. */
export interface FundamentalRuleInput {
  /** The client's lease expiry (absolute) that was or would be given. */
  clientExpiry: number;
  /** The acked partner lifetime at the time of the grant; `null` = none. */
  ackedPartnerLifetime: number | null;
  /** The time of the grant. */
  now: number;
  /** The MCLT, seconds. */
  mclt: number;
  /** The endpoint state at the time of the grant. */
  state: EndpointStateName;
}

/**
 * Checks the fundamental rule (R1): outside PARTNER-DOWN,
 * `clientExpiry <= max(ackedPartnerLifetime, now) + MCLT`.
 */
export function checkFundamentalRule(input: FundamentalRuleInput): RuleCheck {
  if (!mcltLimitsLifetimes(input.state)) return { ok: true };
  const limit = mcltBound(input.ackedPartnerLifetime, input.now, input.mclt);
  if (input.clientExpiry <= limit) return { ok: true };
  return {
    ok: false,
    rule: "fundamental-rule",
    value: input.clientExpiry,
    limit,
    message: `client expiry ${input.clientExpiry} is ${
      formatDuration(input.clientExpiry - limit)
    } beyond max(acked partner lifetime, now) + MCLT = ${limit}`,
  };
}

/** The numbers a partner-lifetime policy sees when a BNDUPD is composed. */
export interface PartnerLifetimePolicyInput {
  /** The time the BNDUPD is composed (≈ the time of the grant). */
  now: number;
  /** The valid lifetime just given to the client, seconds. */
  granted: number;
  /** The desired valid lifetime, seconds. */
  desired: number;
  /** The client's T1 as a fraction of the lifetime, in (0, 1). */
  t1Fraction: number;
}

/** A partner-lifetime policy: any function of the inputs giving an absolute time (R3). */
export type PartnerLifetimePolicy = (input: PartnerLifetimePolicyInput) => number;

/**
 * The RFC's example policy (§4.4.1): `now + floor(t1Fraction × granted) + desired`, so that the
 * client's renewal at T1 finds a full desired lifetime acknowledged ahead of it.
 */
export const rfcPartnerLifetimePolicy: PartnerLifetimePolicy = (i): number =>
  i.now + Math.floor(i.t1Fraction * i.granted) + i.desired;

/** Input to {@linkcode partnerLifetimeToSend}. */
export interface PartnerLifetimeInput extends PartnerLifetimePolicyInput {
  /** The acked partner lifetime so far (absolute); `null` = none. */
  ackedPartnerLifetime?: number | null;
  /** The policy; defaults to {@linkcode rfcPartnerLifetimePolicy}. */
  policy?: PartnerLifetimePolicy;
}

/** What to send as OPTION_F_PARTNER_LIFETIME, and why. */
export interface PartnerLifetimeDecision {
  /** The absolute partner lifetime to send. */
  partnerLifetime: number;
  /** What the policy alone asked for. */
  policyValue: number;
  /** `"policy"`, or the safety requirement that raised the policy's value. */
  rule: "policy" | "client-expiry" | "acked-partner-lifetime";
  /** One sentence saying how the number was reached. */
  explanation: string;
}

/**
 * The partner lifetime to send in BNDUPD (R3): the policy's value (by default
 * `now + T1 fraction × granted + desired`), checked against two safety requirements and raised if
 * the policy falls short of either (see {@linkcode checkPartnerLifetime}):
 * - at least the client's expiry `now + granted`, so the partner's knowledge covers the lease;
 * - never below the already acked partner lifetime, so that renewals granted against the old
 *   acknowledgement, before this BNDUPD is acked, stay within the partner's knowledge + MCLT.
 *
 * @example Step 2 of the §4.4.1 example: after granting one MCLT, send T1 + 3 days
 * ```ts
 * import assert from "node:assert/strict";
 * import { partnerLifetimeToSend } from "@failover6/failover6";
 *
 * const d = partnerLifetimeToSend({ now: 600000000, granted: 3600, desired: 259200, t1Fraction: 0.5 });
 * assert.equal(d.partnerLifetime, 600000000 + 1800 + 259200);
 * assert.equal(d.rule, "policy");
 * ```
 */
export function partnerLifetimeToSend(input: PartnerLifetimeInput): PartnerLifetimeDecision {
  const { now, granted, desired, t1Fraction } = input;
  requireTime("now", now);
  requireDuration("granted", granted, 0);
  requireDuration("desired", desired, 1);
  if (!(t1Fraction > 0 && t1Fraction < 1)) {
    throw new McltInputError("t1Fraction", `must lie strictly between 0 and 1 (got ${t1Fraction})`);
  }
  const apl = input.ackedPartnerLifetime ?? null;
  if (apl !== null) requireTime("ackedPartnerLifetime", apl);
  const policy = input.policy ?? rfcPartnerLifetimePolicy;
  const policyValue = policy({ now, granted, desired, t1Fraction });
  if (!Number.isFinite(policyValue)) {
    throw new McltInputError("policy", `returned ${policyValue}, not a time`);
  }
  const usingRfc = policy === rfcPartnerLifetimePolicy;
  let explanation = usingRfc
    ? `now + T1 part ${formatDuration(Math.floor(t1Fraction * granted))} of the ${
      formatDuration(granted)
    } granted + desired ${formatDuration(desired)} = now + ${
      formatDuration(policyValue - now)
    } (R3)`
    : `the configured policy gives now + ${formatDuration(policyValue - now)}`;
  let partnerLifetime = policyValue;
  let rule: PartnerLifetimeDecision["rule"] = "policy";
  if (partnerLifetime < now + granted) {
    partnerLifetime = now + granted;
    rule = "client-expiry";
    explanation = `${explanation}; raised to the client's expiry, which the partner must cover`;
  }
  if (apl !== null && partnerLifetime < apl) {
    partnerLifetime = apl;
    rule = "acked-partner-lifetime";
    explanation = `${explanation}; raised to the acked partner lifetime, which must not go back`;
  }
  return { partnerLifetime, policyValue, rule, explanation };
}

/** The facts needed to check a partner lifetime about to be sent. */
export interface PartnerLifetimeCheckInput {
  /** The absolute partner lifetime to send. */
  partnerLifetime: number;
  /** The client's current expiry (absolute). */
  clientExpiry: number;
  /** The acked partner lifetime so far; `null` = none. */
  ackedPartnerLifetime: number | null;
}

/**
 * Checks a partner lifetime against the requirements that keep the fundamental rule safe under
 * lazy updates: it covers the client's expiry (R3), and it does not fall below what the partner
 * has already acknowledged.
 */
export function checkPartnerLifetime(input: PartnerLifetimeCheckInput): RuleCheck {
  const { partnerLifetime, clientExpiry, ackedPartnerLifetime } = input;
  if (partnerLifetime < clientExpiry) {
    return {
      ok: false,
      rule: "partner-lifetime-below-client-expiry",
      value: partnerLifetime,
      limit: clientExpiry,
      message:
        `partner lifetime ${partnerLifetime} is earlier than the client's expiry ${clientExpiry}`,
    };
  }
  if (ackedPartnerLifetime !== null && partnerLifetime < ackedPartnerLifetime) {
    return {
      ok: false,
      rule: "partner-lifetime-decreases",
      value: partnerLifetime,
      limit: ackedPartnerLifetime,
      message:
        `partner lifetime ${partnerLifetime} is earlier than the acked ${ackedPartnerLifetime}`,
    };
  }
  return { ok: true };
}

/** The times a server in PARTNER-DOWN knows about one lease (§8.4.1); absent = unknown/none. */
export interface ReuseInput {
  /** The MCLT, seconds. */
  mclt: number;
  /** When this server entered PARTNER-DOWN. */
  partnerDownEntry: number;
  /** The client's lease expiration time. */
  clientExpiry?: number | null;
  /** The partner lifetime most recently sent to the partner. */
  partnerLifetimeSent?: number | null;
  /** The most recent acked partner lifetime received from the partner. */
  ackedPartnerLifetime?: number | null;
  /** The partner lifetime most recently acked *to* the partner (this server's expiration-time). */
  expirationTime?: number | null;
}

/** When a lease may go to a different client, and which time decided it. */
export interface ReuseDecision {
  /** The earliest time the lease may be given to a different client. */
  at: number;
  /** `max(the lease times) + MCLT` (§8.4.1). */
  fromLeaseTimes: number;
  /** `PARTNER-DOWN entry + MCLT`. */
  fromPartnerDownEntry: number;
  /** Which of the two is later (`lease-times` on a tie). */
  rule: "lease-times" | "partner-down-entry";
  /** The name of the lease time that was latest (`"none"` when no lease time was given). */
  latest:
    | "clientExpiry"
    | "partnerLifetimeSent"
    | "ackedPartnerLifetime"
    | "expirationTime"
    | "none";
  /** One sentence. */
  explanation: string;
}

/**
 * When a lease may be given to a **different** client in PARTNER-DOWN (§8.4.1, digest §7.4):
 * `MCLT + max(client expiry, partner lifetime sent, acked partner lifetime, expiration-time)`,
 * but never before `PARTNER-DOWN entry + MCLT`. That last clause resolves the garbled §8.4.1
 * sentence as digest §15 item 4 suggests: `max(computed time, entry + MCLT)`.
 *
 * Outside PARTNER-DOWN a lease goes to a different client only after the partner has acked the
 * BNDUPD that said it is free (§4.2.2.1); that is an event, not a time, and not computed here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reuseTime } from "@failover6/failover6";
 *
 * const T = 600000000; // PARTNER-DOWN entry
 * const d = reuseTime({
 *   mclt: 3600,
 *   partnerDownEntry: T,
 *   clientExpiry: T + 7200,
 *   ackedPartnerLifetime: T + 1000,
 * });
 * assert.equal(d.at, T + 7200 + 3600); // the client's expiry is the latest lease time
 * assert.equal(d.latest, "clientExpiry");
 * ```
 */
export function reuseTime(input: ReuseInput): ReuseDecision {
  const { mclt, partnerDownEntry } = input;
  requireDuration("mclt", mclt, 0);
  requireTime("partnerDownEntry", partnerDownEntry);
  const names = [
    "clientExpiry",
    "partnerLifetimeSent",
    "ackedPartnerLifetime",
    "expirationTime",
  ] as const;
  let latest: ReuseDecision["latest"] = "none";
  let latestValue = 0;
  for (const name of names) {
    const value = input[name];
    if (value === undefined || value === null) continue;
    requireTime(name, value);
    if (latest === "none" || value > latestValue) {
      latest = name;
      latestValue = value;
    }
  }
  const fromLeaseTimes = latest === "none" ? 0 : latestValue + mclt;
  const fromPartnerDownEntry = partnerDownEntry + mclt;
  const rule = fromLeaseTimes >= fromPartnerDownEntry ? "lease-times" : "partner-down-entry";
  const at = Math.max(fromLeaseTimes, fromPartnerDownEntry);
  const label: Record<typeof names[number], string> = {
    clientExpiry: "the client's expiry",
    partnerLifetimeSent: "the partner lifetime sent",
    ackedPartnerLifetime: "the acked partner lifetime",
    expirationTime: "the lifetime acked to the partner",
  };
  const explanation = rule === "lease-times"
    ? `${label[latest as typeof names[number]]} + MCLT ${
      formatDuration(mclt)
    } is the latest time (§8.4.1)`
    : `PARTNER-DOWN entry + MCLT ${formatDuration(mclt)} is later than ${
      latest === "none" ? "any lease time" : `${label[latest]} + MCLT`
    } (§8.4.1, digest §15 item 4)`;
  return { at, fromLeaseTimes, fromPartnerDownEntry, rule, latest, explanation };
}

/**
 * When a server in PARTNER-DOWN may allocate from its partner's pool (delegable prefixes, or the
 * partner's addresses where policy allows it at all): `entry + MCLT` (§8.4.1, §4.2.2.1).
 */
export function partnerPoolUsableAt(partnerDownEntry: number, mclt: number): number {
  requireTime("partnerDownEntry", partnerDownEntry);
  requireDuration("mclt", mclt, 0);
  return partnerDownEntry + mclt;
}

/**
 * When a lease in EXPIRED, RELEASED or RESET may move to PENDING-FREE without an ack, in
 * PARTNER-DOWN: `start of that state + MCLT` (§7.2, transition 4).
 */
export function pendingFreeWithoutAckAt(stateStart: number, mclt: number): number {
  requireTime("stateStart", stateStart);
  requireDuration("mclt", mclt, 0);
  return stateStart + mclt;
}

/** Input to {@linkcode recoverWaitEnd}. */
export interface RecoverWaitInput {
  /** TIME-OF-FAILURE from stable storage; `null`, absent or 0 (no record, §8.3.2) = unknown. */
  timeOfFailure?: number | null;
  /** When this server started (used when the time of failure is unknown). */
  startTime: number;
  /** The MCLT, seconds. */
  mclt: number;
}

/** When RECOVER-WAIT ends, and which time it counted from. */
export interface RecoverWaitDecision {
  /** The absolute time the RECOVER-WAIT timer expires. */
  at: number;
  /** `time-of-failure` when known, else `start-time`. */
  rule: "time-of-failure" | "start-time";
  /** One sentence. */
  explanation: string;
}

/**
 * When RECOVER-WAIT ends (§8.6.2): `(TIME-OF-FAILURE if known, else server start time) + MCLT`.
 * The timer may already have passed on entry; the server then goes to RECOVER-DONE at once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recoverWaitEnd } from "@failover6/failover6";
 *
 * const known = recoverWaitEnd({ timeOfFailure: 600000000, startTime: 600000600, mclt: 3600 });
 * assert.deepEqual([known.at, known.rule], [600003600, "time-of-failure"]);
 * const unknown = recoverWaitEnd({ timeOfFailure: null, startTime: 600000600, mclt: 3600 });
 * assert.deepEqual([unknown.at, unknown.rule], [600004200, "start-time"]);
 * ```
 */
export function recoverWaitEnd(input: RecoverWaitInput): RecoverWaitDecision {
  const { startTime, mclt } = input;
  requireTime("startTime", startTime);
  requireDuration("mclt", mclt, 0);
  const tof = input.timeOfFailure ?? 0;
  requireTime("timeOfFailure", tof);
  const m = formatDuration(mclt);
  if (tof > 0) {
    return {
      at: tof + mclt,
      rule: "time-of-failure",
      explanation: `TIME-OF-FAILURE + MCLT ${m} (§8.6.2)`,
    };
  }
  return {
    at: startTime + mclt,
    rule: "start-time",
    explanation: `no TIME-OF-FAILURE recorded, so server start time + MCLT ${m} (§8.6.2)`,
  };
}
