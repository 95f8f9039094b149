/**
 * Names of message types, options, status codes, failover states, binding statuses and
 * DUID types, as the protocol documents and IANA spell them.
 *
 * @module
 */

const MESSAGE_NAMES: Record<number, string> = {
  1: "SOLICIT",
  2: "ADVERTISE",
  3: "REQUEST",
  4: "CONFIRM",
  5: "RENEW",
  6: "REBIND",
  7: "REPLY",
  8: "RELEASE",
  9: "DECLINE",
  10: "RECONFIGURE",
  11: "INFORMATION-REQUEST",
  12: "RELAY-FORW",
  13: "RELAY-REPL",
  14: "LEASEQUERY",
  15: "LEASEQUERY-REPLY",
  16: "LEASEQUERY-DONE",
  17: "LEASEQUERY-DATA",
  18: "RECONFIGURE-REQUEST",
  19: "RECONFIGURE-REPLY",
  20: "DHCPV4-QUERY",
  21: "DHCPV4-RESPONSE",
  22: "ACTIVELEASEQUERY",
  23: "STARTTLS",
  24: "BNDUPD",
  25: "BNDREPLY",
  26: "POOLREQ",
  27: "POOLRESP",
  28: "UPDREQ",
  29: "UPDREQALL",
  30: "UPDDONE",
  31: "CONNECT",
  32: "CONNECTREPLY",
  33: "DISCONNECT",
  34: "STATE",
  35: "CONTACT",
};

/** Older names kept as aliases (RFC 8156 text: "binding/connect acknowledgement"). */
const MESSAGE_ALIASES: Record<number, string> = { 25: "BNDACK", 32: "CONNECTACK" };

const OPTION_NAMES: Record<number, string> = {
  1: "OPTION_CLIENTID",
  2: "OPTION_SERVERID",
  3: "OPTION_IA_NA",
  4: "OPTION_IA_TA",
  5: "OPTION_IAADDR",
  6: "OPTION_ORO",
  7: "OPTION_PREFERENCE",
  8: "OPTION_ELAPSED_TIME",
  9: "OPTION_RELAY_MSG",
  11: "OPTION_AUTH",
  12: "OPTION_UNICAST",
  13: "OPTION_STATUS_CODE",
  14: "OPTION_RAPID_COMMIT",
  15: "OPTION_USER_CLASS",
  16: "OPTION_VENDOR_CLASS",
  17: "OPTION_VENDOR_OPTS",
  18: "OPTION_INTERFACE_ID",
  19: "OPTION_RECONF_MSG",
  20: "OPTION_RECONF_ACCEPT",
  21: "OPTION_SIP_SERVER_D",
  22: "OPTION_SIP_SERVER_A",
  23: "OPTION_DNS_SERVERS",
  24: "OPTION_DOMAIN_LIST",
  25: "OPTION_IA_PD",
  26: "OPTION_IAPREFIX",
  27: "OPTION_NIS_SERVERS",
  28: "OPTION_NISP_SERVERS",
  29: "OPTION_NIS_DOMAIN_NAME",
  30: "OPTION_NISP_DOMAIN_NAME",
  31: "OPTION_SNTP_SERVERS",
  32: "OPTION_INFORMATION_REFRESH_TIME",
  37: "OPTION_REMOTE_ID",
  38: "OPTION_SUBSCRIBER_ID",
  39: "OPTION_CLIENT_FQDN",
  43: "OPTION_ERO",
  44: "OPTION_LQ_QUERY",
  45: "OPTION_CLIENT_DATA",
  46: "OPTION_CLT_TIME",
  47: "OPTION_LQ_RELAY_DATA",
  48: "OPTION_LQ_CLIENT_LINK",
  53: "OPTION_RELAY_ID",
  56: "OPTION_NTP_SERVER",
  68: "OPTION_VSS",
  79: "OPTION_CLIENT_LINKLAYER_ADDR",
  82: "OPTION_SOL_MAX_RT",
  83: "OPTION_INF_MAX_RT",
  100: "OPTION_LQ_BASE_TIME",
  101: "OPTION_LQ_START_TIME",
  102: "OPTION_LQ_END_TIME",
  114: "OPTION_F_BINDING_STATUS",
  115: "OPTION_F_CONNECT_FLAGS",
  116: "OPTION_F_DNS_REMOVAL_INFO",
  117: "OPTION_F_DNS_HOST_NAME",
  118: "OPTION_F_DNS_ZONE_NAME",
  119: "OPTION_F_DNS_FLAGS",
  120: "OPTION_F_EXPIRATION_TIME",
  121: "OPTION_F_MAX_UNACKED_BNDUPD",
  122: "OPTION_F_MCLT",
  123: "OPTION_F_PARTNER_LIFETIME",
  124: "OPTION_F_PARTNER_LIFETIME_SENT",
  125: "OPTION_F_PARTNER_DOWN_TIME",
  126: "OPTION_F_PARTNER_RAW_CLT_TIME",
  127: "OPTION_F_PROTOCOL_VERSION",
  128: "OPTION_F_KEEPALIVE_TIME",
  129: "OPTION_F_RECONFIGURE_DATA",
  130: "OPTION_F_RELATIONSHIP_NAME",
  131: "OPTION_F_SERVER_FLAGS",
  132: "OPTION_F_SERVER_STATE",
  133: "OPTION_F_START_TIME_OF_STATE",
  134: "OPTION_F_STATE_EXPIRATION_TIME",
};

const STATUS_NAMES: readonly string[] = [
  "Success",
  "UnspecFail",
  "NoAddrsAvail",
  "NoBinding",
  "NotOnLink",
  "UseMulticast",
  "NoPrefixAvail",
  "UnknownQueryType",
  "MalformedQuery",
  "NotConfigured",
  "NotAllowed",
  "QueryTerminated",
  "DataMissing",
  "CatchUpComplete",
  "NotSupported",
  "TLSConnectionRefused",
  "AddressInUse",
  "ConfigurationConflict",
  "MissingBindingInformation",
  "OutdatedBindingInformation",
  "ServerShuttingDown",
  "DNSUpdateNotSupported",
  "ExcessiveTimeSkew",
];

/**
 * The failover endpoint states (RFC 8156 §5.5.16 OPTION_F_SERVER_STATE), in wire-code order:
 * the state with code `n` is at index `n - 1`.
 */
export const ENDPOINT_STATE_NAMES = [
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
] as const;

/** A failover endpoint state's name, e.g. `PARTNER-DOWN`. */
export type EndpointStateName = typeof ENDPOINT_STATE_NAMES[number];

/**
 * The binding-status values (RFC 8156 §5.5.1 OPTION_F_BINDING_STATUS), in wire-code order: the
 * status with code `n` is at index `n - 1` (0 is reserved).
 */
export const BINDING_STATUS_NAMES = [
  "ACTIVE",
  "EXPIRED",
  "RELEASED",
  "PENDING-FREE",
  "FREE",
  "FREE-BACKUP",
  "ABANDONED",
  "RESET",
] as const;

/** A binding status's name, e.g. `FREE-BACKUP`. */
export type BindingStatusName = typeof BINDING_STATUS_NAMES[number];

const DUID_TYPE_NAMES: Record<number, string> = {
  1: "DUID-LLT",
  2: "DUID-EN",
  3: "DUID-LL",
  4: "DUID-UUID",
};

/**
 * Name of a message type, e.g. `BNDUPD`; `UNKNOWN-<n>` for unassigned codes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { messageTypeName } from "@failover6/failover6";
 *
 * assert.equal(messageTypeName(24), "BNDUPD");
 * assert.equal(messageTypeName(99), "UNKNOWN-99");
 * ```
 */
export function messageTypeName(msgType: number): string {
  return MESSAGE_NAMES[msgType] ?? `UNKNOWN-${msgType}`;
}

/** The older alias of a message type (25 BNDACK, 32 CONNECTACK), if any. */
export function messageTypeAlias(msgType: number): string | undefined {
  return MESSAGE_ALIASES[msgType];
}

/**
 * Message type for a name or alias (case-insensitive; `_` and `-` are the same),
 * e.g. `"bndack"` -> 25. Undefined if unknown.
 */
export function messageTypeFromName(name: string): number | undefined {
  const key = name.toUpperCase().replaceAll("_", "-");
  for (const [code, n] of Object.entries(MESSAGE_NAMES)) if (n === key) return Number(code);
  for (const [code, n] of Object.entries(MESSAGE_ALIASES)) if (n === key) return Number(code);
  return undefined;
}

/** True if the option code has an IANA name here. */
export function isNamedOption(code: number): boolean {
  return OPTION_NAMES[code] !== undefined;
}

/**
 * IANA name of an option, e.g. `OPTION_F_MCLT`; `OPTION_UNKNOWN_<n>` otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { optionName } from "@failover6/failover6";
 *
 * assert.equal(optionName(122), "OPTION_F_MCLT");
 * assert.equal(optionName(999), "OPTION_UNKNOWN_999");
 * ```
 */
export function optionName(code: number): string {
  return OPTION_NAMES[code] ?? `OPTION_UNKNOWN_${code}`;
}

/** Short option name for paths: the IANA name without `OPTION_`, e.g. `IA_NA`. */
export function optionShortName(code: number): string {
  const n = OPTION_NAMES[code];
  return n === undefined ? `OPTION_${code}` : n.slice("OPTION_".length);
}

/** Name of a status code, e.g. `NoAddrsAvail`; `Unknown-<n>` for unassigned codes. */
export function statusName(statusCode: number): string {
  return STATUS_NAMES[statusCode] ?? `Unknown-${statusCode}`;
}

/** True for status codes 0–22. */
export function isKnownStatusCode(statusCode: number): boolean {
  return Number.isInteger(statusCode) && statusCode >= 0 && statusCode < STATUS_NAMES.length;
}

/** Name of a failover endpoint state, e.g. `PARTNER-DOWN`; `UNKNOWN-<n>` otherwise. */
export function failoverStateName(state: number): string {
  return (state >= 1 && ENDPOINT_STATE_NAMES[state - 1]) || `UNKNOWN-${state}`;
}

/** True for the state codes 1–10. */
export function isKnownFailoverState(state: number): boolean {
  return Number.isInteger(state) && state >= 1 && state <= ENDPOINT_STATE_NAMES.length;
}

/** Name of a binding status, e.g. `FREE-BACKUP`; `UNKNOWN-<n>` otherwise (0 is reserved). */
export function bindingStatusName(status: number): string {
  return (status >= 1 && BINDING_STATUS_NAMES[status - 1]) || `UNKNOWN-${status}`;
}

/** True for the binding-status codes 1–8. */
export function isKnownBindingStatus(status: number): boolean {
  return Number.isInteger(status) && status >= 1 && status <= BINDING_STATUS_NAMES.length;
}

/** Name of a DUID type, e.g. `DUID-LLT`; `DUID-<n>` otherwise. */
export function duidTypeName(type: number): string {
  return DUID_TYPE_NAMES[type] ?? `DUID-${type}`;
}
