/**
 * The CONNECT / CONNECTREPLY checks of RFC 8156 §6.1.1–§6.1.3 (digest §1.5) and the clock-skew
 * rule of §7.1: what each side reads from the other's message, and when it rejects. Pure.
 *
 * @module
 */

import { findOption, isMalformedOption } from "../wire/options.ts";
import type { FailoverMessage } from "../wire/types.ts";
import { ConnectFlag } from "../wire/types.ts";
import { toWireTime, wireTimeDiff } from "./binding.ts";

/** A protocol version (OPTION_F_PROTOCOL_VERSION). */
export interface ProtocolVersion {
  /** Major version. */
  major: number;
  /** Minor version. */
  minor: number;
}

/** What a CONNECT or accepting CONNECTREPLY announces. */
export interface ConnectParams {
  /** OPTION_F_PROTOCOL_VERSION. */
  version: ProtocolVersion;
  /** Seconds. */
  mclt: number;
  /** The sender's FO_KEEPALIVE_TIME, seconds. */
  keepaliveTime: number;
  /** OPTION_F_MAX_UNACKED_BNDUPD: how many BNDUPDs the sender accepts unacked. */
  maxUnackedBndupd: number;
  /** OPTION_F_CONNECT_FLAGS. */
  flags: number;
  /** OPTION_F_RELATIONSHIP_NAME (CONNECT only; absent = the only relationship of the pair). */
  relationshipName?: string;
}

/** The clock skew of a message: local receive time minus its sent-time, in seconds. */
export function skewSeconds(message: FailoverMessage, now: number): number {
  return wireTimeDiff(toWireTime(now), message.sentTime);
}

/** True when the skew exceeds `maxSkew` seconds (§7.1: more than 5 s). */
export function excessiveSkew(message: FailoverMessage, now: number, maxSkew = 5): boolean {
  return Math.abs(skewSeconds(message, now)) > maxSkew;
}

/** Reads the five mandatory options (§6.1.1) and the optional relationship name. */
export function readConnectParams(
  message: FailoverMessage,
): { ok: true; params: ConnectParams } | { ok: false; reason: string } {
  const o = message.options;
  const bad = o.find((x) => isMalformedOption(x) && x.code >= 115 && x.code <= 130);
  if (bad) return { ok: false, reason: `malformed option ${bad.code}` };
  const version = findOption(o, 127);
  const mclt = findOption(o, 122);
  const keepalive = findOption(o, 128);
  const maxUnacked = findOption(o, 121);
  const flags = findOption(o, 115);
  const missing = [
    version ? "" : "OPTION_F_PROTOCOL_VERSION",
    mclt ? "" : "OPTION_F_MCLT",
    keepalive ? "" : "OPTION_F_KEEPALIVE_TIME",
    maxUnacked ? "" : "OPTION_F_MAX_UNACKED_BNDUPD",
    flags ? "" : "OPTION_F_CONNECT_FLAGS",
  ].filter((s) => s !== "");
  if (missing.length > 0) return { ok: false, reason: `missing ${missing.join(", ")}` };
  const name = findOption(o, 130);
  return {
    ok: true,
    params: {
      version: { major: version!.majorVersion, minor: version!.minorVersion },
      mclt: mclt!.mclt,
      keepaliveTime: keepalive!.keepaliveTime,
      maxUnackedBndupd: maxUnacked!.maxUnackedBndupd,
      flags: flags!.flags,
      relationshipName: name?.relationshipName,
    },
  };
}

/** This side's settings the checks compare against. */
export interface ConnectPolicy {
  /** Versions this side speaks (default 1.0). */
  supportedVersions: readonly ProtocolVersion[];
  /** Whether this side uses FIXED_PD_LENGTH. */
  fixedPdLength: boolean;
  /** The relationship name (CONNECT is accepted without a name, §6.1.1). */
  relationship: string;
  /** The configured MCLT (primary's check of CONNECTREPLY), seconds. */
  mclt: number;
  /** Allowed skew, seconds (5). */
  maxSkew: number;
}

/** The verdict on a received CONNECT or CONNECTREPLY. */
export type ConnectVerdict =
  | { accept: true; params: ConnectParams }
  | {
    accept: false;
    /** The status to put in the rejecting CONNECTREPLY or in the DISCONNECT. */
    status: number;
    reason: string;
    /** The CONNECTREPLY carried a status code: the secondary rejected us (§6.1). */
    rejectedByPartner?: boolean;
  };

function supports(policy: ConnectPolicy, v: ProtocolVersion): boolean {
  return policy.supportedVersions.some((s) => s.major === v.major && s.minor === v.minor);
}

const UNSPEC_FAIL = 1;
const NOT_SUPPORTED = 14;
const CONFIG_CONFLICT = 17;
const SKEW = 22;

/**
 * The secondary's checks of a CONNECT (§6.1.2), in order: sent-time within 5 s
 * (ExcessiveTimeSkew), the five options present (UnspecFail), a supported protocol version
 * (NotSupported), the relationship name when one is given (ConfigurationConflict), and
 * compatible CONNECT flags (ConfigurationConflict; the RFC names no code, docs/decisions.md
 * D11). The MCLT is adopted, not checked.
 */
export function checkConnect(
  message: FailoverMessage,
  now: number,
  policy: ConnectPolicy,
): ConnectVerdict {
  if (excessiveSkew(message, now, policy.maxSkew)) {
    return {
      accept: false,
      status: SKEW,
      reason: `clock skew of ${skewSeconds(message, now)} s exceeds ${policy.maxSkew} s`,
    };
  }
  const read = readConnectParams(message);
  if (!read.ok) return { accept: false, status: UNSPEC_FAIL, reason: `CONNECT: ${read.reason}` };
  const p = read.params;
  if (!supports(policy, p.version)) {
    return {
      accept: false,
      status: NOT_SUPPORTED,
      reason: `protocol version ${p.version.major}.${p.version.minor} is not supported`,
    };
  }
  if (p.relationshipName !== undefined && p.relationshipName !== policy.relationship) {
    return {
      accept: false,
      status: CONFIG_CONFLICT,
      reason: `unknown relationship ${JSON.stringify(p.relationshipName)}`,
    };
  }
  const fixed = (p.flags & ConnectFlag.FIXED_PD_LENGTH) !== 0;
  if (fixed !== policy.fixedPdLength) {
    return {
      accept: false,
      status: CONFIG_CONFLICT,
      reason: `FIXED_PD_LENGTH is ${fixed ? "set" : "clear"} but ${
        policy.fixedPdLength ? "set" : "clear"
      } here`,
    };
  }
  if (p.mclt < 1) {
    return { accept: false, status: UNSPEC_FAIL, reason: `MCLT of ${p.mclt} s is unusable` };
  }
  return { accept: true, params: p };
}

/**
 * The primary's checks of a CONNECTREPLY (§6.1.3): a status code means the secondary
 * rejected the CONNECT; otherwise sent-time within 5 s (§7.1), the five options, a supported
 * version, the MCLT equal to ours and compatible flags — each failure means DISCONNECT with
 * `status` and drop the connection.
 */
export function checkConnectReply(
  message: FailoverMessage,
  now: number,
  policy: ConnectPolicy,
): ConnectVerdict {
  const st = findOption(message.options, 13);
  if (st && st.statusCode !== 0) {
    return {
      accept: false,
      status: st.statusCode,
      reason: `CONNECT rejected with status ${st.statusCode}${
        st.statusMessage ? `: ${st.statusMessage}` : ""
      }`,
      rejectedByPartner: true,
    };
  }
  if (excessiveSkew(message, now, policy.maxSkew)) {
    return {
      accept: false,
      status: SKEW,
      reason: `clock skew of ${skewSeconds(message, now)} s exceeds ${policy.maxSkew} s`,
    };
  }
  const read = readConnectParams(message);
  if (!read.ok) {
    return { accept: false, status: UNSPEC_FAIL, reason: `CONNECTREPLY: ${read.reason}` };
  }
  const p = read.params;
  if (!supports(policy, p.version)) {
    return {
      accept: false,
      status: NOT_SUPPORTED,
      reason: `protocol version ${p.version.major}.${p.version.minor} is not supported`,
    };
  }
  if (p.mclt !== policy.mclt) {
    return {
      accept: false,
      status: CONFIG_CONFLICT,
      reason: `MCLT ${p.mclt} s in CONNECTREPLY differs from the configured ${policy.mclt} s`,
    };
  }
  const fixed = (p.flags & ConnectFlag.FIXED_PD_LENGTH) !== 0;
  if (fixed !== policy.fixedPdLength) {
    return {
      accept: false,
      status: CONFIG_CONFLICT,
      reason: `FIXED_PD_LENGTH is ${fixed ? "set" : "clear"} but ${
        policy.fixedPdLength ? "set" : "clear"
      } here`,
    };
  }
  return { accept: true, params: p };
}
