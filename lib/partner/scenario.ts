/**
 * Loading scenario files: YAML parsed with line numbers, checked with zod, turned into
 * {@linkcode Scenario} values. Every error is a {@linkcode ScenarioError} naming the file, the
 * line and the field path (`steps[3].expect`), never a stack trace.
 *
 * A file holds one scenario (a mapping with `name` and `steps`) or several (`scenarios: [...]`).
 * Each step is a mapping with exactly one action key (`send`, `expect`, `expect-none`, `wait`,
 * `withhold-bndreply`, `release-bndreply`, `delay-bndreply`, `skew`, `cut`, `reconnect`,
 * `corrupt-frame`, `expect-state`, `expect-close`, `handshake`, `set`, `auto`) plus that
 * action's modifiers; see docs/readme/partner.md.
 *
 * @module
 */

import { isMap, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { z } from "zod";
import { BuildError, checkOption, checkOptions, LEASE_KEYS } from "./build.ts";
import { messageTypeOf, stateOf } from "./names.ts";
import { isRuleName, RULES } from "./rules.ts";
import type { AutoSettings, Corruption, PartnerSettings, Scenario, Step } from "./types.ts";

/**
 * A scenario file that cannot be used: where and why.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseScenarios, ScenarioError } from "@failover6/failover6";
 *
 * assert.throws(
 *   () => parseScenarios("name: x\nrole: primary\nsteps:\n  - fly: 3\n", "bad.yaml"),
 *   (e) => e instanceof ScenarioError && e.line === 4 && e.path === "steps[0]",
 * );
 * ```
 */
export class ScenarioError extends Error {
  /** Always `"ScenarioError"`. */
  override name = "ScenarioError";
  /** The scenario file. */
  readonly file: string;
  /** 1-based line, when known. */
  readonly line?: number;
  /** Field path such as `steps[2].send`. */
  readonly path: string;
  /** Creates the error. */
  constructor(file: string, line: number | undefined, path: string, message: string) {
    super(
      `${file}${line !== undefined ? `:${line}` : ""}: ${path === "" ? "" : `${path}: `}${message}`,
    );
    this.file = file;
    this.line = line;
    this.path = path;
  }
}

const scalar = z.union([z.string(), z.number()]);
const time = z.union([z.string(), z.number()]);

const autoSchema = z.strictObject({
  bndreply: z.boolean().optional(),
  contact: z.boolean().optional(),
  updreq: z.boolean().optional(),
  poolreq: z.boolean().optional(),
  starttls: z.boolean().optional(),
  store: z.boolean().optional(),
});

const monitorsSchema = z.strictObject({
  framing: z.boolean().optional(),
  options: z.boolean().optional(),
  skew: z.boolean().optional(),
  sequence: z.boolean().optional(),
  flowControl: z.boolean().optional(),
  xid: z.boolean().optional(),
});

const settingsSchema = z.strictObject({
  relationship: z.string().optional(),
  mclt: z.number().int().min(0).max(0xffffffff).optional(),
  keepalive: z.number().int().min(1).max(0xffffffff).optional(),
  maxUnacked: z.number().int().min(0).max(0xffffffff).optional(),
  state: scalar.optional(),
});

const scenarioSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string().optional(),
  role: z.enum(["primary", "secondary"]).optional(),
  reference: z.string().optional(),
  settings: settingsSchema.optional(),
  vars: z.record(z.string(), z.unknown()).optional(),
  monitors: monitorsSchema.optional(),
  auto: autoSchema.optional(),
  steps: z.array(z.record(z.string(), z.unknown())).min(1),
});

const common = { name: z.string().optional() };
const STEP_SCHEMAS: Record<string, z.ZodType> = {
  send: z.strictObject({
    ...common,
    send: scalar,
    transactionId: scalar.optional(),
    sentTime: scalar.optional(),
    options: z.unknown().optional(),
    override: z.record(z.string(), z.unknown()).optional(),
    lease: z.unknown().optional(),
    state: scalar.optional(),
    flags: z.unknown().optional(),
    status: z.unknown().optional(),
    to: scalar.optional(),
    raw: z.string().optional(),
    frame: z.enum(["normal", "raw"]).optional(),
  }),
  expect: z.strictObject({
    ...common,
    expect: scalar,
    within: time.optional(),
    match: z.record(z.string(), z.unknown()).optional(),
    save: z.record(z.string(), z.string()).optional(),
    checks: z.array(z.string()).optional(),
    count: scalar.optional(),
  }),
  "expect-none": z.strictObject({ ...common, "expect-none": scalar, within: time.optional() }),
  wait: z.strictObject({ ...common, wait: time }),
  "withhold-bndreply": z.strictObject({
    ...common,
    "withhold-bndreply": z.union([z.boolean(), z.null()]),
  }),
  "release-bndreply": z.strictObject({
    ...common,
    "release-bndreply": z.union([z.boolean(), z.null()]),
  }),
  "delay-bndreply": z.strictObject({ ...common, "delay-bndreply": time }),
  skew: z.strictObject({ ...common, skew: time }),
  cut: z.strictObject({ ...common, cut: z.union([z.null(), z.boolean()]) }),
  reconnect: z.strictObject({
    ...common,
    reconnect: z.union([z.null(), z.boolean()]),
    within: time.optional(),
  }),
  "corrupt-frame": z.strictObject({
    ...common,
    "corrupt-frame": z.union([
      z.null(),
      z.enum(["garbage", "short-header", "bad-option", "unknown-type"]),
    ]),
  }),
  "expect-state": z.strictObject({
    ...common,
    "expect-state": scalar,
    flags: z.record(z.string(), z.unknown()).optional(),
    within: time.optional(),
  }),
  "expect-close": z.strictObject({
    ...common,
    "expect-close": z.union([z.null(), z.boolean(), time]),
    within: time.optional(),
  }),
  handshake: z.strictObject({
    ...common,
    handshake: z.union([
      z.null(),
      z.boolean(),
      z.strictObject({ state: scalar.optional(), within: time.optional() }),
    ]),
  }),
  set: z.strictObject({ ...common, set: z.record(z.string(), z.unknown()) }),
  auto: z.strictObject({ ...common, auto: autoSchema }),
};

/** The action keys a step may have. */
export const STEP_ACTIONS: readonly string[] = Object.keys(STEP_SCHEMAS);

type Loc = (path: (string | number)[]) => number | undefined;

function pathText(path: readonly PropertyKey[]): string {
  let s = "";
  for (const p of path) {
    if (typeof p === "number") s += `[${p}]`;
    else s += s === "" ? String(p) : `.${String(p)}`;
  }
  return s;
}

function zodFail(file: string, loc: Loc, base: (string | number)[], error: z.ZodError): never {
  const issue = error.issues[0];
  const path = [...base, ...(issue.path as (string | number)[])];
  let msg = issue.message;
  if (issue.code === "unrecognized_keys") {
    msg = `unknown key${issue.keys.length > 1 ? "s" : ""} ${
      issue.keys.map((k) => `"${k}"`).join(", ")
    }`;
  }
  throw new ScenarioError(file, loc(path), pathText(path), msg);
}

function hasVar(v: unknown): boolean {
  return typeof v === "string" && v.includes("${");
}

function typeOf(v: unknown, allowAny: boolean): number | "any" | "raw" | undefined {
  if (hasVar(v)) return undefined;
  if (allowAny && typeof v === "string" && v.toLowerCase() === "any") return "any";
  if (!allowAny && typeof v === "string" && v.toLowerCase() === "raw") return "raw";
  return messageTypeOf(v as string | number);
}

function toStep(
  raw: Record<string, unknown>,
  file: string,
  loc: Loc,
  base: (string | number)[],
): Step {
  const actions = Object.keys(raw).filter((k) => k in STEP_SCHEMAS);
  if (actions.length !== 1) {
    const known = STEP_ACTIONS.join(", ");
    const why = actions.length === 0
      ? `a step needs one action key (${known}); got ${
        Object.keys(raw).map((k) => `"${k}"`).join(", ") || "nothing"
      }`
      : `a step has one action, got ${actions.join(" and ")}`;
    throw new ScenarioError(file, loc(base), pathText(base), why);
  }
  const action = actions[0];
  const parsed = STEP_SCHEMAS[action].safeParse(raw);
  if (!parsed.success) zodFail(file, loc, base, parsed.error);
  const s = parsed.data as Record<string, unknown>;
  const line = loc(base);
  const fail = (key: string, why: string): never => {
    throw new ScenarioError(file, loc([...base, key]), pathText([...base, key]), why);
  };
  const common = { line, ...(s.name !== undefined ? { name: s.name as string } : {}) };
  switch (action) {
    case "send": {
      const t = typeOf(s.send, false);
      if (t === undefined) fail("send", `unknown message type ${JSON.stringify(s.send)}`);
      if (t === "raw" && s.raw === undefined) fail("raw", 'send: raw needs raw: "<hex>"');
      if (t !== "raw" && s.raw !== undefined) fail("raw", "raw: goes with send: raw");
      if (t !== "raw" && s.frame === "raw") fail("frame", "frame: raw goes with send: raw");
      try {
        if (s.options !== undefined) checkOptions(s.options, "options");
        if (s.override !== undefined) {
          for (const [k, v] of Object.entries(s.override as Record<string, unknown>)) {
            if (v !== null) checkOption({ [k]: v }, `override.${k}`);
          }
        }
      } catch (e) {
        if (e instanceof BuildError) {
          // Point at the list item (options[2]) or override key the problem is in.
          const m = /^([A-Za-z]+)(?:\[(\d+)\]|\.([^.\[]+))?/.exec(e.path);
          const sub: (string | number)[] = m
            ? [m[1], ...(m[2] !== undefined ? [Number(m[2])] : m[3] !== undefined ? [m[3]] : [])]
            : [];
          const where = [...base, ...sub];
          const why = e.message.startsWith(`${e.path}: `)
            ? e.message.slice(e.path.length + 2)
            : e.message;
          throw new ScenarioError(file, loc(where), pathText([...base]) + "." + e.path, why);
        }
        throw e;
      }
      if (s.options !== undefined && s.override !== undefined) {
        fail(
          "override",
          "give options (the whole list) or override (changes to the defaults), not both",
        );
      }
      if (s.lease !== undefined) {
        if (t !== 24 && t !== 25) fail("lease", "lease: goes with BNDUPD or BNDREPLY");
        const list = Array.isArray(s.lease) ? s.lease : [s.lease];
        for (const l of list) {
          if (l === null || typeof l !== "object" || Array.isArray(l)) {
            fail("lease", "a lease is a mapping");
          }
          for (const k of Object.keys(l as object)) {
            if (!(LEASE_KEYS as readonly string[]).includes(k)) {
              fail("lease", `unknown lease key "${k}" (${LEASE_KEYS.join(", ")})`);
            }
          }
        }
      }
      if (
        s.state !== undefined && !hasVar(s.state) &&
        stateOf(s.state as string | number) === undefined
      ) {
        fail("state", `unknown failover state ${JSON.stringify(s.state)}`);
      }
      return {
        kind: "send",
        ...common,
        msgType: t as number | "raw",
        transactionId: s.transactionId,
        sentTime: s.sentTime,
        options: s.options,
        override: s.override as Record<string, unknown> | undefined,
        lease: s.lease,
        state: s.state,
        flags: s.flags,
        status: s.status,
        to: s.to,
        raw: s.raw,
        frame: s.frame as "normal" | "raw" | undefined,
      };
    }
    case "expect":
    case "expect-none": {
      const t = typeOf(s[action], true);
      if (t === undefined) fail(action, `unknown message type ${JSON.stringify(s[action])}`);
      if (action === "expect-none") {
        return { kind: "expect-none", ...common, msgType: t as number | "any", within: s.within };
      }
      for (const c of (s.checks as string[] | undefined) ?? []) {
        if (!isRuleName(c)) {
          fail("checks", `unknown check "${c}" (${Object.keys(RULES).join(", ")})`);
        }
      }
      return {
        kind: "expect",
        ...common,
        msgType: t as number | "any",
        within: s.within,
        match: s.match as Record<string, unknown> | undefined,
        save: s.save as Record<string, string> | undefined,
        checks: s.checks as string[] | undefined,
        count: s.count,
      };
    }
    case "wait":
      return { kind: "wait", ...common, duration: s.wait };
    case "withhold-bndreply":
      return { kind: "withhold-bndreply", ...common, on: s[action] !== false };
    case "release-bndreply":
      return { kind: "withhold-bndreply", ...common, on: s[action] === false };
    case "delay-bndreply":
      return { kind: "delay-bndreply", ...common, delay: s[action] };
    case "skew":
      return { kind: "skew", ...common, offset: s.skew };
    case "cut":
      return { kind: "cut", ...common };
    case "reconnect":
      return { kind: "reconnect", ...common, within: s.within };
    case "corrupt-frame":
      return {
        kind: "corrupt-frame",
        ...common,
        corruption: (s[action] ?? "garbage") as Corruption,
      };
    case "expect-state": {
      const v = s[action];
      if (!hasVar(v) && stateOf(v as string | number) === undefined) {
        fail(action, `unknown failover state ${JSON.stringify(v)}`);
      }
      return {
        kind: "expect-state",
        ...common,
        state: v,
        flags: s.flags as Record<string, unknown> | undefined,
        within: s.within,
      };
    }
    case "expect-close": {
      const v = s[action];
      const within = s.within ?? (typeof v === "string" || typeof v === "number" ? v : undefined);
      return { kind: "expect-close", ...common, within };
    }
    case "handshake": {
      const v = s.handshake as { state?: unknown; within?: unknown } | null | boolean;
      const o = typeof v === "object" && v !== null ? v : {};
      if (
        o.state !== undefined && !hasVar(o.state) &&
        stateOf(o.state as string | number) === undefined
      ) {
        fail("handshake", `unknown failover state ${JSON.stringify(o.state)}`);
      }
      return { kind: "handshake", ...common, state: o.state, within: o.within };
    }
    case "set":
      return { kind: "set", ...common, vars: s.set as Record<string, unknown> };
    case "auto":
      return { kind: "auto", ...common, auto: s.auto as Partial<AutoSettings> };
  }
  throw new ScenarioError(file, line, pathText(base), `unknown action ${action}`);
}

function toScenario(raw: unknown, file: string, loc: Loc, base: (string | number)[]): Scenario {
  const parsed = scenarioSchema.safeParse(raw);
  if (!parsed.success) zodFail(file, loc, base, parsed.error);
  const d = parsed.data;
  const settings: Partial<PartnerSettings> = {};
  if (d.settings) {
    const { state, ...rest } = d.settings;
    Object.assign(settings, rest);
    if (state !== undefined) {
      const code = stateOf(state);
      if (code === undefined) {
        throw new ScenarioError(
          file,
          loc([...base, "settings", "state"]),
          pathText([...base, "settings", "state"]),
          `unknown failover state ${JSON.stringify(state)}`,
        );
      }
      settings.state = code;
    }
  }
  return {
    name: d.name,
    description: d.description,
    role: d.role,
    reference: d.reference,
    settings,
    vars: d.vars,
    monitors: d.monitors,
    auto: d.auto,
    steps: d.steps.map((s, i) => toStep(s, file, loc, [...base, "steps", i])),
    source: file,
  };
}

/**
 * Parses scenario YAML text; `file` names it in errors.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseScenarios } from "@failover6/failover6";
 *
 * const [scenario] = parseScenarios(
 *   `name: contact-check
 * role: primary
 * steps:
 *   - handshake:
 *   - expect: CONTACT
 *     within: 30s
 * `,
 *   "contact.yaml",
 * );
 * assert.equal(scenario.name, "contact-check");
 * assert.deepEqual(scenario.steps.map((s) => s.kind), ["handshake", "expect"]);
 * ```
 */
export function parseScenarios(text: string, file = "<scenario>"): Scenario[] {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const line = e.linePos?.[0]?.line ?? lc.linePos(e.pos[0]).line;
    throw new ScenarioError(file, line, "", e.message.split("\n")[0]);
  }
  const loc: Loc = (path) => {
    for (let n = path.length; n >= 0; n--) {
      const node = (n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true)) as
        | Node
        | null
        | undefined;
      if (node && node.range) return lc.linePos(node.range[0]).line;
    }
    return undefined;
  };
  const root = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (root === null || typeof root !== "object" || Array.isArray(root)) {
    throw new ScenarioError(file, 1, "", "a scenario file is a mapping with name and steps");
  }
  const top = doc.contents;
  if (isMap(top) && (root as Record<string, unknown>).scenarios !== undefined) {
    const list = (root as Record<string, unknown>).scenarios;
    const keys = Object.keys(root as object);
    if (keys.length !== 1) {
      throw new ScenarioError(file, 1, "", "a file with scenarios: holds nothing else");
    }
    const seq = doc.get("scenarios", true);
    if (!Array.isArray(list) || !isSeq(seq)) {
      throw new ScenarioError(
        file,
        loc(["scenarios"]),
        "scenarios",
        "expected a list of scenarios",
      );
    }
    const out = list.map((s, i) => toScenario(s, file, loc, ["scenarios", i]));
    const names = new Set<string>();
    out.forEach((s, i) => {
      if (names.has(s.name)) {
        throw new ScenarioError(
          file,
          loc(["scenarios", i, "name"]),
          `scenarios[${i}].name`,
          `duplicate name "${s.name}"`,
        );
      }
      names.add(s.name);
    });
    return out;
  }
  return [toScenario(root, file, loc, [])];
}

/** Reads and parses a scenario file (read errors become `ScenarioError`s too). */
export async function loadScenarioFile(path: string): Promise<Scenario[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "no such file"
      : e instanceof Error
      ? e.message
      : String(e);
    throw new ScenarioError(path, undefined, "", `cannot read: ${why}`);
  }
  return parseScenarios(text, path);
}
