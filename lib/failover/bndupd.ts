/**
 * BNDUPD and BNDREPLY option trees (RFC 8156 §7.4–§7.7, digest §3.4, §3.5): building a BNDUPD
 * from a stored {@linkcode Lease} (shape A, one OPTION_CLIENT_DATA; shape B, one standalone
 * OPTION_IAPREFIX), reading a received BNDUPD with the pre-checks of §7.5.3 (missing
 * information, VPN, leases outside the endpoint), building the mirrored BNDREPLY with status
 * codes at the level they reject, and reading a received BNDREPLY. Pure functions.
 *
 * @module
 */

import {
  clientData,
  clientId,
  findOption,
  findOptions,
  iaAddr,
  iaNa,
  iaPd,
  iaPrefix,
  isMalformedOption,
  isRawOption,
  leaseOptions,
  statusCode,
} from "../wire/options.ts";
import { bytesToHex, hexToBytes } from "../wire/bytes.ts";
import type {
  BindingStatusOption,
  ClientIdOption,
  CltTimeOption,
  DhcpOption,
  ExpirationTimeOption,
  FailoverMessage,
  IaAddrOption,
  IaPrefixOption,
  LqBaseTimeOption,
  PartnerLifetimeOption,
  PartnerLifetimeSentOption,
  PartnerRawCltTimeOption,
  StartTimeOfStateOption,
  StateExpirationTimeOption,
  StatusCodeOption,
  VssOption,
} from "../wire/types.ts";
import { INFINITY } from "../wire/types.ts";
import type { Lease, LeaseKey, LeaseKind } from "../store/types.ts";
import { parseIPv6, prefixMask } from "../util/ipv6.ts";
import {
  type BindingStatus,
  bindingStatusCode,
  bindingStatusFromCode,
  fromWireTime,
  statusHasTimeout,
  toWireTime,
} from "./binding.ts";

// ---------------------------------------------------------------------------------------
// Building a BNDUPD
// ---------------------------------------------------------------------------------------

/** Where the DUID octets of BNDUPDs are cut from (see `duidOctets`). */
let duidSlab = new Uint8Array(0);
let duidSlabUsed = 0;

/**
 * The octets of a DUID in hex, as `hexToBytes` gives them, but cut from a shared 16 KiB
 * buffer: a view costs a tenth of a new array, and one is made for every BNDUPD. The views
 * never overlap, so each is the BNDUPD's own.
 */
function duidOctets(hex: string): Uint8Array | undefined {
  const n = hex.length >> 1;
  if (hex.length % 2 !== 0 || n > 1024) return hexToBytes(hex);
  if (duidSlabUsed + n > duidSlab.length) {
    duidSlab = new Uint8Array(16_384);
    duidSlabUsed = 0;
  }
  const out = duidSlab.subarray(duidSlabUsed, duidSlabUsed + n);
  for (let i = 0; i < n; i++) {
    const hi = hexNibble(hex.charCodeAt(2 * i));
    const lo = hexNibble(hex.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) return hexToBytes(hex); // separators or not hex: the general rule
    out[i] = (hi << 4) | lo;
  }
  duidSlabUsed += n;
  return out;
}

function hexNibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** T1 and T2 are not stored per lease: the RFC 8415 §21.4 recommendations (0.5, 0.8). */
function t1t2(preferred: number): [number, number] {
  if (preferred === INFINITY) return [INFINITY, INFINITY];
  return [Math.floor(preferred * 0.5), Math.floor(preferred * 0.8)];
}

/** Whether a lease travels as a standalone OPTION_IAPREFIX (shape B) rather than CLIENT_DATA. */
export function isStandalonePrefix(lease: Lease): boolean {
  return lease.kind === "pd" &&
    (lease.clientDuid === "" || lease.status === "FREE" || lease.status === "FREE-BACKUP");
}

/** Whether a lease can be sent at all: shape A needs a client DUID (§7.4). */
export function canSend(lease: Lease): boolean {
  return isStandalonePrefix(lease) || lease.clientDuid !== "";
}

/** The per-lease options of §7.4 for a lease, at `now` (CLT_TIME is relative to it). */
function bndupdLeaseOptions(lease: Lease, baseTime: number, standalone: boolean): DhcpOption[] {
  const timeout = statusHasTimeout(lease.status);
  const clt = lease.cltTime > 0 ? Math.max(0, baseTime - toWireTime(lease.cltTime)) : undefined;
  const stateExpiration = lease.stateExpirationTime || lease.expirationTime;
  const partnerLifetime = lease.partnerLifetime || lease.ackedPartnerLifetime ||
    lease.expirationTime;
  return leaseOptions({
    bindingStatus: bindingStatusCode(lease.status),
    baseTime: standalone ? baseTime : undefined,
    startTimeOfState: toWireTime(lease.startTimeOfState),
    stateExpirationTime: timeout ? toWireTime(stateExpiration) : undefined,
    cltTime: standalone ? undefined : clt,
    partnerLifetime: timeout ? toWireTime(partnerLifetime) : undefined,
    partnerRawCltTime: lease.partnerRawCltTime > 0 && !standalone
      ? toWireTime(lease.partnerRawCltTime)
      : undefined,
    expirationTime: timeout ? toWireTime(lease.expirationTime) : undefined,
  });
}

/**
 * The options of a BNDUPD for one lease (§7.4): shape A, OPTION_CLIENT_DATA with CLIENTID,
 * LQ_BASE_TIME and one IA_NA/IA_PD holding the IAADDR/IAPREFIX; or shape B, a standalone
 * OPTION_IAPREFIX for a delegable prefix bound to no client (pool balancing). The `*` options
 * (STATE_EXPIRATION_TIME, PARTNER_LIFETIME, EXPIRATION_TIME) appear iff the status has a
 * timeout. Returns `undefined` for an address with no client, which §7.4 cannot express.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   bndupdOptions,
 *   emptyLease,
 *   failoverMessage,
 *   MessageType,
 *   parseBndupd,
 *   unixToFailoverTime,
 * } from "@failover6/failover6";
 *
 * const now = 1709294400000;
 * const lease = {
 *   ...emptyLease({ kind: "na", address: "2001:db8::10" }, "ACTIVE"),
 *   clientDuid: "00030001020000000001",
 *   iaid: 1,
 *   preferredLifetime: 3600,
 *   validLifetime: 7200,
 *   startTimeOfState: now,
 *   cltTime: now,
 *   expirationTime: now + 7_200_000,
 *   partnerLifetime: now + 3 * 86_400_000,
 * };
 * const options = bndupdOptions(lease, now);
 * assert.ok(options);
 * assert.equal(options[0].code, 45); // one OPTION_CLIENT_DATA (§7.4 shape A)
 * const bndupd = failoverMessage(MessageType.BNDUPD, 5, unixToFailoverTime(now / 1000), options);
 * const parsed = parseBndupd(bndupd);
 * assert.equal(parsed.shape, "client");
 * ```
 */
export function bndupdOptions(lease: Lease, now: number): DhcpOption[] | undefined {
  const baseTime = toWireTime(now);
  if (isStandalonePrefix(lease)) {
    return [
      iaPrefix(
        lease.address,
        lease.prefixLength,
        0,
        0,
        bndupdLeaseOptions(lease, baseTime, true),
      ),
    ];
  }
  if (lease.clientDuid === "") return undefined;
  const duid = duidOctets(lease.clientDuid);
  if (duid === undefined) return undefined;
  const [t1, t2] = t1t2(lease.preferredLifetime);
  const inner = bndupdLeaseOptions(lease, baseTime, false);
  const ia = lease.kind === "na"
    ? iaNa(lease.iaid, t1, t2, [
      iaAddr(lease.address, lease.preferredLifetime, lease.validLifetime, inner),
    ])
    : iaPd(lease.iaid, t1, t2, [
      iaPrefix(
        lease.address,
        lease.prefixLength,
        lease.preferredLifetime,
        lease.validLifetime,
        inner,
      ),
    ]);
  return [clientData([clientId(duid), { code: 100, baseTime }, ia])];
}

// ---------------------------------------------------------------------------------------
// Reading a BNDUPD
// ---------------------------------------------------------------------------------------

/** A status to put in a BNDREPLY. */
export interface ReplyStatus {
  /** Status code (see `StatusCode`). */
  code: number;
  /** Status message text. */
  message: string;
}

/** One lease (IAADDR or IAPREFIX) of a received BNDUPD. */
export interface ReceivedLease {
  /** The option as received (mirrored into the BNDREPLY). */
  option: IaAddrOption | IaPrefixOption;
  /** The lease key; `kind` is `na` for IAADDR, `pd` for IAPREFIX. */
  key: { kind: LeaseKind; address: string; prefixLength: number };
  /** Raw OPTION_F_BINDING_STATUS code (echoed), 0 when absent. */
  statusCode: number;
  /** Decoded binding status (absent when the code is missing or unknown). */
  status?: BindingStatus;
  /** Raw wire values, echoed in the BNDREPLY. */
  wire: { stateExpirationTime?: number; partnerLifetime?: number };
  /** Engine times (ms): */
  startTimeOfState: number;
  /** OPTION_F_STATE_EXPIRATION_TIME (ms). */
  stateExpirationTime?: number;
  /** OPTION_F_PARTNER_LIFETIME (ms). */
  partnerLifetime?: number;
  /** OPTION_F_EXPIRATION_TIME (ms). */
  expirationTime?: number;
  /** OPTION_CLT_TIME made absolute through LQ_BASE_TIME (ms). */
  cltTime?: number;
  /** OPTION_F_PARTNER_RAW_CLT_TIME (ms). */
  partnerRawCltTime?: number;
  /** DNS-update information present (OPTION_CLIENT_FQDN or OPTION_F_DNS_REMOVAL_INFO). */
  hasDns: boolean;
  /** A pre-check rejected this lease. */
  error?: ReplyStatus;
}

/** One IA_NA / IA_TA / IA_PD of a received CLIENT_DATA. */
export interface ReceivedIa {
  /** IA_NA (3), IA_TA (4) or IA_PD (25). */
  code: 3 | 4 | 25;
  /** The IAID. */
  iaid: number;
  /** T1 as received, seconds. */
  t1: number;
  /** T2 as received, seconds. */
  t2: number;
  /** The IAADDR/IAPREFIX options of the IA. */
  leases: ReceivedLease[];
  /** A pre-check rejected the whole IA. */
  error?: ReplyStatus;
}

/** A received BNDUPD, read and pre-checked. */
export type ParsedBndupd =
  /** Shape A. */
  | {
    shape: "client";
    /** Client DUID, lower-case hex (may be `""` when missing; then `error` is set). */
    clientDuid: string;
    duid?: Uint8Array;
    vss?: VssOption;
    baseTime: number;
    ias: ReceivedIa[];
    error?: ReplyStatus;
  }
  /** Shape B. */
  | {
    shape: "prefix";
    vss?: VssOption;
    baseTime: number;
    lease: ReceivedLease;
    error?: ReplyStatus;
  }
  /** Neither shape: the whole BNDUPD is rejected at message level. */
  | { shape: "none"; error: ReplyStatus };

/** What the endpoint is configured for, for the pre-checks of §7.5.3. */
export interface EndpointScope {
  /**
   * Prefixes (`2001:db8::/64`) whose addresses and delegated prefixes belong to this
   * endpoint; `undefined` accepts any lease.
   */
  prefixes?: readonly string[];
  /** Accept DNS-update information although DNS update is not done here (§9: MAY reject). */
  acceptDnsInfo?: boolean;
}

const MISSING = 18;
const CONFIG_CONFLICT = 17;
const DNS_NOT_SUPPORTED = 21;

function missing(message: string): ReplyStatus {
  return { code: MISSING, message };
}

function parsePrefixes(list: readonly string[]): { value: bigint; length: number }[] {
  const out: { value: bigint; length: number }[] = [];
  for (const p of list) {
    const [a, l] = p.split("/");
    const v = parseIPv6(a ?? "");
    const len = Number(l ?? 128);
    if (v !== undefined && Number.isInteger(len) && len >= 0 && len <= 128) {
      out.push({ value: v & prefixMask(len), length: len });
    }
  }
  return out;
}

/** Parsed prefix lists, by list, with the text they were parsed from. */
const PARSED_PREFIXES = new WeakMap<
  readonly string[],
  { text: string[]; parsed: { value: bigint; length: number }[] }
>();

/** The parsed form of a prefix list, parsed again only when the list has changed. */
function prefixesOf(list: readonly string[]): { value: bigint; length: number }[] {
  const cached = PARSED_PREFIXES.get(list);
  if (
    cached && cached.text.length === list.length && cached.text.every((t, i) => t === list[i])
  ) return cached.parsed;
  const parsed = parsePrefixes(list);
  PARSED_PREFIXES.set(list, { text: [...list], parsed });
  return parsed;
}

/** True when `key` lies inside one of the endpoint's prefixes (or no prefixes are configured). */
export function inScope(
  key: { address: string; prefixLength: number },
  prefixes: readonly string[] | undefined,
): boolean {
  if (prefixes === undefined) return true;
  const v = parseIPv6(key.address);
  if (v === undefined) return false;
  return prefixesOf(prefixes).some((p) =>
    key.prefixLength >= p.length && (v & prefixMask(p.length)) === p.value
  );
}

/** How a lease is named in a status message. */
function where(key: ReceivedLease["key"]): string {
  return key.kind === "na"
    ? `IAADDR ${key.address}`
    : `IAPREFIX ${key.address}/${key.prefixLength}`;
}

/** Reads one IAADDR/IAPREFIX with its failover options. */
function readLease(
  option: IaAddrOption | IaPrefixOption,
  baseTime: number | undefined,
  scope: EndpointScope,
  standalone: boolean,
): ReceivedLease {
  const o = option.options;
  const kind: LeaseKind = option.code === 5 ? "na" : "pd";
  const key = option.code === 5
    ? { kind, address: option.address, prefixLength: 128 }
    : { kind, address: option.prefix, prefixLength: option.prefixLength };
  // One pass over the options: the first well-formed one of each code (as `findOption`).
  let bs: BindingStatusOption | undefined;
  let start: StartTimeOfStateOption | undefined;
  let ste: StateExpirationTimeOption | undefined;
  let pl: PartnerLifetimeOption | undefined;
  let exp: ExpirationTimeOption | undefined;
  let clt: CltTimeOption | undefined;
  let raw: PartnerRawCltTimeOption | undefined;
  let malformed = false;
  let hasDns = false;
  for (const x of o) {
    if (x.code === 39 || x.code === 116) hasDns = true;
    if (isMalformedOption(x)) {
      malformed = true;
      continue;
    }
    if (isRawOption(x)) continue;
    switch (x.code) {
      case 114:
        bs ??= x;
        break;
      case 133:
        start ??= x;
        break;
      case 134:
        ste ??= x;
        break;
      case 123:
        pl ??= x;
        break;
      case 120:
        exp ??= x;
        break;
      case 46:
        clt ??= x;
        break;
      case 126:
        raw ??= x;
        break;
    }
  }
  const statusCode = bs?.bindingStatus ?? 0;
  const status = bs ? bindingStatusFromCode(bs.bindingStatus) : undefined;
  const lease: ReceivedLease = {
    option,
    key,
    statusCode,
    status,
    wire: { stateExpirationTime: ste?.stateExpirationTime, partnerLifetime: pl?.partnerLifetime },
    startTimeOfState: start ? fromWireTime(start.startTimeOfState) : 0,
    stateExpirationTime: ste ? fromWireTime(ste.stateExpirationTime) : undefined,
    partnerLifetime: pl ? fromWireTime(pl.partnerLifetime) : undefined,
    expirationTime: exp ? fromWireTime(exp.expirationTime) : undefined,
    cltTime: clt && baseTime !== undefined
      ? fromWireTime(Math.max(1, baseTime - clt.cltTime))
      : undefined,
    partnerRawCltTime: raw ? fromWireTime(raw.partnerRawCltTime) : undefined,
    hasDns,
  };
  if (malformed) lease.error = missing(`${where(key)}: malformed option`);
  else if (!bs) lease.error = missing(`${where(key)}: no OPTION_F_BINDING_STATUS`);
  else if (!status) {
    lease.error = missing(`${where(key)}: unknown binding status ${bs.bindingStatus}`);
  } else if (!start) lease.error = missing(`${where(key)}: no OPTION_F_START_TIME_OF_STATE`);
  else if (status === "ACTIVE" && (!ste || !pl || !exp)) {
    lease.error = missing(
      `${
        where(key)
      }: ACTIVE needs OPTION_F_STATE_EXPIRATION_TIME, OPTION_F_PARTNER_LIFETIME and OPTION_F_EXPIRATION_TIME`,
    );
  } else if (standalone && status === "ACTIVE") {
    lease.error = missing(`${where(key)}: an ACTIVE prefix needs a client (OPTION_CLIENT_DATA)`);
  } else if (
    kind === "pd" && (parseIPv6(key.address)! & ~prefixMask(key.prefixLength)) !== 0n
  ) {
    lease.error = {
      code: CONFIG_CONFLICT,
      message: `${where(key)}: bits set beyond the prefix length`,
    };
  } else if (!inScope(key, scope.prefixes)) {
    lease.error = {
      code: CONFIG_CONFLICT,
      message: `${where(key)}: not in this failover endpoint`,
    };
  } else if (lease.hasDns && !scope.acceptDnsInfo) {
    lease.error = {
      code: DNS_NOT_SUPPORTED,
      message: `${where(key)}: DNS update is not supported`,
    };
  }
  return lease;
}

/** True for OPTION_VSS naming the global default VPN (type 255) — the only one served here. */
function isDefaultVpn(vss: VssOption | undefined): boolean {
  return vss === undefined || vss.vssType === 255;
}

/**
 * Reads a received BNDUPD and applies the pre-checks of §7.5.3 (digest §9.1): exactly one
 * OPTION_CLIENT_DATA or standalone OPTION_IAPREFIX, else MissingBindingInformation at message
 * level; CLIENTID, LQ_BASE_TIME and an IA in CLIENT_DATA; a non-default VPN →
 * ConfigurationConflict on the outermost option; IA_TA (not served here) →
 * ConfigurationConflict on the IA; per lease: binding status, start time, the `*` options for
 * ACTIVE, the endpoint's prefixes, DNS-update information (DNSUpdateNotSupported unless
 * `scope.acceptDnsInfo`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   BindingStatus,
 *   clientData,
 *   clientId,
 *   failoverMessage,
 *   iaAddr,
 *   iaNa,
 *   leaseOptions,
 *   MessageType,
 *   parseBndupd,
 * } from "@failover6/failover6";
 *
 * const t = 762609600; // 2024-03-01T12:00:00Z in failover time
 * const bndupd = failoverMessage(MessageType.BNDUPD, 5, t, [
 *   clientData([
 *     clientId(new Uint8Array([0, 3, 0, 1, 2, 0, 0, 0, 0, 1])),
 *     { code: 100, baseTime: t }, // OPTION_LQ_BASE_TIME
 *     iaNa(1, 1800, 2880, [
 *       iaAddr(
 *         "2001:db8::10",
 *         3600,
 *         7200,
 *         leaseOptions({
 *           bindingStatus: BindingStatus.ACTIVE,
 *           startTimeOfState: t,
 *           stateExpirationTime: t + 7200,
 *           partnerLifetime: t + 259200,
 *           expirationTime: t + 7200,
 *         }),
 *       ),
 *     ]),
 *   ]),
 * ]);
 * const parsed = parseBndupd(bndupd, { prefixes: ["2001:db8::/64"] });
 * assert.equal(parsed.shape, "client");
 * if (parsed.shape === "client") {
 *   const lease = parsed.ias[0].leases[0];
 *   assert.equal(parsed.clientDuid, "00030001020000000001");
 *   assert.deepEqual(lease.key, { kind: "na", address: "2001:db8::10", prefixLength: 128 });
 *   assert.equal(lease.status, "ACTIVE");
 *   assert.equal(lease.startTimeOfState, 1709294400000); // engine time: ms since 1970
 *   assert.equal(lease.error, undefined); // passed the §7.5.3 pre-checks
 * }
 * ```
 */
export function parseBndupd(message: FailoverMessage, scope: EndpointScope = {}): ParsedBndupd {
  let cds = 0;
  let pfx = 0;
  let first: DhcpOption | undefined;
  for (const o of message.options) {
    if (o.code === 45) cds++;
    else if (o.code === 26) pfx++;
    else continue;
    first ??= o;
  }
  if (cds + pfx !== 1) {
    return {
      shape: "none",
      error: missing(
        `a BNDUPD needs exactly one OPTION_CLIENT_DATA or OPTION_IAPREFIX, found ${cds} and ${pfx}`,
      ),
    };
  }
  if (pfx === 1) {
    const p = first!;
    if (isMalformedOption(p) || !("options" in p)) {
      return { shape: "none", error: missing("malformed OPTION_IAPREFIX") };
    }
    const opt = p as IaPrefixOption;
    const base = findOption(opt.options, 100);
    const vss = findOption(opt.options, 68);
    const lease = readLease(opt, base?.baseTime, scope, true);
    let error: ReplyStatus | undefined;
    if (!base) error = missing("OPTION_IAPREFIX: no OPTION_LQ_BASE_TIME");
    else if (!isDefaultVpn(vss)) {
      error = { code: CONFIG_CONFLICT, message: "VPN (OPTION_VSS) not configured here" };
    }
    return { shape: "prefix", vss, baseTime: base?.baseTime ?? 0, lease, error };
  }
  const cd = first!;
  if (isMalformedOption(cd) || !("options" in cd)) {
    return { shape: "none", error: missing("malformed OPTION_CLIENT_DATA") };
  }
  const o = (cd as { options: DhcpOption[] }).options;
  let cid: ClientIdOption | undefined;
  let base: LqBaseTimeOption | undefined;
  let vss: VssOption | undefined;
  let malformed = false;
  for (const x of o) {
    if (isMalformedOption(x)) {
      malformed = true;
      continue;
    }
    if (isRawOption(x)) continue;
    if (x.code === 1) cid ??= x;
    else if (x.code === 100) base ??= x;
    else if (x.code === 68) vss ??= x;
  }
  // The decoder's DUID text is canonical (lower-case hex) when it has at most 130 octets.
  const duidHex = cid ? bytesToHex(cid.duid) : "";
  const clientDuid = duidHex.length <= 260 ? duidHex : "";
  const ias: ReceivedIa[] = [];
  for (const ia of o) {
    if (ia.code !== 3 && ia.code !== 4 && ia.code !== 25) continue;
    if (isMalformedOption(ia) || !("options" in ia)) {
      return { shape: "none", error: missing(`malformed IA option ${ia.code}`) };
    }
    const known = ia as {
      code: 3 | 4 | 25;
      iaid: number;
      t1?: number;
      t2?: number;
      options: DhcpOption[];
    };
    const entry: ReceivedIa = {
      code: known.code,
      iaid: known.iaid,
      t1: known.t1 ?? 0,
      t2: known.t2 ?? 0,
      leases: [],
    };
    const inner = known.code === 25
      ? findOptions(known.options, 26)
      : findOptions(known.options, 5);
    for (const l of inner) entry.leases.push(readLease(l, base?.baseTime, scope, false));
    if (known.code === 4) {
      entry.error = {
        code: CONFIG_CONFLICT,
        message: "IA_TA: temporary addresses are not served here",
      };
    } else if (entry.leases.length === 0) {
      entry.error = missing(`IA ${known.iaid}: no ${known.code === 25 ? "IAPREFIX" : "IAADDR"}`);
    }
    ias.push(entry);
  }
  let error: ReplyStatus | undefined;
  if (malformed) error = missing("OPTION_CLIENT_DATA: malformed option");
  else if (!cid || clientDuid === "") {
    error = missing("OPTION_CLIENT_DATA: no valid OPTION_CLIENTID");
  } else if (!base) error = missing("OPTION_CLIENT_DATA: no OPTION_LQ_BASE_TIME");
  else if (ias.length === 0) error = missing("OPTION_CLIENT_DATA: no IA_NA, IA_TA or IA_PD");
  else if (!isDefaultVpn(vss)) {
    error = { code: CONFIG_CONFLICT, message: "VPN (OPTION_VSS) not configured here" };
  }
  return {
    shape: "client",
    clientDuid,
    duid: cid?.duid,
    vss,
    baseTime: base?.baseTime ?? 0,
    ias,
    error,
  };
}

/** Every lease of a parsed BNDUPD that passed the pre-checks, with its IA. */
export function acceptableLeases(
  p: ParsedBndupd,
): { lease: ReceivedLease; ia?: ReceivedIa }[] {
  if (p.shape === "none" || p.error) return [];
  if (p.shape === "prefix") return p.lease.error ? [] : [{ lease: p.lease }];
  const out: { lease: ReceivedLease; ia?: ReceivedIa }[] = [];
  for (const ia of p.ias) {
    if (ia.error) continue;
    for (const lease of ia.leases) if (!lease.error) out.push({ lease, ia });
  }
  return out;
}

/**
 * `acceptedLease` for a lease this server has no record of: what the general case gives
 * from an all-empty FREE record, made in one object.
 */
function newAcceptedLease(
  received: ReceivedLease,
  ia: ReceivedIa | undefined,
  clientDuid: string,
  relationship: string,
  owner: Lease["owner"],
): Lease {
  return {
    kind: received.key.kind,
    address: received.key.address,
    prefixLength: received.key.prefixLength,
    clientDuid,
    iaid: ia ? ia.iaid : 0,
    status: received.status ?? "FREE",
    preferredLifetime: ia ? received.option.preferredLifetime : 0,
    validLifetime: ia ? received.option.validLifetime : 0,
    expirationTime: received.partnerLifetime ?? 0,
    partnerLifetime: Math.max(0, received.expirationTime ?? 0),
    ackedPartnerLifetime: 0,
    cltTime: Math.max(0, received.partnerRawCltTime ?? 0),
    partnerRawCltTime: received.cltTime ?? 0,
    startTimeOfState: received.startTimeOfState,
    stateExpirationTime: received.stateExpirationTime ?? 0,
    updatePending: false,
    ackPending: false,
    owner,
    relationship,
    pool: "",
  };
}

/**
 * The local record a received lease becomes when accepted (digest §5): status, start time and
 * state-expiration time as received; PARTNER_LIFETIME → expiration-time; CLT_TIME →
 * partner-raw-clt-time; PARTNER_RAW_CLT_TIME → client-last-transaction-time and
 * EXPIRATION_TIME → partner-lifetime only if later than the current values.
 */
export function acceptedLease(
  received: ReceivedLease,
  ia: ReceivedIa | undefined,
  clientDuid: string,
  local: Lease | undefined,
  relationship: string,
  owner: Lease["owner"],
): Lease {
  if (local === undefined) return newAcceptedLease(received, ia, clientDuid, relationship, owner);
  const base: Lease = local;
  const status = received.status ?? base.status;
  return {
    ...base,
    clientDuid: clientDuid !== ""
      ? clientDuid
      : status === "ACTIVE"
      ? base.clientDuid
      : base.clientDuid,
    iaid: ia ? ia.iaid : base.iaid,
    status,
    preferredLifetime: ia ? received.option.preferredLifetime : base.preferredLifetime,
    validLifetime: ia ? received.option.validLifetime : base.validLifetime,
    expirationTime: received.partnerLifetime ?? base.expirationTime,
    stateExpirationTime: received.stateExpirationTime ?? 0,
    startTimeOfState: received.startTimeOfState,
    partnerRawCltTime: received.cltTime ?? base.partnerRawCltTime,
    cltTime: Math.max(base.cltTime, received.partnerRawCltTime ?? 0),
    partnerLifetime: Math.max(base.partnerLifetime, received.expirationTime ?? 0),
    updatePending: false,
    owner,
    relationship: base.relationship || relationship,
  };
}

// ---------------------------------------------------------------------------------------
// Building a BNDREPLY
// ---------------------------------------------------------------------------------------

const NO_OUTCOMES: ReadonlyMap<ReceivedLease, ReplyStatus> = new Map();

function replyLeaseOptions(l: ReceivedLease, status: ReplyStatus | undefined): DhcpOption[] {
  const out: DhcpOption[] = [];
  if (status) out.push(statusCode(status.code, status.message));
  if (l.statusCode !== 0) out.push({ code: 114, bindingStatus: l.statusCode });
  if (l.wire.stateExpirationTime !== undefined) {
    out.push({ code: 134, stateExpirationTime: l.wire.stateExpirationTime });
  }
  if (l.wire.partnerLifetime !== undefined) {
    out.push({ code: 124, partnerLifetimeSent: l.wire.partnerLifetime });
  }
  return out;
}

function mirrorLease(l: ReceivedLease, status: ReplyStatus | undefined): DhcpOption {
  const inner = replyLeaseOptions(l, status);
  return l.option.code === 5
    ? iaAddr(l.option.address, l.option.preferredLifetime, l.option.validLifetime, inner)
    : iaPrefix(
      l.option.prefix,
      l.option.prefixLength,
      l.option.preferredLifetime,
      l.option.validLifetime,
      inner,
    );
}

/**
 * The options of the BNDREPLY for a parsed BNDUPD (§7.5.3, §7.6, §7.7, digest §3.5): the same
 * shape mirrored, each lease with its BINDING_STATUS, STATE_EXPIRATION_TIME and
 * PARTNER_LIFETIME_SENT (the received PARTNER_LIFETIME, unchanged), and an OPTION_STATUS_CODE
 * at the level that is rejected: message level when neither shape was found, the outermost
 * option for the whole BNDUPD, the IA for all its leases, or one IAADDR/IAPREFIX.
 * `outcomes` gives the status of leases decided by conflict resolution (absent = success).
 */
export function bndreplyOptions(
  p: ParsedBndupd,
  outcomes: ReadonlyMap<ReceivedLease, ReplyStatus> = NO_OUTCOMES,
): DhcpOption[] {
  if (p.shape === "none") return [statusCode(p.error.code, p.error.message)];
  if (p.shape === "prefix") {
    const l = p.lease;
    const status = p.error ?? l.error ?? outcomes.get(l);
    const inner: DhcpOption[] = [];
    if (p.vss) inner.push(p.vss);
    inner.push(...replyLeaseOptions(l, status));
    return [
      iaPrefix(
        l.key.address,
        l.key.prefixLength,
        l.option.preferredLifetime,
        l.option.validLifetime,
        inner,
      ),
    ];
  }
  const top: DhcpOption[] = [];
  if (p.duid) top.push(clientId(p.duid));
  if (p.vss) top.push(p.vss);
  if (p.error) top.push(statusCode(p.error.code, p.error.message));
  for (const ia of p.ias) {
    const inner: DhcpOption[] = [];
    if (ia.error && !p.error) inner.push(statusCode(ia.error.code, ia.error.message));
    for (const l of ia.leases) {
      const s = p.error || ia.error ? undefined : l.error ?? outcomes.get(l);
      inner.push(mirrorLease(l, s));
    }
    if (ia.code === 3) top.push(iaNa(ia.iaid, ia.t1, ia.t2, inner));
    else if (ia.code === 25) top.push(iaPd(ia.iaid, ia.t1, ia.t2, inner));
    else top.push({ code: 4, iaid: ia.iaid, options: inner });
  }
  return [clientData(top)];
}

// ---------------------------------------------------------------------------------------
// Reading a BNDREPLY
// ---------------------------------------------------------------------------------------

/** One lease of a received BNDREPLY. */
export interface AckedLease {
  key: { kind: LeaseKind; address: string; prefixLength: number };
  /** The status that applies to this lease (its own, or inherited from an enclosing level). */
  status: ReplyStatus;
  /** OPTION_F_BINDING_STATUS as echoed. */
  bindingStatus?: BindingStatus;
  /** OPTION_F_STATE_EXPIRATION_TIME as echoed (ms). */
  stateExpirationTime?: number;
  /** OPTION_F_PARTNER_LIFETIME_SENT (ms). */
  partnerLifetimeSent?: number;
}

/** A received BNDREPLY. */
export interface ParsedBndreply {
  /** A status at message level (no lease mirrored), if any. */
  messageStatus?: ReplyStatus;
  leases: AckedLease[];
}

const SUCCESS: ReplyStatus = { code: 0, message: "" };

function statusOf(options: readonly DhcpOption[], inherited: ReplyStatus): ReplyStatus {
  if (inherited.code !== 0) return inherited;
  const s = findOption(options, 13);
  return s ? { code: s.statusCode, message: s.statusMessage } : inherited;
}

function ackedLease(o: IaAddrOption | IaPrefixOption, inherited: ReplyStatus): AckedLease {
  // One pass: the first well-formed option of each code (as `findOption`).
  let bs: BindingStatusOption | undefined;
  let ste: StateExpirationTimeOption | undefined;
  let pls: PartnerLifetimeSentOption | undefined;
  let st: StatusCodeOption | undefined;
  for (const x of o.options) {
    if (isMalformedOption(x) || isRawOption(x)) continue;
    if (x.code === 114) bs ??= x;
    else if (x.code === 134) ste ??= x;
    else if (x.code === 124) pls ??= x;
    else if (x.code === 13) st ??= x;
  }
  return {
    key: o.code === 5
      ? { kind: "na", address: o.address, prefixLength: 128 }
      : { kind: "pd", address: o.prefix, prefixLength: o.prefixLength },
    status: inherited.code !== 0 || !st
      ? inherited
      : { code: st.statusCode, message: st.statusMessage },
    bindingStatus: bs ? bindingStatusFromCode(bs.bindingStatus) : undefined,
    stateExpirationTime: ste ? fromWireTime(ste.stateExpirationTime) : undefined,
    partnerLifetimeSent: pls ? fromWireTime(pls.partnerLifetimeSent) : undefined,
  };
}

/**
 * Reads a BNDREPLY: every mirrored lease with the status that covers it (a rejection at any
 * level covers everything beneath it; a success says nothing about what is beneath, §7.7).
 */
export function parseBndreply(message: FailoverMessage): ParsedBndreply {
  const leases: AckedLease[] = [];
  const top = statusOf(message.options, SUCCESS);
  for (const o of message.options) {
    if (o.code === 26 && !isMalformedOption(o) && "options" in o) {
      leases.push(ackedLease(o as IaPrefixOption, top));
    } else if (o.code === 45 && !isMalformedOption(o) && "options" in o) {
      const cd = (o as { options: DhcpOption[] }).options;
      const cdStatus = statusOf(cd, top);
      for (const ia of cd) {
        if ((ia.code !== 3 && ia.code !== 4 && ia.code !== 25) || !("options" in ia)) continue;
        const io = (ia as { options: DhcpOption[] }).options;
        const iaStatus = statusOf(io, cdStatus);
        for (const l of io) {
          if ((l.code === 5 || l.code === 26) && !isMalformedOption(l) && "options" in l) {
            leases.push(ackedLease(l as IaAddrOption | IaPrefixOption, iaStatus));
          }
        }
      }
    }
  }
  return { messageStatus: top.code !== 0 ? top : undefined, leases };
}

// ---------------------------------------------------------------------------------------
// Keys for the shell's lookups
// ---------------------------------------------------------------------------------------

/**
 * The keys of the leases a BNDUPD or BNDREPLY names, for the shell to look up before feeding
 * the message to the engine (the `bindings` of a `message-received` event). Other messages
 * name none.
 */
export function bindingKeysOf(message: FailoverMessage): LeaseKey[] {
  if (message.msgType !== 24 && message.msgType !== 25) return [];
  const keys: LeaseKey[] = [];
  collectKeys(message.options, 0, keys);
  return keys;
}

function collectKeys(options: readonly DhcpOption[], depth: number, keys: LeaseKey[]): void {
  for (const o of options) {
    if (isMalformedOption(o)) continue;
    if (o.code === 5 && "address" in o) {
      keys.push({ kind: "na", address: o.address, prefixLength: 128 });
    } else if (o.code === 26 && "prefix" in o) {
      if ((parseIPv6(o.prefix)! & ~prefixMask(o.prefixLength)) === 0n) {
        keys.push({ kind: "pd", address: o.prefix, prefixLength: o.prefixLength });
      }
    } else if ((o.code === 45 || o.code === 3 || o.code === 25) && "options" in o && depth < 2) {
      collectKeys(o.options, depth + 1, keys);
    }
  }
}
