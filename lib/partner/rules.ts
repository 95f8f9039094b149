/**
 * The protocol rules the partner checks, as pure functions from a received message (and what
 * we sent) to a list of problems. Used by `expect` steps (`checks: [bndreply-mirrors]`) and by
 * the session's monitors. References are to RFC 8156 and the digest's §14 checklist.
 *
 * @module
 */

import { bytesEqual } from "../wire/bytes.ts";
import { failoverStateName, optionName, statusName } from "../wire/names.ts";
import { findOption, isMalformedOption, optionsWithCode } from "../wire/options.ts";
import { type DhcpOption, FailoverState, type Message, PROTOCOL_VERSION } from "../wire/types.ts";

/** What a rule may need besides the message. */
export interface RuleContext {
  /** The request we sent that a reply with this type and transaction-id answers. */
  requestFor(replyType: number, transactionId: number): Message | undefined;
  /** The MCLT we announced (or configured). */
  mclt: number;
}

/** Names of the checks an `expect` step may ask for. */
export type RuleName =
  | "connect-options"
  | "connectreply-accept"
  | "connectreply-reject"
  | "state-options"
  | "bndupd-shape"
  | "bndreply-mirrors"
  | "reply-xid";

/** One check: what it verifies, and the function. */
export interface Rule {
  description: string;
  reference: string;
  check(m: Message, ctx: RuleContext): string[];
}

/** Request type answered by each reply type. */
export const REQUEST_OF_REPLY: Readonly<Record<number, readonly number[]>> = {
  25: [24], // BNDREPLY ← BNDUPD
  27: [26], // POOLRESP ← POOLREQ
  30: [28, 29], // UPDDONE ← UPDREQ, UPDREQALL
  32: [31], // CONNECTREPLY ← CONNECT
};

function has(options: readonly DhcpOption[], code: number): boolean {
  return options.some((o) => o.code === code);
}

/** Problems with mandatory singleton options: missing, repeated, or malformed. */
function needOptions(options: readonly DhcpOption[], codes: number[], where: string): string[] {
  const out: string[] = [];
  for (const c of codes) {
    const all = optionsWithCode(options, c);
    if (all.length === 0) out.push(`${where} lacks ${optionName(c)}`);
    else if (all.length > 1) out.push(`${where} carries ${optionName(c)} ${all.length} times`);
    else if (isMalformedOption(all[0])) out.push(`${where}: ${optionName(c)} is malformed`);
  }
  return out;
}

/** The first OPTION_STATUS_CODE among `options` (not nested), if any. */
export function statusOf(
  options: readonly DhcpOption[],
): { code: number; message: string } | undefined {
  const s = findOption(options, 13);
  return s ? { code: s.statusCode, message: s.statusMessage } : undefined;
}

function isError(options: readonly DhcpOption[]): boolean {
  const s = statusOf(options);
  return s !== undefined && s.code !== 0;
}

function connectOptions(m: Message): string[] {
  const where = m.msgType === 31 ? "CONNECT" : "CONNECTREPLY";
  const out = needOptions(m.options, [127, 122, 128, 121, 115], where);
  const v = findOption(m.options, 127);
  if (v && v.majorVersion !== PROTOCOL_VERSION.major) {
    out.push(`${where} announces protocol version ${v.majorVersion}.${v.minorVersion}`);
  }
  const f = findOption(m.options, 115);
  if (f && (f.flags & 0xfffe) !== 0) {
    out.push(
      `${where}: OPTION_F_CONNECT_FLAGS has must-be-zero bits set (0x${f.flags.toString(16)})`,
    );
  }
  const k = findOption(m.options, 128);
  if (k && k.keepaliveTime === 0) out.push(`${where}: OPTION_F_KEEPALIVE_TIME is 0`);
  return out;
}

function stateOptions(m: Message): string[] {
  const out = needOptions(m.options, [132, 131, 133], "STATE");
  const s = findOption(m.options, 132);
  if (s) {
    if (s.serverState < 2 || s.serverState > 10) {
      out.push(
        `STATE announces ${failoverStateName(s.serverState)} (${s.serverState}); ` +
          "states 2-10 only, STARTUP travels as a flag (§5.5.16)",
      );
    }
    const pdt = has(m.options, 125);
    if (s.serverState === FailoverState.PARTNER_DOWN && !pdt) {
      out.push("STATE in PARTNER-DOWN lacks OPTION_F_PARTNER_DOWN_TIME (§6.3)");
    }
    if (s.serverState !== FailoverState.PARTNER_DOWN && pdt) {
      out.push(
        `STATE in ${
          failoverStateName(s.serverState)
        } carries OPTION_F_PARTNER_DOWN_TIME (only in PARTNER-DOWN, §6.3)`,
      );
    }
  }
  const f = findOption(m.options, 131);
  if (f && (f.flags & 0xf8) !== 0) {
    out.push(`STATE: OPTION_F_SERVER_FLAGS has must-be-zero bits set (0x${f.flags.toString(16)})`);
  }
  return out;
}

/** The leases (IAADDR/IAPREFIX) of a BNDUPD/BNDREPLY with where they sit. */
interface LeaseRef {
  key: string;
  where: string;
  leaf: DhcpOption & { options: DhcpOption[] };
  /** An error status at or above this lease. */
  rejected: boolean;
}

function leafKey(o: DhcpOption): string | undefined {
  if (o.code === 5 && "address" in o) return o.address;
  if (o.code === 26 && "prefix" in o) return `${o.prefix}/${o.prefixLength}`;
  return undefined;
}

function leasesOf(
  m: Message,
): { container?: DhcpOption; kind?: "client" | "prefix"; leases: LeaseRef[] } {
  const cd = optionsWithCode(m.options, 45);
  const pf = optionsWithCode(m.options, 26);
  if (cd.length === 1 && "options" in cd[0]) {
    const c = cd[0];
    const leases: LeaseRef[] = [];
    const top = isError(c.options);
    for (const ia of c.options) {
      if (!(ia.code === 3 || ia.code === 4 || ia.code === 25) || !("options" in ia)) continue;
      const iaRej = top || isError(ia.options);
      for (const leaf of ia.options) {
        const k = leafKey(leaf);
        if (k === undefined || !("options" in leaf)) continue;
        leases.push({
          key: `${optionName(ia.code)}/${ia.iaid}/${k}`,
          where: `${optionName(ia.code)} ${ia.iaid} ${k}`,
          leaf: leaf as LeaseRef["leaf"],
          rejected: iaRej || isError(leaf.options),
        });
      }
    }
    return { container: c, kind: "client", leases };
  }
  if (pf.length === 1 && cd.length === 0 && "options" in pf[0]) {
    const p = pf[0];
    const k = leafKey(p)!;
    return {
      container: p,
      kind: "prefix",
      leases: [{
        key: k,
        where: `IAPREFIX ${k}`,
        leaf: p as LeaseRef["leaf"],
        rejected: isError(p.options),
      }],
    };
  }
  return { leases: [] };
}

const TIMED = [134, 123, 120];

function bndupdShape(m: Message): string[] {
  const out: string[] = [];
  const cd = optionsWithCode(m.options, 45).length;
  const pf = optionsWithCode(m.options, 26).length;
  if (cd + pf !== 1) {
    out.push(
      `BNDUPD must carry exactly one OPTION_CLIENT_DATA or one OPTION_IAPREFIX (has ${cd} and ${pf}, §7.4)`,
    );
    return out;
  }
  const { container, kind, leases } = leasesOf(m);
  if (!container || !("options" in container)) {
    return [`BNDUPD: its ${cd ? "CLIENT_DATA" : "IAPREFIX"} is malformed`];
  }
  if (kind === "client") {
    out.push(...needOptions(container.options, [1, 100], "BNDUPD CLIENT_DATA"));
    const ias = container.options.filter((o) => o.code === 3 || o.code === 4 || o.code === 25);
    if (ias.length === 0) out.push("BNDUPD CLIENT_DATA has no IA_NA, IA_TA or IA_PD (§7.4)");
    for (const ia of ias) {
      if (!("options" in ia)) continue;
      if (!ia.options.some((o) => o.code === 5 || o.code === 26)) {
        out.push(
          `BNDUPD ${optionName(ia.code)} ${"iaid" in ia ? ia.iaid : ""} has no IAADDR/IAPREFIX`,
        );
      }
    }
  } else {
    out.push(...needOptions(container.options, [100], "BNDUPD IAPREFIX"));
  }
  for (const l of leases) {
    out.push(...needOptions(l.leaf.options, [114, 133], `BNDUPD ${l.where}`));
    const present = TIMED.filter((c) => has(l.leaf.options, c));
    const st = findOption(l.leaf.options, 114)?.bindingStatus;
    if (present.length !== 0 && present.length !== TIMED.length) {
      const missing = TIMED.filter((c) => !present.includes(c)).map(optionName).join(", ");
      out.push(
        `BNDUPD ${l.where}: carries ${present.map(optionName).join(", ")} but not ${missing} ` +
          "(all three iff the status has a timeout, §7.4)",
      );
    } else if (st === 1 && present.length === 0) {
      out.push(
        `BNDUPD ${l.where}: ACTIVE lacks ${
          TIMED.map(optionName).join(", ")
        } (ACTIVE has a timeout, §7.2, §7.4)`,
      );
    }
  }
  return out;
}

function u32(
  options: readonly DhcpOption[],
  code: 120 | 123 | 124 | 134 | 114,
): number | undefined {
  const o = findOption(options, code);
  if (!o) return undefined;
  switch (o.code) {
    case 120:
      return o.expirationTime;
    case 123:
      return o.partnerLifetime;
    case 124:
      return o.partnerLifetimeSent;
    case 134:
      return o.stateExpirationTime;
    case 114:
      return o.bindingStatus;
  }
}

function bndreplyMirrors(m: Message, ctx: RuleContext): string[] {
  if (m.kind !== "failover") return ["not a failover message"];
  const req = ctx.requestFor(25, m.transactionId);
  if (!req) {
    return [`BNDREPLY transaction-id ${m.transactionId} answers no BNDUPD we sent (§7.5.3)`];
  }
  const out: string[] = [];
  const sent = leasesOf(req);
  const got = leasesOf(m);
  if (!sent.container) {
    // We sent a BNDUPD without binding: the reply should reject it (MissingBindingInformation).
    return out;
  }
  if (!got.container) {
    const top = statusOf(m.options);
    if (top && top.code !== 0) return out; // whole message rejected at top level
    return [
      `BNDREPLY must mirror the BNDUPD's ${
        sent.kind === "client" ? "CLIENT_DATA" : "IAPREFIX"
      } (§7.6)`,
    ];
  }
  if (got.kind !== sent.kind) {
    return [
      `BNDREPLY carries ${
        got.kind === "client" ? "CLIENT_DATA" : "IAPREFIX"
      }, the BNDUPD had the other (§7.6)`,
    ];
  }
  const sc = sent.container as DhcpOption & { options: DhcpOption[] };
  const gc = got.container as DhcpOption & { options: DhcpOption[] };
  if (got.kind === "client") {
    const a = findOption(sc.options, 1);
    const b = findOption(gc.options, 1);
    if (!b) out.push("BNDREPLY CLIENT_DATA lacks OPTION_CLIENTID (§7.6)");
    else if (a && !bytesEqual(a.duid, b.duid)) {
      out.push("BNDREPLY OPTION_CLIENTID differs from the BNDUPD's");
    }
    const va = findOption(sc.options, 68);
    const vb = findOption(gc.options, 68);
    if (va && (!vb || !bytesEqual(va.vssInfo, vb.vssInfo) || va.vssType !== vb.vssType)) {
      out.push("BNDREPLY does not copy OPTION_VSS (§7.6)");
    }
    if (isError(gc.options)) return out;
  } else if (isError(gc.options)) return out;
  const gotBy = new Map(got.leases.map((l) => [l.key, l]));
  const sentKeys = new Set(sent.leases.map((l) => l.key));
  for (const l of got.leases) {
    if (!sentKeys.has(l.key)) out.push(`BNDREPLY carries ${l.where}, which the BNDUPD did not`);
  }
  for (const s of sent.leases) {
    const g = gotBy.get(s.key);
    if (!g) {
      // Allowed only if an IA-level error status covers it.
      if (!iaErrorCovers(gc, s.key)) out.push(`BNDREPLY lacks ${s.where} (§7.6)`);
      continue;
    }
    const sentStatus = u32(s.leaf.options, 114);
    const gotStatus = u32(g.leaf.options, 114);
    if (gotStatus === undefined) {
      out.push(`BNDREPLY ${s.where} lacks OPTION_F_BINDING_STATUS (§7.6)`);
    } else if (sentStatus !== undefined && gotStatus !== sentStatus) {
      out.push(
        `BNDREPLY ${s.where}: binding status ${gotStatus}, the BNDUPD sent ${sentStatus} (§7.6)`,
      );
    }
    const sExp = u32(s.leaf.options, 134);
    const gExp = u32(g.leaf.options, 134);
    if (sExp !== undefined && gExp !== undefined && sExp !== gExp) {
      out.push(
        `BNDREPLY ${s.where}: OPTION_F_STATE_EXPIRATION_TIME ${gExp}, the BNDUPD sent ${sExp}`,
      );
    }
    if (sExp !== undefined && gExp === undefined && !g.rejected) {
      out.push(`BNDREPLY ${s.where} lacks OPTION_F_STATE_EXPIRATION_TIME (§7.6)`);
    }
    const pl = u32(s.leaf.options, 123);
    const pls = u32(g.leaf.options, 124);
    if (pl !== undefined && pls === undefined && !g.rejected) {
      out.push(`BNDREPLY ${s.where} lacks OPTION_F_PARTNER_LIFETIME_SENT (§7.6)`);
    }
    if (pl !== undefined && pls !== undefined && pl !== pls) {
      out.push(
        `BNDREPLY ${s.where}: OPTION_F_PARTNER_LIFETIME_SENT ${pls} is not the PARTNER_LIFETIME ${pl} we sent (echo byte-for-byte, §7.6)`,
      );
    }
    if (pl === undefined && pls !== undefined) {
      out.push(
        `BNDREPLY ${s.where} carries OPTION_F_PARTNER_LIFETIME_SENT but we sent no PARTNER_LIFETIME`,
      );
    }
  }
  return out;
}

function iaErrorCovers(container: DhcpOption & { options: DhcpOption[] }, key: string): boolean {
  for (const ia of container.options) {
    if (!(ia.code === 3 || ia.code === 4 || ia.code === 25) || !("options" in ia)) continue;
    if (key.startsWith(`${optionName(ia.code)}/${ia.iaid}/`) && isError(ia.options)) return true;
  }
  return false;
}

function replyXid(m: Message, ctx: RuleContext): string[] {
  if (m.kind !== "failover") return [];
  const req = REQUEST_OF_REPLY[m.msgType];
  if (!req) return [];
  if (ctx.requestFor(m.msgType, m.transactionId)) return [];
  const names = req.map((t) =>
    ({ 24: "BNDUPD", 26: "POOLREQ", 28: "UPDREQ", 29: "UPDREQALL", 31: "CONNECT" })[t]
  ).join(
    "/",
  );
  return [
    `transaction-id ${m.transactionId} answers no outstanding ${names} of ours (replies echo the request's id, §5.4)`,
  ];
}

/** The named rules. */
export const RULES: Readonly<Record<RuleName, Rule>> = {
  "connect-options": {
    description:
      "CONNECT/CONNECTREPLY carry PROTOCOL_VERSION, MCLT, KEEPALIVE_TIME, MAX_UNACKED_BNDUPD, CONNECT_FLAGS",
    reference: "RFC 8156 §6.1.1, §6.1.2",
    check: (m) => connectOptions(m),
  },
  "connectreply-accept": {
    description: "an accepting CONNECTREPLY: no error status, the five options, our MCLT, our xid",
    reference: "RFC 8156 §6.1.2",
    check: (m, ctx) => {
      const out: string[] = [];
      const s = statusOf(m.options);
      if (s && s.code !== 0) {
        out.push(
          `CONNECTREPLY rejects: status ${s.code} (${statusName(s.code)}) ${
            JSON.stringify(s.message)
          }`,
        );
        return out;
      }
      out.push(...connectOptions(m));
      const mclt = findOption(m.options, 122);
      if (mclt && mclt.mclt !== ctx.mclt) {
        out.push(
          `CONNECTREPLY MCLT ${mclt.mclt} differs from the CONNECT's ${ctx.mclt} (MUST be equal, §6.1.2)`,
        );
      }
      out.push(...replyXid(m, ctx));
      return out;
    },
  },
  "connectreply-reject": {
    description: "a rejecting CONNECTREPLY: an OPTION_STATUS_CODE with an error, our xid",
    reference: "RFC 8156 §6.1.2",
    check: (m, ctx) => {
      const s = statusOf(m.options);
      const out = replyXid(m, ctx);
      if (!s || s.code === 0) {
        out.unshift("CONNECTREPLY carries no error OPTION_STATUS_CODE: it accepts");
      }
      return out;
    },
  },
  "state-options": {
    description:
      "STATE carries SERVER_STATE, SERVER_FLAGS, START_TIME_OF_STATE; PARTNER_DOWN_TIME iff PARTNER-DOWN",
    reference: "RFC 8156 §6.3, §5.5.16",
    check: (m) => stateOptions(m),
  },
  "bndupd-shape": {
    description:
      "BNDUPD: one CLIENT_DATA or IAPREFIX, mandatory options, timed options iff the status has a timeout",
    reference: "RFC 8156 §7.4",
    check: (m) => bndupdShape(m),
  },
  "bndreply-mirrors": {
    description: "BNDREPLY echoes the xid, mirrors the BNDUPD and echoes PARTNER_LIFETIME exactly",
    reference: "RFC 8156 §7.5.3, §7.6",
    check: (m, ctx) => bndreplyMirrors(m, ctx),
  },
  "reply-xid": {
    description: "a reply echoes the transaction-id of an outstanding request of ours",
    reference: "RFC 8156 §5.4",
    check: (m, ctx) => replyXid(m, ctx),
  },
};

/** True if `name` is a rule name. */
export function isRuleName(name: string): name is RuleName {
  return Object.hasOwn(RULES, name);
}

/**
 * The option checks every received message gets (the `options` monitor): mandatory options of
 * CONNECT, CONNECTREPLY (accepting or rejecting), STATE and BNDUPD, and the one-binding shape of
 * BNDREPLY.
 */
export function mandatoryOptionProblems(m: Message): string[] {
  switch (m.msgType) {
    case 31:
      return connectOptions(m);
    case 32:
      return isError(m.options) ? [] : connectOptions(m);
    case 34:
      return stateOptions(m);
    case 24:
      return bndupdShape(m);
    case 25: {
      const cd = optionsWithCode(m.options, 45).length;
      const pf = optionsWithCode(m.options, 26).length;
      if (cd + pf === 1) return [];
      if (cd + pf === 0 && isError(m.options)) return [];
      return [
        `BNDREPLY must carry exactly one OPTION_CLIENT_DATA or OPTION_IAPREFIX (has ${cd} and ${pf}, §7.6)`,
      ];
    }
    default:
      return [];
  }
}
