/**
 * The vocabulary of the failover engine (RFC 8156): roles, endpoint states, timer names, the
 * events the engine consumes and the actions it produces. The engine itself is
 * `step(state, event, now)` in `engine.ts`, which re-exports everything here.
 *
 * Time convention: every time the engine handles is **milliseconds since the Unix epoch** (the
 * unit of `Clock.now()` and of the lease store); `0` means "none". Wire messages carry failover
 * absolute time (seconds since 2000-01-01); `binding.ts` converts.
 *
 * @module
 */

import type { FailoverMessage } from "../wire/types.ts";
import type { WireError } from "../wire/errors.ts";
import type {
  EndpointStateName,
  EndpointStateRecord,
  Lease,
  LeaseQuery,
  PoolStatusCount,
  StoreWrite,
} from "../store/types.ts";

export type { EndpointStateName, EndpointStateRecord, Lease };

/** The role of this server in the failover relationship (RFC 8156 §3). */
export type Role = "primary" | "secondary";

/** Names of the engine's timers; the shell keeps at most one timer per name. */
export type TimerName =
  /** STARTUP timer (§8.3.2 step 3). */
  | "startup"
  /** Receive watchdog: FO_KEEPALIVE_TIME with nothing received means a dead connection (§6.5). */
  | "keepalive"
  /** Send timer: a CONTACT goes out after FO_SEND_TIME with nothing sent (§6.5). */
  | "contact"
  /** Optional auto-partner-down timer of COMMUNICATIONS-INTERRUPTED (§8.9). */
  | "auto-partner-down"
  /** RECOVER-WAIT: (TIME-OF-FAILURE or start time) + MCLT (§8.6.2). */
  | "recover-wait"
  /** How long RECOVER waits for UPDDONE while no BNDUPD arrives (§8.5.2). */
  | "upddone"
  /** Periodic scan for leases whose partner still needs an update (§7.5.4 damping). */
  | "update-scan"
  /** Refreshes the recorded time of operation (TIME-OF-FAILURE bound, §8.3.2). */
  | "heartbeat";

/** Operator (external) commands (§8.4, §8.8.2, §8.9.2, §8.11.2). */
export type OperatorCommand = "partner-down" | "shutdown";

/** Where a stream of leases for BNDUPDs comes from. */
export type BindingSource =
  /** Leases the partner has not confirmed (`BindingStore.needingUpdate`): UPDREQ, NORMAL flush, scans. */
  | { kind: "pending" }
  /** Every lease of the relationship (`BindingStore.all`): UPDREQALL. */
  | { kind: "all" }
  /** One page of a filtered listing (`BindingStore.list`): pool rebalancing candidates. */
  | { kind: "list"; query: LeaseQuery }
  /** The pool counts (`BindingStore.countByPool`), no leases: pool rebalancing. */
  | { kind: "pool-counts" };

/** Inputs of the engine. Every event is handled at an explicit `now`. */
export type Event =
  /**
   * A TCP connection to the partner is ready for failover messages (after STARTTLS and the TLS
   * handshake when in secure mode). The primary sends CONNECT; the secondary waits for one.
   */
  | { type: "connection-up"; peer?: string }
  /** The connection was lost or closed (by either side). */
  | { type: "connection-down"; reason: string }
  /**
   * One framed message from the partner, as decoded (`message` absent when even its header was
   * cut; `errors` from the decoder). `bindings` are this server's current records of the leases
   * the message names (see `bindingKeysOf` in `bndupd.ts`): the shell looks them up so the core
   * stays pure.
   */
  | {
    type: "message-received";
    message?: FailoverMessage;
    errors?: readonly WireError[];
    /** The raw octets (for log lines about bad input). */
    bytes?: Uint8Array;
    bindings?: readonly Lease[];
  }
  /** A timer set by a `set-timer` action fired. */
  | { type: "timer-fired"; name: TimerName }
  /** An operator command. */
  | { type: "operator-command"; command: OperatorCommand }
  /**
   * The DHCPv6 server changed a lease (allocation, renewal, release, expiry ...) and has already
   * stored it with `updatePending: true`; the engine tells the partner lazily (§4.3).
   */
  | { type: "client-lease-changed"; lease: Lease }
  /** The answer to a `read-bindings` action. */
  | {
    type: "bindings-read";
    stream: number;
    leases: readonly Lease[];
    /** True when the source has no more leases. */
    done: boolean;
    /** Pool counts, for a `pool-counts` source. */
    counts?: readonly PoolStatusCount[];
  };

/** Outputs of the engine, carried out by the shell in order. */
export type Action =
  /**
   * Send a message. A `send` that follows a `persist` in the same action list must reach the
   * wire only after that persist has committed (BNDREPLY after storage, §7.5.2; STATE after
   * its state is stored, §6.3).
   */
  | { type: "send"; message: FailoverMessage }
  /** Write to stable storage as one transaction. */
  | { type: "persist"; writes: StoreWrite[] }
  /** Arm (or re-arm) the named timer at absolute time `at` (ms). */
  | { type: "set-timer"; name: TimerName; at: number }
  /** Disarm the named timer. */
  | { type: "cancel-timer"; name: TimerName }
  /** Something an operator should see (SHOULD-raise alarms of §8.9, §8.11, rejections ...). */
  | { type: "alarm"; text: string }
  /** One log line about what happened (bad peer input, rejections, transitions). */
  | { type: "log"; level: "info" | "warn"; text: string }
  /** The endpoint state changed (for the DHCPv6 server and for logs). */
  | { type: "state-changed"; from: EndpointStateName; to: EndpointStateName; reason: string }
  /**
   * Close the TCP connection (after sending what precedes). `status`: the status of the
   * DISCONNECT or rejecting CONNECTREPLY sent; `rejected`: the CONNECT exchange failed, so a
   * primary should retry less often (§6.1).
   */
  | { type: "close-connection"; reason: string; status?: number; rejected?: boolean }
  /**
   * Read up to `limit` leases from `source` and answer with a `bindings-read` event for
   * `stream`. The first read of a stream opens it; later reads continue where it left off.
   */
  | { type: "read-bindings"; stream: number; source: BindingSource; limit: number }
  /** The stream is no longer needed (finished or abandoned). */
  | { type: "close-bindings"; stream: number };

/** What `step` returns. */
export interface StepResult<S> {
  /** The new state (the input state is not modified). */
  state: S;
  /** What the shell must do, in order. */
  actions: Action[];
}
