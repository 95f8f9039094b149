/**
 * The data of the test partner: scenarios and their steps (as loaded from YAML or built in),
 * the partner's settings, and the results a run produces. Values that may hold `${…}`
 * variables are kept as `unknown` until the step runs.
 *
 * @module
 */

/** Which end of the failover relationship the partner plays. */
export type Role = "primary" | "secondary";

/** What the partner announces and accepts on a connection. */
export interface PartnerSettings {
  /** OPTION_F_RELATIONSHIP_NAME sent in CONNECT (absent: not sent). */
  relationship?: string;
  /** MCLT in seconds (OPTION_F_MCLT). */
  mclt: number;
  /** Our FO_KEEPALIVE_TIME in seconds (OPTION_F_KEEPALIVE_TIME). */
  keepalive: number;
  /** OPTION_F_MAX_UNACKED_BNDUPD we announce. */
  maxUnacked: number;
  /** The endpoint state announced by `handshake` and a bare `send: STATE` (a state code). */
  state: number;
}

/** The default settings: MCLT 1 h, keepalive 60 s (RFC 8156 §6.5), 10 unacked, NORMAL. */
export const DEFAULT_SETTINGS: Readonly<PartnerSettings> = {
  mclt: 3600,
  keepalive: 60,
  maxUnacked: 10,
  state: 2,
};

/** Things the partner does by itself while a scenario runs. */
export interface AutoSettings {
  /** Answer each BNDUPD with a mirrored BNDREPLY (unless withheld or delayed). */
  bndreply: boolean;
  /** Send CONTACT after FO_SEND_TIME (partner's keepalive ÷ 4) without sending. */
  contact: boolean;
  /** Answer UPDREQ/UPDREQALL with UPDDONE (after BNDUPDs of stored bindings, if storing). */
  updreq: boolean;
  /** Answer POOLREQ with POOLRESP. */
  poolreq: boolean;
  /** Answer STARTTLS with REPLY + TLSConnectionRefused (insecure mode, RFC 7653 §9.1). */
  starttls: boolean;
  /** Keep acknowledged bindings, and send them back on UPDREQALL. */
  store: boolean;
}

/** Auto behaviour in scenarios: everything on except storage. */
export const DEFAULT_AUTO: Readonly<AutoSettings> = {
  bndreply: true,
  contact: true,
  updreq: true,
  poolreq: true,
  starttls: true,
  store: false,
};

/** The protocol rules the session checks on every received message. */
export interface MonitorSettings {
  /** Frames must decode without errors, as failover messages. */
  framing: boolean;
  /** Mandatory options of CONNECT, CONNECTREPLY, STATE, BNDUPD, BNDREPLY (digest §2.2). */
  options: boolean;
  /** sent-time within 5 s of our clock (plus 1 s for whole-second rounding). */
  skew: boolean;
  /** Message order: CONNECT first, STATE next, replies only to outstanding requests, roles. */
  sequence: boolean;
  /** Never more unacked BNDUPDs from the peer than the MAX_UNACKED_BNDUPD we announced. */
  flowControl: boolean;
  /** A BNDUPD never reuses the transaction-id of one still unanswered. */
  xid: boolean;
}

/** All monitors on. */
export const DEFAULT_MONITORS: Readonly<MonitorSettings> = {
  framing: true,
  options: true,
  skew: true,
  sequence: true,
  flowControl: true,
  xid: true,
};

/** How `corrupt-frame` damages the stream. */
export type Corruption = "garbage" | "short-header" | "bad-option" | "unknown-type";

/** Fields every step has. */
export interface StepCommon {
  /** Optional label shown in reports. */
  name?: string;
  /** 1-based line in the scenario file (absent for built-in scenarios). */
  line?: number;
}

/** Send one message: built from typed options, defaults, a lease shorthand, or raw hex. */
export interface SendStep extends StepCommon {
  /** Discriminant. */
  kind: "send";
  /** Message type code, or "raw" for `raw:` hex. */
  msgType: number | "raw";
  /** Transaction-id override (default: the next one). */
  transactionId?: unknown;
  /** Absolute sent-time override (default: our clock plus skew). */
  sentTime?: unknown;
  /** The whole option list (replaces the defaults). */
  options?: unknown;
  /** Options replacing same-named default options (null removes one). */
  override?: Record<string, unknown>;
  /** BNDUPD/BNDREPLY shorthand for one lease or a list. */
  lease?: unknown;
  /** STATE shorthand: the state to announce. */
  state?: unknown;
  /** STATE shorthand: OPTION_F_SERVER_FLAGS as a number or named booleans. */
  flags?: unknown;
  /** Status for CONNECTREPLY, DISCONNECT, BNDREPLY (name or code), or `{code, message}`. */
  status?: unknown;
  /** BNDREPLY, POOLRESP, UPDDONE, CONNECTREPLY: transaction-id of the request answered. */
  to?: unknown;
  /** Hex octets of the message (msgType "raw"). */
  raw?: unknown;
  /** "raw": write the octets without the 2-octet message-size prefix. */
  frame?: "normal" | "raw";
}

/** Wait for messages of a type and check them. */
export interface ExpectStep extends StepCommon {
  /** Discriminant. */
  kind: "expect";
  /** Message type code, or "any". */
  msgType: number | "any";
  /** Deadline, a duration (default: the run's `defaultWithinMs`). */
  within?: unknown;
  /** Path → matcher. */
  match?: Record<string, unknown>;
  /** Variable → path. */
  save?: Record<string, string>;
  /** Named protocol checks (see `rules.ts`). */
  checks?: string[];
  /** Number of messages (default 1). */
  count?: unknown;
}

/** No message of a type may be waiting by the deadline. */
export interface ExpectNoneStep extends StepCommon {
  /** Discriminant. */
  kind: "expect-none";
  /** Message type code, or "any". */
  msgType: number | "any";
  /** How long to watch, a duration. */
  within?: unknown;
}

/** Let time pass (messages keep flowing). */
export interface WaitStep extends StepCommon {
  /** Discriminant. */
  kind: "wait";
  /** How long, a duration. */
  duration: unknown;
}

/** Stop (true) or resume (false, sending the held ones) answering BNDUPDs. */
export interface WithholdStep extends StepCommon {
  /** Discriminant. */
  kind: "withhold-bndreply";
  /** True: hold BNDREPLYs back; false: send the held ones and answer again. */
  on: boolean;
}

/** Answer BNDUPDs this long after they arrive (0: at once). */
export interface DelayStep extends StepCommon {
  /** Discriminant. */
  kind: "delay-bndreply";
  /** The delay, a duration. */
  delay: unknown;
}

/** Shift the sent-time of the messages we send from now on (seconds, may be negative). */
export interface SkewStep extends StepCommon {
  /** Discriminant. */
  kind: "skew";
  /** Seconds added to our sent-time (may be negative). */
  offset: unknown;
}

/** Close the TCP connection. */
export interface CutStep extends StepCommon {
  /** Discriminant. */
  kind: "cut";
}

/** Open a new connection (primary) or accept the next one (secondary). */
export interface ReconnectStep extends StepCommon {
  /** Discriminant. */
  kind: "reconnect";
  /** Deadline for the new connection, a duration. */
  within?: unknown;
}

/** Write a damaged frame. */
export interface CorruptStep extends StepCommon {
  /** Discriminant. */
  kind: "corrupt-frame";
  /** How to damage the frame. */
  corruption: Corruption;
}

/** The peer's most recent STATE announces this state (waiting up to `within`). */
export interface ExpectStateStep extends StepCommon {
  /** Discriminant. */
  kind: "expect-state";
  /** The state expected (name or code). */
  state: unknown;
  /** Matchers on the STATE's flags, e.g. `{startup: false}`. */
  flags?: Record<string, unknown>;
  /** Deadline, a duration. */
  within?: unknown;
}

/** The peer closes the connection within a time. */
export interface ExpectCloseStep extends StepCommon {
  /** Discriminant. */
  kind: "expect-close";
  /** Deadline, a duration. */
  within?: unknown;
}

/** CONNECT/CONNECTREPLY and STATE both ways, with the checks of digest §14. */
export interface HandshakeStep extends StepCommon {
  /** Discriminant. */
  kind: "handshake";
  /** State we announce (default: settings). */
  state?: unknown;
  /** Deadline for each answer, a duration. */
  within?: unknown;
}

/** Set variables. */
export interface SetStep extends StepCommon {
  /** Discriminant. */
  kind: "set";
  /** Variables to set (values may use `${...}`). */
  vars: Record<string, unknown>;
}

/** Change what the partner does by itself. */
export interface AutoStep extends StepCommon {
  /** Discriminant. */
  kind: "auto";
  /** The automatic behaviours to switch on or off. */
  auto: Partial<AutoSettings>;
}

/** One scenario step. */
export type Step =
  | SendStep
  | ExpectStep
  | ExpectNoneStep
  | WaitStep
  | WithholdStep
  | DelayStep
  | SkewStep
  | CutStep
  | ReconnectStep
  | CorruptStep
  | ExpectStateStep
  | ExpectCloseStep
  | HandshakeStep
  | SetStep
  | AutoStep;

/** The kinds of step. */
export type StepKind = Step["kind"];

/** A scenario: settings and steps, run on one connection (plus reconnects). */
export interface Scenario {
  /** Name, unique within a file (`--only` selects by it). */
  name: string;
  /** One line saying what the scenario shows. */
  description?: string;
  /** The role the partner must play; absent: whichever the run uses. */
  role?: Role;
  /** RFC references, e.g. "RFC 8156 §6.1.2". */
  reference?: string;
  /** Overrides of the run's settings for this scenario. */
  settings?: Partial<PartnerSettings>;
  /** Initial variables (before the run's `--var`s, which win). */
  vars?: Record<string, unknown>;
  /** Protocol monitors to switch on or off for this scenario. */
  monitors?: Partial<MonitorSettings>;
  /** Automatic behaviours to switch on or off for this scenario. */
  auto?: Partial<AutoSettings>;
  /** The steps, in order. */
  steps: Step[];
  /** File it came from. */
  source?: string;
}

/** The outcome of a step or scenario. `error` means the scenario itself is wrong. */
export type Verdict = "pass" | "fail" | "error" | "skip";

/** What happened in one step. */
export interface StepResult {
  /** 1-based step number (0: connection set-up; steps.length + 1: final monitor check). */
  index: number;
  /** Short text, e.g. `expect CONNECTREPLY`. */
  title: string;
  /** 1-based line in the scenario file, when known. */
  line?: number;
  /** The outcome. */
  verdict: Verdict;
  /** Why it failed (one line). */
  message?: string;
  /** More lines: offending octets in hex, messages seen. */
  detail?: string[];
  /** Unix ms. */
  startedAt: number;
  /** How long the step took (ms). */
  durationMs: number;
}

/** What happened in one scenario. */
export interface ScenarioResult {
  /** Scenario name. */
  name: string;
  /** Scenario description. */
  description?: string;
  /** The role the partner played. */
  role: Role;
  /** RFC references. */
  reference?: string;
  /** File it came from. */
  source?: string;
  /** The outcome: `fail` if a step failed, `error` if one could not run. */
  verdict: Verdict;
  /** Results of each step. */
  steps: StepResult[];
  /** Counts of messages each way. */
  sent: number;
  /** Messages received. */
  received: number;
  /** Unix ms. */
  startedAt: number;
  /** How long the scenario took (ms). */
  durationMs: number;
}

/** A whole run. */
export interface RunReport {
  /** Free text: what was run against what. */
  title: string;
  /** The role the partner played. */
  role: Role;
  /** The peer, e.g. `[2001:db8::2]:647` or `listening on ...`. */
  peer: string;
  /** Results of each scenario, in run order. */
  scenarios: ScenarioResult[];
  /** Unix ms. */
  startedAt: number;
  /** How long the run took (ms). */
  durationMs: number;
  /** Scenarios that passed. */
  passed: number;
  /** Scenarios that failed. */
  failed: number;
  /** Scenarios that could not run (in error). */
  errors: number;
}
