/**
 * The validated `failover6 serve` configuration, with every default filled in and every
 * inherited value (lifetimes, options, rapid commit) resolved per subnet. Addresses are RFC
 * 5952 text; pool ranges and prefixes also come as `bigint` for arithmetic. Durations are
 * whole seconds.
 *
 * @module
 */

import type { Prefix } from "../util/ipv6.ts";

/** Where the server receives DHCPv6 traffic. */
export type ListenEntry =
  | {
    /** Unicast on a configured address. */
    kind: "unicast";
    /** IPv6 address (RFC 5952). */
    address: string;
    /** UDP port. */
    port: number;
  }
  | {
    /** Multicast All_DHCP_Relay_Agents_and_Servers (ff02::1:2) joined on an interface. */
    kind: "multicast";
    /** Interface name. */
    interface: string;
    /** UDP port (547 unless a test says otherwise). */
    port: number;
  };

/** T1/T2: a fraction of the preferred lifetime, or a fixed number of seconds. */
export type RenewTime =
  | { kind: "fraction"; value: number }
  | { kind: "seconds"; value: number };

/** Lifetimes handed to clients (before any MCLT limit). */
export interface Lifetimes {
  /** Preferred lifetime, seconds. */
  preferred: number;
  /** Valid lifetime, seconds. */
  valid: number;
  /** T1 (renew). */
  t1: RenewTime;
  /** T2 (rebind). */
  t2: RenewTime;
}

/** An option given as code + raw data. */
export interface RawOption {
  /** Option code 1–65535. */
  code: number;
  /** Option data as lower-case hex (may be empty). */
  hex: string;
}

/** Options sent to clients. */
export interface DhcpOptions {
  /** OPTION_DNS_SERVERS (23). */
  dnsServers: string[];
  /** OPTION_DOMAIN_LIST (24), names without the trailing dot. */
  domainSearch: string[];
  /** Any other option, by code. */
  raw: RawOption[];
}

/** How a pool is split between failover partners (RFC 8156 §4.2). */
export type AllocationMode = "independent" | "proportional";

/** A range of addresses to hand out with IA_NA. */
export interface AddressPool {
  /** Pool name (unique in the file; default: its range or prefix text). */
  name: string;
  /** First address. */
  start: bigint;
  /** Last address (inclusive). */
  end: bigint;
  /** Number of addresses. */
  size: bigint;
  /** How the failover relationship that owns the subnet splits it; `null` outside failover. */
  allocation: AllocationMode | null;
}

/** A prefix from which prefixes of one length are delegated with IA_PD. */
export interface DelegablePrefix {
  /** Name (unique in the file; default: the prefix text). */
  name: string;
  /** The delegable prefix. */
  prefix: Prefix;
  /** Length of each delegated prefix. */
  delegatedLength: number;
  /** Failover split, `null` outside failover. */
  allocation: AllocationMode | null;
}

/** A fixed binding for one client DUID. */
export interface Reservation {
  /** Client DUID, lower-case hex. */
  duid: string;
  /** Reserved address (RFC 5952), if any. */
  address: string | null;
  /** Reserved delegated prefix, if any. */
  prefix: Prefix | null;
}

/** How a subnet is chosen for a client message (RFC 8415 §13.1). */
export interface LinkSelection {
  /** Relay link-address values (RFC 5952) that select this subnet. */
  linkAddresses: string[];
  /** Interfaces on which direct (non-relayed) traffic selects this subnet. */
  interfaces: string[];
  /** Interface-ID option values (lower-case hex) that select this subnet. */
  interfaceIds: string[];
}

/** One link's configuration. */
export interface Subnet {
  /** Name (unique; default: the prefix text). */
  name: string;
  /** The link prefix. */
  prefix: Prefix;
  /** Link selection. */
  link: LinkSelection;
  /** Address pools. */
  pools: AddressPool[];
  /** Delegable prefixes. */
  prefixes: DelegablePrefix[];
  /** Reservations by DUID. */
  reservations: Reservation[];
  /** Effective lifetimes (subnet values over the global ones). */
  lifetimes: Lifetimes;
  /** Effective options (subnet values over the global ones; raw options merged by code). */
  options: DhcpOptions;
  /** Whether Rapid Commit is allowed. */
  rapidCommit: boolean;
  /** Name of the failover relationship that owns this subnet, `null` when none. */
  relationship: string | null;
}

/** TLS files of a failover connection. */
export interface TlsFiles {
  /** Certificate chain (PEM). */
  cert: string;
  /** Private key (PEM). */
  key: string;
  /** CA bundle used to verify the partner (PEM). */
  ca: string;
}

/** One failover relationship (RFC 8156). */
export interface Relationship {
  /** Relationship name (unique; sent in CONNECT). */
  name: string;
  /** This server's role. */
  role: "primary" | "secondary";
  /** The partner: a primary connects there; a secondary accepts connections from there. */
  peer: { address: string; port: number };
  /** Local address and port: where a secondary listens / a primary connects from. */
  local: { address: string; port: number };
  /** MCLT in seconds; `null` on a secondary that adopts the primary's from CONNECT. */
  mclt: number | null;
  /** FO_KEEPALIVE_TIME, seconds. */
  keepalive: number;
  /** How long a primary's connection attempt may take before it gives up and retries, seconds. */
  connectTimeout: number;
  /** OPTION_F_MAX_UNACKED_BNDUPD this server advertises. */
  maxUnacked: number;
  /** Auto-partner-down period in seconds, `null` = off. */
  autoPartnerDown: number | null;
  /** TLS files; `null` only when `insecure: true` was written. */
  tls: TlsFiles | null;
  /** Default allocation modes and the secondary's share of proportional pools. */
  allocation: { addresses: AllocationMode; prefixes: AllocationMode; proportion: number };
  /** Names of the subnets this relationship covers. */
  subnets: string[];
}

/** The HTTP JSON control API. */
export interface ControlConfig {
  /** Whether to start it. */
  enabled: boolean;
  /** Bind address (IPv4 or IPv6 text). */
  address: string;
  /** TCP port. */
  port: number;
  /** The bearer token, when given inline. */
  token: string | null;
  /** File holding the token, when given. With neither, serve makes one up at start. */
  tokenFile: string | null;
}

/** Log output. */
export interface LoggingConfig {
  /** `text` lines or JSON lines. */
  format: "text" | "json";
  /** Lowest level written. */
  level: "debug" | "info" | "warn" | "error";
}

/** The whole validated configuration. */
export interface Config {
  /** The server DUID (hex), or a file holding it, or neither: generated once, kept in the
   * lease database. */
  server: { duid: string | null; duidFile: string | null };
  /** Path of the SQLite lease database. */
  leaseDatabase: string;
  /** Sockets. */
  listen: ListenEntry[];
  /** The top-level lifetimes, options and rapid-commit (e.g. for Information-request). */
  defaults: { lifetimes: Lifetimes; options: DhcpOptions; rapidCommit: boolean };
  /** Subnets, in file order. */
  subnets: Subnet[];
  /** Control API. */
  control: ControlConfig;
  /** Logging. */
  logging: LoggingConfig;
  /** Failover relationships. */
  failover: Relationship[];
}
