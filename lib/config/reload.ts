/**
 * What a configuration reload (SIGHUP, `POST /v1/reload`) may change in a running server, as
 * a pure function of the running configuration and the newly read one.
 *
 * Applied at once: subnets (link selection, pools, delegable prefixes, reservations,
 * lifetimes, options, rapid commit), the top-level defaults, and logging. Kept until a
 * restart: `listen`, `control`, `leaseDatabase`, `server.duid` / `server.duidFile` and the
 * `failover` relationships. The failover engines captured the subnets of their relationships
 * (BNDUPD scope, pool balancing, lifetime limits) when they started, so a subnet owned by a
 * relationship only takes new options and rapid commit; the rest of it waits for a restart
 * too.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig, formatChange, planReload } from "./mod.ts";
 *
 * const running = defaultConfig();
 * const next = defaultConfig();
 * next.listen = [{ kind: "unicast", address: "::1", port: 10600 }];
 * next.subnets[0].lifetimes = { ...next.subnets[0].lifetimes, valid: 600, preferred: 300 };
 * const plan = planReload(running, next);
 * assert.deepEqual(plan.applied.map(formatChange), ["subnets[test].lifetimes: changed"]);
 * assert.deepEqual(plan.needsRestart.map(formatChange), ["listen: changed; restart to apply"]);
 * assert.equal(plan.config.listen, running.listen); // the running sockets stay
 * assert.equal(plan.config.subnets[0].lifetimes.valid, 600);
 * ```
 *
 * @module
 */

import type { Config, Subnet } from "./types.ts";

/** One difference between the running and the new configuration. */
export interface ConfigChange {
  /** Where, in the file's words: `listen`, `subnets[lan].pools`, `failover[dc1].mclt`. */
  key: string;
  /** What happened to it. */
  change: "added" | "removed" | "changed";
  /** Whether the server applied it now (`false`: only a restart applies it). */
  applied: boolean;
  /** Why it waits for a restart, when that is not obvious from the key. */
  reason?: string;
}

/** The outcome of {@linkcode planReload}. */
export interface ReloadPlan {
  /**
   * The configuration to run on from now: the new one, with every restart-only value (and
   * each relationship-owned subnet but its options) taken from the running one.
   */
  config: Config;
  /** Changes applied now, in file order. */
  applied: ConfigChange[];
  /** Changes that are ignored until a restart, in file order. */
  needsRestart: ConfigChange[];
}

/** Top-level keys only a restart applies. */
export const RESTART_KEYS: readonly string[] = [
  "server",
  "leaseDatabase",
  "listen",
  "control",
  "failover",
];

/** Subnet fields a relationship-owned subnet takes on reload. */
const OWNED_SUBNET_RELOADABLE: ReadonlySet<keyof Subnet> = new Set(["options", "rapidCommit"]);

/** Top-level keys a reload applies; every other key (including any added later) waits. */
const RELOADABLE_KEYS: ReadonlySet<string> = new Set(["defaults", "subnets", "logging"]);

/** A stable text of a plain value (bigint-aware, key order independent). */
function canonical(v: unknown): string {
  if (typeof v === "bigint") return `${v}n`;
  if (v === undefined) return "undefined";
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  const keys = Object.keys(v).sort();
  return `{${
    keys.map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(",")
  }}`;
}

/**
 * Whether two configuration values are the same (deep, `bigint`-aware, key order ignored).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sameConfigValue } from "./mod.ts";
 *
 * assert.ok(sameConfigValue({ a: 1n, b: [1, 2] }, { b: [1, 2], a: 1n }));
 * assert.ok(!sameConfigValue({ a: 1n }, { a: 1 }));
 * ```
 */
export function sameConfigValue(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

/** `subnets[lan]` style key (names are free text: quote odd ones). */
function named(list: string, name: string): string {
  return /^[A-Za-z0-9_.:\/-]+$/.test(name)
    ? `${list}[${name}]`
    : `${list}[${JSON.stringify(name)}]`;
}

/** The keys of either record but `name`, in the order of `a` then `b`. */
function fieldsOf<T extends object>(a: T, b: T): (keyof T)[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => k !== "name") as (
    keyof T
  )[];
}

/**
 * Field-by-field differences of two lists of named records: one `added`/`removed` per record
 * present on one side only, one `changed` per differing field of a record on both sides.
 */
function diffNamed<T extends { name: string }>(
  list: string,
  before: readonly T[],
  after: readonly T[],
): { key: string; change: ConfigChange["change"]; name: string; field?: keyof T }[] {
  const out: { key: string; change: ConfigChange["change"]; name: string; field?: keyof T }[] = [];
  const old = new Map(before.map((x) => [x.name, x]));
  const seen = new Set<string>();
  for (const x of after) {
    seen.add(x.name);
    const o = old.get(x.name);
    if (o === undefined) {
      out.push({ key: named(list, x.name), change: "added", name: x.name });
      continue;
    }
    for (const f of fieldsOf(o, x)) {
      if (!sameConfigValue(o[f], x[f])) {
        out.push({
          key: `${named(list, x.name)}.${String(f)}`,
          change: "changed",
          name: x.name,
          field: f,
        });
      }
    }
  }
  for (const o of before) {
    if (!seen.has(o.name)) out.push({ key: named(list, o.name), change: "removed", name: o.name });
  }
  return out;
}

/** Field-level differences of two records (`control.port`, `server.duid`). */
function diffFields<T extends object>(prefix: string, a: T, b: T): ConfigChange[] {
  return fieldsOf(a, b).filter((k) => !sameConfigValue(a[k], b[k])).map((k) => ({
    key: `${prefix}.${String(k)}`,
    change: "changed",
    applied: false,
  }));
}

/**
 * Works out what a reload applies. `running` is the configuration the server runs on (the
 * effective one of the previous reload, if any), `next` the newly read and validated one.
 * Pure: nothing is read, nothing is changed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig, formatChange, planReload } from "@failover6/failover6";
 *
 * const running = defaultConfig();
 * const next = defaultConfig();
 * next.logging.level = "debug";
 * next.listen = [];
 * const plan = planReload(running, next);
 * assert.deepEqual(plan.applied.map(formatChange), ["logging.level: changed"]);
 * assert.deepEqual(plan.needsRestart.map(formatChange), ["listen: changed; restart to apply"]);
 * assert.deepEqual(plan.config.listen, running.listen); // kept until a restart
 * ```
 */
export function planReload(running: Config, next: Config): ReloadPlan {
  const restart: ConfigChange[] = [];
  const applied: ConfigChange[] = [];

  // Restart-only keys, in file order.
  restart.push(...diffFields("server", running.server, next.server));
  if (running.leaseDatabase !== next.leaseDatabase) {
    restart.push({ key: "leaseDatabase", change: "changed", applied: false });
  }
  if (!sameConfigValue(running.listen, next.listen)) {
    restart.push({ key: "listen", change: "changed", applied: false });
  }

  // Subnets owned by a running relationship keep everything but their options.
  const owner = new Map<string, string>();
  for (const r of running.failover) for (const s of r.subnets) owner.set(s, r.name);
  const nextOwner = new Map<string, string>();
  for (const r of next.failover) for (const s of r.subnets) nextOwner.set(s, r.name);
  const runningByName = new Map(running.subnets.map((s) => [s.name, s]));
  const nextByName = new Map(next.subnets.map((s) => [s.name, s]));
  /** Why a subnet is (or would become) failover-owned, when it is. */
  const ownedWhy = (name: string): string | undefined => {
    const o = owner.get(name) ?? nextOwner.get(name);
    return o === undefined ? undefined : `owned by failover relationship ${o}`;
  };

  for (const d of diffNamed("subnets", running.subnets, next.subnets)) {
    const why = ownedWhy(d.name);
    const stays = why !== undefined &&
      (d.field === undefined || !OWNED_SUBNET_RELOADABLE.has(d.field) ||
        owner.get(d.name) !== nextOwner.get(d.name));
    if (d.field === "relationship" && !stays) continue; // follows the failover section
    const c: ConfigChange = { key: d.key, change: d.change, applied: !stays };
    if (stays) c.reason = why;
    (stays ? restart : applied).push(c);
  }

  const subnets: Subnet[] = [];
  for (const s of next.subnets) {
    const before = runningByName.get(s.name);
    if (ownedWhy(s.name) === undefined) {
      subnets.push(s);
    } else if (before !== undefined) {
      const sameOwner = owner.get(s.name) === nextOwner.get(s.name);
      subnets.push(
        sameOwner ? { ...before, options: s.options, rapidCommit: s.rapidCommit } : before,
      );
    }
    // a subnet a relationship would newly own is not served until the restart
  }
  for (const s of running.subnets) {
    if (owner.has(s.name) && !nextByName.has(s.name)) subnets.push(s); // kept with its relationship
  }

  for (const d of diffNamed("failover", running.failover, next.failover)) {
    restart.push({ key: d.key, change: d.change, applied: false });
  }
  restart.push(...diffFields("control", running.control, next.control));
  // Keys this module does not know yet are kept as they run, never half-applied.
  const kept: Record<string, unknown> = {};
  for (const k of fieldsOf(running, next) as string[]) {
    if (RELOADABLE_KEYS.has(k) || RESTART_KEYS.includes(k)) continue;
    kept[k] = (running as unknown as Record<string, unknown>)[k];
    const a = (running as unknown as Record<string, unknown>)[k];
    const b = (next as unknown as Record<string, unknown>)[k];
    if (!sameConfigValue(a, b)) restart.push({ key: k, change: "changed", applied: false });
  }

  // `defaults` holds the file's top-level lifetimes, options and rapidCommit.
  const top: ConfigChange[] = fieldsOf(running.defaults, next.defaults)
    .filter((k) => !sameConfigValue(running.defaults[k], next.defaults[k]))
    .map((k) => ({ key: String(k), change: "changed", applied: true }));
  applied.unshift(...top);
  for (const k of fieldsOf(running.logging, next.logging)) {
    if (running.logging[k] !== next.logging[k]) {
      applied.push({ key: `logging.${String(k)}`, change: "changed", applied: true });
    }
  }

  return {
    config: {
      ...next,
      ...kept,
      server: running.server,
      leaseDatabase: running.leaseDatabase,
      listen: running.listen,
      control: running.control,
      failover: running.failover,
      subnets,
    },
    applied,
    needsRestart: restart,
  };
}

/**
 * One line for a change: `subnets[lan].pools: changed`, and for one that waits,
 * `listen: changed; restart to apply` (with its reason when there is one).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatChange } from "@failover6/failover6";
 *
 * assert.equal(formatChange({ key: "subnets[lan].pools", change: "changed", applied: true }),
 *   "subnets[lan].pools: changed");
 * assert.equal(formatChange({ key: "listen", change: "changed", applied: false }),
 *   "listen: changed; restart to apply");
 * ```
 */
export function formatChange(c: ConfigChange): string {
  if (c.applied) return `${c.key}: ${c.change}`;
  return `${c.key}: ${c.change}${c.reason ? ` (${c.reason})` : ""}; restart to apply`;
}
