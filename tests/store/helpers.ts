/** Shared builders for the store tests. */
import { emptyLease } from "../../lib/store/lease.ts";
import type { BindingStatus, Lease } from "../../lib/store/types.ts";
import { formatIPv6, parseIPv6 } from "../../lib/util/ipv6.ts";

const BASE_NA = parseIPv6("2001:db8::")!;
const BASE_PD = parseIPv6("2001:db8:1000::")!;

/** The i-th test address lease (2001:db8::<i>), ACTIVE for client <i % 7>. */
export function naLease(i: number, over: Partial<Lease> = {}): Lease {
  return {
    ...emptyLease({ kind: "na", address: formatIPv6(BASE_NA + BigInt(i)) }, "ACTIVE"),
    clientDuid: duid(i % 7),
    iaid: i % 3,
    preferredLifetime: 1800,
    validLifetime: 3600,
    expirationTime: 1_700_000_000_000 + i * 1000,
    cltTime: 1_700_000_000_000,
    startTimeOfState: 1_700_000_000_000,
    owner: (i & 1) === 1 ? "primary" : "secondary",
    relationship: i % 2 === 0 ? "pair-a" : "pair-b",
    pool: `pool-${i % 3}`,
    ...over,
  };
}

/** The i-th test delegated prefix (2001:db8:1000:<i>00::/56). */
export function pdLease(
  i: number,
  status: BindingStatus = "FREE",
  over: Partial<Lease> = {},
): Lease {
  return {
    ...emptyLease(
      { kind: "pd", address: formatIPv6(BASE_PD + (BigInt(i) << 72n)), prefixLength: 56 },
      status,
    ),
    owner: "primary",
    pool: "pd",
    ...over,
  };
}

/** A DUID-LL (type 3, hwtype 1) with a MAC ending in `n`. */
export function duid(n: number): string {
  return `00030001020000${(n & 0xffff).toString(16).padStart(4, "0")}00`;
}

/** A fresh temporary directory, removed by the returned function. */
export function tempDir(): { dir: string; remove: () => void } {
  const dir = Deno.makeTempDirSync({ prefix: "failover6-store-" });
  return { dir, remove: () => Deno.removeSync(dir, { recursive: true }) };
}
