/**
 * Reads and validates a `failover6 serve` configuration file: the one check used at start-up,
 * by `serve --check` and by every reload, so a reload accepts exactly what a start accepts —
 * the YAML and zod checks of `lib/config` with their lines, the server core's compile checks,
 * and the failover checks.
 *
 * The file is read whole, then validated; a file that changes while it is read (an editor or
 * a deploy tool writing it) is refused as `unreadable` rather than half-applied.
 *
 * @module
 */

import { formatConfigError, loadConfig, MAX_CONFIG_BYTES } from "../../config/mod.ts";
import type { Config } from "../../config/types.ts";
import { compileSettings } from "../settings.ts";
import { checkFailoverConfig } from "./failover.ts";

/** The outcome of {@linkcode readConfigFile}. */
export type ConfigFileResult =
  | { ok: true; config: Config }
  | {
    ok: false;
    /** `unreadable`: missing, not a file, too large, changed while read; `invalid`: checks. */
    kind: "unreadable" | "invalid";
    /** One line per problem: `FILE:LINE: path: message` or `FILE: message`. */
    errors: string[];
  };

/** Reads `file` whole and validates it. Never throws. */
export async function readConfigFile(file: string): Promise<ConfigFileResult> {
  const unreadable = (message: string): ConfigFileResult => ({
    ok: false,
    kind: "unreadable",
    errors: [message],
  });
  let text: string;
  try {
    const before = await Deno.stat(file);
    if (!before.isFile) return unreadable(`${file}: not a file`);
    if (before.size > MAX_CONFIG_BYTES) {
      return unreadable(`${file}: too large for a configuration (${before.size} bytes)`);
    }
    const bytes = await Deno.readFile(file);
    const after = await Deno.stat(file);
    if (
      after.size !== before.size || bytes.length !== after.size ||
      after.mtime?.getTime() !== before.mtime?.getTime()
    ) {
      return unreadable(`${file}: changed while it was being read; try again`);
    }
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (e) {
    if (e instanceof TypeError) return unreadable(`${file}: not UTF-8 text`);
    return unreadable(`cannot read ${file}: ${(e as Error).message}`);
  }
  const r = loadConfig(text, file);
  if (!r.ok) return { ok: false, kind: "invalid", errors: r.errors.map(formatConfigError) };
  try {
    compileSettings(r.config);
  } catch (e) {
    return { ok: false, kind: "invalid", errors: [`${file}: ${(e as Error).message}`] };
  }
  const failover = checkFailoverConfig(r.config);
  if (failover.errors.length > 0) {
    return {
      ok: false,
      kind: "invalid",
      errors: failover.errors.map((e) => `${file}: ${e.message}`),
    };
  }
  return { ok: true, config: r.config };
}
