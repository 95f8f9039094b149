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
  return "raw" in o && o.raw === true;
}

/** True for a malformed (or capture-cut) option. */
export function isMalformedOption(o: DhcpOption): o is MalformedOption {
  return "malformed" in o && o.malformed === true;
}

/** True for an option decoded into its typed form. */
export function isKnownOption(o: DhcpOption): o is KnownOption {
  return !isRawOption(o) && !isMalformedOption(o);
}

/** True if `o` is the well-formed typed option with code `code`. */
export function isOption<C extends KnownOptionCode>(o: DhcpOption, code: C): o is OptionOf<C> {
  return o.code === code && isKnownOption(o);
}

/** The first well-formed option with `code` among `options` (not searched recursively). */
export function findOption<C extends KnownOptionCode>(
  options: readonly DhcpOption[],
  code: C,
): OptionOf<C> | undefined {
  for (const o of options) if (isOption(o, code)) return o;
  return undefined;
}

/** Every well-formed option with `code` among `options`, in order. */
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

/** OPTION_CLIENTID with the given DUID octets. */
export function clientId(duid: Uint8Array): ClientIdOption {
  return { code: 1, duid };
}

/** OPTION_IA_NA. */
export function iaNa(iaid: number, t1: number, t2: number, options: DhcpOption[] = []): IaNaOption {
  return { code: 3, iaid, t1, t2, options };
}

/** OPTION_IA_TA. */
export function iaTa(iaid: number, options: DhcpOption[] = []): IaTaOption {
  return { code: 4, iaid, options };
}

/** OPTION_IA_PD. */
export function iaPd(iaid: number, t1: number, t2: number, options: DhcpOption[] = []): IaPdOption {
  return { code: 25, iaid, t1, t2, options };
}

/** OPTION_IAADDR. */
export function iaAddr(
  address: string,
  preferredLifetime: number,
  validLifetime: number,
  options: DhcpOption[] = [],
): IaAddrOption {
  return { code: 5, address, preferredLifetime, validLifetime, options };
}

/** OPTION_IAPREFIX. */
export function iaPrefix(
  prefix: string,
  prefixLength: number,
  preferredLifetime: number,
  validLifetime: number,
  options: DhcpOption[] = [],
): IaPrefixOption {
  return { code: 26, preferredLifetime, validLifetime, prefixLength, prefix, options };
}

/** OPTION_STATUS_CODE. */
export function statusCode(code: number, message = ""): StatusCodeOption {
  return { code: 13, statusCode: code, statusMessage: message };
}

/** OPTION_CLIENT_DATA. */
export function clientData(options: DhcpOption[]): ClientDataOption {
  return { code: 45, options };
}

/** OPTION_F_BINDING_STATUS. */
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
  bindingStatus: number;
  /** Required in BNDUPD, absent in BNDREPLY. */
  startTimeOfState?: number;
  stateExpirationTime?: number;
  cltTime?: number;
  partnerLifetime?: number;
  partnerRawCltTime?: number;
  expirationTime?: number;
  partnerLifetimeSent?: number;
  status?: { code: number; message?: string };
  baseTime?: number;
}

/**
 * The IAaddr/IAprefix-options of a lease in the RFC 8156 §7.4 order: STATUS_CODE,
 * LQ_BASE_TIME (standalone IAPREFIX), F_BINDING_STATUS, F_START_TIME_OF_STATE,
 * F_STATE_EXPIRATION_TIME, CLT_TIME, F_PARTNER_LIFETIME, F_PARTNER_RAW_CLT_TIME,
 * F_EXPIRATION_TIME, F_PARTNER_LIFETIME_SENT; absent fields are left out.
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

/** A failover message (8-octet header). */
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
  mclt: number;
  keepaliveTime: number;
  maxUnackedBndupd: number;
  fixedPdLength?: boolean;
  /** CONNECT only. */
  relationshipName?: string;
  majorVersion?: number;
  minorVersion?: number;
}

/**
 * Options of an accepting CONNECT/CONNECTREPLY in the order of §6.1.1: PROTOCOL_VERSION,
 * MCLT, KEEPALIVE_TIME, MAX_UNACKED_BNDUPD, CONNECT_FLAGS, then RELATIONSHIP_NAME if given.
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
  serverState: number;
  flags: number;
  startTimeOfState: number;
  /** Only when the sender is in PARTNER-DOWN. */
  partnerDownTime?: number;
}

/** Options of a STATE message: SERVER_STATE, SERVER_FLAGS, START_TIME_OF_STATE[, PARTNER_DOWN_TIME]. */
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
