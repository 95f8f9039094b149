/**
 * Turns a parsed and checked file into a {@linkcode Config}: defaults filled in, subnet
 * lifetimes/options/rapid-commit inherited from the top level, relationship ownership and
 * allocation modes attached to subnets and pools. Pure.
 *
 * @module
 */

import { formatPrefix, rangeSize } from "../util/ipv6.ts";
import type { ConfigFile } from "./schema.ts";
import { DEFAULTS, findSubnet, poolName, poolRange, subnetName } from "./semantic.ts";
import type { Config, DhcpOptions, Lifetimes, Relationship, Subnet } from "./types.ts";

function mergeOptions(base: DhcpOptions, over: ConfigFile["options"]): DhcpOptions {
  const raw = new Map(base.raw.map((r) => [r.code, r]));
  for (const r of over?.raw ?? []) raw.set(r.code, { code: r.code, hex: r.hex });
  return {
    dnsServers: over?.dnsServers ?? base.dnsServers,
    domainSearch: over?.domainSearch ?? base.domainSearch,
    raw: [...raw.values()].sort((a, b) => a.code - b.code),
  };
}

function mergeLifetimes(base: Lifetimes, over: ConfigFile["lifetimes"]): Lifetimes {
  return {
    preferred: over?.preferred ?? base.preferred,
    valid: over?.valid ?? base.valid,
    t1: over?.t1 ?? base.t1,
    t2: over?.t2 ?? base.t2,
  };
}

/** Builds the final configuration from a file that passed `checkConfig` with no issues. */
export function resolveConfig(f: ConfigFile): Config {
  const lifetimes = mergeLifetimes(DEFAULTS.lifetimes, f.lifetimes);
  const options = mergeOptions({ dnsServers: [], domainSearch: [], raw: [] }, f.options);
  const rapidCommit = f.rapidCommit ?? DEFAULTS.rapidCommit;

  const relationships: Relationship[] = (f.failover ?? []).map((r) => ({
    name: r.name,
    role: r.role,
    peer: { address: r.peer.address, port: r.peer.port ?? DEFAULTS.failoverPort },
    local: {
      address: r.local?.address ?? "::",
      port: r.local?.port ?? (r.role === "secondary" ? DEFAULTS.failoverPort : 0),
    },
    mclt: r.mclt ?? null,
    keepalive: r.keepalive ?? DEFAULTS.keepalive,
    connectTimeout: r.connectTimeout ?? DEFAULTS.connectTimeout,
    maxUnacked: r.maxUnacked ?? DEFAULTS.maxUnacked,
    autoPartnerDown: r.autoPartnerDown ?? null,
    tls: r.tls ?? null,
    allocation: {
      addresses: r.allocation?.addresses ?? "independent",
      prefixes: r.allocation?.prefixes ?? "proportional",
      proportion: r.allocation?.proportion ?? DEFAULTS.proportion,
    },
    subnets: r.subnets.map((ref) => subnetName(f.subnets[findSubnet(f, ref)])),
  }));
  const ownerOf = new Map<string, Relationship>();
  for (const r of relationships) for (const s of r.subnets) ownerOf.set(s, r);

  const subnets: Subnet[] = f.subnets.map((s) => {
    const name = subnetName(s);
    const rel = ownerOf.get(name);
    return {
      name,
      prefix: s.prefix,
      link: {
        linkAddresses: s.link?.linkAddresses ?? [],
        interfaces: s.link?.interfaces ?? [],
        interfaceIds: s.link?.interfaceIds ?? [],
      },
      pools: (s.pools ?? []).map((p) => {
        const r = poolRange(p)!;
        return {
          name: poolName(p),
          start: r.start,
          end: r.end,
          size: rangeSize(r),
          allocation: rel ? p.allocation ?? rel.allocation.addresses : null,
        };
      }),
      prefixes: (s.prefixes ?? []).map((d) => ({
        name: d.name ?? formatPrefix(d.prefix),
        prefix: d.prefix,
        delegatedLength: d.delegatedLength,
        allocation: rel ? d.allocation ?? rel.allocation.prefixes : null,
      })),
      reservations: (s.reservations ?? []).map((r) => ({
        duid: r.duid,
        address: r.address ?? null,
        prefix: r.prefix ?? null,
      })),
      lifetimes: mergeLifetimes(lifetimes, s.lifetimes),
      options: mergeOptions(options, s.options),
      rapidCommit: s.rapidCommit ?? rapidCommit,
      relationship: rel?.name ?? null,
    };
  });

  return {
    server: { duid: f.server?.duid ?? null, duidFile: f.server?.duidFile ?? null },
    leaseDatabase: f.leaseDatabase ?? DEFAULTS.leaseDatabase,
    listen: f.listen.map((l) =>
      l.address !== undefined
        ? { kind: "unicast", address: l.address, port: l.port ?? DEFAULTS.listenPort }
        : { kind: "multicast", interface: l.interface!, port: l.port ?? DEFAULTS.listenPort }
    ),
    defaults: { lifetimes, options, rapidCommit },
    subnets,
    control: {
      enabled: f.control?.enabled ?? true,
      address: f.control?.address ?? DEFAULTS.control.address,
      port: f.control?.port ?? DEFAULTS.control.port,
      token: f.control?.token ?? null,
      tokenFile: f.control?.tokenFile ?? null,
    },
    logging: { format: f.logging?.format ?? "text", level: f.logging?.level ?? "info" },
    failover: relationships,
  };
}
