/**
 * Configuration errors: each names the file, the line, and the path inside the file
 * (`subnets[0].pools[1].range`), and prints as one line:
 * `config.yaml:14: subnets[0].pools[1].range: end is before start`.
 *
 * @module
 */

/** One segment of a path: a mapping key or a sequence index. */
export type PathSegment = string | number;

/** One problem found in a configuration file. */
export interface ConfigError {
  /** The file name as given to the loader. */
  file: string;
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  column: number;
  /** Path inside the file, e.g. `subnets[0].pools[1].range`; `""` for the file as a whole. */
  path: string;
  /** What is wrong (one line, no path, no line number). */
  message: string;
}

/** Renders a path the way people read it: `subnets[0].pools[1].range`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/**
 * `file:line: path: message` (or `file:line: message` when there is no path).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatConfigError } from "@failover6/failover6";
 *
 * const line = formatConfigError({
 *   file: "failover6.yaml",
 *   line: 14,
 *   column: 16,
 *   path: "subnets[0].pools[1].range",
 *   message: "end is before start",
 * });
 * assert.equal(line, "failover6.yaml:14: subnets[0].pools[1].range: end is before start");
 * ```
 */
export function formatConfigError(e: ConfigError): string {
  return `${e.file}:${e.line}: ${e.path === "" ? "" : `${e.path}: `}${e.message}`;
}
