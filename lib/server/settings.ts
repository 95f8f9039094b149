/**
 * The server's view of the configuration, compiled once from the validated `lib/config`
 * {@linkcode Config}: link selectors as sets, pools with their sizes, reservations indexed by
 * DUID and by address, reply options already in wire form, plus the few knobs that are the
 * server's own (Server Unicast address, preference, Renew creating bindings, the hold time of
 * declined addresses, the IA limit).
 *
 * @module
 */

import type {
  AddressPool,
  Config,
  DelegablePrefix,
  DhcpOptions,
  Lifetimes,
  RenewTime,
  Subnet,
} from "../config/types.ts";
import { formatIPv6, parseIPv6, type Prefix } from "../util/ipv6.ts";
import { encodeOption } from "../wire/encode.ts";
import { hexToBytes } from "../wire/bytes.ts";
import { type DhcpOption, INFINITY } from "../wire/types.ts";

/** Knobs of the server core that are not (yet) in the YAML configuration. */
export interface ServerOptions {
  /**
   * Address sent in the Server Unicast option (RFC 8415 §21.12). When set, clients may unicast
   * Request, Renew, Release, Decline and Information-request to it and those are served.
   */
  serverUnicast?: string;
  /** OPTION_PREFERENCE (0–255) put in every Advertise; absent: none sent. */
  preference?: number;
  /**
   * Whether a Renew (and, with Rapid Commit allowed, a Rebind) for an IA the server has no
   * binding for gets a new lease (default true) instead of NoBinding (RFC 8415 §18.3.4).
   */
  renewCreates?: boolean;
  /** Seconds a declined (ABANDONED) address is held before it is reset; 0 = forever (default 86400). */
  abandonedHoldSeconds?: number;
  /** Option codes sent even when the client's ORO does not ask for them (default none). */
  alwaysSend?: readonly number[];
  /** IA_NA (and separately IA_PD) options served per message; more get NoAddrsAvail (default 8). */
  maxIasPerType?: number;
}

/** An address pool ready for allocation. */
export interface PoolSettings {
  /** Pool name (the `pool` column of the leases it hands out). */
  name: string;
  /** First address. */
  start: bigint;
  /** Last address (inclusive). */
  end: bigint;
  /** Number of addresses. */
  size: bigint;
}

/** A delegable prefix ready for allocation. */
export interface PrefixPoolSettings {
  /** Pool name. */
  name: string;
  /** The delegable prefix. */
  prefix: Prefix;
  /** Length of each delegated prefix. */
  delegatedLength: number;
  /** Number of delegable prefixes, 2^(delegatedLength - prefix.length). */
  count: bigint;
}

/** The reservations of one client DUID in one subnet. */
export interface ClientReservations {
  /** Reserved addresses, in file order. */
  addresses: bigint[];
  /** Reserved delegated prefixes, in file order. */
  prefixes: Prefix[];
}

/** One subnet, compiled. */
export interface SubnetSettings {
  /** Subnet name. */
  name: string;
  /** The link prefix (on-link test of Confirm, link selection by source/link-address). */
  prefix: Prefix;
  /** Relay link-address values (canonical text) that select this subnet. */
  linkAddresses: ReadonlySet<string>;
  /** Interfaces whose direct traffic selects this subnet. */
  interfaces: ReadonlySet<string>;
  /** Interface-ID values (lower-case hex) that select this subnet. */
  interfaceIds: ReadonlySet<string>;
  /** Address pools. */
  pools: PoolSettings[];
  /** Delegable prefixes. */
  prefixPools: PrefixPoolSettings[];
  /** Reservations by client DUID (lower-case hex). */
  reservations: ReadonlyMap<string, ClientReservations>;
  /** Reserved address -> the DUID it is reserved for. */
  reservedAddresses: ReadonlyMap<bigint, string>;
  /** Reserved prefix (`addr/len`, canonical) -> the DUID it is reserved for. */
  reservedPrefixes: ReadonlyMap<string, string>;
  /** Lifetimes and T1/T2. */
  lifetimes: Lifetimes;
  /** Options this subnet may send, in wire form, by code. */
  options: ReadonlyMap<number, DhcpOption>;
  /** Whether Rapid Commit is allowed. */
  rapidCommit: boolean;
  /** Failover relationship owning the subnet, `null` when none. */
  relationship: string | null;
}

/** Everything the handler needs to know about the configuration. */
export interface ServerSettings {
  /** Subnets in file order. */
  subnets: SubnetSettings[];
  /** Options for messages served without a subnet (Information-request from an unknown link). */
  defaultOptions: ReadonlyMap<number, DhcpOption>;
  /** Server Unicast address (canonical), if any. */
  serverUnicast?: string;
  /** Preference sent in Advertise, if any. */
  preference?: number;
  /** See {@linkcode ServerOptions.renewCreates}. */
  renewCreates: boolean;
  /** See {@linkcode ServerOptions.abandonedHoldSeconds}. */
  abandonedHoldSeconds: number;
  /** See {@linkcode ServerOptions.alwaysSend}. */
  alwaysSend: ReadonlySet<number>;
  /** See {@linkcode ServerOptions.maxIasPerType}. */
  maxIasPerType: number;
}

/**
 * A configuration the server core cannot use; `path` names the place in the configuration.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileSettings, defaultConfig, SettingsError } from "@failover6/failover6";
 *
 * assert.throws(
 *   () => compileSettings(defaultConfig(), { preference: 300 }),
 *   (e) => e instanceof SettingsError && e.path === "preference",
 * );
 * ```
 */
export class SettingsError extends Error {
  /** Always `"SettingsError"`. */
  override name = "SettingsError";
  /** Where, e.g. `subnets[0].options.raw[1]`. */
  readonly path: string;
  /**
   * Creates the error.
   *
   * @param path where
   * @param message what (one line)
   */
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.path = path;
  }
}

/**
 * Option codes the server builds itself; a configured raw option may not use them
 * (identifiers, IAs, ORO, relay, status, rapid commit, reconfigure message; the same list
 * as `lib/config` minus DNS servers and domain list, which the server takes in any form).
 */
export const SERVER_MANAGED_OPTIONS: ReadonlySet<number> = new Set([
  1,
  2,
  3,
  4,
  5,
  6,
  9,
  13,
  14,
  18,
  19,
  25,
  26,
]);

/** Compiles the options of one scope into wire options keyed by code. */
export function compileOptions(options: DhcpOptions, path: string): Map<number, DhcpOption> {
  const out = new Map<number, DhcpOption>();
  const put = (o: DhcpOption, where: string) => {
    try {
      encodeOption(o);
    } catch (e) {
      throw new SettingsError(where, `cannot be encoded: ${e instanceof Error ? e.message : e}`);
    }
    out.set(o.code, o);
  };
  if (options.dnsServers.length > 0) {
    const servers = options.dnsServers.map((s, i) => {
      const a = parseIPv6(s);
      if (a === undefined) {
        throw new SettingsError(`${path}.dnsServers[${i}]`, "not an IPv6 address");
      }
      return formatIPv6(a);
    });
    put({ code: 23, dnsServers: servers }, `${path}.dnsServers`);
  }
  if (options.domainSearch.length > 0) {
    put({ code: 24, domains: [...options.domainSearch] }, `${path}.domainSearch`);
  }
  options.raw.forEach((r, i) => {
    const where = `${path}.raw[${i}]`;
    if (!Number.isInteger(r.code) || r.code < 1 || r.code > 65535) {
      throw new SettingsError(where, `option code ${r.code} is not 1-65535`);
    }
    if (SERVER_MANAGED_OPTIONS.has(r.code)) {
      throw new SettingsError(where, `option ${r.code} is built by the server, not configurable`);
    }
    const data = hexToBytes(r.hex.replace(/[:\s]/g, ""));
    if (data === undefined) throw new SettingsError(where, "hex is not whole octets of hex");
    if (data.length > 65535) throw new SettingsError(where, "option data longer than 65535 octets");
    put({ code: r.code, raw: true, data }, where);
  });
  return out;
}

function compilePool(p: AddressPool, where: string): PoolSettings {
  if (p.end < p.start) throw new SettingsError(where, "end is before start");
  return { name: p.name, start: p.start, end: p.end, size: p.end - p.start + 1n };
}

function compilePrefixPool(p: DelegablePrefix, where: string): PrefixPoolSettings {
  if (p.delegatedLength < p.prefix.length || p.delegatedLength > 128) {
    throw new SettingsError(
      where,
      `delegated length ${p.delegatedLength} does not fit ${p.prefix.length}`,
    );
  }
  return {
    name: p.name,
    prefix: p.prefix,
    delegatedLength: p.delegatedLength,
    count: 1n << BigInt(p.delegatedLength - p.prefix.length),
  };
}

/** Canonical `addr/len` text of a prefix, the key of {@linkcode SubnetSettings.reservedPrefixes}. */
export function prefixKey(address: bigint, length: number): string {
  return `${formatIPv6(address)}/${length}`;
}

function compileSubnet(s: Subnet, i: number): SubnetSettings {
  const where = `subnets[${i}]`;
  const reservations = new Map<string, ClientReservations>();
  const reservedAddresses = new Map<bigint, string>();
  const reservedPrefixes = new Map<string, string>();
  s.reservations.forEach((r, j) => {
    const duid = r.duid.replace(/[:-]/g, "").toLowerCase();
    let entry = reservations.get(duid);
    if (!entry) reservations.set(duid, entry = { addresses: [], prefixes: [] });
    if (r.address !== null) {
      const a = parseIPv6(r.address);
      if (a === undefined) {
        throw new SettingsError(`${where}.reservations[${j}].address`, "not an IPv6 address");
      }
      const other = reservedAddresses.get(a);
      if (other !== undefined && other !== duid) {
        throw new SettingsError(`${where}.reservations[${j}].address`, "reserved twice");
      }
      reservedAddresses.set(a, duid);
      entry.addresses.push(a);
    }
    if (r.prefix !== null) {
      const k = prefixKey(r.prefix.address, r.prefix.length);
      const other = reservedPrefixes.get(k);
      if (other !== undefined && other !== duid) {
        throw new SettingsError(`${where}.reservations[${j}].prefix`, "reserved twice");
      }
      reservedPrefixes.set(k, duid);
      entry.prefixes.push(r.prefix);
    }
  });
  const lifetimes = s.lifetimes;
  if (lifetimes.preferred > lifetimes.valid) {
    throw new SettingsError(`${where}.lifetimes`, "preferred lifetime is longer than valid");
  }
  return {
    name: s.name,
    prefix: s.prefix,
    linkAddresses: new Set(s.link.linkAddresses.map((a) => {
      const v = parseIPv6(a);
      if (v === undefined) {
        throw new SettingsError(`${where}.link.linkAddresses`, `bad address ${a}`);
      }
      return formatIPv6(v);
    })),
    interfaces: new Set(s.link.interfaces),
    interfaceIds: new Set(s.link.interfaceIds.map((h) => h.replace(/[:\s]/g, "").toLowerCase())),
    pools: s.pools.map((p, j) => compilePool(p, `${where}.pools[${j}]`)),
    prefixPools: s.prefixes.map((p, j) => compilePrefixPool(p, `${where}.prefixes[${j}]`)),
    reservations,
    reservedAddresses,
    reservedPrefixes,
    lifetimes,
    options: compileOptions(s.options, `${where}.options`),
    rapidCommit: s.rapidCommit,
    relationship: s.relationship,
  };
}

/**
 * Compiles the validated configuration (only `defaults` and `subnets` are read) and the
 * server's own knobs. Throws {@linkcode SettingsError} for what the server cannot use.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileSettings, defaultConfig } from "@failover6/failover6";
 *
 * const settings = compileSettings(defaultConfig(), { preference: 255 });
 * assert.equal(settings.subnets.length, 1);
 * assert.equal(settings.preference, 255);
 * ```
 */
export function compileSettings(
  config: Pick<Config, "defaults" | "subnets">,
  options: ServerOptions = {},
): ServerSettings {
  let serverUnicast: string | undefined;
  if (options.serverUnicast !== undefined) {
    const a = parseIPv6(options.serverUnicast);
    if (a === undefined) throw new SettingsError("serverUnicast", "not an IPv6 address");
    serverUnicast = formatIPv6(a);
  }
  const pref = options.preference;
  if (pref !== undefined && (!Number.isInteger(pref) || pref < 0 || pref > 255)) {
    throw new SettingsError("preference", "must be 0-255");
  }
  const hold = options.abandonedHoldSeconds ?? 86400;
  if (!Number.isInteger(hold) || hold < 0) {
    throw new SettingsError("abandonedHoldSeconds", "must be a whole number of seconds");
  }
  const maxIas = options.maxIasPerType ?? 8;
  if (!Number.isInteger(maxIas) || maxIas < 1) {
    throw new SettingsError("maxIasPerType", "must be a positive integer");
  }
  return {
    subnets: config.subnets.map(compileSubnet),
    defaultOptions: compileOptions(config.defaults.options, "defaults.options"),
    serverUnicast,
    preference: pref,
    renewCreates: options.renewCreates ?? true,
    abandonedHoldSeconds: hold,
    alwaysSend: new Set(options.alwaysSend ?? []),
    maxIasPerType: maxIas,
  };
}

function renewValue(t: RenewTime, shortestPreferred: number): number {
  if (t.kind === "seconds") return Math.min(Math.max(0, Math.floor(t.value)), INFINITY);
  if (shortestPreferred === INFINITY) return INFINITY;
  return Math.min(Math.floor(t.value * shortestPreferred), INFINITY);
}

/**
 * T1 and T2 for a reply whose shortest non-zero preferred lifetime is `shortestPreferred`
 * (RFC 8415 §21.4, §21.21: 0.5 and 0.8 of it unless configured otherwise). `undefined`
 * (nothing granted) gives 0 and 0. T1 never exceeds T2.
 */
export function renewTimes(
  lifetimes: Pick<Lifetimes, "t1" | "t2">,
  shortestPreferred: number | undefined,
): { t1: number; t2: number } {
  if (shortestPreferred === undefined) return { t1: 0, t2: 0 };
  const t2 = renewValue(lifetimes.t2, shortestPreferred);
  const t1 = Math.min(renewValue(lifetimes.t1, shortestPreferred), t2);
  return { t1, t2 };
}
