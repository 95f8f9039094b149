/**
 * Checks that relate several values of a configuration: ranges inside their subnet, overlaps,
 * prefix lengths, reservations, unique names, one owner per subnet, lifetimes that make
 * sense, TLS or an explicit `insecure: true`. Pure: parsed file in, list of issues out.
 *
 * @module
 */

import {
  formatIPv6,
  formatPrefix,
  parseIPv6,
  type Prefix,
  prefixContains,
  prefixContainsPrefix,
  prefixLast,
} from "../util/ipv6.ts";
import { formatPath, type PathSegment } from "./errors.ts";
import { type ConfigFile, MANAGED_OPTION_CODES } from "./schema.ts";
import type { RenewTime } from "./types.ts";

/** One problem, located by its path in the file. */
export interface SemanticIssue {
  /** Where. */
  path: PathSegment[];
  /** What. */
  message: string;
}

/** Built-in values used when the file leaves something out. */
export const DEFAULTS = {
  leaseDatabase: "failover6-leases.db",
  listenPort: 547,
  lifetimes: {
    preferred: 3600,
    valid: 7200,
    t1: { kind: "fraction", value: 0.5 } as RenewTime,
    t2: { kind: "fraction", value: 0.8 } as RenewTime,
  },
  rapidCommit: false,
  control: { address: "127.0.0.1", port: 10548 },
  failoverPort: 647,
  keepalive: 60,
  connectTimeout: 5,
  maxUnacked: 100,
  proportion: 0.5,
} as const;

/** The default name of a subnet: its prefix. */
export function subnetName(s: ConfigFile["subnets"][number]): string {
  return s.name ?? formatPrefix(s.prefix);
}

type PoolFile = NonNullable<ConfigFile["subnets"][number]["pools"]>[number];

/** The address range of a pool as written (range or prefix), if it has exactly one. */
export function poolRange(p: PoolFile): { start: bigint; end: bigint } | undefined {
  if (p.range && !p.prefix) return p.range;
  if (p.prefix && !p.range) return { start: p.prefix.address, end: prefixLast(p.prefix) };
  return undefined;
}

/** The default name of a pool: its range or prefix text. */
export function poolName(p: PoolFile): string {
  if (p.name) return p.name;
  if (p.prefix) return formatPrefix(p.prefix);
  const r = p.range!;
  return `${formatIPv6(r.start)}-${formatIPv6(r.end)}`;
}

function overlaps(a: { start: bigint; end: bigint }, b: { start: bigint; end: bigint }): boolean {
  return a.start <= b.end && b.start <= a.end;
}

function prefixRangeOf(p: Prefix): { start: bigint; end: bigint } {
  return { start: p.address, end: prefixLast(p) };
}

/** T1/T2 in seconds for a preferred lifetime. */
export function renewSeconds(t: RenewTime, preferred: number): number {
  return t.kind === "fraction" ? Math.floor(t.value * preferred) : t.value;
}

/**
 * Every cross-value problem of a parsed file. `lineOf` gives the line of a path, so messages
 * about two places can name the other one's line.
 */
export function checkConfig(
  f: ConfigFile,
  lineOf: (path: PathSegment[]) => number,
): SemanticIssue[] {
  const issues: SemanticIssue[] = [];
  const add = (path: PathSegment[], message: string) => issues.push({ path, message });
  const at = (path: PathSegment[]) => `${formatPath(path)} (line ${lineOf(path)})`;

  // --- server, control, listen ---
  if (f.server?.duid !== undefined && f.server.duidFile !== undefined) {
    add(["server"], "give duid or duidFile, not both");
  }
  if (f.control?.token !== undefined && f.control.tokenFile !== undefined) {
    add(["control"], "give token or tokenFile, not both");
  }
  const listenSeen = new Map<string, PathSegment[]>();
  f.listen.forEach((l, i) => {
    const path: PathSegment[] = ["listen", i];
    if ((l.address === undefined) === (l.interface === undefined)) {
      add(
        path,
        l.address === undefined
          ? "needs an address (unicast) or an interface (multicast ff02::1:2)"
          : "give address or interface, not both (use two entries)",
      );
      return;
    }
    const key = `${l.address ?? `%${l.interface}`} ${l.port ?? DEFAULTS.listenPort}`;
    const prev = listenSeen.get(key);
    if (prev) add(path, `listens on the same socket as ${at(prev)}`);
    else listenSeen.set(key, path);
  });

  // --- lifetimes and options at the top ---
  const top = { ...DEFAULTS.lifetimes, ...stripUndefined(f.lifetimes ?? {}) };
  checkLifetimes(DEFAULTS.lifetimes, stripUndefined(f.lifetimes ?? {}), ["lifetimes"], add);
  checkOptions(f.options, ["options"], add);

  // --- subnets ---
  const subnetNames = new Map<string, PathSegment[]>();
  const poolNames = new Map<string, PathSegment[]>();
  const allPools: { path: PathSegment[]; range: { start: bigint; end: bigint } }[] = [];
  const allDelegable: { path: PathSegment[]; range: { start: bigint; end: bigint } }[] = [];
  const reservedAddresses = new Map<string, PathSegment[]>();
  const reservedPrefixes: { path: PathSegment[]; range: { start: bigint; end: bigint } }[] = [];

  f.subnets.forEach((s, i) => {
    const sp: PathSegment[] = ["subnets", i];
    const nm = subnetName(s);
    const prevName = subnetNames.get(nm);
    if (prevName) {
      add(
        [...sp, s.name ? "name" : "prefix"],
        `subnet name ${nm} is already used by ${at(prevName)}`,
      );
    } else subnetNames.set(nm, sp);
    // overlapping link prefixes
    for (let j = 0; j < i; j++) {
      if (overlaps(prefixRangeOf(s.prefix), prefixRangeOf(f.subnets[j].prefix))) {
        add([...sp, "prefix"], `overlaps the prefix of ${at(["subnets", j, "prefix"])}`);
        break;
      }
    }

    (s.pools ?? []).forEach((p, j) => {
      const pp: PathSegment[] = [...sp, "pools", j];
      if (p.range && p.prefix) return add(pp, "give range or prefix, not both");
      if (!p.range && !p.prefix) return add(pp, "needs a range (start - end) or a prefix");
      const r = poolRange(p)!;
      const field = p.range ? "range" : "prefix";
      if (p.prefix && p.prefix.length < s.prefix.length) {
        add([...pp, "prefix"], `is larger than its subnet ${formatPrefix(s.prefix)}`);
      } else if (!prefixContains(s.prefix, r.start) || !prefixContains(s.prefix, r.end)) {
        add([...pp, field], `is outside its subnet ${formatPrefix(s.prefix)}`);
      }
      const other = allPools.find((o) => overlaps(o.range, r));
      if (other) add([...pp, field], `overlaps ${at(other.path)}`);
      allPools.push({ path: [...pp, field], range: r });
      const pn = poolName(p);
      const prev = poolNames.get(pn);
      if (prev) {
        add([...pp, p.name ? "name" : field], `pool name ${pn} is already used by ${at(prev)}`);
      } else poolNames.set(pn, pp);
    });

    (s.prefixes ?? []).forEach((d, j) => {
      const dp: PathSegment[] = [...sp, "prefixes", j];
      if (d.delegatedLength < d.prefix.length) {
        add(
          [...dp, "delegatedLength"],
          `${d.delegatedLength} is shorter than the delegable prefix /${d.prefix.length}`,
        );
      }
      const r = prefixRangeOf(d.prefix);
      const other = allDelegable.find((o) => overlaps(o.range, r));
      if (other) add([...dp, "prefix"], `overlaps ${at(other.path)}`);
      const link = f.subnets.findIndex((t) => overlaps(prefixRangeOf(t.prefix), r));
      if (link >= 0) {
        add([...dp, "prefix"], `overlaps the link prefix of ${at(["subnets", link, "prefix"])}`);
      }
      allDelegable.push({ path: [...dp, "prefix"], range: r });
      const pn = d.name ?? formatPrefix(d.prefix);
      const prev = poolNames.get(pn);
      if (prev) {
        add([...dp, d.name ? "name" : "prefix"], `pool name ${pn} is already used by ${at(prev)}`);
      } else poolNames.set(pn, dp);
    });

    const duids = new Map<string, PathSegment[]>();
    (s.reservations ?? []).forEach((r, j) => {
      const rp: PathSegment[] = [...sp, "reservations", j];
      if (r.address === undefined && r.prefix === undefined) {
        add(rp, "needs an address, a prefix, or both");
      }
      const prevDuid = duids.get(r.duid);
      if (prevDuid) add([...rp, "duid"], `this DUID is already reserved by ${at(prevDuid)}`);
      else duids.set(r.duid, rp);
      if (r.address !== undefined) {
        const a = parseIPv6(r.address)!; // canonical text of a valid address
        if (!prefixContains(s.prefix, a)) {
          add([...rp, "address"], `is outside its subnet ${formatPrefix(s.prefix)}`);
        }
        const prev = reservedAddresses.get(r.address);
        if (prev) add([...rp, "address"], `is already reserved by ${at(prev)}`);
        else reservedAddresses.set(r.address, [...rp, "address"]);
      }
      if (r.prefix !== undefined) {
        const inside = (s.prefixes ?? []).find((d) => prefixContainsPrefix(d.prefix, r.prefix!));
        if (!inside) {
          add([...rp, "prefix"], `is not inside a delegable prefix of subnet ${nm}`);
        } else if (r.prefix.length !== inside.delegatedLength) {
          add(
            [...rp, "prefix"],
            `has length /${r.prefix.length}, but prefixes from ${formatPrefix(inside.prefix)} ` +
              `are delegated as /${inside.delegatedLength}`,
          );
        }
        const rr = prefixRangeOf(r.prefix);
        const other = reservedPrefixes.find((o) => overlaps(o.range, rr));
        if (other) add([...rp, "prefix"], `overlaps the reservation ${at(other.path)}`);
        reservedPrefixes.push({ path: [...rp, "prefix"], range: rr });
      }
    });

    // lifetimes: subnet values over the top ones (only re-checked when the subnet sets some)
    if (s.lifetimes !== undefined) {
      checkLifetimes(top, stripUndefined(s.lifetimes), [...sp, "lifetimes"], add);
    }
    checkOptions(s.options, [...sp, "options"], add);
  });

  // --- failover relationships ---
  const relNames = new Map<string, PathSegment[]>();
  const owner = new Map<number, { rel: string; path: PathSegment[] }>();
  const peers = new Map<string, PathSegment[]>();
  (f.failover ?? []).forEach((r, i) => {
    const rp: PathSegment[] = ["failover", i];
    const prev = relNames.get(r.name);
    if (prev) add([...rp, "name"], `relationship name ${r.name} is already used by ${at(prev)}`);
    else relNames.set(r.name, [...rp, "name"]);
    if (r.tls !== undefined && r.insecure === true) {
      add([...rp, "insecure"], "give tls or insecure: true, not both");
    } else if (r.tls === undefined && r.insecure !== true) {
      add(rp, "needs tls (cert, key, ca) or an explicit insecure: true (RFC 8156 §10)");
    }
    if (r.role === "primary" && r.mclt === undefined) {
      add(rp, "a primary needs an mclt (the secondary adopts it from CONNECT)");
    }
    // A primary connects to peer address:port; two of its relationships there would be one
    // pair of servers with two relationships (RFC 8156 §6.2). A secondary tells its primaries
    // apart by address and relationship name, so several may share ::1 in tests.
    if (r.role === "primary") {
      const peerKey = `${r.peer.address} ${r.peer.port ?? DEFAULTS.failoverPort}`;
      const prevPeer = peers.get(peerKey);
      if (prevPeer) {
        add(
          [...rp, "peer"],
          `the same partner as ${at(prevPeer)}: one relationship per pair of servers`,
        );
      } else peers.set(peerKey, [...rp, "peer"]);
    }
    const localPort = r.local?.port ?? (r.role === "secondary" ? DEFAULTS.failoverPort : 0);
    const control = f.control;
    if (
      control?.enabled !== false && localPort !== 0 &&
      localPort === (control?.port ?? DEFAULTS.control.port) &&
      (r.local?.address ?? "::") === (control?.address ?? DEFAULTS.control.address)
    ) {
      add([...rp, "local", "port"], `is also the control API port (${localPort})`);
    }
    r.subnets.forEach((ref, j) => {
      const path: PathSegment[] = [...rp, "subnets", j];
      const idx = findSubnet(f, ref);
      if (idx < 0) return add(path, `no subnet is named ${JSON.stringify(ref)}`);
      const o = owner.get(idx);
      if (o) {
        add(
          path,
          `subnet ${subnetName(f.subnets[idx])} is already owned by relationship ${o.rel} at ${
            at(o.path)
          }`,
        );
      } else owner.set(idx, { rel: r.name, path });
    });
  });
  f.subnets.forEach((s, i) => {
    if (owner.has(i)) return;
    (s.pools ?? []).forEach((p, j) => {
      if (p.allocation !== undefined) {
        add(
          ["subnets", i, "pools", j, "allocation"],
          `subnet ${subnetName(s)} is in no failover relationship`,
        );
      }
    });
    (s.prefixes ?? []).forEach((p, j) => {
      if (p.allocation !== undefined) {
        add(
          ["subnets", i, "prefixes", j, "allocation"],
          `subnet ${subnetName(s)} is in no failover relationship`,
        );
      }
    });
  });
  return issues;
}

/** Index of the subnet a relationship refers to by name or by prefix text, or -1. */
export function findSubnet(f: ConfigFile, ref: string): number {
  const byName = f.subnets.findIndex((s) => s.name === ref);
  if (byName >= 0) return byName;
  return f.subnets.findIndex((s) =>
    formatPrefix(s.prefix) === ref.trim().toLowerCase() || subnetName(s) === ref
  );
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

type LifetimesFile = NonNullable<ConfigFile["lifetimes"]>;

/** preferred <= valid and T1 <= T2, blaming a value that `own` sets. */
function checkLifetimes(
  base: Required<LifetimesFile>,
  own: Partial<LifetimesFile>,
  path: PathSegment[],
  add: (path: PathSegment[], message: string) => void,
): void {
  const eff = { ...base, ...own } as Required<LifetimesFile>;
  const blame = (
    a: keyof LifetimesFile,
    b: keyof LifetimesFile,
  ): PathSegment[] => [...path, a in own || !(b in own) ? a : b];
  if (eff.preferred > eff.valid) {
    add(
      blame("preferred", "valid"),
      `the preferred lifetime (${eff.preferred} s) is longer than the valid lifetime (${eff.valid} s)`,
    );
  }
  const t1 = renewSeconds(eff.t1, eff.preferred), t2 = renewSeconds(eff.t2, eff.preferred);
  if (t1 > t2) add(blame("t2", "t1"), `T1 (${t1} s) is after T2 (${t2} s)`);
}

function checkOptions(
  o: ConfigFile["options"],
  path: PathSegment[],
  add: (path: PathSegment[], message: string) => void,
): void {
  const seen = new Map<number, number>();
  (o?.raw ?? []).forEach((r, k) => {
    if (MANAGED_OPTION_CODES.has(r.code)) {
      const hint = r.code === 23 ? "; use dnsServers" : r.code === 24 ? "; use domainSearch" : "";
      add([...path, "raw", k, "code"], `option ${r.code} is built by the server${hint}`);
    }
    if (seen.has(r.code)) {
      add(
        [...path, "raw", k, "code"],
        `option ${r.code} is already given at raw[${seen.get(r.code)}]`,
      );
    } else seen.set(r.code, k);
  });
}
