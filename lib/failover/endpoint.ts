/**
 * The failover endpoint state machine of RFC 8156 §8 as data: the ten states with their wire
 * codes (§5.5.16), how each serves DHCP clients (§8.4.1–§8.12.1), and the transition table of
 * §8.4.2–§8.12.2 (digest §6.4) that `engine.ts` is driven by. Nothing here has side effects.
 *
 * @module
 */

import type { EndpointStateName, Role } from "./types.ts";

/** Every endpoint state, in wire-code order (STARTUP = 1 … CONFLICT-DONE = 10). */
export const ENDPOINT_STATE_NAMES: readonly EndpointStateName[] = [
  "STARTUP",
  "NORMAL",
  "COMMUNICATIONS-INTERRUPTED",
  "PARTNER-DOWN",
  "POTENTIAL-CONFLICT",
  "RECOVER",
  "RECOVER-WAIT",
  "RECOVER-DONE",
  "RESOLUTION-INTERRUPTED",
  "CONFLICT-DONE",
];

/** The OPTION_F_SERVER_STATE code of a state (§5.5.16). */
export function stateCode(state: EndpointStateName): number {
  return ENDPOINT_STATE_NAMES.indexOf(state) + 1;
}

/** The state of an OPTION_F_SERVER_STATE code, or `undefined` for 0 and codes above 10. */
export function stateFromCode(code: number): EndpointStateName | undefined {
  return Number.isInteger(code) && code >= 1 && code <= 10
    ? ENDPOINT_STATE_NAMES[code - 1]
    : undefined;
}

/** How a server in a state answers DHCPv6 clients (§3 terms). */
export type ClientService = "responsive" | "renew-responsive" | "unresponsive";

/** How the state serves clients, by role (§8.3.1–§8.12.1, digest §6.1). */
export function clientService(state: EndpointStateName, role: Role): ClientService {
  switch (state) {
    case "NORMAL":
      return role === "primary" ? "responsive" : "renew-responsive";
    case "COMMUNICATIONS-INTERRUPTED":
    case "PARTNER-DOWN":
    case "RESOLUTION-INTERRUPTED":
    case "CONFLICT-DONE":
      return "responsive";
    case "RECOVER-DONE":
      return "renew-responsive";
    case "STARTUP":
    case "POTENTIAL-CONFLICT":
    case "RECOVER":
    case "RECOVER-WAIT":
      return "unresponsive";
  }
}

/**
 * Whether communications are necessarily OK in a state (Figure 6: `+`), necessarily not OK
 * (`-`) or either (`*`).
 */
export function commsInState(state: EndpointStateName): "ok" | "interrupted" | "either" {
  switch (state) {
    case "NORMAL":
    case "POTENTIAL-CONFLICT":
      return "ok";
    case "COMMUNICATIONS-INTERRUPTED":
    case "PARTNER-DOWN":
    case "RESOLUTION-INTERRUPTED":
    case "STARTUP":
      return "interrupted";
    default:
      return "either";
  }
}

/** What makes the endpoint state machine run (§8.1). */
export type EndpointTrigger =
  /** Communications are OK and the partner's (non-STARTUP) state is one of `partner`. */
  | { on: "partner-state"; partner: readonly EndpointStateName[] }
  /** A STATE with the STARTUP flag arrived (the partner is in STARTUP). */
  | { on: "partner-startup" }
  /** Communications became OK (the partner's first STATE on a new connection). */
  | { on: "comms-ok" }
  /** Communications failed (keepalive expired, TCP lost, connection dropped). */
  | { on: "comms-failed" }
  /** A DISCONNECT arrived. */
  | { on: "disconnect" }
  /** UPDDONE arrived for our outstanding UPDREQ/UPDREQALL. */
  | { on: "upddone" }
  /** A state timer fired. */
  | { on: "timer"; timer: "startup" | "auto-partner-down" | "recover-wait" }
  /** The external "partner is down" command. */
  | { on: "command"; command: "partner-down" };

/** What a transition leads to. */
export type TransitionTarget =
  | EndpointStateName
  /** No state change (the event is noted or ignored). */
  | "stay"
  /** STARTUP only: go to PREVIOUS-STATE (§8.3.2 steps 5 and 6). */
  | "previous-state";

/** A side effect the table asks for besides the state change. */
export type TransitionEffect =
  /** Send UPDREQ, or UPDREQALL after lost storage (§8.5.2, §8.10.2), unless one is outstanding. */
  "request-updates";

/** One row of the transition table. */
export interface Transition {
  /** The current state. */
  from: EndpointStateName;
  /** What happened. */
  trigger: EndpointTrigger;
  /** Only for this role. */
  role?: Role;
  /** The next state. */
  to: TransitionTarget;
  /** A side effect. */
  effect?: TransitionEffect;
  /** Section of RFC 8156. */
  ref: string;
  /** Why, where the row is a decision (see docs/decisions.md). */
  note?: string;
}

const CONFLICTING: readonly EndpointStateName[] = [
  "NORMAL",
  "COMMUNICATIONS-INTERRUPTED",
  "PARTNER-DOWN",
  "POTENTIAL-CONFLICT",
  "RESOLUTION-INTERRUPTED",
  "CONFLICT-DONE",
];

/**
 * The transition table of RFC 8156 §8.3.2–§8.12.2 (digest §6.4). The first row matching the
 * current state, the trigger and the role applies; when none matches, nothing happens.
 * Entering a state has its own duties (timers, UPDREQ, flushing updates) which `engine.ts`
 * performs for every entry, whatever the row.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TRANSITIONS } from "@failover6/failover6";
 *
 * // Where COMMUNICATIONS-INTERRUPTED goes when the partner says it is in NORMAL (§8.7.2).
 * const row = TRANSITIONS.find((t) =>
 *   t.from === "COMMUNICATIONS-INTERRUPTED" && t.trigger.on === "partner-state" &&
 *   t.trigger.partner.includes("NORMAL")
 * );
 * assert.equal(row?.to, "NORMAL");
 * ```
 */
export const TRANSITIONS: readonly Transition[] = [
  // STARTUP (§8.3.2)
  { from: "STARTUP", trigger: { on: "comms-ok" }, to: "previous-state", ref: "§8.3.2 step 5" },
  {
    from: "STARTUP",
    trigger: { on: "timer", timer: "startup" },
    to: "previous-state",
    ref: "§8.3.2 step 6",
  },
  // PARTNER-DOWN (§8.4.2)
  { from: "PARTNER-DOWN", trigger: { on: "partner-startup" }, to: "stay", ref: "§8.4.2" },
  {
    from: "PARTNER-DOWN",
    trigger: { on: "partner-state", partner: CONFLICTING },
    to: "POTENTIAL-CONFLICT",
    ref: "§8.4.2",
  },
  {
    from: "PARTNER-DOWN",
    trigger: { on: "partner-state", partner: ["RECOVER", "RECOVER-WAIT"] },
    to: "stay",
    ref: "§8.4.2",
    note: "the partner will ask for updates",
  },
  {
    from: "PARTNER-DOWN",
    trigger: { on: "partner-state", partner: ["RECOVER-DONE"] },
    to: "NORMAL",
    ref: "§8.4.2",
  },
  // RECOVER (§8.5.2)
  {
    from: "RECOVER",
    trigger: {
      on: "partner-state",
      partner: ["POTENTIAL-CONFLICT", "RESOLUTION-INTERRUPTED", "CONFLICT-DONE"],
    },
    to: "POTENTIAL-CONFLICT",
    ref: "§8.5.2",
  },
  {
    from: "RECOVER",
    trigger: {
      on: "partner-state",
      partner: [
        "NORMAL",
        "COMMUNICATIONS-INTERRUPTED",
        "PARTNER-DOWN",
        "RECOVER",
        "RECOVER-WAIT",
        "RECOVER-DONE",
      ],
    },
    to: "stay",
    effect: "request-updates",
    ref: "§8.5.2",
  },
  { from: "RECOVER", trigger: { on: "upddone" }, to: "RECOVER-WAIT", ref: "§8.5.2" },
  {
    from: "RECOVER",
    trigger: { on: "comms-failed" },
    to: "stay",
    ref: "§8.5.2",
    note: "the update request is reissued when communications return",
  },
  // RECOVER-WAIT (§8.6.2)
  {
    from: "RECOVER-WAIT",
    trigger: { on: "timer", timer: "recover-wait" },
    to: "RECOVER-DONE",
    ref: "§8.6.2",
  },
  { from: "RECOVER-WAIT", trigger: { on: "comms-failed" }, to: "stay", ref: "§8.6.2" },
  // RECOVER-DONE (§8.7.2)
  {
    from: "RECOVER-DONE",
    trigger: { on: "partner-state", partner: ["NORMAL", "RECOVER-DONE"] },
    to: "NORMAL",
    ref: "§8.7.2",
  },
  {
    from: "RECOVER-DONE",
    trigger: { on: "partner-state", partner: ["RECOVER", "RECOVER-WAIT"] },
    to: "COMMUNICATIONS-INTERRUPTED",
    ref: "§8.7.2",
  },
  {
    from: "RECOVER-DONE",
    trigger: { on: "partner-state", partner: ["POTENTIAL-CONFLICT"] },
    to: "POTENTIAL-CONFLICT",
    ref: "§8.7.2",
  },
  { from: "RECOVER-DONE", trigger: { on: "comms-failed" }, to: "stay", ref: "§8.7.2" },
  // NORMAL (§8.8.2)
  {
    from: "NORMAL",
    trigger: { on: "command", command: "partner-down" },
    to: "PARTNER-DOWN",
    ref: "§8.8.2",
  },
  {
    from: "NORMAL",
    trigger: { on: "disconnect" },
    to: "COMMUNICATIONS-INTERRUPTED",
    ref: "§8.8.2",
  },
  {
    from: "NORMAL",
    trigger: { on: "comms-failed" },
    to: "COMMUNICATIONS-INTERRUPTED",
    ref: "§8.8.2",
  },
  {
    from: "NORMAL",
    trigger: {
      on: "partner-state",
      partner: [
        "PARTNER-DOWN",
        "POTENTIAL-CONFLICT",
        "RECOVER",
        "RECOVER-WAIT",
        "RESOLUTION-INTERRUPTED",
      ],
    },
    to: "COMMUNICATIONS-INTERRUPTED",
    ref: "§8.8.2",
    note: "an unexpected partner state; the COMMUNICATIONS-INTERRUPTED row for it applies next",
  },
  // COMMUNICATIONS-INTERRUPTED (§8.9.2)
  {
    from: "COMMUNICATIONS-INTERRUPTED",
    trigger: { on: "timer", timer: "auto-partner-down" },
    to: "PARTNER-DOWN",
    ref: "§8.9.2",
  },
  {
    from: "COMMUNICATIONS-INTERRUPTED",
    trigger: { on: "command", command: "partner-down" },
    to: "PARTNER-DOWN",
    ref: "§8.9.2",
  },
  {
    from: "COMMUNICATIONS-INTERRUPTED",
    trigger: {
      on: "partner-state",
      partner: ["NORMAL", "COMMUNICATIONS-INTERRUPTED", "RECOVER-DONE"],
    },
    to: "NORMAL",
    ref: "§8.9.2",
  },
  {
    from: "COMMUNICATIONS-INTERRUPTED",
    trigger: { on: "partner-state", partner: ["RECOVER"] },
    to: "stay",
    ref: "§8.9.2",
  },
  {
    from: "COMMUNICATIONS-INTERRUPTED",
    trigger: { on: "partner-state", partner: ["RECOVER-WAIT"] },
    to: "stay",
    ref: "Figure 6",
    note: "the text is silent; Figure 6 keeps the state (digest §15 item 3)",
  },
  {
    from: "COMMUNICATIONS-INTERRUPTED",
    trigger: {
      on: "partner-state",
      partner: ["PARTNER-DOWN", "POTENTIAL-CONFLICT", "CONFLICT-DONE", "RESOLUTION-INTERRUPTED"],
    },
    to: "POTENTIAL-CONFLICT",
    ref: "§8.9.2",
  },
  // POTENTIAL-CONFLICT (§8.10.2)
  {
    from: "POTENTIAL-CONFLICT",
    trigger: { on: "comms-failed" },
    to: "RESOLUTION-INTERRUPTED",
    ref: "§8.10.2",
  },
  {
    from: "POTENTIAL-CONFLICT",
    trigger: { on: "upddone" },
    role: "primary",
    to: "CONFLICT-DONE",
    ref: "§8.10.2",
  },
  {
    from: "POTENTIAL-CONFLICT",
    trigger: { on: "upddone" },
    role: "secondary",
    to: "NORMAL",
    ref: "§8.10.2",
  },
  {
    from: "POTENTIAL-CONFLICT",
    trigger: { on: "partner-state", partner: ["CONFLICT-DONE"] },
    role: "secondary",
    to: "stay",
    effect: "request-updates",
    ref: "§8.10.2",
  },
  // RESOLUTION-INTERRUPTED (§8.11.2)
  {
    from: "RESOLUTION-INTERRUPTED",
    trigger: { on: "command", command: "partner-down" },
    to: "PARTNER-DOWN",
    ref: "§8.11.2",
  },
  {
    from: "RESOLUTION-INTERRUPTED",
    trigger: { on: "comms-ok" },
    to: "POTENTIAL-CONFLICT",
    ref: "§8.11.2",
  },
  // CONFLICT-DONE (§8.12.2), primary only
  { from: "CONFLICT-DONE", trigger: { on: "comms-failed" }, to: "stay", ref: "§8.12.2" },
  {
    from: "CONFLICT-DONE",
    trigger: { on: "partner-state", partner: ["NORMAL"] },
    to: "NORMAL",
    ref: "§8.12.2",
  },
];

function triggerMatches(row: EndpointTrigger, t: EndpointTrigger): boolean {
  if (row.on !== t.on) return false;
  switch (row.on) {
    case "partner-state":
      return t.on === "partner-state" && t.partner.length === 1 &&
        row.partner.includes(t.partner[0]);
    case "timer":
      return t.on === "timer" && row.timer === t.timer;
    case "command":
      return t.on === "command" && row.command === t.command;
    default:
      return true;
  }
}

/** The partner-state trigger for one partner state. */
export function partnerStateTrigger(partner: EndpointStateName): EndpointTrigger {
  return { on: "partner-state", partner: [partner] };
}

/**
 * The row of {@linkcode TRANSITIONS} for `state`, `trigger` and `role`, or `undefined` when
 * the event does not move this state. A `partner-state` trigger must name exactly one state.
 */
export function findTransition(
  state: EndpointStateName,
  trigger: EndpointTrigger,
  role: Role,
  table: readonly Transition[] = TRANSITIONS,
): Transition | undefined {
  return table.find((row) =>
    row.from === state && (row.role === undefined || row.role === role) &&
    triggerMatches(row.trigger, trigger)
  );
}

/**
 * §8.3.2 step 2: a PREVIOUS-STATE in which communications were OK is replaced by the result of
 * its "communications failed" transition (NORMAL → COMMUNICATIONS-INTERRUPTED,
 * POTENTIAL-CONFLICT → RESOLUTION-INTERRUPTED); the others stay.
 */
export function startupPreviousState(
  recorded: EndpointStateName,
  role: Role,
): EndpointStateName {
  const row = findTransition(recorded, { on: "comms-failed" }, role);
  if (row && row.to !== "stay" && row.to !== "previous-state") return row.to;
  return recorded;
}

/** Short, stable text of a trigger for log lines and `state-changed` reasons. */
export function describeTrigger(t: EndpointTrigger): string {
  switch (t.on) {
    case "partner-state":
      return `partner is ${t.partner.join("|")}`;
    case "partner-startup":
      return "partner is in STARTUP";
    case "comms-ok":
      return "communications OK";
    case "comms-failed":
      return "communications failed";
    case "disconnect":
      return "DISCONNECT received";
    case "upddone":
      return "UPDDONE received";
    case "timer":
      return `${t.timer} timer expired`;
    case "command":
      return `operator command ${t.command}`;
  }
}
