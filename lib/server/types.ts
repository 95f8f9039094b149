/**
 * The plain data that goes in and out of the DHCPv6 server core: what the shell hands the
 * handler ({@linkcode Inbound}), what it gets back ({@linkcode HandleResult}: a reply and the
 * lease changes to commit first, or a drop with its reason), and the read-only view of the
 * bindings the handler decides on ({@linkcode LeaseView}).
 *
 * Times are milliseconds since the Unix epoch (the unit of `Clock.now()`); lifetimes are
 * seconds, as on the wire.
 *
 * @module
 */

import type { BindingStatus, Lease, LeaseKey, LeaseKind, PoolOwner } from "../store/types.ts";
import type { Message } from "../wire/types.ts";

/** One datagram as the shell received it, already decoded with `wire.decodeMessage`. */
export interface Inbound {
  /** The decoded message (a client message or a Relay-forw). */
  message: Message;
  /**
   * Source address of the datagram (RFC 5952 text, with `%zone` for a link-local source as
   * `node:dgram` gives it). The reply goes back there; the zone names the interface when
   * `interfaceName` is not given.
   */
  sourceAddress: string;
  /** Source UDP port of the datagram. The reply goes back there. */
  sourcePort: number;
  /** Name of the interface the datagram arrived on, when the shell knows it. */
  interfaceName?: string;
  /**
   * True when the client sent the message to one of our unicast addresses and the RFC 8415
   * §18.4 unicast rules apply (Solicit/Confirm/Rebind dropped; other messages answered with
   * UseMulticast unless a Server Unicast address is configured). False for multicast
   * (ff02::1:2, ff05::1:3) and for listeners that stand for a whole link (e.g. a loopback
   * test listener). Relayed messages are never "unicast" in this sense.
   */
  unicast: boolean;
}

/** A lease change to commit before the reply is sent: `before` is what the view held. */
export interface LeaseChange {
  /** The lease as it was (absent when the address or prefix had no row yet). */
  before?: Lease;
  /** The lease as it must be stored. */
  after: Lease;
}

/**
 * Why a message got no answer. Stable labels, usable as metric label values.
 *
 * - `not-for-server`: Advertise, Reply, Reconfigure or Relay-repl (RFC 8415 §16);
 * - `unsupported-type`: a message type this server does not serve (Leasequery, failover…);
 * - `malformed`: an option of the message does not fit its format;
 * - `missing-client-id` / `bad-client-id`: no well-formed Client Identifier (RFC 8415 §16);
 * - `unexpected-server-id`: a Server Identifier in Solicit, Confirm or Rebind;
 * - `missing-server-id` / `wrong-server-id`: Request, Renew, Release, Decline not for us;
 * - `ia-in-information-request`: an Information-request with an IA option (§16.12);
 * - `unicast-not-allowed`: Solicit, Confirm or Rebind sent by unicast (§18.4);
 * - `relay-no-message`: a Relay-forw without a usable Relay Message option;
 * - `no-subnet`: no configured subnet matches the client's link;
 * - `confirm-undecidable`: a Confirm with no addresses, or for an unknown link (§18.3.3);
 * - `rebind-no-binding`: a Rebind the server knows nothing about (§18.3.5);
 * - `nothing-to-answer`: a Renew/Rebind whose IAs the server has no words for;
 * - `failover-unresponsive`: the failover policy says this server must not answer (issue 6).
 */
export type DropReason =
  | "not-for-server"
  | "unsupported-type"
  | "malformed"
  | "missing-client-id"
  | "bad-client-id"
  | "unexpected-server-id"
  | "missing-server-id"
  | "wrong-server-id"
  | "ia-in-information-request"
  | "unicast-not-allowed"
  | "relay-no-message"
  | "no-subnet"
  | "confirm-undecidable"
  | "rebind-no-binding"
  | "nothing-to-answer"
  | "failover-unresponsive";

/** Every {@linkcode DropReason}, for metrics that want all label values up front. */
export const DROP_REASONS: readonly DropReason[] = [
  "not-for-server",
  "unsupported-type",
  "malformed",
  "missing-client-id",
  "bad-client-id",
  "unexpected-server-id",
  "missing-server-id",
  "wrong-server-id",
  "ia-in-information-request",
  "unicast-not-allowed",
  "relay-no-message",
  "no-subnet",
  "confirm-undecidable",
  "rebind-no-binding",
  "nothing-to-answer",
  "failover-unresponsive",
];

/** The handler's answer: a reply to send after committing `changes`. */
export interface ReplyResult {
  /** Discriminant. */
  kind: "reply";
  /** The message to encode and send (a Relay-repl when the request came relayed). */
  message: Message;
  /** Type of the client message answered (SOLICIT, REQUEST, …) for metrics and logs. */
  requestType: number;
  /** Type of the client-level answer: ADVERTISE (2) or REPLY (7). */
  replyType: number;
  /** Where to send it: the source address and port of the received datagram. */
  to: { address: string; port: number };
  /**
   * Lease changes. Commit all of them (one write) BEFORE sending the reply; empty for an
   * Advertise, a Confirm, an Information-request and every answer that changes nothing.
   */
  changes: LeaseChange[];
  /** Name of the subnet that served the client, when one was selected. */
  subnet?: string;
  /** Client DUID (lower-case hex), when the message carried one. */
  clientDuid?: string;
}

/** The handler's answer when the message must not be answered. */
export interface DropResult {
  /** Discriminant. */
  kind: "drop";
  /** Why (stable label). */
  reason: DropReason;
  /** One line for a log. */
  detail: string;
  /** Type of the client message, when known (the inner one for relayed traffic). */
  requestType?: number;
}

/** What {@linkcode handle} returns. */
export type HandleResult = ReplyResult | DropResult;

/**
 * Synchronous read access to the bindings. `BindingStore` satisfies it (SQLite reads are
 * synchronous in `node:sqlite`); {@linkcode LeaseIndex} is the in-memory one the shell keeps
 * so that leases handed out but not yet committed are already visible.
 */
export interface LeaseView {
  /** The lease for an address (`prefixLength` 128) or a delegated prefix; RFC 5952 text. */
  get(key: LeaseKey): Lease | undefined;
  /** Every lease (any status) recorded for a client DUID (lower-case hex). */
  getByClient(clientDuid: string): Lease[];
  /**
   * Optional: how many leases of a pool no new client can have (ACTIVE or ABANDONED). Lets
   * the allocator call a full pool full without scanning it.
   */
  poolOccupancy?(pool: string): number;
  /**
   * Optional: how many leases of a pool and kind have `status` (and `owner`, when given).
   * Lets the failover policy call a pool with nothing left for this server to hand out
   * without scanning it (`FailoverPolicy.room`).
   */
  poolCount?(pool: string, kind: LeaseKind, status: BindingStatus, owner?: PoolOwner): number;
}
