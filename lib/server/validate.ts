/**
 * Message validation of RFC 8415 §16 (what a server must discard) and the unicast rules of
 * §18.4, as one pure function from a decoded client message to "valid", "answer with
 * UseMulticast" or "drop, because …".
 *
 * | Message | Rule (drop otherwise) |
 * |---|---|
 * | Solicit | Client Identifier; no Server Identifier |
 * | Request, Renew, Release, Decline | Client Identifier; Server Identifier equal to ours |
 * | Confirm, Rebind | Client Identifier; no Server Identifier |
 * | Information-request | a Server Identifier, if any, is ours; no IA_NA, IA_TA or IA_PD |
 * | Advertise, Reply, Reconfigure | never for a server |
 *
 * Unicast: Solicit, Confirm and Rebind are dropped; the others are answered with
 * UseMulticast unless a Server Unicast address is configured.
 *
 * @module
 */

import { bytesEqual, bytesToHex } from "../wire/bytes.ts";
import { isMalformedOption, isOption } from "../wire/options.ts";
import { type ClientServerMessage, type DhcpOption, MessageType } from "../wire/types.ts";
import type { DropReason } from "./types.ts";

/** The message types a DHCPv6 server serves. */
export const SERVED_TYPES: ReadonlySet<number> = new Set([
  MessageType.SOLICIT,
  MessageType.REQUEST,
  MessageType.CONFIRM,
  MessageType.RENEW,
  MessageType.REBIND,
  MessageType.RELEASE,
  MessageType.DECLINE,
  MessageType.INFORMATION_REQUEST,
]);

/** Types a server never accepts (RFC 8415 §16: they go to clients or relays). */
const CLIENT_BOUND: ReadonlySet<number> = new Set([
  MessageType.ADVERTISE,
  MessageType.REPLY,
  MessageType.RECONFIGURE,
  MessageType.RELAY_REPL,
]);

/** Types whose Server Identifier must be present and ours. */
const NEEDS_OUR_SERVER_ID: ReadonlySet<number> = new Set([
  MessageType.REQUEST,
  MessageType.RENEW,
  MessageType.RELEASE,
  MessageType.DECLINE,
]);

/** Types that must not carry a Server Identifier. */
const NO_SERVER_ID: ReadonlySet<number> = new Set([
  MessageType.SOLICIT,
  MessageType.CONFIRM,
  MessageType.REBIND,
]);

/** Shortest and longest DUID: 2-octet type + 1..128 octets (RFC 8415 §11.1). */
const DUID_MIN = 3;
const DUID_MAX = 130;

/** What the validator needs besides the message. */
export interface ValidationContext {
  /** Our server DUID. */
  serverDuid: Uint8Array;
  /** The client unicast the message to us (see `Inbound.unicast`). */
  unicast: boolean;
  /** We have told clients they may unicast (a Server Unicast address is configured). */
  unicastAllowed: boolean;
}

/** Result of {@linkcode validateMessage}. */
export type Validation =
  | {
    kind: "valid";
    /** Client DUID octets (absent only for an Information-request without one). */
    clientDuid?: Uint8Array;
    /** Client DUID, lower-case hex (`""` when absent). */
    clientDuidHex: string;
    /** The message carries our Server Identifier. */
    serverIdIsOurs: boolean;
  }
  | {
    kind: "use-multicast";
    /** Client DUID octets to echo, when the message had one. */
    clientDuid?: Uint8Array;
    /** Client DUID, lower-case hex. */
    clientDuidHex: string;
  }
  | { kind: "drop"; reason: DropReason; detail: string };

function drop(reason: DropReason, detail: string): Validation {
  return { kind: "drop", reason, detail };
}

/** Path of the first malformed option in `options` (searched through containers), if any. */
export function findMalformed(options: readonly DhcpOption[], path = ""): string | undefined {
  for (let i = 0; i < options.length; i++) {
    const o = options[i];
    // The path text is made only on the way out of a malformed option (not per option).
    const here = () => `${path}${path ? "." : ""}option[${i}](code ${o.code})`;
    if (isMalformedOption(o)) return here();
    if ("options" in o && Array.isArray(o.options) && o.options.length > 0) {
      if (!hasMalformed(o.options)) continue;
      const inner = findMalformed(o.options, here());
      if (inner !== undefined) return inner;
    }
  }
  return undefined;
}

/** Whether any option in `options` (searched through containers) is malformed. */
function hasMalformed(options: readonly DhcpOption[]): boolean {
  for (const o of options) {
    if (isMalformedOption(o)) return true;
    if ("options" in o && Array.isArray(o.options) && hasMalformed(o.options)) return true;
  }
  return false;
}

/**
 * Applies RFC 8415 §16 and §18.4 to a client message. Never throws. The order: message
 * type, malformed options, identifiers, IA options in Information-request, unicast.
 */
export function validateMessage(msg: ClientServerMessage, ctx: ValidationContext): Validation {
  const t = msg.msgType;
  if (CLIENT_BOUND.has(t)) return drop("not-for-server", `message type ${t} is not for a server`);
  if (!SERVED_TYPES.has(t)) return drop("unsupported-type", `message type ${t} is not served`);

  const bad = findMalformed(msg.options);
  if (bad !== undefined) return drop("malformed", `malformed option at ${bad}`);

  const clientIds = msg.options.filter((o) => o.code === 1);
  const serverIds = msg.options.filter((o) => o.code === 2);
  if (clientIds.length > 1) return drop("malformed", "more than one Client Identifier");
  if (serverIds.length > 1) return drop("malformed", "more than one Server Identifier");

  const cid = clientIds[0];
  let clientDuid: Uint8Array | undefined;
  if (cid !== undefined && isOption(cid, 1)) clientDuid = cid.duid;
  if (clientDuid === undefined && t !== MessageType.INFORMATION_REQUEST) {
    return drop("missing-client-id", "no Client Identifier");
  }
  if (clientDuid !== undefined && (clientDuid.length < DUID_MIN || clientDuid.length > DUID_MAX)) {
    return drop("bad-client-id", `client DUID of ${clientDuid.length} octets`);
  }

  const sid = serverIds[0];
  const serverDuid = sid !== undefined && isOption(sid, 2) ? sid.duid : undefined;
  const serverIdIsOurs = serverDuid !== undefined && bytesEqual(serverDuid, ctx.serverDuid);
  if (NO_SERVER_ID.has(t) && serverDuid !== undefined) {
    return drop("unexpected-server-id", "a Server Identifier where none belongs");
  }
  if (NEEDS_OUR_SERVER_ID.has(t)) {
    if (serverDuid === undefined) return drop("missing-server-id", "no Server Identifier");
    if (!serverIdIsOurs) return drop("wrong-server-id", "Server Identifier is not ours");
  }
  if (t === MessageType.INFORMATION_REQUEST) {
    if (serverDuid !== undefined && !serverIdIsOurs) {
      return drop("wrong-server-id", "Server Identifier is not ours");
    }
    if (msg.options.some((o) => o.code === 3 || o.code === 4 || o.code === 25)) {
      return drop("ia-in-information-request", "Information-request with an IA option");
    }
  }

  const clientDuidHex = clientDuid === undefined ? "" : bytesToHex(clientDuid);
  if (ctx.unicast) {
    if (NO_SERVER_ID.has(t)) return drop("unicast-not-allowed", `type ${t} sent by unicast`);
    if (!ctx.unicastAllowed) {
      return clientDuid === undefined
        ? { kind: "use-multicast", clientDuidHex }
        : { kind: "use-multicast", clientDuid, clientDuidHex };
    }
  }
  return clientDuid === undefined
    ? { kind: "valid", clientDuidHex, serverIdIsOurs }
    : { kind: "valid", clientDuid, clientDuidHex, serverIdIsOurs };
}
