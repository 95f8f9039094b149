/**
 * The BNDREPLY the partner sends for a received BNDUPD (RFC 8156 §7.5.3, §7.6): same
 * transaction-id, the same CLIENT_DATA (CLIENTID, VSS, each IA and each IAADDR/IAPREFIX) or
 * standalone IAPREFIX, each lease carrying BINDING_STATUS and STATE_EXPIRATION_TIME as received
 * and PARTNER_LIFETIME_SENT, the received PARTNER_LIFETIME copied unchanged. A BNDUPD without a
 * binding is answered with MissingBindingInformation at message level.
 *
 * @module
 */

import { findOption, optionsWithCode, statusCode } from "../wire/options.ts";
import type { DhcpOption, FailoverMessage } from "../wire/types.ts";

/** A status to put on the outermost option of the reply (rejecting the whole BNDUPD). */
export interface ReplyStatus {
  code: number;
  message?: string;
}

function leafReply(leaf: DhcpOption, status?: ReplyStatus): DhcpOption | undefined {
  if (!("options" in leaf)) return undefined;
  const opts: DhcpOption[] = [];
  if (status) opts.push(statusCode(status.code, status.message ?? ""));
  if (leaf.code === 26) {
    const vss = findOption(leaf.options, 68);
    if (vss) opts.unshift(vss);
  }
  for (const code of [114, 134] as const) {
    const o = optionsWithCode(leaf.options, code)[0];
    if (o) opts.push(o);
  }
  const pl = findOption(leaf.options, 123);
  if (pl) opts.push({ code: 124, partnerLifetimeSent: pl.partnerLifetime });
  if (leaf.code === 5) return { ...leaf, options: opts };
  if (leaf.code === 26) return { ...leaf, options: opts };
  return undefined;
}

/** The mirrored option tree of a BNDREPLY for `bndupd` (without message header). */
export function bndreplyOptions(bndupd: FailoverMessage, status?: ReplyStatus): DhcpOption[] {
  const cd = optionsWithCode(bndupd.options, 45);
  const pf = optionsWithCode(bndupd.options, 26);
  if (cd.length === 1 && "options" in cd[0]) {
    const inner: DhcpOption[] = [];
    if (status) inner.push(statusCode(status.code, status.message ?? ""));
    for (const o of cd[0].options) {
      if (o.code === 1 || o.code === 68) inner.push(o);
      else if ((o.code === 3 || o.code === 4 || o.code === 25) && "options" in o) {
        const leaves = o.options.map((l) => leafReply(l)).filter((l): l is DhcpOption => !!l);
        inner.push({ ...o, options: leaves } as DhcpOption);
      }
    }
    return [{ code: 45, options: inner }];
  }
  if (pf.length === 1 && cd.length === 0) {
    const r = leafReply(pf[0], status);
    if (r) return [r];
  }
  return [statusCode(18, "BNDUPD carries no CLIENT_DATA or IAPREFIX")];
}

/** A complete BNDREPLY for `bndupd`, sent at `sentTime`. */
export function bndreplyFor(
  bndupd: FailoverMessage,
  sentTime: number,
  status?: ReplyStatus,
): FailoverMessage {
  return {
    kind: "failover",
    msgType: 25,
    transactionId: bndupd.transactionId,
    sentTime,
    options: bndreplyOptions(bndupd, status),
  };
}
