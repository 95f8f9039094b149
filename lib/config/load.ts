/**
 * Loads a `failover6 serve` configuration from YAML text. The `yaml` package keeps node
 * positions, so every error — YAML syntax, zod shape check, or cross-value check — names the
 * path in the file and its line: `config.yaml:14: subnets[0].pools[1].range: end is before start`.
 *
 * @module
 */

import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import type { z } from "zod";
import { type ConfigError, formatPath, type PathSegment } from "./errors.ts";
import { resolveConfig } from "./resolve.ts";
import { describe, fileSchema } from "./schema.ts";
import { checkConfig } from "./semantic.ts";
import type { Config } from "./types.ts";

/** The result of {@linkcode loadConfig}. */
export type LoadResult =
  | { ok: true; config: Config }
  | { ok: false; errors: ConfigError[] };

/** Files larger than this are refused (a configuration is a few kilobytes). */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

interface Located {
  offset: number;
}

/** Finds the source offset that best matches a path: the deepest node that exists. */
function locate(root: unknown, path: readonly PathSegment[], key?: string): Located {
  let node = root as Node | null | undefined;
  let offset = node?.range?.[0] ?? 0;
  const segs: PathSegment[] = key === undefined ? [...path] : [...path, key];
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      const keyNode = pair.key as Node;
      offset = keyNode.range?.[0] ?? offset;
      const last = i === segs.length - 1;
      if (last && key !== undefined) break; // point at the key itself
      const value = pair.value as Node | null;
      if (value && !(isScalar(value) && value.value === null) && !isMap(value) && !isSeq(value)) {
        offset = value.range?.[0] ?? offset;
      }
      node = value;
    } else if (isSeq(node) && typeof seg === "number") {
      const item = node.items[seg] as Node | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else break;
  }
  return { offset };
}

function valueAt(js: unknown, path: readonly PathSegment[]): unknown {
  let v = js;
  for (const seg of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

const TYPE_WORDS: Record<string, string> = {
  object: "a mapping",
  array: "a list",
  string: "text",
  number: "a number",
  boolean: "true or false",
};

/** One line of text for a zod issue. */
function issueMessage(issue: z.core.$ZodIssue, js: unknown): string {
  const value = valueAt(js, issue.path as PathSegment[]);
  switch (issue.code) {
    case "invalid_type":
      if (value === undefined) return "is required";
      return `must be ${TYPE_WORDS[issue.expected] ?? issue.expected}, not ${describe(value)}`;
    case "too_small":
      if (issue.origin === "array") {
        return `must have at least ${issue.minimum} ${
          Number(issue.minimum) === 1 ? "entry" : "entries"
        }`;
      }
      return issue.message;
    default:
      return issue.message;
  }
}

/** Removes `key: ~` / empty values from mappings, so they read as "absent". */
function dropNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropNulls);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== null) out[k] = dropNulls(x);
    return out;
  }
  return v;
}

/**
 * Parses and validates a configuration. Never throws on bad input: every problem comes back
 * as a {@linkcode ConfigError} naming `fileName`, the line, and the path in the file. Errors
 * are sorted by line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatConfigError, loadConfig } from "@failover6/failover6";
 *
 * const yaml = `listen:
 *   - address: "::1"
 *     port: 10547
 * subnets:
 *   - name: lan
 *     prefix: 2001:db8:1::/64
 *     pools:
 *       - range: 2001:db8:1::100 - 2001:db8:1::1ff
 * `;
 * const ok = loadConfig(yaml, "failover6.yaml");
 * assert.ok(ok.ok);
 * assert.equal(ok.config.subnets[0].name, "lan");
 *
 * const bad = loadConfig("subnets: 3\n", "failover6.yaml");
 * assert.ok(!bad.ok);
 * assert.deepEqual(bad.errors.map(formatConfigError), [
 *   "failover6.yaml:1: listen: is required",
 *   "failover6.yaml:1: subnets: must be a list, not 3",
 * ]);
 * ```
 */
export function loadConfig(text: string, fileName: string): LoadResult {
  const fail = (errors: ConfigError[]): LoadResult => ({
    ok: false,
    errors: errors.sort((a, b) => a.line - b.line || a.column - b.column),
  });
  if (typeof text !== "string") {
    return fail([{ file: fileName, line: 1, column: 1, path: "", message: "is not text" }]);
  }
  if (text.length > MAX_CONFIG_BYTES) {
    return fail([{
      file: fileName,
      line: 1,
      column: 1,
      path: "",
      message: `is larger than ${MAX_CONFIG_BYTES} bytes; is this the right file?`,
    }]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const pos = (offset: number) => {
    const p = lines.linePos(offset);
    return { line: p.line, column: p.col };
  };

  if (doc.errors.length > 0) {
    return fail(doc.errors.map((e) => {
      const p = e.linePos?.[0] ?? pos(e.pos[0]);
      const line = "line" in p ? p.line : 1;
      const column = "col" in p ? p.col : "column" in p ? p.column : 1;
      const message = e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
      return { file: fileName, line, column, path: "", message: `YAML: ${message}` };
    }));
  }

  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    const message = e instanceof Error ? e.message.split("\n")[0] : String(e);
    return fail([{ file: fileName, line: 1, column: 1, path: "", message: `YAML: ${message}` }]);
  }
  if (js === null || js === undefined) {
    return fail([{ file: fileName, line: 1, column: 1, path: "", message: "the file is empty" }]);
  }
  if (typeof js !== "object" || Array.isArray(js)) {
    return fail([{
      file: fileName,
      line: 1,
      column: 1,
      path: "",
      message: "the top level must be a mapping (key: value lines)",
    }]);
  }
  js = dropNulls(js);

  const errorAt = (path: PathSegment[], message: string, key?: string): ConfigError => ({
    file: fileName,
    ...pos(locate(doc.contents, path, key).offset),
    path: formatPath(key === undefined ? path : [...path, key]),
    message,
  });

  const parsed = fileSchema.safeParse(js);
  if (!parsed.success) {
    const errors: ConfigError[] = [];
    for (const issue of parsed.error.issues) {
      const path = issue.path as PathSegment[];
      if (issue.code === "unrecognized_keys") {
        for (const k of issue.keys) errors.push(errorAt(path, "unknown key", k));
      } else {
        errors.push(errorAt(path, issueMessage(issue, js)));
      }
    }
    return fail(errors);
  }

  const lineOf = (path: PathSegment[]) => pos(locate(doc.contents, path).offset).line;
  const issues = checkConfig(parsed.data, lineOf);
  if (issues.length > 0) return fail(issues.map((i) => errorAt(i.path, i.message)));
  return { ok: true, config: resolveConfig(parsed.data) };
}
