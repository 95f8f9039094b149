/**
 * The embedded default configuration `failover6 serve` runs with when no file is given
 * (issue 5): UDP [::1]:10547, the ULA test subnet fd00:f6::/64 with an address pool and a
 * delegable prefix, the control API on 127.0.0.1:10548, the lease database in the working
 * directory. It is YAML validated by the same loader as any file.
 *
 * @module
 */

import { formatConfigError } from "./errors.ts";
import { loadConfig } from "./load.ts";
import type { Config } from "./types.ts";

/** The name errors and start-up messages use for the embedded default. */
export const DEFAULT_CONFIG_NAME = "<embedded default>";

/** The embedded default configuration, as YAML (also a template for a first file). */
export const DEFAULT_CONFIG_YAML =
  `# failover6 serve: the embedded default configuration (used when no file is given)
leaseDatabase: failover6-leases.db   # in the working directory
listen:
  - address: "::1"
    port: 10547
lifetimes:
  preferred: 1h
  valid: 2h
  t1: 0.5
  t2: 0.8
subnets:
  - name: test
    prefix: fd00:f6::/64               # ULA test subnet
    pools:
      - name: test-addresses
        range: fd00:f6::1000 - fd00:f6::1fff
    prefixes:
      - name: test-prefixes
        prefix: fd00:f6:0:100::/56
        delegatedLength: 64
control:
  address: 127.0.0.1
  port: 10548
logging:
  format: text
  level: info
`;

/**
 * The embedded default, validated.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "@failover6/failover6";
 *
 * const config = defaultConfig();
 * assert.equal(config.subnets[0].name, "test");
 * assert.equal(config.listen.length, 1);
 * ```
 */
export function defaultConfig(): Config {
  const r = loadConfig(DEFAULT_CONFIG_YAML, DEFAULT_CONFIG_NAME);
  if (!r.ok) {
    // the embedded text is tested; reaching this is a bug, not user input
    throw new Error(
      `embedded default configuration is invalid: ${r.errors.map(formatConfigError).join("; ")}`,
    );
  }
  return r.config;
}
