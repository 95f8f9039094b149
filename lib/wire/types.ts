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

/** DHCPv6 message types (RFC 8415 §7.3, RFC 5007, 5460, 6977, 7341, 7653, 8156 §5.3). */
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

/** DHCPv6 option codes (IANA names without the `OPTION_` prefix). */
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

/** OPTION_STATUS_CODE values 0–22 (RFC 8415, 5007, 5460, 7653, 8156 §5.6). */
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

/** Binding-status values of OPTION_F_BINDING_STATUS (RFC 8156 §5.5.1; 0 is reserved). */
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

/** DUID types (RFC 8415 §11, RFC 6355). */
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
  kind: "client-server";
  /** Any type except 12, 13 and 24–35 (STARTTLS 23 and its REPLY 7 included). */
  msgType: number;
  /** 24-bit transaction-id. */
  transactionId: number;
  options: DhcpOption[];
}

/** A relay message (RFC 8415 §9): RELAY-FORW or RELAY-REPL, 34-octet header. */
export interface RelayMessage {
  kind: "relay";
  msgType: RelayMsgType;
  /** Number of relays that have relayed this message (0–255). */
  hopCount: number;
  /** RFC 5952 text. */
  linkAddress: string;
  /** RFC 5952 text. */
  peerAddress: string;
  options: DhcpOption[];
}

/** A failover message (RFC 8156 §5.2): msg-type, 24-bit transaction-id, sent-time, options. */
export interface FailoverMessage {
  kind: "failover";
  msgType: FailoverMsgType;
  /** 24-bit transaction-id. */
  transactionId: number;
  /** Absolute time of transmission, seconds since 2000-01-01 (mod 2^32). */
  sentTime: number;
  options: DhcpOption[];
}

/** Any decoded message; `kind` follows from `msgType`. */
export type Message = ClientServerMessage | RelayMessage | FailoverMessage;

// ---------------------------------------------------------------------------------------
// Options: typed forms
// ---------------------------------------------------------------------------------------

/** OPTION_CLIENTID (1). */
export interface ClientIdOption {
  code: 1;
  /** The DUID octets (opaque; compare for equality). Parse with `parseDuid`. */
  duid: Uint8Array;
}
/** OPTION_SERVERID (2). */
export interface ServerIdOption {
  code: 2;
  duid: Uint8Array;
}
/** OPTION_IA_NA (3). */
export interface IaNaOption {
  code: 3;
  iaid: number;
  t1: number;
  t2: number;
  options: DhcpOption[];
}
/** OPTION_IA_TA (4). */
export interface IaTaOption {
  code: 4;
  iaid: number;
  options: DhcpOption[];
}
/** OPTION_IAADDR (5). */
export interface IaAddrOption {
  code: 5;
  address: string;
  preferredLifetime: number;
  validLifetime: number;
  options: DhcpOption[];
}
/** OPTION_ORO (6). */
export interface OroOption {
  code: 6;
  requestedOptions: number[];
}
/** OPTION_PREFERENCE (7). */
export interface PreferenceOption {
  code: 7;
  preference: number;
}
/** OPTION_ELAPSED_TIME (8), hundredths of a second. */
export interface ElapsedTimeOption {
  code: 8;
  elapsedTime: number;
}
/** OPTION_RELAY_MSG (9). */
export interface RelayMsgOption {
  code: 9;
  message: Message;
}
/** OPTION_UNICAST (12). */
export interface UnicastOption {
  code: 12;
  serverAddress: string;
}
/** OPTION_STATUS_CODE (13). */
export interface StatusCodeOption {
  code: 13;
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
  code: 14;
}
/** OPTION_INTERFACE_ID (18). */
export interface InterfaceIdOption {
  code: 18;
  interfaceId: Uint8Array;
}
/** OPTION_RECONF_MSG (19). */
export interface ReconfMsgOption {
  code: 19;
  reconfMsgType: number;
}
/** OPTION_RECONF_ACCEPT (20), no data. */
export interface ReconfAcceptOption {
  code: 20;
}
/** OPTION_DNS_SERVERS (23). */
export interface DnsServersOption {
  code: 23;
  dnsServers: string[];
}
/**
 * OPTION_DOMAIN_LIST (24): fully qualified names without the trailing dot. Label octets
 * outside `!`..`~`, and `.` and `\` inside a label, are written as `\DDD` (RFC 1035 §5.1).
 */
export interface DomainListOption {
  code: 24;
  domains: string[];
}
/** OPTION_IA_PD (25). */
export interface IaPdOption {
  code: 25;
  iaid: number;
  t1: number;
  t2: number;
  options: DhcpOption[];
}
/** OPTION_IAPREFIX (26). */
export interface IaPrefixOption {
  code: 26;
  preferredLifetime: number;
  validLifetime: number;
  prefixLength: number;
  prefix: string;
  options: DhcpOption[];
}
/** OPTION_INFORMATION_REFRESH_TIME (32), seconds. */
export interface InformationRefreshTimeOption {
  code: 32;
  informationRefreshTime: number;
}
/** OPTION_CLIENT_FQDN (39) (RFC 4704). */
export interface ClientFqdnOption {
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
  code: 45;
  options: DhcpOption[];
}
/** OPTION_CLT_TIME (46): seconds since the last client transaction (relative). */
export interface CltTimeOption {
  code: 46;
  cltTime: number;
}
/** OPTION_LQ_RELAY_DATA (47): peer address plus the last relayed message. */
export interface LqRelayDataOption {
  code: 47;
  peerAddress: string;
  message: Message;
}
/** OPTION_VSS (68) (RFC 6607). */
export interface VssOption {
  code: 68;
  vssType: number;
  vssInfo: Uint8Array;
}
/** OPTION_SOL_MAX_RT (82), seconds. */
export interface SolMaxRtOption {
  code: 82;
  solMaxRt: number;
}
/** OPTION_INF_MAX_RT (83), seconds. */
export interface InfMaxRtOption {
  code: 83;
  infMaxRt: number;
}
/** OPTION_LQ_BASE_TIME (100): absolute time. */
export interface LqBaseTimeOption {
  code: 100;
  baseTime: number;
}
/** OPTION_F_BINDING_STATUS (114). */
export interface BindingStatusOption {
  code: 114;
  bindingStatus: number;
}
/** OPTION_F_CONNECT_FLAGS (115): see `ConnectFlag`. */
export interface ConnectFlagsOption {
  code: 115;
  flags: number;
}
/** OPTION_F_DNS_REMOVAL_INFO (116): container of 117, 118, 119. */
export interface DnsRemovalInfoOption {
  code: 116;
  options: DhcpOption[];
}
/** OPTION_F_DNS_HOST_NAME (117): DNS wire-format name, rendered as for CLIENT_FQDN. */
export interface DnsHostNameOption {
  code: 117;
  hostName: string;
  partial?: boolean;
}
/** OPTION_F_DNS_ZONE_NAME (118). */
export interface DnsZoneNameOption {
  code: 118;
  zoneName: string;
  partial?: boolean;
}
/** OPTION_F_DNS_FLAGS (119): see `DnsFlag`. */
export interface DnsFlagsOption {
  code: 119;
  flags: number;
}
/** OPTION_F_EXPIRATION_TIME (120): absolute. */
export interface ExpirationTimeOption {
  code: 120;
  expirationTime: number;
}
/** OPTION_F_MAX_UNACKED_BNDUPD (121). */
export interface MaxUnackedBndupdOption {
  code: 121;
  maxUnackedBndupd: number;
}
/** OPTION_F_MCLT (122): seconds. */
export interface MCLTOption {
  code: 122;
  mclt: number;
}
/** OPTION_F_PARTNER_LIFETIME (123): absolute. */
export interface PartnerLifetimeOption {
  code: 123;
  partnerLifetime: number;
}
/** OPTION_F_PARTNER_LIFETIME_SENT (124): absolute. */
export interface PartnerLifetimeSentOption {
  code: 124;
  partnerLifetimeSent: number;
}
/** OPTION_F_PARTNER_DOWN_TIME (125): absolute. */
export interface PartnerDownTimeOption {
  code: 125;
  partnerDownTime: number;
}
/** OPTION_F_PARTNER_RAW_CLT_TIME (126): absolute. */
export interface PartnerRawCltTimeOption {
  code: 126;
  partnerRawCltTime: number;
}
/** OPTION_F_PROTOCOL_VERSION (127). */
export interface ProtocolVersionOption {
  code: 127;
  majorVersion: number;
  minorVersion: number;
}
/** OPTION_F_KEEPALIVE_TIME (128): seconds. */
export interface KeepaliveTimeOption {
  code: 128;
  keepaliveTime: number;
}
/** OPTION_F_RECONFIGURE_DATA (129). */
export interface ReconfigureDataOption {
  code: 129;
  /** Absolute time the key was created. */
  reconfigureTime: number;
  reconfigureKey: Uint8Array;
}
/** OPTION_F_RELATIONSHIP_NAME (130): UTF-8. */
export interface RelationshipNameOption {
  code: 130;
  relationshipName: string;
  /** As `StatusCodeOption.statusMessageOctets`: only for octets that are not valid UTF-8. */
  relationshipNameOctets?: Uint8Array;
}
/** OPTION_F_SERVER_FLAGS (131): see `ServerFlag`. */
export interface ServerFlagsOption {
  code: 131;
  flags: number;
}
/** OPTION_F_SERVER_STATE (132): see `FailoverState`. */
export interface ServerStateOption {
  code: 132;
  serverState: number;
}
/** OPTION_F_START_TIME_OF_STATE (133): absolute. */
export interface StartTimeOfStateOption {
  code: 133;
  startTimeOfState: number;
}
/** OPTION_F_STATE_EXPIRATION_TIME (134): absolute. */
export interface StateExpirationTimeOption {
  code: 134;
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
  code: number;
  raw: true;
  data: Uint8Array;
}

/**
 * An option whose octets do not fit its format, kept in place so decoding can go on and
 * the message re-encodes byte for byte. Encoded back as `code`, `length`, `data`.
 */
export interface MalformedOption {
  code: number;
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
  capturedLength?: number;
}

/** A decoded option: typed, raw, or malformed. */
export type DhcpOption = KnownOption | RawOption | MalformedOption;

// ---------------------------------------------------------------------------------------
// DUIDs (parsed view; options carry the raw octets)
// ---------------------------------------------------------------------------------------

/** DUID-LLT (1). */
export interface DuidLlt {
  type: 1;
  hwType: number;
  /** Seconds since 2000-01-01 (mod 2^32). */
  time: number;
  linkLayerAddress: Uint8Array;
}
/** DUID-EN (2). */
export interface DuidEn {
  type: 2;
  enterpriseNumber: number;
  identifier: Uint8Array;
}
/** DUID-LL (3). */
export interface DuidLl {
  type: 3;
  hwType: number;
  linkLayerAddress: Uint8Array;
}
/** DUID-UUID (4). */
export interface DuidUuid {
  type: 4;
  /** Lower-case 8-4-4-4-12 text. */
  uuid: string;
}
/** A DUID of unknown type, or too short for its type. */
export interface DuidOther {
  /** The type code, or undefined if fewer than 2 octets. */
  type?: number;
  identifier: Uint8Array;
  other: true;
}
/** Parsed view of a DUID. */
export type Duid = DuidLlt | DuidEn | DuidLl | DuidUuid | DuidOther;
