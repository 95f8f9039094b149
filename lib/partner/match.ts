/**
 * Matchers on decoded messages. A message is looked at in its JSON form (`messageToJson` of
 * lib/wire, the shape `failover6 decode --json` prints) plus `bytes` (the whole message in hex).
 *
 * Paths are dot-separated: `msgName`, `transactionId`, `options.OPTION_F_MCLT.mclt`. A segment
 * that names an option (`OPTION_IA_NA`, `IA_NA`, `ia-na`) selects the first option of that name
 * in the current `options` list (`IA_NA[1]` the second); `options.` may be left out before an
 * option name. `[n]` also indexes plain lists.
 *
 * A matcher is a value (equality; `null` = absent) or a mapping of operators, all of which must
 * hold: `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `in`, `notIn`, `present`, `matches` (regex),
 * `near` with `tolerance` (default 5).
 *
 * @module
 */

import { optionCodeOf } from "./names.ts";
import { optionName } from "../wire/names.ts";

/** The result of resolving a path. */
export type Resolved = { found: true; value: unknown } | { found: false; at: string };

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Splits `a.b[2].c` into segments with optional indexes. */
function segments(path: string): { name: string; index?: number }[] {
  const out: { name: string; index?: number }[] = [];
  for (const part of path.split(".")) {
    const m = /^([^\[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) {
      out.push({ name: part });
      continue;
    }
    const idx = [...m[2].matchAll(/\[(\d+)\]/g)].map((x) => Number(x[1]));
    if (m[1] !== "") out.push({ name: m[1], index: idx[0] });
    else if (idx.length > 0) out.push({ name: "", index: idx[0] });
    for (const i of idx.slice(1)) out.push({ name: "", index: i });
  }
  return out;
}

function optionNameOf(seg: string): string | undefined {
  if (/^\d+$/.test(seg)) return undefined;
  const code = optionCodeOf(seg);
  return code === undefined ? undefined : optionName(code);
}

/** Resolves a dot path on a JSON value. */
export function resolvePath(root: unknown, path: string): Resolved {
  let cur: unknown = root;
  let walked = "";
  for (const seg of segments(path)) {
    const here = walked === "" ? seg.name : `${walked}.${seg.name}`;
    if (seg.name === "") {
      if (!Array.isArray(cur) || seg.index === undefined || seg.index >= cur.length) {
        return { found: false, at: `${walked}[${seg.index}]` };
      }
      cur = cur[seg.index];
      walked = `${walked}[${seg.index}]`;
      continue;
    }
    let next: unknown = undefined;
    let found = false;
    if (isObj(cur) && seg.name in cur) {
      next = cur[seg.name];
      found = true;
      if (seg.index !== undefined) {
        if (!Array.isArray(next) || seg.index >= next.length) return { found: false, at: here };
        next = next[seg.index];
      }
    } else {
      const list = Array.isArray(cur)
        ? cur
        : isObj(cur) && Array.isArray(cur.options)
        ? cur.options
        : undefined;
      const name = optionNameOf(seg.name);
      if (list && name) {
        const hits = list.filter((o) => isObj(o) && o.name === name);
        const i = seg.index ?? 0;
        if (i < hits.length) {
          next = hits[i];
          found = true;
        }
      }
    }
    if (!found) return { found: false, at: here };
    cur = next;
    walked = here + (seg.index !== undefined ? `[${seg.index}]` : "");
  }
  return { found: true, value: cur };
}

const OPERATORS = new Set([
  "eq",
  "ne",
  "lt",
  "le",
  "gt",
  "ge",
  "in",
  "notIn",
  "present",
  "matches",
  "near",
  "tolerance",
]);

/** True if `m` is an operator mapping (every key an operator). */
function isOperatorMap(m: unknown): m is Record<string, unknown> {
  return isObj(m) && Object.keys(m).length > 0 && Object.keys(m).every((k) => OPERATORS.has(k));
}

function same(a: unknown, b: unknown): boolean {
  if (typeof a === "number" && typeof b === "string" && /^-?\d+(\.\d+)?$/.test(b)) {
    return a === Number(b);
  }
  if (typeof b === "number" && typeof a === "string" && /^-?\d+(\.\d+)?$/.test(a)) {
    return b === Number(a);
  }
  if (typeof a === "string" && typeof b === "string") {
    // Names compare loosely: PARTNER-DOWN = partner_down; hex ignores case.
    const n = (s: string) => s.toUpperCase().replaceAll("_", "-");
    return a === b || n(a) === n(b);
  }
  return JSON.stringify(a) === JSON.stringify(b);
}

function num(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  return undefined;
}

function show(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v) ?? String(v);
}

/** Checks one matcher against a resolved value; returns a reason on failure. */
export function checkMatcher(r: Resolved, matcher: unknown): string | undefined {
  if (!isOperatorMap(matcher)) {
    if (matcher === null) return r.found ? `is ${show(r.value)}, expected absent` : undefined;
    if (!r.found) return `is absent (nothing at ${r.at}), expected ${show(matcher)}`;
    return same(r.value, matcher) ? undefined : `is ${show(r.value)}, expected ${show(matcher)}`;
  }
  const m = matcher;
  if (m.present !== undefined) {
    if (m.present === true && !r.found) return `is absent (nothing at ${r.at})`;
    if (m.present === false && r.found) return `is present (${show(r.value)}), expected absent`;
    if (m.present === false) return undefined;
  }
  const opKeys = Object.keys(m).filter((k) => k !== "present" && k !== "tolerance");
  if (opKeys.length === 0) return undefined;
  if (!r.found) return `is absent (nothing at ${r.at})`;
  const v = r.value;
  for (const op of opKeys) {
    const want = m[op];
    let ok: boolean;
    switch (op) {
      case "eq":
        ok = same(v, want);
        break;
      case "ne":
        ok = !same(v, want);
        break;
      case "lt":
      case "le":
      case "gt":
      case "ge": {
        const a = num(v);
        const b = num(want);
        if (a === undefined || b === undefined) {
          return `is ${show(v)}, not comparable with ${show(want)}`;
        }
        ok = op === "lt" ? a < b : op === "le" ? a <= b : op === "gt" ? a > b : a >= b;
        break;
      }
      case "in":
      case "notIn": {
        if (!Array.isArray(want)) return `${op} needs a list`;
        const hit = want.some((w) => same(v, w));
        ok = op === "in" ? hit : !hit;
        break;
      }
      case "matches":
        try {
          ok = new RegExp(String(want)).test(typeof v === "string" ? v : JSON.stringify(v));
        } catch {
          return `matches: bad regular expression ${show(want)}`;
        }
        break;
      case "near": {
        const a = num(v);
        const b = num(want);
        const tol = num(m.tolerance ?? 5) ?? 5;
        if (a === undefined || b === undefined) {
          return `is ${show(v)}, not comparable with ${show(want)}`;
        }
        ok = Math.abs(a - b) <= tol;
        if (!ok) return `is ${show(v)}, expected ${show(want)} ± ${tol}`;
        break;
      }
      default:
        ok = true;
    }
    if (!ok) return `is ${show(v)}, expected ${op} ${show(want)}`;
  }
  return undefined;
}

/** Checks every `path: matcher` pair; returns one reason per failure (`path is …`). */
export function matchAll(root: unknown, matchers: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [path, matcher] of Object.entries(matchers)) {
    const why = checkMatcher(resolvePath(root, path), matcher);
    if (why) out.push(`${path} ${why}`);
  }
  return out;
}
