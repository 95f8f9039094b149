/**
 * Types and code points of the DHCPv6 (RFC 8415) and DHCPv6-failover (RFC 8156) wire
 * format: message types, option codes, status codes, failover endpoint states, binding
 * statuses, DUID types, flag masks, and the decoded shapes of messages and options.
 *
 * Conventions for decoded values:
 * - IPv6 addresses and prefixes are canonical RFC 5952 strings (`"2001:db8::1"`).
 * - Absolute times (`sentTime`, `baseTime`, `startTimeOfState`, ...) are plain numbers:
 *   seconds since 2000-01-01T00:00:00Z modulo 2^32 (render them with `absoluteTimeToIso`).
 * - Intervals (`mclt`, `keepaliveTime`, lifetimes, `cltTime`) are seconds;
 *   `elapsedTime` is hundredths of a second.
 * - Opaque octets (DUIDs, interface-ids, keys, raw option data) are `Uint8Array`.
 * - Flag options carry the numeric `flags`; the named booleans shown in JSON are derived
 *   from it (see the `*Flag` mask constants).
 *
 * This file only grows: fields and union members may be added, never renamed.
 *
 * @module
 */

// ---------------------------------------------------------------------------------------
// Message types
// ---------------------------------------------------------------------------------------

/**
 * DHCPv6 message types (RFC 8415 §7.3, RFC 5007, 5460, 6977, 7341, 7653, 8156 §5.3).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MessageType, messageTypeName } from "@failover6/failover6";
 *
 * assert.equal(MessageType.BNDUPD, 24);
 * assert.equal(messageTypeName(MessageType.CONNECTREPLY), "CONNECTREPLY");
 * ```
 */
export const MessageType = {
  SOLICIT: 1,
  ADVERTISE: 2,
  REQUEST: 3,
  CONFIRM: 4,
  RENEW: 5,
  REBIND: 6,
  REPLY: 7,
  RELEASE: 8,
  DECLINE: 9,
  RECONFIGURE: 10,
  INFORMATION_REQUEST: 11,
  RELAY_FORW: 12,
  RELAY_REPL: 13,
  LEASEQUERY: 14,
  LEASEQUERY_REPLY: 15,
  LEASEQUERY_DONE: 16,
  LEASEQUERY_DATA: 17,
  RECONFIGURE_REQUEST: 18,
  RECONFIGURE_REPLY: 19,
  DHCPV4_QUERY: 20,
  DHCPV4_RESPONSE: 21,
  ACTIVELEASEQUERY: 22,
  STARTTLS: 23,
  BNDUPD: 24,
  BNDREPLY: 25,
  /** Older name of BNDREPLY ("binding acknowledgement"). */
  BNDACK: 25,
  POOLREQ: 26,
  POOLRESP: 27,
  UPDREQ: 28,
  UPDREQALL: 29,
  UPDDONE: 30,
  CONNECT: 31,
  CONNECTREPLY: 32,
  /** Older name of CONNECTREPLY ("connect acknowledgement"). */
  CONNECTACK: 32,
  DISCONNECT: 33,
  STATE: 34,
  CONTACT: 35,
} as const;

/** Relay message types: 34-octet relay header. */
export type RelayMsgType = 12 | 13;

/** Failover message types (RFC 8156 §5.3): 8-octet header with sent-time. */
export type FailoverMsgType = 24 | 25 | 26 | 27 | 28 | 29 | 30 | 31 | 32 | 33 | 34 | 35;

/** True for the failover message types 24–35 (8-octet header). */
export function isFailoverMsgType(msgType: number): msgType is FailoverMsgType {
  return msgType >= 24 && msgType <= 35;
}

/** True for RELAY-FORW (12) and RELAY-REPL (13) (34-octet header). */
export function isRelayMsgType(msgType: number): msgType is RelayMsgType {
  return msgType === 12 || msgType === 13;
}

// ---------------------------------------------------------------------------------------
// Option codes
// ---------------------------------------------------------------------------------------

/**
 * DHCPv6 option codes (IANA names without the `OPTION_` prefix).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findOption, OptionCode, stateOptions } from "@failover6/failover6";
 *
 * const options = stateOptions({ serverState: 2, flags: 0, startTimeOfState: 800000000 });
 * assert.equal(findOption(options, OptionCode.F_SERVER_STATE)?.serverState, 2);
 * ```
 */
export const OptionCode = {
  CLIENTID: 1,
  SERVERID: 2,
  IA_NA: 3,
  IA_TA: 4,
  IAADDR: 5,
  ORO: 6,
  PREFERENCE: 7,
  ELAPSED_TIME: 8,
  RELAY_MSG: 9,
  AUTH: 11,
  UNICAST: 12,
  STATUS_CODE: 13,
  RAPID_COMMIT: 14,
  USER_CLASS: 15,
  VENDOR_CLASS: 16,
  VENDOR_OPTS: 17,
  INTERFACE_ID: 18,
  RECONF_MSG: 19,
  RECONF_ACCEPT: 20,
  SIP_SERVER_D: 21,
  SIP_SERVER_A: 22,
  DNS_SERVERS: 23,
  DOMAIN_LIST: 24,
  IA_PD: 25,
  IAPREFIX: 26,
  NIS_SERVERS: 27,
  NISP_SERVERS: 28,
  NIS_DOMAIN_NAME: 29,
  NISP_DOMAIN_NAME: 30,
  SNTP_SERVERS: 31,
  INFORMATION_REFRESH_TIME: 32,
  REMOTE_ID: 37,
  SUBSCRIBER_ID: 38,
  CLIENT_FQDN: 39,
  ERO: 43,
  LQ_QUERY: 44,
  CLIENT_DATA: 45,
  CLT_TIME: 46,
  LQ_RELAY_DATA: 47,
  LQ_CLIENT_LINK: 48,
  RELAY_ID: 53,
  NTP_SERVER: 56,
  VSS: 68,
  CLIENT_LINKLAYER_ADDR: 79,
  SOL_MAX_RT: 82,
  INF_MAX_RT: 83,
  LQ_BASE_TIME: 100,
  LQ_START_TIME: 101,
  LQ_END_TIME: 102,
  F_BINDING_STATUS: 114,
  F_CONNECT_FLAGS: 115,
  F_DNS_REMOVAL_INFO: 116,
  F_DNS_HOST_NAME: 117,
  F_DNS_ZONE_NAME: 118,
  F_DNS_FLAGS: 119,
  F_EXPIRATION_TIME: 120,
  F_MAX_UNACKED_BNDUPD: 121,
  F_MCLT: 122,
  F_PARTNER_LIFETIME: 123,
  F_PARTNER_LIFETIME_SENT: 124,
  F_PARTNER_DOWN_TIME: 125,
  F_PARTNER_RAW_CLT_TIME: 126,
  F_PROTOCOL_VERSION: 127,
  F_KEEPALIVE_TIME: 128,
  F_RECONFIGURE_DATA: 129,
  F_RELATIONSHIP_NAME: 130,
  F_SERVER_FLAGS: 131,
  F_SERVER_STATE: 132,
  F_START_TIME_OF_STATE: 133,
  F_STATE_EXPIRATION_TIME: 134,
} as const;

// ---------------------------------------------------------------------------------------
// Enumerations carried in options
// ---------------------------------------------------------------------------------------

/**
 * OPTION_STATUS_CODE values 0–22 (RFC 8415, 5007, 5460, 7653, 8156 §5.6).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StatusCode, statusCode } from "@failover6/failover6";
 *
 * const rejection = statusCode(StatusCode.OutdatedBindingInformation, "the local record is newer");
 * assert.equal(rejection.statusCode, 19);
 * ```
 */
export const StatusCode = {
  Success: 0,
  UnspecFail: 1,
  NoAddrsAvail: 2,
  NoBinding: 3,
  NotOnLink: 4,
  UseMulticast: 5,
  NoPrefixAvail: 6,
  UnknownQueryType: 7,
  MalformedQuery: 8,
  NotConfigured: 9,
  NotAllowed: 10,
  QueryTerminated: 11,
  DataMissing: 12,
  CatchUpComplete: 13,
  NotSupported: 14,
  TLSConnectionRefused: 15,
  AddressInUse: 16,
  ConfigurationConflict: 17,
  MissingBindingInformation: 18,
  OutdatedBindingInformation: 19,
  ServerShuttingDown: 20,
  DNSUpdateNotSupported: 21,
  ExcessiveTimeSkew: 22,
} as const;

/** A status code value (0–22 known; others are carried through unchanged). */
export type StatusCodeValue = number;

/**
 * Failover endpoint states, the OPTION_F_SERVER_STATE codes (RFC 8156 §5.5.16, §8).
 * STARTUP (1) is never sent as a state: it travels as the STARTUP server flag.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FailoverState, stateOptions } from "@failover6/failover6";
 *
 * const options = stateOptions({
 *   serverState: FailoverState.PARTNER_DOWN,
 *   flags: 0,
 *   startTimeOfState: 800000000,
 *   partnerDownTime: 800000000,
 * });
 * assert.equal(options.length, 4);
 * ```
 */
export const FailoverState = {
  STARTUP: 1,
  NORMAL: 2,
  COMMUNICATIONS_INTERRUPTED: 3,
  PARTNER_DOWN: 4,
  POTENTIAL_CONFLICT: 5,
  RECOVER: 6,
  RECOVER_WAIT: 7,
  RECOVER_DONE: 8,
  RESOLUTION_INTERRUPTED: 9,
  CONFLICT_DONE: 10,
} as const;

/** One of the ten failover endpoint state codes. */
export type FailoverStateValue = (typeof FailoverState)[keyof typeof FailoverState];

/**
 * Binding-status values of OPTION_F_BINDING_STATUS (RFC 8156 §5.5.1; 0 is reserved).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BindingStatus, bindingStatus } from "@failover6/failover6";
 *
 * assert.deepEqual(bindingStatus(BindingStatus.ACTIVE), { code: 114, bindingStatus: 1 });
 * ```
 */
export const BindingStatus = {
  ACTIVE: 1,
  EXPIRED: 2,
  RELEASED: 3,
  PENDING_FREE: 4,
  FREE: 5,
  FREE_BACKUP: 6,
  ABANDONED: 7,
  RESET: 8,
} as const;

/** One of the eight binding-status codes. */
export type BindingStatusValue = (typeof BindingStatus)[keyof typeof BindingStatus];

/**
 * DUID types (RFC 8415 §11, RFC 6355).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DuidType } from "@failover6/failover6";
 *
 * // A DUID-LL starts with its 2-octet type, then the hardware type and the MAC address.
 * const duid = new Uint8Array([0, DuidType.LL, 0, 1, 2, 0, 0, 0, 0, 1]);
 * assert.equal((duid[0] << 8) | duid[1], 3);
 * ```
 */
export const DuidType = {
  LLT: 1,
  EN: 2,
  LL: 3,
  UUID: 4,
} as const;

/** OPTION_F_SERVER_FLAGS masks (RFC 8156 §5.5.15; bit 7 is the LSB). */
export const ServerFlag = {
  COMMUNICATED: 0x01,
  STARTUP: 0x02,
  ACK_STARTUP: 0x04,
} as const;

/** OPTION_F_CONNECT_FLAGS masks (RFC 8156 §5.5.2). */
export const ConnectFlag = {
  FIXED_PD_LENGTH: 0x0001,
} as const;

/** OPTION_F_DNS_FLAGS masks (RFC 8156 §5.5.6). */
export const DnsFlag = {
  FWD_UPTODATE: 0x0001,
  REV_UPTODATE: 0x0002,
  SYNTHESIZED_NAME: 0x0004,
  USING_REQUESTED_FQDN: 0x0008,
} as const;

/** OPTION_CLIENT_FQDN flag masks (RFC 4704 §4.1). */
export const FqdnFlag = {
  S: 0x01,
  O: 0x02,
  N: 0x04,
} as const;

// ---------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------

/** RFC 8415 HOP_COUNT_LIMIT. */
export const HOP_COUNT_LIMIT = 8;
/** TCP port of the failover connection (RFC 8156 §5.1). */
export const FAILOVER_PORT = 647;
/** Largest message a 2-octet message-size prefix can carry (RFC 5460 §5.1). */
export const MAX_FRAMED_MESSAGE = 65535;
/** Failover protocol version defined by RFC 8156: major 1, minor 0. */
export const PROTOCOL_VERSION = { major: 1, minor: 0 } as const;
/** Lifetime value meaning "infinity" (RFC 8415 §7.7). */
export const INFINITY = 0xffffffff;

// ---------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------

/** A client/server message (RFC 8415 §8): msg-type, 24-bit transaction-id, options. */
export interface ClientServerMessage {
  /** Discriminant. */
  kind: "client-server";
  /** Any type except 12, 13 and 24–35 (STARTTLS 23 and its REPLY 7 included). */
  msgType: number;
  /** 24-bit transaction-id. */
  transactionId: number;
  /** The options, in wire order. */
  options: DhcpOption[];
}

/** A relay message (RFC 8415 §9): RELAY-FORW or RELAY-REPL, 34-octet header. */
export interface RelayMessage {
  /** Discriminant. */
  kind: "relay";
  /** RELAY-FORW (12) or RELAY-REPL (13). */
  msgType: RelayMsgType;
  /** Number of relays that have relayed this message (0–255). */
  hopCount: number;
  /** RFC 5952 text. */
  linkAddress: string;
  /** RFC 5952 text. */
  peerAddress: string;
  /** The options, in wire order (the relayed message is in RELAY_MSG). */
  options: DhcpOption[];
}

/** A failover message (RFC 8156 §5.2): msg-type, 24-bit transaction-id, sent-time, options. */
export interface FailoverMessage {
  /** Discriminant. */
  kind: "failover";
  /** One of the failover message types 24-35. */
  msgType: FailoverMsgType;
  /** 24-bit transaction-id. */
  transactionId: number;
  /** Absolute time of transmission, seconds since 2000-01-01 (mod 2^32). */
  sentTime: number;
  /** The options, in wire order. */
  options: DhcpOption[];
}

/** Any decoded message; `kind` follows from `msgType`. */
export type Message = ClientServerMessage | RelayMessage | FailoverMessage;

// ---------------------------------------------------------------------------------------
// Options: typed forms
// ---------------------------------------------------------------------------------------

/** OPTION_CLIENTID (1). */
export interface ClientIdOption {
  /** Option code 1. */
  code: 1;
  /** The DUID octets (opaque; compare for equality). Parse with `parseDuid`. */
  duid: Uint8Array;
}
/** OPTION_SERVERID (2). */
export interface ServerIdOption {
  /** Option code 2. */
  code: 2;
  /** The server's DUID octets. */
  duid: Uint8Array;
}
/** OPTION_IA_NA (3). */
export interface IaNaOption {
  /** Option code 3. */
  code: 3;
  /** Identity association identifier (IAID). */
  iaid: number;
  /** T1, seconds. */
  t1: number;
  /** T2, seconds. */
  t2: number;
  /** Encapsulated options, in wire order. */
  options: DhcpOption[];
}
/** OPTION_IA_TA (4). */
export interface IaTaOption {
  /** Option code 4. */
  code: 4;
  /** Identity association identifier (IAID). */
  iaid: number;
  /** Encapsulated options, in wire order. */
  options: DhcpOption[];
}
/** OPTION_IAADDR (5). */
export interface IaAddrOption {
  /** Option code 5. */
  code: 5;
  /** The address, RFC 5952 text. */
  address: string;
  /** Preferred lifetime, seconds. */
  preferredLifetime: number;
  /** Valid lifetime, seconds. */
  validLifetime: number;
  /** Encapsulated options, in wire order. */
  options: DhcpOption[];
}
/** OPTION_ORO (6). */
export interface OroOption {
  /** Option code 6. */
  code: 6;
  /** The option codes the client asks for. */
  requestedOptions: number[];
}
/** OPTION_PREFERENCE (7). */
export interface PreferenceOption {
  /** Option code 7. */
  code: 7;
  /** Server preference, 0-255. */
  preference: number;
}
/** OPTION_ELAPSED_TIME (8), hundredths of a second. */
export interface ElapsedTimeOption {
  /** Option code 8. */
  code: 8;
  /** Time since the client began the exchange, hundredths of a second. */
  elapsedTime: number;
}
/** OPTION_RELAY_MSG (9). */
export interface RelayMsgOption {
  /** Option code 9. */
  code: 9;
  /** The relayed message. */
  message: Message;
}
/** OPTION_UNICAST (12). */
export interface UnicastOption {
  /** Option code 12. */
  code: 12;
  /** The address clients may unicast to, RFC 5952 text. */
  serverAddress: string;
}
/** OPTION_STATUS_CODE (13). */
export interface StatusCodeOption {
  /** Option code 13. */
  code: 13;
  /** The status code (see `StatusCode`). */
  statusCode: StatusCodeValue;
  /** UTF-8 text, not NUL-terminated; may be empty. */
  statusMessage: string;
  /**
   * Set by the decoder only when the octets are not valid UTF-8 (`statusMessage` then has
   * U+FFFD in their place); the encoder writes these octets instead of `statusMessage`.
   */
  statusMessageOctets?: Uint8Array;
}
/** OPTION_RAPID_COMMIT (14), no data. */
export interface RapidCommitOption {
  /** Option code 14. */
  code: 14;
}
/** OPTION_INTERFACE_ID (18). */
export interface InterfaceIdOption {
  /** Option code 18. */
  code: 18;
  /** The relay's opaque interface-id. */
  interfaceId: Uint8Array;
}
/** OPTION_RECONF_MSG (19). */
export interface ReconfMsgOption {
  /** Option code 19. */
  code: 19;
  /** The message type the client should send (RENEW, REBIND or INFORMATION-REQUEST). */
  reconfMsgType: number;
}
/** OPTION_RECONF_ACCEPT (20), no data. */
export interface ReconfAcceptOption {
  /** Option code 20. */
  code: 20;
}
/** OPTION_DNS_SERVERS (23). */
export interface DnsServersOption {
  /** Option code 23. */
  code: 23;
  /** DNS recursive name servers, RFC 5952 text. */
  dnsServers: string[];
}
/**
 * OPTION_DOMAIN_LIST (24): fully qualified names without the trailing dot. Label octets
 * outside `!`..`~`, and `.` and `\` inside a label, are written as `\DDD` (RFC 1035 §5.1).
 */
export interface DomainListOption {
  /** Option code 24. */
  code: 24;
  /** Domain search list, names without trailing dot. */
  domains: string[];
}
/** OPTION_IA_PD (25). */
export interface IaPdOption {
  /** Option code 25. */
  code: 25;
  /** Identity association identifier (IAID). */
  iaid: number;
  /** T1, seconds. */
  t1: number;
  /** T2, seconds. */
  t2: number;
  /** Encapsulated options, in wire order. */
  options: DhcpOption[];
}
/** OPTION_IAPREFIX (26). */
export interface IaPrefixOption {
  /** Option code 26. */
  code: 26;
  /** Preferred lifetime, seconds. */
  preferredLifetime: number;
  /** Valid lifetime, seconds. */
  validLifetime: number;
  /** Prefix length in bits. */
  prefixLength: number;
  /** The prefix, RFC 5952 text. */
  prefix: string;
  /** Encapsulated options, in wire order. */
  options: DhcpOption[];
}
/** OPTION_INFORMATION_REFRESH_TIME (32), seconds. */
export interface InformationRefreshTimeOption {
  /** Option code 32. */
  code: 32;
  /** Seconds until the client should refresh its configuration. */
  informationRefreshTime: number;
}
/** OPTION_CLIENT_FQDN (39) (RFC 4704). */
export interface ClientFqdnOption {
  /** Option code 39. */
  code: 39;
  /** N/O/S flags, see `FqdnFlag`. */
  flags: number;
  /** Name without trailing dot (escaped as in DOMAIN_LIST); `""` for no name. */
  domainName: string;
  /** True for a partial name (no terminating root label on the wire). */
  partial?: boolean;
}
/** OPTION_CLIENT_DATA (45): a container. */
export interface ClientDataOption {
  /** Option code 45. */
  code: 45;
  /** Encapsulated options, in wire order. */
  options: DhcpOption[];
}
/** OPTION_CLT_TIME (46): seconds since the last client transaction (relative). */
export interface CltTimeOption {
  /** Option code 46. */
  code: 46;
  /** Seconds since the client last talked to the server (client-last-transaction-time). */
  cltTime: number;
}
/** OPTION_LQ_RELAY_DATA (47): peer address plus the last relayed message. */
export interface LqRelayDataOption {
  /** Option code 47. */
  code: 47;
  /** The peer-address of the relay message, RFC 5952 text. */
  peerAddress: string;
  /** The relay message last received from the client. */
  message: Message;
}
/** OPTION_VSS (68) (RFC 6607). */
export interface VssOption {
  /** Option code 68. */
  code: 68;
  /** VSS type (255 = the global default VPN). */
  vssType: number;
  /** VSS information octets. */
  vssInfo: Uint8Array;
}
/** OPTION_SOL_MAX_RT (82), seconds. */
export interface SolMaxRtOption {
  /** Option code 82. */
  code: 82;
  /** SOL_MAX_RT, seconds. */
  solMaxRt: number;
}
/** OPTION_INF_MAX_RT (83), seconds. */
export interface InfMaxRtOption {
  /** Option code 83. */
  code: 83;
  /** INF_MAX_RT, seconds. */
  infMaxRt: number;
}
/** OPTION_LQ_BASE_TIME (100): absolute time. */
export interface LqBaseTimeOption {
  /** Option code 100. */
  code: 100;
  /** Absolute time the relative times of the message count from. */
  baseTime: number;
}
/** OPTION_F_BINDING_STATUS (114). */
export interface BindingStatusOption {
  /** Option code 114. */
  code: 114;
  /** The binding-status code (see `BindingStatus`). */
  bindingStatus: number;
}
/** OPTION_F_CONNECT_FLAGS (115): see `ConnectFlag`. */
export interface ConnectFlagsOption {
  /** Option code 115. */
  code: 115;
  /** Flag bits, see `ConnectFlag`. */
  flags: number;
}
/** OPTION_F_DNS_REMOVAL_INFO (116): container of 117, 118, 119. */
export interface DnsRemovalInfoOption {
  /** Option code 116. */
  code: 116;
  /** Encapsulated options, in wire order. */
  options: DhcpOption[];
}
/** OPTION_F_DNS_HOST_NAME (117): DNS wire-format name, rendered as for CLIENT_FQDN. */
export interface DnsHostNameOption {
  /** Option code 117. */
  code: 117;
  /** The host name, without trailing dot. */
  hostName: string;
  /** True for a partial name (no terminating root label on the wire). */
  partial?: boolean;
}
/** OPTION_F_DNS_ZONE_NAME (118). */
export interface DnsZoneNameOption {
  /** Option code 118. */
  code: 118;
  /** The zone name, without trailing dot. */
  zoneName: string;
  /** True for a partial name (no terminating root label on the wire). */
  partial?: boolean;
}
/** OPTION_F_DNS_FLAGS (119): see `DnsFlag`. */
export interface DnsFlagsOption {
  /** Option code 119. */
  code: 119;
  /** Flag bits, see `DnsFlag`. */
  flags: number;
}
/** OPTION_F_EXPIRATION_TIME (120): absolute. */
export interface ExpirationTimeOption {
  /** Option code 120. */
  code: 120;
  /** Absolute time: the greatest lifetime the sender has acked to its partner for this lease. */
  expirationTime: number;
}
/** OPTION_F_MAX_UNACKED_BNDUPD (121). */
export interface MaxUnackedBndupdOption {
  /** Option code 121. */
  code: 121;
  /** How many BNDUPDs the sender accepts unacknowledged. */
  maxUnackedBndupd: number;
}
/** OPTION_F_MCLT (122): seconds. */
export interface MCLTOption {
  /** Option code 122. */
  code: 122;
  /** Maximum client lead time, seconds. */
  mclt: number;
}
/** OPTION_F_PARTNER_LIFETIME (123): absolute. */
export interface PartnerLifetimeOption {
  /** Option code 123. */
  code: 123;
  /** Absolute time: the partner may consider the lease expired after it. */
  partnerLifetime: number;
}
/** OPTION_F_PARTNER_LIFETIME_SENT (124): absolute. */
export interface PartnerLifetimeSentOption {
  /** Option code 124. */
  code: 124;
  /** Absolute time: an exact echo of the received partner lifetime (BNDREPLY). */
  partnerLifetimeSent: number;
}
/** OPTION_F_PARTNER_DOWN_TIME (125): absolute. */
export interface PartnerDownTimeOption {
  /** Option code 125. */
  code: 125;
  /** Absolute time the sender entered PARTNER-DOWN. */
  partnerDownTime: number;
}
/** OPTION_F_PARTNER_RAW_CLT_TIME (126): absolute. */
export interface PartnerRawCltTimeOption {
  /** Option code 126. */
  code: 126;
  /** Absolute time the sender's partner last talked to the client. */
  partnerRawCltTime: number;
}
/** OPTION_F_PROTOCOL_VERSION (127). */
export interface ProtocolVersionOption {
  /** Option code 127. */
  code: 127;
  /** Major version (1 for RFC 8156). */
  majorVersion: number;
  /** Minor version (0 for RFC 8156). */
  minorVersion: number;
}
/** OPTION_F_KEEPALIVE_TIME (128): seconds. */
export interface KeepaliveTimeOption {
  /** Option code 128. */
  code: 128;
  /** FO_KEEPALIVE_TIME of the sender, seconds. */
  keepaliveTime: number;
}
/** OPTION_F_RECONFIGURE_DATA (129). */
export interface ReconfigureDataOption {
  /** Option code 129. */
  code: 129;
  /** Absolute time the key was created. */
  reconfigureTime: number;
  /** The reconfigure key octets. */
  reconfigureKey: Uint8Array;
}
/** OPTION_F_RELATIONSHIP_NAME (130): UTF-8. */
export interface RelationshipNameOption {
  /** Option code 130. */
  code: 130;
  /** The failover relationship name. */
  relationshipName: string;
  /** As `StatusCodeOption.statusMessageOctets`: only for octets that are not valid UTF-8. */
  relationshipNameOctets?: Uint8Array;
}
/** OPTION_F_SERVER_FLAGS (131): see `ServerFlag`. */
export interface ServerFlagsOption {
  /** Option code 131. */
  code: 131;
  /** Flag bits, see `ServerFlag`. */
  flags: number;
}
/** OPTION_F_SERVER_STATE (132): see `FailoverState`. */
export interface ServerStateOption {
  /** Option code 132. */
  code: 132;
  /** The endpoint state code (see `FailoverState`). */
  serverState: number;
}
/** OPTION_F_START_TIME_OF_STATE (133): absolute. */
export interface StartTimeOfStateOption {
  /** Option code 133. */
  code: 133;
  /** Absolute time the state (endpoint or binding) began. */
  startTimeOfState: number;
}
/** OPTION_F_STATE_EXPIRATION_TIME (134): absolute. */
export interface StateExpirationTimeOption {
  /** Option code 134. */
  code: 134;
  /** Absolute time the binding's state expires. */
  stateExpirationTime: number;
}

/** Every option with a typed form, discriminated on `code`. */
export type KnownOption =
  | ClientIdOption
  | ServerIdOption
  | IaNaOption
  | IaTaOption
  | IaAddrOption
  | OroOption
  | PreferenceOption
  | ElapsedTimeOption
  | RelayMsgOption
  | UnicastOption
  | StatusCodeOption
  | RapidCommitOption
  | InterfaceIdOption
  | ReconfMsgOption
  | ReconfAcceptOption
  | DnsServersOption
  | DomainListOption
  | IaPdOption
  | IaPrefixOption
  | InformationRefreshTimeOption
  | ClientFqdnOption
  | ClientDataOption
  | CltTimeOption
  | LqRelayDataOption
  | VssOption
  | SolMaxRtOption
  | InfMaxRtOption
  | LqBaseTimeOption
  | BindingStatusOption
  | ConnectFlagsOption
  | DnsRemovalInfoOption
  | DnsHostNameOption
  | DnsZoneNameOption
  | DnsFlagsOption
  | ExpirationTimeOption
  | MaxUnackedBndupdOption
  | MCLTOption
  | PartnerLifetimeOption
  | PartnerLifetimeSentOption
  | PartnerDownTimeOption
  | PartnerRawCltTimeOption
  | ProtocolVersionOption
  | KeepaliveTimeOption
  | ReconfigureDataOption
  | RelationshipNameOption
  | ServerFlagsOption
  | ServerStateOption
  | StartTimeOfStateOption
  | StateExpirationTimeOption;

/** The option codes that have a typed form. */
export type KnownOptionCode = KnownOption["code"];

/** The typed option for code `C`. */
export type OptionOf<C extends KnownOptionCode> = Extract<KnownOption, { code: C }>;

/** Options that carry nested `options`. */
export type ContainerOption = Extract<KnownOption, { options: DhcpOption[] }>;

/**
 * An option kept as raw octets: a code with no typed form, or an option not decoded
 * because a nesting limit was reached. Encoded back as `code`, `data.length`, `data`.
 */
export interface RawOption {
  /** The option code. */
  code: number;
  /** Marks an option kept as octets (unknown code or nesting limit). */
  raw: true;
  /** The option data octets. */
  data: Uint8Array;
}

/**
 * An option whose octets do not fit its format, kept in place so decoding can go on and
 * the message re-encodes byte for byte. Encoded back as `code`, `length`, `data`.
 */
export interface MalformedOption {
  /** The option code. */
  code: number;
  /** Marks an option whose data does not fit its format. */
  malformed: true;
  /** The option-len found on the wire (may exceed `data.length` on overrun). */
  length: number;
  /** The option data octets actually present. */
  data: Uint8Array;
  /** Set on overrun: octets that were left in the container. */
  availableLength?: number;
  /** Set when shorter than the fixed part of the option. */
  minimumLength?: number;
  /** Set when a fixed-size option has another size. */
  expectedLength?: number;
  /** Set when the option was cut by the capture (snaplen), with the octets captured. */
  truncated?: boolean;
  /** With `truncated`: octets of the option data the capture holds. */
  capturedLength?: number;
}

/** A decoded option: typed, raw, or malformed. */
export type DhcpOption = KnownOption | RawOption | MalformedOption;

// ---------------------------------------------------------------------------------------
// DUIDs (parsed view; options carry the raw octets)
// ---------------------------------------------------------------------------------------

/** DUID-LLT (1). */
export interface DuidLlt {
  /** DUID-LLT (1). */
  type: 1;
  /** Hardware type (IANA ARP hardware type, 1 = Ethernet). */
  hwType: number;
  /** Seconds since 2000-01-01 (mod 2^32). */
  time: number;
  /** Link-layer address octets. */
  linkLayerAddress: Uint8Array;
}
/** DUID-EN (2). */
export interface DuidEn {
  /** DUID-EN (2). */
  type: 2;
  /** IANA private enterprise number. */
  enterpriseNumber: number;
  /** Vendor-assigned identifier octets. */
  identifier: Uint8Array;
}
/** DUID-LL (3). */
export interface DuidLl {
  /** DUID-LL (3). */
  type: 3;
  /** Hardware type (IANA ARP hardware type, 1 = Ethernet). */
  hwType: number;
  /** Link-layer address octets. */
  linkLayerAddress: Uint8Array;
}
/** DUID-UUID (4). */
export interface DuidUuid {
  /** DUID-UUID (4). */
  type: 4;
  /** Lower-case 8-4-4-4-12 text. */
  uuid: string;
}
/** A DUID of unknown type, or too short for its type. */
export interface DuidOther {
  /** The type code, or undefined if fewer than 2 octets. */
  type?: number;
  /** The octets after the type code (all octets when there is no type). */
  identifier: Uint8Array;
  /** Marks a DUID that is not one of the known types. */
  other: true;
}
/** Parsed view of a DUID. */
export type Duid = DuidLlt | DuidEn | DuidLl | DuidUuid | DuidOther;
