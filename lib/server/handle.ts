/**
 * The DHCPv6 server core (RFC 8415 §16, §18.3): one pure function from (settings, server
 * DUID, a view of the bindings, a failover policy, a received message, now) to either a reply
 * plus the lease changes to commit before sending it, or a drop with its reason.
 *
 * - Solicit: Advertise with what a Request would get (nothing committed); with Rapid Commit
 *   sent by the client and allowed on the subnet, a Reply with Rapid Commit (committed).
 *   Nothing assignable at all: Advertise with a message-level NoAddrsAvail; some IAs not
 *   servable: those IAs carry NoAddrsAvail / NoPrefixAvail.
 * - Request: bindings created or returned as they are; an IA_NA naming an off-link address
 *   gets NotOnLink; an IA with nothing available gets NoAddrsAvail / NoPrefixAvail.
 * - Renew / Rebind: known leases get new lifetimes; leases not appropriate to the link come
 *   back with lifetimes 0; unknown IAs get a new lease when allowed (Renew: `renewCreates`;
 *   Rebind: also Rapid Commit on the subnet), else NoBinding; a Rebind the server knows
 *   nothing about gets no reply.
 * - Release / Decline: leases become RELEASED / ABANDONED; Success at message level, NoBinding
 *   in each IA the server has no binding for.
 * - Confirm: Success when every address is on the link, NotOnLink otherwise, no reply when
 *   undecidable. Information-request: options only.
 * - T1/T2 are the same in every IA of a reply: from the shortest preferred lifetime granted.
 *
 * @module
 */

import { emptyLease } from "../store/lease.ts";
import type { Lease, LeaseKind } from "../store/types.ts";
import { formatIPv6, parseIPv6, prefixContains } from "../util/ipv6.ts";

import { findOption, findOptions, isOption } from "../wire/options.ts";
import {
  type ClientServerMessage,
  type DhcpOption,
  type IaAddrOption,
  type IaNaOption,
  type IaPdOption,
  type IaPrefixOption,
  INFINITY,
  type Message,
  MessageType,
  StatusCode,
} from "../wire/types.ts";
import {
  allocate,
  appropriatePool,
  type Choice,
  claim,
  type Hint,
  leaseKeyText,
} from "./allocate.ts";
import { replyOptions, requestedOptions } from "./options.ts";
import { type FailoverPolicy, standalonePolicy } from "./policy.ts";
import { type RelayHop, selectSubnet, unwrapRelay, wrapRelayReply } from "./relay.ts";
import { renewTimes, type ServerSettings, type SubnetSettings } from "./settings.ts";
import type { DropReason, HandleResult, Inbound, LeaseChange, LeaseView } from "./types.ts";
import { validateMessage } from "./validate.ts";

/** Everything the handler reads besides the message. */
export interface HandlerContext {
  /** Compiled configuration. */
  settings: ServerSettings;
  /** Our DUID (the Server Identifier). */
  serverDuid: Uint8Array;
  /** The bindings (a {@linkcode LeaseIndex} in the server; any `BindingStore` works too). */
  leases: LeaseView;
  /** Failover gating; default {@linkcode standalonePolicy}. */
  policy?: FailoverPolicy;
}

/** Status texts sent with each status code. */
const STATUS_TEXT: Readonly<Record<number, string>> = {
  [StatusCode.Success]: "success",
  [StatusCode.NoAddrsAvail]: "no addresses available",
  [StatusCode.NoBinding]: "no binding for this IA",
  [StatusCode.NotOnLink]: "address not on the client's link",
  [StatusCode.UseMulticast]: "use multicast",
  [StatusCode.NoPrefixAvail]: "no prefixes available",
};

function status(code: number): DhcpOption {
  return { code: 13, statusCode: code, statusMessage: STATUS_TEXT[code] ?? "" };
}

/** The state of one message being handled. */
interface Work {
  ctx: HandlerContext;
  policy: FailoverPolicy;
  inbound: Inbound;
  hops: RelayHop[];
  msg: ClientServerMessage;
  clientDuid?: Uint8Array;
  duid: string;
  subnet?: SubnetSettings;
  now: number;
  /** Leases are written (Request, Renew, …) rather than only offered (Advertise). */
  commit: boolean;
  changes: LeaseChange[];
  taken: Set<string>;
  clientLeases?: Lease[];
  /** Shortest non-zero preferred lifetime granted so far. */
  shortest?: number;
  /** IA options with at least one non-zero lifetime: their T1/T2 are set at the end. */
  timed: (IaNaOption | IaPdOption)[];
}

function dropped(reason: DropReason, detail: string, requestType?: number): HandleResult {
  return requestType === undefined
    ? { kind: "drop", reason, detail }
    : { kind: "drop", reason, detail, requestType };
}

function clientLeases(w: Work): Lease[] {
  if (w.clientLeases === undefined) w.clientLeases = w.ctx.leases.getByClient(w.duid);
  return w.clientLeases;
}

function hintsOf(kind: LeaseKind, ia: IaNaOption | IaPdOption): Hint[] {
  if (kind === "na") {
    return findOptions(ia.options, 5).flatMap((o) => {
      const a = parseIPv6(o.address);
      return a === undefined || a === 0n ? [] : [{ address: a, prefixLength: 128 }];
    });
  }
  return findOptions(ia.options, 26).flatMap((o) => {
    const a = parseIPv6(o.prefix);
    return a === undefined || o.prefixLength > 128
      ? []
      : [{ address: a, prefixLength: o.prefixLength }];
  });
}

function leaseOption(
  kind: LeaseKind,
  address: string,
  prefixLength: number,
  preferred: number,
  valid: number,
): IaAddrOption | IaPrefixOption {
  return kind === "na"
    ? { code: 5, address, preferredLifetime: preferred, validLifetime: valid, options: [] }
    : {
      code: 26,
      preferredLifetime: preferred,
      validLifetime: valid,
      prefixLength,
      prefix: address,
      options: [],
    };
}

function expiresAt(now: number, valid: number): number {
  return valid === INFINITY ? 0 : now + valid * 1000;
}

/** Grants (or, in Advertise mode, offers) one lease and returns its IAADDR / IAPREFIX. */
function grant(
  w: Work,
  kind: LeaseKind,
  iaid: number,
  address: string,
  prefixLength: number,
  pool: string,
  before: Lease | undefined,
): IaAddrOption | IaPrefixOption {
  const s = w.subnet!;
  const lt = w.policy.lifetimes({
    kind,
    preferred: s.lifetimes.preferred,
    valid: s.lifetimes.valid,
    ...(before ? { before } : {}),
    relationship: s.relationship,
    now: w.now,
  });
  const preferred = Math.min(lt.preferred, lt.valid);
  w.taken.add(leaseKeyText(kind, address, prefixLength));
  if (w.commit) {
    const base = before ?? emptyLease({ kind, address, prefixLength });
    const same = base.status === "ACTIVE" && base.clientDuid === w.duid;
    const after: Lease = {
      ...base,
      clientDuid: w.duid,
      iaid,
      status: "ACTIVE",
      preferredLifetime: preferred,
      validLifetime: lt.valid,
      expirationTime: expiresAt(w.now, lt.valid),
      cltTime: w.now,
      startTimeOfState: same ? base.startTimeOfState : w.now,
      stateExpirationTime: 0,
      pool,
    };
    w.changes.push(
      before ? { before, after: w.policy.stamp(after, before, w.now) } : {
        after: w.policy.stamp(after, undefined, w.now),
      },
    );
  }
  if (preferred > 0 && (w.shortest === undefined || preferred < w.shortest)) w.shortest = preferred;
  return leaseOption(kind, address, prefixLength, preferred, lt.valid);
}

function grantChoice(w: Work, iaid: number, c: Choice): IaAddrOption | IaPrefixOption {
  return grant(w, c.kind, iaid, c.addressText, c.prefixLength, c.pool, c.existing);
}

/** Withdraws a lease the client holds that no longer fits its link: lifetimes 0. */
function withdraw(w: Work, lease: Lease): IaAddrOption | IaPrefixOption {
  w.taken.add(leaseKeyText(lease.kind, lease.address, lease.prefixLength));
  if (w.commit && lease.status === "ACTIVE") {
    const after: Lease = {
      ...lease,
      status: "EXPIRED",
      cltTime: w.now,
      startTimeOfState: w.now,
      stateExpirationTime: 0,
    };
    w.changes.push({ before: lease, after: w.policy.stamp(after, lease, w.now) });
  }
  return leaseOption(lease.kind, lease.address, lease.prefixLength, 0, 0);
}

/** ACTIVE leases of this client's IA, in address order of the view. */
function boundLeases(w: Work, kind: LeaseKind, iaid: number): Lease[] {
  return clientLeases(w).filter((l) =>
    l.kind === kind && l.iaid === iaid && l.status === "ACTIVE" &&
    !w.taken.has(leaseKeyText(l.kind, l.address, l.prefixLength))
  );
}

function leasePool(w: Work, l: Lease): string | undefined {
  const a = parseIPv6(l.address);
  return a === undefined
    ? undefined
    : appropriatePool(w.subnet!, l.kind, a, l.prefixLength, w.duid);
}

type Ia = { kind: "na"; option: IaNaOption } | { kind: "pd"; option: IaPdOption };

/** IA_NA and IA_PD options of the message (first of each IAID), and the IAIDs of IA_TAs. */
function iasOf(msg: ClientServerMessage): { ias: Ia[]; ta: number[] } {
  const ias: Ia[] = [];
  const seen = new Set<string>();
  const ta: number[] = [];
  const first = (key: string): boolean => {
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  };
  for (const o of msg.options) {
    if (isOption(o, 3)) {
      if (first(`na${o.iaid}`)) ias.push({ kind: "na", option: o });
    } else if (isOption(o, 25)) {
      if (first(`pd${o.iaid}`)) ias.push({ kind: "pd", option: o });
    } else if (isOption(o, 4)) {
      if (first(`ta${o.iaid}`)) ta.push(o.iaid);
    }
  }
  return { ias, ta };
}

/** An IA_NA or IA_PD answering `ia`, T1/T2 0 until {@linkcode setRenewTimes}. */
function iaOption(ia: Ia, options: DhcpOption[]): IaNaOption | IaPdOption {
  return ia.kind === "na"
    ? { code: 3, iaid: ia.option.iaid, t1: 0, t2: 0, options }
    : { code: 25, iaid: ia.option.iaid, t1: 0, t2: 0, options };
}

/** The IA with a status code and, before it, any leases with lifetimes 0. */
function emptyIa(ia: Ia, statusCode: number, zeroed: DhcpOption[] = []): IaNaOption | IaPdOption {
  return iaOption(ia, [...zeroed, status(statusCode)]);
}

function noneAvail(kind: LeaseKind): number {
  return kind === "na" ? StatusCode.NoAddrsAvail : StatusCode.NoPrefixAvail;
}

/** The IA with its leases; it gets the reply's T1/T2 when one has a non-zero lifetime. */
function iaWith(
  w: Work,
  ia: Ia,
  leases: (IaAddrOption | IaPrefixOption)[],
): IaNaOption | IaPdOption {
  const out = iaOption(ia, leases);
  if (leases.some((l) => l.validLifetime > 0)) w.timed.push(out);
  return out;
}

/** Outcome of one IA: the IA option for the reply and whether it got a lease. */
interface IaOutcome {
  option: IaNaOption | IaPdOption;
  served: boolean;
}

/** Solicit / Request: return the IA's bindings or allocate one lease. */
function assignIa(w: Work, ia: Ia, overLimit: boolean, checkOnLink: boolean): IaOutcome {
  if (overLimit) return { option: emptyIa(ia, noneAvail(ia.kind)), served: false };
  const hints = hintsOf(ia.kind, ia.option);
  if (checkOnLink && ia.kind === "na") {
    const off = hints.some((h) => !prefixContains(w.subnet!.prefix, h.address));
    if (off) return { option: emptyIa(ia, StatusCode.NotOnLink), served: false };
  }
  const granted: (IaAddrOption | IaPrefixOption)[] = [];
  for (const l of boundLeases(w, ia.kind, ia.option.iaid)) {
    const pool = leasePool(w, l);
    if (pool !== undefined) {
      granted.push(grant(w, l.kind, l.iaid, l.address, l.prefixLength, pool, l));
    } else if (w.commit) granted.push(withdraw(w, l));
  }
  if (!granted.some((g) => g.validLifetime > 0)) {
    const c = allocate(
      {
        subnet: w.subnet!,
        view: w.ctx.leases,
        policy: w.policy,
        now: w.now,
        clientLeases: clientLeases(w),
      },
      { clientDuid: w.duid, iaid: ia.option.iaid, kind: ia.kind, hints, taken: w.taken },
    );
    if (c) granted.push(grantChoice(w, ia.option.iaid, c));
  }
  if (!granted.some((g) => g.validLifetime > 0)) {
    return { option: emptyIa(ia, noneAvail(ia.kind), granted), served: false };
  }
  return { option: iaWith(w, ia, granted), served: true };
}

/**
 * Renew / Rebind of one IA (RFC 8415 §18.3.4, §18.3.5). Known leases appropriate to the link
 * are extended, others come back with lifetimes 0; an address the client names that the server
 * has no binding for is re-bound when `mayCreate`, it is available and the IA has no other
 * lease, else returned with lifetimes 0. An IA left with no usable lease gets a new one when `mayCreate`. `undefined`: the server has no
 * binding and may not create one (NoBinding, or no reply to a Rebind).
 */
function extendIa(w: Work, ia: Ia, mayCreate: boolean, overLimit: boolean): IaOutcome | undefined {
  const s = w.subnet!;
  const kind = ia.kind;
  const iaid = ia.option.iaid;
  if (overLimit) return { option: emptyIa(ia, noneAvail(kind)), served: false };
  const out: (IaAddrOption | IaPrefixOption)[] = [];
  const bound = boundLeases(w, kind, iaid);
  for (const l of bound) {
    const pool = leasePool(w, l);
    out.push(
      pool !== undefined
        ? grant(w, kind, iaid, l.address, l.prefixLength, pool, l)
        : withdraw(w, l),
    );
  }
  const hints = hintsOf(kind, ia.option);
  const actx = () => ({
    subnet: s,
    view: w.ctx.leases,
    policy: w.policy,
    now: w.now,
    clientLeases: clientLeases(w),
  });
  for (const h of hints) {
    if (h.address === 0n) continue; // a length-only prefix hint names nothing
    const text = formatIPv6(h.address);
    const key = leaseKeyText(kind, text, h.prefixLength);
    if (w.taken.has(key)) continue;
    const pool = appropriatePool(s, kind, h.address, h.prefixLength, w.duid);
    // Re-bind one named lease when the IA has none left (at most one lease per IA).
    if (pool !== undefined && mayCreate && !out.some((o) => o.validLifetime > 0)) {
      const req = { clientDuid: w.duid, iaid, kind, hints: [h], taken: w.taken };
      const c = claim(actx(), req, h.address, h.prefixLength, pool);
      if (c) {
        out.push(grantChoice(w, iaid, c));
        continue;
      }
    }
    if (pool !== undefined && !mayCreate && bound.length === 0) continue; // NoBinding below
    // Not for this link, or not available to this client: it must stop using it.
    w.taken.add(key);
    out.push(leaseOption(kind, text, h.prefixLength, 0, 0));
  }
  if (out.some((o) => o.validLifetime > 0)) return { option: iaWith(w, ia, out), served: true };
  if (mayCreate) {
    const c = allocate(actx(), { clientDuid: w.duid, iaid, kind, hints, taken: w.taken });
    if (c) {
      out.push(grantChoice(w, iaid, c));
      return { option: iaWith(w, ia, out), served: true };
    }
    return { option: emptyIa(ia, noneAvail(kind), out), served: false };
  }
  if (out.length > 0) return { option: iaWith(w, ia, out), served: false };
  return undefined;
}

function setRenewTimes(w: Work): void {
  const { t1, t2 } = renewTimes(w.subnet!.lifetimes, w.shortest);
  for (const ia of w.timed) {
    ia.t1 = t1;
    ia.t2 = t2;
  }
}

function configOptions(w: Work): DhcpOption[] {
  const available = w.subnet?.options ?? w.ctx.settings.defaultOptions;
  return replyOptions(available, requestedOptions(w.msg.options), w.ctx.settings.alwaysSend);
}

function unicastOption(w: Work): DhcpOption[] {
  const u = w.ctx.settings.serverUnicast;
  return u === undefined ? [] : [{ code: 12, serverAddress: u }];
}

function answer(w: Work, replyType: number, body: DhcpOption[]): HandleResult {
  const options: DhcpOption[] = [{ code: 2, duid: w.ctx.serverDuid }];
  if (w.clientDuid !== undefined) options.push({ code: 1, duid: w.clientDuid });
  options.push(...body);
  const inner: Message = {
    kind: "client-server",
    msgType: replyType,
    transactionId: w.msg.transactionId,
    options,
  };
  const message = w.hops.length > 0 ? wrapRelayReply(w.hops, inner) : inner;
  return {
    kind: "reply",
    message,
    requestType: w.msg.msgType,
    replyType,
    to: { address: w.inbound.sourceAddress, port: w.inbound.sourcePort },
    changes: w.changes,
    ...(w.subnet ? { subnet: w.subnet.name } : {}),
    ...(w.duid !== "" ? { clientDuid: w.duid } : {}),
  };
}

function limitFlags(w: Work, ias: Ia[]): boolean[] {
  const counts = { na: 0, pd: 0 };
  return ias.map((ia) => ++counts[ia.kind] > w.ctx.settings.maxIasPerType);
}

function taOptions(ta: number[]): DhcpOption[] {
  return ta.map((iaid) => ({ code: 4, iaid, options: [status(StatusCode.NoAddrsAvail)] }));
}

function solicit(w: Work): HandleResult {
  const rapid = findOption(w.msg.options, 14) !== undefined && w.subnet!.rapidCommit;
  w.commit = rapid;
  const { ias, ta } = iasOf(w.msg);
  const over = limitFlags(w, ias);
  const outcomes = ias.map((ia, i) => assignIa(w, ia, over[i], false));
  if ((ias.length > 0 || ta.length > 0) && !outcomes.some((o) => o.served)) {
    w.changes = [];
    return answer(w, MessageType.ADVERTISE, [status(StatusCode.NoAddrsAvail)]);
  }
  setRenewTimes(w);
  const body: DhcpOption[] = [...outcomes.map((o) => o.option), ...taOptions(ta)];
  if (rapid) body.push({ code: 14 });
  const pref = w.ctx.settings.preference;
  if (!rapid && pref !== undefined) body.push({ code: 7, preference: pref });
  body.push(...unicastOption(w), ...configOptions(w));
  return answer(w, rapid ? MessageType.REPLY : MessageType.ADVERTISE, body);
}

function request(w: Work): HandleResult {
  w.commit = true;
  const { ias, ta } = iasOf(w.msg);
  const over = limitFlags(w, ias);
  const outcomes = ias.map((ia, i) => assignIa(w, ia, over[i], true));
  setRenewTimes(w);
  return answer(w, MessageType.REPLY, [
    ...outcomes.map((o) => o.option),
    ...taOptions(ta),
    ...unicastOption(w),
    ...configOptions(w),
  ]);
}

function renewOrRebind(w: Work, rebind: boolean): HandleResult {
  w.commit = true;
  const s = w.ctx.settings;
  const mayCreate = s.renewCreates && (!rebind || w.subnet!.rapidCommit);
  const { ias, ta } = iasOf(w.msg);
  const over = limitFlags(w, ias);
  const body: DhcpOption[] = [];
  let decided = 0;
  for (let i = 0; i < ias.length; i++) {
    const r = extendIa(w, ias[i], mayCreate, over[i]);
    if (r !== undefined) {
      decided++;
      body.push(r.option);
    } else {
      body.push(emptyIa(ias[i], StatusCode.NoBinding));
    }
  }
  if (rebind && decided === 0) {
    return dropped(
      "rebind-no-binding",
      "Rebind for bindings this server does not know",
      w.msg.msgType,
    );
  }
  setRenewTimes(w);
  body.push(
    ...ta.map((iaid): DhcpOption => ({ code: 4, iaid, options: [status(StatusCode.NoBinding)] })),
    ...unicastOption(w),
    ...configOptions(w),
  );
  return answer(w, MessageType.REPLY, body);
}

/** Release (to RELEASED) or Decline (to ABANDONED). */
function releaseOrDecline(w: Work, decline: boolean): HandleResult {
  w.commit = true;
  const { ias, ta } = iasOf(w.msg);
  const body: DhcpOption[] = [status(StatusCode.Success)];
  const hold = w.ctx.settings.abandonedHoldSeconds;
  for (const ia of ias) {
    if (decline && ia.kind === "pd") continue; // Decline is about addresses (RFC 8415 §18.2.8)
    const bound = clientLeases(w).filter((l) =>
      l.kind === ia.kind && l.iaid === ia.option.iaid && l.status === "ACTIVE"
    );
    if (bound.length === 0) {
      body.push(emptyIa(ia, StatusCode.NoBinding));
      continue;
    }
    for (const h of hintsOf(ia.kind, ia.option)) {
      const text = formatIPv6(h.address);
      const l = bound.find((b) => b.address === text && b.prefixLength === h.prefixLength);
      if (l === undefined || w.taken.has(leaseKeyText(l.kind, l.address, l.prefixLength))) continue;
      w.taken.add(leaseKeyText(l.kind, l.address, l.prefixLength));
      const after: Lease = decline
        ? {
          ...l,
          status: "ABANDONED",
          cltTime: w.now,
          startTimeOfState: w.now,
          stateExpirationTime: hold > 0 ? w.now + hold * 1000 : 0,
        }
        : {
          ...l,
          status: "RELEASED",
          cltTime: w.now,
          startTimeOfState: w.now,
          stateExpirationTime: 0,
        };
      w.changes.push({ before: l, after: w.policy.stamp(after, l, w.now) });
    }
  }
  for (const iaid of ta) body.push({ code: 4, iaid, options: [status(StatusCode.NoBinding)] });
  return answer(w, MessageType.REPLY, body);
}

function confirm(w: Work): HandleResult {
  const s = w.subnet;
  const addresses: bigint[] = [];
  for (const o of w.msg.options) {
    if ((o.code === 3 || o.code === 4) && "options" in o && Array.isArray(o.options)) {
      for (const a of findOptions(o.options, 5)) {
        const v = parseIPv6(a.address);
        if (v !== undefined) addresses.push(v);
      }
    }
  }
  if (s === undefined || addresses.length === 0) {
    return dropped(
      "confirm-undecidable",
      s === undefined ? "Confirm from an unknown link" : "Confirm without addresses",
      w.msg.msgType,
    );
  }
  const onLink = addresses.every((a) => prefixContains(s.prefix, a));
  return answer(w, MessageType.REPLY, [status(onLink ? StatusCode.Success : StatusCode.NotOnLink)]);
}

function informationRequest(w: Work): HandleResult {
  return answer(w, MessageType.REPLY, [...unicastOption(w), ...configOptions(w)]);
}

/** Message types that need the client's subnet to be known. */
const NEEDS_SUBNET: ReadonlySet<number> = new Set([
  MessageType.SOLICIT,
  MessageType.REQUEST,
  MessageType.RENEW,
  MessageType.REBIND,
]);

/**
 * Handles one received message. Pure: reads `ctx.leases`, changes nothing; the caller
 * applies `changes` to its view at once, commits them, and only then sends `message`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   clientId,
 *   compileSettings,
 *   defaultConfig,
 *   handle,
 *   iaNa,
 *   MemoryBindingStore,
 *   MessageType,
 * } from "@failover6/failover6";
 *
 * const settings = compileSettings(defaultConfig());
 * const serverDuid = new Uint8Array([0, 3, 0, 1, 2, 0, 0, 0, 0, 0xaa]);
 * const leases = new MemoryBindingStore(); // any LeaseView
 * const request = {
 *   kind: "client-server" as const,
 *   msgType: MessageType.REQUEST,
 *   transactionId: 8,
 *   options: [
 *     clientId(new Uint8Array([0, 3, 0, 1, 2, 0, 0, 0, 0, 1])),
 *     { code: 2 as const, duid: serverDuid }, // OPTION_SERVERID: this server
 *     iaNa(1, 0, 0),
 *   ],
 * };
 * const r = handle(
 *   { settings, serverDuid, leases },
 *   { message: request, sourceAddress: "fe80::1", sourcePort: 546, unicast: false },
 *   1709294400000,
 * );
 * assert.equal(r.kind, "reply");
 * if (r.kind === "reply") {
 *   assert.equal(r.replyType, MessageType.REPLY);
 *   assert.equal(r.changes.length, 1); // commit this lease before sending r.message
 *   assert.equal(r.changes[0].after.status, "ACTIVE");
 * }
 * ```
 */
export function handle(ctx: HandlerContext, inbound: Inbound, now: number): HandleResult {
  const un = unwrapRelay(inbound.message);
  if (!un.ok) return dropped(un.reason, un.detail, un.requestType);
  const msg = un.message;
  const relayed = un.hops.length > 0;
  const settings = ctx.settings;
  const v = validateMessage(msg, {
    serverDuid: ctx.serverDuid,
    unicast: inbound.unicast && !relayed,
    unicastAllowed: settings.serverUnicast !== undefined,
  });
  if (v.kind === "drop") return dropped(v.reason, v.detail, msg.msgType);
  const policy = ctx.policy ?? standalonePolicy;
  const zone = inbound.sourceAddress.indexOf("%");
  const interfaceName = inbound.interfaceName ??
    (zone >= 0 ? inbound.sourceAddress.slice(zone + 1) : undefined);
  const subnet = selectSubnet(settings, {
    hops: un.hops,
    sourceAddress: zone >= 0 ? inbound.sourceAddress.slice(0, zone) : inbound.sourceAddress,
    ...(interfaceName !== undefined ? { interfaceName } : {}),
  });
  const admitted = policy.admits({
    msgType: msg.msgType,
    serverIdIsOurs: v.kind === "valid" && v.serverIdIsOurs,
    ...(subnet ? { subnet: subnet.name, relationship: subnet.relationship } : {}),
  });
  if (!admitted) {
    return dropped(
      "failover-unresponsive",
      `failover policy ${policy.name} does not answer`,
      msg.msgType,
    );
  }
  const w: Work = {
    ctx,
    policy,
    inbound,
    hops: un.hops,
    msg,
    duid: v.clientDuidHex,
    now,
    commit: false,
    changes: [],
    taken: new Set(),
    timed: [],
    ...(v.clientDuid !== undefined ? { clientDuid: v.clientDuid } : {}),
    ...(subnet ? { subnet } : {}),
  };
  if (v.kind === "use-multicast") {
    return answer(w, MessageType.REPLY, [status(StatusCode.UseMulticast)]);
  }
  if (NEEDS_SUBNET.has(msg.msgType) && subnet === undefined) {
    return dropped("no-subnet", "no subnet matches the client's link", msg.msgType);
  }
  switch (msg.msgType) {
    case MessageType.SOLICIT:
      return solicit(w);
    case MessageType.REQUEST:
      return request(w);
    case MessageType.RENEW:
      return renewOrRebind(w, false);
    case MessageType.REBIND:
      return renewOrRebind(w, true);
    case MessageType.RELEASE:
      return releaseOrDecline(w, false);
    case MessageType.DECLINE:
      return releaseOrDecline(w, true);
    case MessageType.CONFIRM:
      return confirm(w);
    default:
      return informationRequest(w);
  }
}
