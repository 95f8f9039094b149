/**
 * Running `failover6` in process for the CLI tests: the exit code and what it printed, one
 * entry per console line; and the argument list of `failover6 partner` against a loopback peer.
 *
 * @module
 */
import { main } from "../../cli/main.ts";
import type { Role } from "../../lib/partner/types.ts";

/** What an in-process run of `failover6` gave back. */
export interface CapturedRun {
  /** The exit code `main` returned. */
  code: number;
  /** console.log lines. */
  out: string[];
  /** console.error lines. */
  err: string[];
}

/** Runs `failover6 ARGS` in process, capturing console output; resets `Deno.exitCode` after. */
export async function captureMain(args: string[]): Promise<CapturedRun> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => out.push(a.map(String).join(" "));
  console.error = (...a: unknown[]) => err.push(a.map(String).join(" "));
  try {
    const code = await main(args);
    return { code, out, err };
  } finally {
    console.log = log;
    console.error = error;
    Deno.exitCode = 0;
  }
}

/** Runs `failover6 partner ARGS` in process (see {@linkcode captureMain}). */
export function partnerCli(args: string[]): Promise<CapturedRun> {
  return captureMain(["partner", ...args]);
}

/**
 * `--role ROLE` and the peer on [::1]:`port` (`--connect` for a primary, `--listen` for a
 * secondary), then `extra`.
 */
export function partnerArgs(role: Role, port: number | string, ...extra: string[]): string[] {
  return ["--role", role, role === "primary" ? "--connect" : "--listen", `[::1]:${port}`, ...extra];
}
