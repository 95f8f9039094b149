/**
 * Configuration options in replies (RFC 8415 §18.3, §21.7): a configured option goes to the
 * client when its Option Request option (ORO) asks for it, or when the server is told to
 * always send that code. Options come from the client's subnet (already merged over the
 * global ones by `lib/config`) or, with no subnet, from the global defaults.
 *
 * @module
 */

import { findOption } from "../wire/options.ts";
import type { DhcpOption } from "../wire/types.ts";

/** The option codes the client asks for in its ORO (first well-formed ORO; empty if none). */
export function requestedOptions(options: readonly DhcpOption[]): number[] {
  return findOption(options, 6)?.requestedOptions ?? [];
}

/**
 * The configured options to put in a reply: those the ORO names, in ORO order, then those
 * in `alwaysSend` that were not asked for, in configuration order. Each code at most once.
 */
export function replyOptions(
  available: ReadonlyMap<number, DhcpOption>,
  oro: readonly number[],
  alwaysSend: ReadonlySet<number> = new Set(),
): DhcpOption[] {
  const out: DhcpOption[] = [];
  const seen = new Set<number>();
  for (const code of oro) {
    const o = available.get(code);
    if (o !== undefined && !seen.has(code)) {
      seen.add(code);
      out.push(o);
    }
  }
  if (alwaysSend.size > 0) {
    for (const [code, o] of available) {
      if (alwaysSend.has(code) && !seen.has(code)) {
        seen.add(code);
        out.push(o);
      }
    }
  }
  return out;
}
