/**
 * Configurations of a failover pair on loopback for the pair tests: YAML text (for child
 * processes and for `loadConfig`) and validated {@linkcode Config} objects.
 *
 * @module
 */

import { type Config, formatConfigError, loadConfig } from "../../lib/config/mod.ts";
import { compileSettings, type ServerSettings } from "../../lib/server/settings.ts";

/** What differs between the tests' pairs. */
export interface PairYaml {
  /** `primary` or `secondary`. */
  role: "primary" | "secondary";
  /** Directory of the lease database. */
  dir: string;
  /** DHCP UDP port on [::1] (1–65535; in-process tests replace it with 0). */
  udpPort: number;
  /** Control API port on 127.0.0.1. */
  controlPort: number;
  /** The secondary's failover port: where it listens / where the primary connects. */
  failoverPort: number;
  /** MCLT, seconds (primary). */
  mclt?: number;
  /** FO_KEEPALIVE_TIME, seconds. */
  keepalive?: number;
  /** Auto-partner-down seconds, or off. */
  autoPartnerDown?: number | null;
  /** Valid lifetime clients would get without failover, seconds. */
  valid?: number;
  /** Relationship name. */
  relationship?: string;
  /** Subnet /64 of the addresses (four groups), default `fd00:f6:0:0`. */
  subnet?: string;
  /** Delegable prefix, default `fd00:f6:0:100::/56`. */
  delegable?: string;
  /** Log level. */
  level?: "debug" | "info" | "warn";
  /** TLS files (PEM paths) instead of `insecure: true`. */
  tls?: { cert: string; key: string; ca: string };
}

/** One server of a loopback pair as YAML. */
export function pairYaml(p: PairYaml): string {
  const subnet = p.subnet ?? "fd00:f6:0:0";
  const rel = p.relationship ?? "test-pair";
  const apd = p.autoPartnerDown === undefined || p.autoPartnerDown === null
    ? "off"
    : `${p.autoPartnerDown}s`;
  const failover = p.role === "primary"
    ? `    role: primary
    peer: { address: "::1", port: ${p.failoverPort} }
    mclt: ${p.mclt ?? 30}s`
    : `    role: secondary
    peer: { address: "::1" }
    local: { address: "::1", port: ${p.failoverPort} }`;
  return `leaseDatabase: ${p.dir}/leases.db
listen:
  - address: "::1"
    port: ${p.udpPort}
lifetimes:
  preferred: ${Math.floor((p.valid ?? 7200) / 2)}s
  valid: ${p.valid ?? 7200}s
subnets:
  - name: lan
    prefix: ${subnet}::/64
    pools:
      - name: lan-addresses
        range: ${subnet}::1000 - ${subnet}::1fff
    prefixes:
      - name: lan-prefixes
        prefix: ${p.delegable ?? "fd00:f6:0:100::/56"}
        delegatedLength: 64
control:
  address: 127.0.0.1
  port: ${p.controlPort}
  token: pair-test-token-0123456789
logging:
  format: json
  level: ${p.level ?? "info"}
failover:
  - name: ${rel}
${failover}
    keepalive: ${p.keepalive ?? 10}s
    maxUnacked: 16
    autoPartnerDown: ${apd}
${
    p.tls
      ? `    tls: { cert: ${p.tls.cert}, key: ${p.tls.key}, ca: ${p.tls.ca} }`
      : "    insecure: true"
  }
    subnets: [lan]
`;
}

/** Validates YAML text; throws with every error line when invalid. */
export function parseConfig(text: string, name = "<pair test>"): Config {
  const r = loadConfig(text, name);
  if (!r.ok) throw new Error(r.errors.map(formatConfigError).join("\n"));
  return r.config;
}

/**
 * The compiled settings of a primary of a test pair (no sockets are opened: the ports are only
 * written into the configuration), for the tests of the pure failover policy.
 */
export function pairSettings(over: Partial<PairYaml> = {}): ServerSettings {
  return compileSettings(parseConfig(pairYaml({
    role: "primary",
    dir: "/tmp",
    udpPort: 10547,
    controlPort: 10548,
    failoverPort: 10647,
    ...over,
  })));
}
