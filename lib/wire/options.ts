/**
 * Building and reading option trees: type guards, lookups, and builders for the options
 * and messages the failover engine sends (CONNECT, STATE, BNDUPD/BNDREPLY trees ...).
 * Builders return plain typed objects; nothing here touches octets.
 *
 * @module
 */

import {
  type BindingStatusOption,
  type ClientDataOption,
  type ClientIdOption,
  ConnectFlag,
  type DhcpOption,
  type FailoverMessage,
  type FailoverMsgType,
  type IaAddrOption,
  type IaNaOption,
  type IaPdOption,
  type IaPrefixOption,
  type IaTaOption,
  type KnownOption,
  type KnownOptionCode,
  type MalformedOption,
  type OptionOf,
  PROTOCOL_VERSION,
  type RawOption,
  ServerFlag,
  type StatusCodeOption,
} from "./types.ts";

/** True for an option kept as raw octets (unknown code or nesting limit). */
export function isRawOption(o: DhcpOption): o is RawOption {
  // A property read, not `in`: the same answer (absent reads as undefined), and cheaper.
  return (o as Partial<RawOption>).raw === true;
}

/** True for a malformed (or capture-cut) option. */
export function isMalformedOption(o: DhcpOption): o is MalformedOption {
  return (o as Partial<MalformedOption>).malformed === true;
}

/** True for an option decoded into its typed form. */
export function isKnownOption(o: DhcpOption): o is KnownOption {
  return !isRawOption(o) && !isMalformedOption(o);
}

/** True if `o` is the well-formed typed option with code `code`. */
export function isOption<C extends KnownOptionCode>(o: DhcpOption, code: C): o is OptionOf<C> {
  return o.code === code && isKnownOption(o);
}

/**
 * The first well-formed option with `code` among `options` (not searched recursively).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   decodeMessage,
 *   encodeMessage,
 *   failoverMessage,
 *   findOption,
 *   MessageType,
 *   OptionCode,
 *   stateOptions,
 * } from "@failover6/failover6";
 *
 * const bytes = encodeMessage(
 *   failoverMessage(MessageType.STATE, 2, 800000000, stateOptions({
 *     serverState: 2,
 *     flags: 0,
 *     startTimeOfState: 799999000,
 *   })),
 * );
 * const { message } = decodeMessage(bytes);
 * const start = findOption(message?.options ?? [], OptionCode.F_START_TIME_OF_STATE);
 * assert.equal(start?.startTimeOfState, 799999000); // typed as StartTimeOfStateOption
 * ```
 */
export function findOption<C extends KnownOptionCode>(
  options: readonly DhcpOption[],
  code: C,
): OptionOf<C> | undefined {
  for (const o of options) if (isOption(o, code)) return o;
  return undefined;
}

/**
 * Every well-formed option with `code` among `options`, in order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findOptions, iaAddr, iaNa, OptionCode } from "@failover6/failover6";
 *
 * const ia = iaNa(1, 1800, 2880, [
 *   iaAddr("2001:db8::10", 3600, 7200),
 *   iaAddr("2001:db8::11", 3600, 7200),
 * ]);
 * const addresses = findOptions(ia.options, OptionCode.IAADDR).map((a) => a.address);
 * assert.deepEqual(addresses, ["2001:db8::10", "2001:db8::11"]);
 * ```
 */
export function findOptions<C extends KnownOptionCode>(
  options: readonly DhcpOption[],
  code: C,
): OptionOf<C>[] {
  return options.filter((o): o is OptionOf<C> => isOption(o, code));
}

/** Every option (any form) with `code` among `options`, in order. */
export function optionsWithCode(options: readonly DhcpOption[], code: number): DhcpOption[] {
  return options.filter((o) => o.code === code);
}

// ---------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------

/**
 * OPTION_CLIENTID with the given DUID octets.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { clientId } from "@failover6/failover6";
 *
 * const duid = new Uint8Array([0, 3, 0, 1, 2, 0, 0, 0, 0, 1]); // DUID-LL of 02:00:00:00:00:01
 * assert.deepEqual(clientId(duid), { code: 1, duid });
 * ```
 */
export function clientId(duid: Uint8Array): ClientIdOption {
  return { code: 1, duid };
}

/**
 * OPTION_IA_NA.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { iaAddr, iaNa } from "@failover6/failover6";
 *
 * const ia = iaNa(1, 1800, 2880, [iaAddr("2001:db8::10", 3600, 7200)]);
 * assert.equal(ia.code, 3);
 * assert.equal(ia.options.length, 1);
 * ```
 */
export function iaNa(iaid: number, t1: number, t2: number, options: DhcpOption[] = []): IaNaOption {
  return { code: 3, iaid, t1, t2, options };
}

/** OPTION_IA_TA. */
export function iaTa(iaid: number, options: DhcpOption[] = []): IaTaOption {
  return { code: 4, iaid, options };
}

/**
 * OPTION_IA_PD.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { iaPd, iaPrefix } from "@failover6/failover6";
 *
 * const ia = iaPd(5, 1800, 2880, [iaPrefix("2001:db8:f0::", 56, 3600, 7200)]);
 * assert.equal(ia.code, 25);
 * assert.equal(ia.iaid, 5);
 * ```
 */
export function iaPd(iaid: number, t1: number, t2: number, options: DhcpOption[] = []): IaPdOption {
  return { code: 25, iaid, t1, t2, options };
}

/**
 * OPTION_IAADDR.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BindingStatus, iaAddr, leaseOptions } from "@failover6/failover6";
 *
 * // As it travels inside a BNDUPD: the per-lease options of RFC 8156 §7.4 inside the IAADDR.
 * const addr = iaAddr(
 *   "2001:db8::10",
 *   3600,
 *   7200,
 *   leaseOptions({ bindingStatus: BindingStatus.ACTIVE, startTimeOfState: 800000000 }),
 * );
 * assert.equal(addr.address, "2001:db8::10");
 * assert.equal(addr.options.length, 2);
 * ```
 */
export function iaAddr(
  address: string,
  preferredLifetime: number,
  validLifetime: number,
  options: DhcpOption[] = [],
): IaAddrOption {
  return { code: 5, address, preferredLifetime, validLifetime, options };
}

/**
 * OPTION_IAPREFIX.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { iaPrefix } from "@failover6/failover6";
 *
 * const p = iaPrefix("2001:db8:f0::", 56, 3600, 7200);
 * assert.deepEqual([p.code, p.prefix, p.prefixLength], [26, "2001:db8:f0::", 56]);
 * ```
 */
export function iaPrefix(
  prefix: string,
  prefixLength: number,
  preferredLifetime: number,
  validLifetime: number,
  options: DhcpOption[] = [],
): IaPrefixOption {
  return { code: 26, preferredLifetime, validLifetime, prefixLength, prefix, options };
}

/**
 * OPTION_STATUS_CODE.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StatusCode, statusCode } from "@failover6/failover6";
 *
 * assert.deepEqual(statusCode(StatusCode.NoAddrsAvail, "none left"), {
 *   code: 13,
 *   statusCode: 2,
 *   statusMessage: "none left",
 * });
 * ```
 */
export function statusCode(code: number, message = ""): StatusCodeOption {
  return { code: 13, statusCode: code, statusMessage: message };
}

/**
 * OPTION_CLIENT_DATA.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { clientData, clientId, iaAddr, iaNa } from "@failover6/failover6";
 *
 * const duid = new Uint8Array([0, 3, 0, 1, 2, 0, 0, 0, 0, 1]);
 * const ia = iaNa(1, 1800, 2880, [iaAddr("2001:db8::10", 3600, 7200)]);
 * const data = clientData([clientId(duid), ia]);
 * assert.equal(data.code, 45);
 * assert.equal(data.options.length, 2);
 * ```
 */
export function clientData(options: DhcpOption[]): ClientDataOption {
  return { code: 45, options };
}

/**
 * OPTION_F_BINDING_STATUS.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BindingStatus, bindingStatus } from "@failover6/failover6";
 *
 * assert.deepEqual(bindingStatus(BindingStatus.FREE), { code: 114, bindingStatus: 5 });
 * ```
 */
export function bindingStatus(status: number): BindingStatusOption {
  return { code: 114, bindingStatus: status };
}

/** OPTION_F_SERVER_FLAGS value from named booleans. */
export function serverFlags(
  f: { communicated?: boolean; startup?: boolean; ackStartup?: boolean },
): number {
  return (f.communicated ? ServerFlag.COMMUNICATED : 0) | (f.startup ? ServerFlag.STARTUP : 0) |
    (f.ackStartup ? ServerFlag.ACK_STARTUP : 0);
}

/** The per-lease times and status that go inside an IAADDR/IAPREFIX of a BNDUPD (§7.4). */
export interface LeaseFields {
  /** OPTION_F_BINDING_STATUS code (see `BindingStatus`). */
  bindingStatus: number;
  /** Required in BNDUPD, absent in BNDREPLY. */
  startTimeOfState?: number;
  /** OPTION_F_STATE_EXPIRATION_TIME, absolute. */
  stateExpirationTime?: number;
  /** OPTION_CLT_TIME, seconds before the base time. */
  cltTime?: number;
  /** OPTION_F_PARTNER_LIFETIME, absolute. */
  partnerLifetime?: number;
  /** OPTION_F_PARTNER_RAW_CLT_TIME, absolute. */
  partnerRawCltTime?: number;
  /** OPTION_F_EXPIRATION_TIME, absolute. */
  expirationTime?: number;
  /** OPTION_F_PARTNER_LIFETIME_SENT, absolute (BNDREPLY). */
  partnerLifetimeSent?: number;
  /** OPTION_STATUS_CODE, put first. */
  status?: { code: number; message?: string };
  /** OPTION_LQ_BASE_TIME, absolute (standalone IAPREFIX only). */
  baseTime?: number;
}

/**
 * The IAaddr/IAprefix-options of a lease in the RFC 8156 §7.4 order: STATUS_CODE,
 * LQ_BASE_TIME (standalone IAPREFIX), F_BINDING_STATUS, F_START_TIME_OF_STATE,
 * F_STATE_EXPIRATION_TIME, CLT_TIME, F_PARTNER_LIFETIME, F_PARTNER_RAW_CLT_TIME,
 * F_EXPIRATION_TIME, F_PARTNER_LIFETIME_SENT; absent fields are left out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BindingStatus, leaseOptions } from "@failover6/failover6";
 *
 * const options = leaseOptions({
 *   bindingStatus: BindingStatus.ACTIVE,
 *   startTimeOfState: 800000000,
 *   stateExpirationTime: 800007200,
 *   partnerLifetime: 800010800,
 *   expirationTime: 800007200,
 * });
 * // F_BINDING_STATUS, F_START_TIME_OF_STATE, F_STATE_EXPIRATION_TIME, F_PARTNER_LIFETIME,
 * // F_EXPIRATION_TIME: in the order of RFC 8156 §7.4.
 * assert.deepEqual(options.map((o) => o.code), [114, 133, 134, 123, 120]);
 * ```
 */
export function leaseOptions(f: LeaseFields): DhcpOption[] {
  const out: DhcpOption[] = [];
  if (f.status) out.push(statusCode(f.status.code, f.status.message ?? ""));
  if (f.baseTime !== undefined) out.push({ code: 100, baseTime: f.baseTime });
  out.push(bindingStatus(f.bindingStatus));
  if (f.startTimeOfState !== undefined) {
    out.push({ code: 133, startTimeOfState: f.startTimeOfState });
  }
  if (f.stateExpirationTime !== undefined) {
    out.push({ code: 134, stateExpirationTime: f.stateExpirationTime });
  }
  if (f.cltTime !== undefined) out.push({ code: 46, cltTime: f.cltTime });
  if (f.partnerLifetime !== undefined) out.push({ code: 123, partnerLifetime: f.partnerLifetime });
  if (f.partnerRawCltTime !== undefined) {
    out.push({ code: 126, partnerRawCltTime: f.partnerRawCltTime });
  }
  if (f.expirationTime !== undefined) out.push({ code: 120, expirationTime: f.expirationTime });
  if (f.partnerLifetimeSent !== undefined) {
    out.push({ code: 124, partnerLifetimeSent: f.partnerLifetimeSent });
  }
  return out;
}

/**
 * A failover message (8-octet header).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   decodeMessage,
 *   encodeMessage,
 *   failoverMessage,
 *   MessageType,
 * } from "@failover6/failover6";
 *
 * const contact = failoverMessage(MessageType.CONTACT, 3, 800000000);
 * assert.equal(encodeMessage(contact).length, 8); // the 8-octet failover header, no options
 * assert.deepEqual(decodeMessage(encodeMessage(contact)).message, contact);
 * ```
 */
export function failoverMessage(
  msgType: FailoverMsgType,
  transactionId: number,
  sentTime: number,
  options: DhcpOption[] = [],
): FailoverMessage {
  return { kind: "failover", msgType, transactionId, sentTime, options };
}

/** Settings carried in CONNECT and CONNECTREPLY (RFC 8156 §6.1.1, §6.1.2). */
export interface ConnectSettings {
  /** OPTION_F_MCLT, seconds. */
  mclt: number;
  /** OPTION_F_KEEPALIVE_TIME, seconds. */
  keepaliveTime: number;
  /** OPTION_F_MAX_UNACKED_BNDUPD. */
  maxUnackedBndupd: number;
  /** Sets the FIXED_PD_LENGTH connect flag. */
  fixedPdLength?: boolean;
  /** CONNECT only. */
  relationshipName?: string;
  /** OPTION_F_PROTOCOL_VERSION major (default 1). */
  majorVersion?: number;
  /** OPTION_F_PROTOCOL_VERSION minor (default 0). */
  minorVersion?: number;
}

/**
 * Options of an accepting CONNECT/CONNECTREPLY in the order of §6.1.1: PROTOCOL_VERSION,
 * MCLT, KEEPALIVE_TIME, MAX_UNACKED_BNDUPD, CONNECT_FLAGS, then RELATIONSHIP_NAME if given.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectOptions, failoverMessage, MessageType } from "@failover6/failover6";
 *
 * const options = connectOptions({
 *   mclt: 3600,
 *   keepaliveTime: 60,
 *   maxUnackedBndupd: 10,
 *   relationshipName: "dhcp-pair",
 * });
 * assert.deepEqual(options.map((o) => o.code), [127, 122, 128, 121, 115, 130]);
 * const connect = failoverMessage(MessageType.CONNECT, 1, 800000000, options);
 * assert.equal(connect.msgType, 31);
 * ```
 */
export function connectOptions(s: ConnectSettings): DhcpOption[] {
  const out: DhcpOption[] = [
    {
      code: 127,
      majorVersion: s.majorVersion ?? PROTOCOL_VERSION.major,
      minorVersion: s.minorVersion ?? PROTOCOL_VERSION.minor,
    },
    { code: 122, mclt: s.mclt },
    { code: 128, keepaliveTime: s.keepaliveTime },
    { code: 121, maxUnackedBndupd: s.maxUnackedBndupd },
    { code: 115, flags: s.fixedPdLength ? ConnectFlag.FIXED_PD_LENGTH : 0 },
  ];
  if (s.relationshipName !== undefined) {
    out.push({ code: 130, relationshipName: s.relationshipName });
  }
  return out;
}

/** Contents of a STATE message (RFC 8156 §6.3). */
export interface StateSettings {
  /** OPTION_F_SERVER_STATE code (see `FailoverState`). */
  serverState: number;
  /** OPTION_F_SERVER_FLAGS bits (see `ServerFlag`). */
  flags: number;
  /** OPTION_F_START_TIME_OF_STATE, absolute. */
  startTimeOfState: number;
  /** Only when the sender is in PARTNER-DOWN. */
  partnerDownTime?: number;
}

/**
 * Options of a STATE message: SERVER_STATE, SERVER_FLAGS, START_TIME_OF_STATE[, PARTNER_DOWN_TIME].
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FailoverState, stateOptions } from "@failover6/failover6";
 *
 * const options = stateOptions({
 *   serverState: FailoverState.NORMAL,
 *   flags: 0,
 *   startTimeOfState: 800000000,
 * });
 * assert.deepEqual(options.map((o) => o.code), [132, 131, 133]);
 * ```
 */
export function stateOptions(s: StateSettings): DhcpOption[] {
  const out: DhcpOption[] = [
    { code: 132, serverState: s.serverState },
    { code: 131, flags: s.flags },
    { code: 133, startTimeOfState: s.startTimeOfState },
  ];
  if (s.partnerDownTime !== undefined) {
    out.push({ code: 125, partnerDownTime: s.partnerDownTime });
  }
  return out;
}
