/**
 * Options and leases written as YAML, turned into wire options. An option list item is one of:
 *
 * - `{OPTION_F_MCLT: {mclt: 60}}` — the option name (with or without `OPTION_`) and its fields
 *   as the wire types name them (`lib/wire/types.ts`); container fields take `options: [...]`;
 * - `{F_MCLT: 60}` — shorthand for an option with a single field;
 * - `{code: 122, data: "0000"}` — raw octets (any code), and with `length: 9` a malformed
 *   option whose option-len disagrees with its data.
 *
 * Octet fields (DUIDs, keys) are hex; enumerations take names or numbers (`serverState:
 * NORMAL`, `bindingStatus: ACTIVE`, `statusCode: ExcessiveTimeSkew`); flag options take
 * `flags` or their named booleans (`startup: true`). The `lease` shorthand builds the
 * CLIENT_DATA or standalone IAPREFIX tree of RFC 8156 §7.4 (see {@linkcode leaseTree}).
 *
 * Errors are {@linkcode BuildError}s naming the path of the offending field.
 *
 * @module
 */

import { hexToBytes } from "../wire/bytes.ts";
import { canonicalIPv6 } from "../util/ipv6.ts";
import { type LeaseFields, leaseOptions } from "../wire/options.ts";
import { optionName } from "../wire/names.ts";
import type { DhcpOption } from "../wire/types.ts";
import { bindingStatusOf, optionCodeOf, stateOf, statusCodeOf } from "./names.ts";

/** A scenario value that cannot become a wire option. */
export class BuildError extends Error {
  override name = "BuildError";
  /** Where, e.g. `options[2].OPTION_IA_NA.options[0].OPTION_IAADDR.address`. */
  readonly path: string;
  /** Creates the error. */
  constructor(path: string, message: string) {
    super(path === "" ? message : `${path}: ${message}`);
    this.path = path;
  }
}

type Kind =
  | "u8"
  | "u16"
  | "u32"
  | "string"
  | "address"
  | "bytes"
  | "options"
  | "u16list"
  | "addrlist"
  | "namelist"
  | "name"
  | "bool"
  | "state"
  | "bindingStatus"
  | "statusCode";

/** Field kinds per option code (the typed forms of `lib/wire/types.ts`). */
const FIELDS: Record<number, Record<string, Kind>> = {
  1: { duid: "bytes" },
  2: { duid: "bytes" },
  3: { iaid: "u32", t1: "u32", t2: "u32", options: "options" },
  4: { iaid: "u32", options: "options" },
  5: { address: "address", preferredLifetime: "u32", validLifetime: "u32", options: "options" },
  6: { requestedOptions: "u16list" },
  7: { preference: "u8" },
  8: { elapsedTime: "u16" },
  12: { serverAddress: "address" },
  13: { statusCode: "statusCode", statusMessage: "string" },
  14: {},
  18: { interfaceId: "bytes" },
  19: { reconfMsgType: "u8" },
  20: {},
  23: { dnsServers: "addrlist" },
  24: { domains: "namelist" },
  25: { iaid: "u32", t1: "u32", t2: "u32", options: "options" },
  26: {
    preferredLifetime: "u32",
    validLifetime: "u32",
    prefixLength: "u8",
    prefix: "address",
    options: "options",
  },
  32: { informationRefreshTime: "u32" },
  39: { flags: "u8", domainName: "name", partial: "bool" },
  45: { options: "options" },
  46: { cltTime: "u32" },
  68: { vssType: "u8", vssInfo: "bytes" },
  82: { solMaxRt: "u32" },
  83: { infMaxRt: "u32" },
  100: { baseTime: "u32" },
  114: { bindingStatus: "bindingStatus" },
  115: { flags: "u16" },
  116: { options: "options" },
  117: { hostName: "name", partial: "bool" },
  118: { zoneName: "name", partial: "bool" },
  119: { flags: "u16" },
  120: { expirationTime: "u32" },
  121: { maxUnackedBndupd: "u32" },
  122: { mclt: "u32" },
  123: { partnerLifetime: "u32" },
  124: { partnerLifetimeSent: "u32" },
  125: { partnerDownTime: "u32" },
  126: { partnerRawCltTime: "u32" },
  127: { majorVersion: "u16", minorVersion: "u16" },
  128: { keepaliveTime: "u32" },
  129: { reconfigureTime: "u32", reconfigureKey: "bytes" },
  130: { relationshipName: "string" },
  131: { flags: "u8" },
  132: { serverState: "state" },
  133: { startTimeOfState: "u32" },
  134: { stateExpirationTime: "u32" },
};

/** Named booleans of flag options: code → name → mask. */
const FLAG_NAMES: Record<number, Record<string, number>> = {
  115: { fixedPdLength: 0x0001 },
  119: {
    fwdUptodate: 0x0001,
    revUptodate: 0x0002,
    synthesizedName: 0x0004,
    usingRequestedFqdn: 0x0008,
  },
  131: { communicated: 0x01, startup: 0x02, ackStartup: 0x04 },
};

/** Fields that may be left out, with their default. */
const OPTIONAL_DEFAULTS: Record<string, unknown> = {
  options: [],
  partial: false,
  statusMessage: "",
};

const MAX: Record<string, number> = { u8: 0xff, u16: 0xffff, u32: 0xffffffff };

/** True if the options of `code` can be written with typed fields here. */
export function hasTypedForm(code: number): boolean {
  return FIELDS[code] !== undefined;
}

/** When `checkOnly` is set, only names and structure are checked (values may hold `${…}`). */
interface Ctx {
  checkOnly: boolean;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function pending(v: unknown, ctx: Ctx): boolean {
  return ctx.checkOnly && typeof v === "string" && v.includes("${");
}

function uint(v: unknown, kind: "u8" | "u16" | "u32", path: string, ctx: Ctx): number {
  if (pending(v, ctx)) return 0;
  const n = typeof v === "string" && /^(?:0x[0-9a-fA-F]+|[0-9]+)$/.test(v.trim())
    ? Number(v.trim())
    : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > MAX[kind]) {
    throw new BuildError(path, `expected an integer 0-${MAX[kind]}, got ${JSON.stringify(v)}`);
  }
  return n;
}

function enumValue(
  v: unknown,
  lookup: (x: string | number) => number | undefined,
  what: string,
  path: string,
  ctx: Ctx,
): number {
  if (pending(v, ctx)) return 0;
  if (typeof v !== "string" && typeof v !== "number") {
    throw new BuildError(path, `expected a ${what} name or number, got ${JSON.stringify(v)}`);
  }
  const n = lookup(v);
  if (n === undefined) throw new BuildError(path, `unknown ${what} ${JSON.stringify(v)}`);
  return n;
}

function field(kind: Kind, v: unknown, path: string, ctx: Ctx): unknown {
  switch (kind) {
    case "u8":
    case "u16":
    case "u32":
      return uint(v, kind, path, ctx);
    case "bool":
      if (typeof v !== "boolean") throw new BuildError(path, "expected true or false");
      return v;
    case "string":
    case "name":
      if (pending(v, ctx)) return "";
      if (typeof v !== "string" && typeof v !== "number") {
        throw new BuildError(path, "expected text");
      }
      return String(v);
    case "address": {
      if (pending(v, ctx)) return "::";
      const a = typeof v === "string" ? canonicalIPv6(v) : undefined;
      if (a === undefined) {
        throw new BuildError(path, `not an IPv6 address: ${JSON.stringify(v)}`);
      }
      return a;
    }
    case "bytes": {
      if (pending(v, ctx)) return new Uint8Array(0);
      if (v instanceof Uint8Array) return v;
      const b = typeof v === "string" ? hexToBytes(v) : undefined;
      if (b === undefined) {
        throw new BuildError(path, `expected hex octets, got ${JSON.stringify(v)}`);
      }
      return b;
    }
    case "options":
      return buildOptions(v, path, ctx);
    case "u16list":
    case "addrlist":
    case "namelist": {
      if (!Array.isArray(v)) throw new BuildError(path, "expected a list");
      const item: Kind = kind === "u16list" ? "u16" : kind === "addrlist" ? "address" : "name";
      return v.map((x, i) => field(item, x, `${path}[${i}]`, ctx));
    }
    case "state":
      return enumValue(v, stateOf, "failover state", path, ctx);
    case "bindingStatus":
      return enumValue(v, bindingStatusOf, "binding status", path, ctx);
    case "statusCode":
      return enumValue(v, statusCodeOf, "status code", path, ctx);
  }
}

function rawOption(item: Record<string, unknown>, path: string, ctx: Ctx): DhcpOption {
  for (const k of Object.keys(item)) {
    if (k !== "code" && k !== "data" && k !== "length") {
      throw new BuildError(path, `unknown key "${k}" in a raw option (use code, data, length)`);
    }
  }
  const code = pending(item.code, ctx) ? 0 : optionCodeOf(item.code as string | number);
  if (code === undefined || code > 0xffff) {
    throw new BuildError(`${path}.code`, `unknown option ${JSON.stringify(item.code)}`);
  }
  const data = field("bytes", item.data ?? "", `${path}.data`, ctx) as Uint8Array;
  if (item.length === undefined) return { code, raw: true, data };
  const length = uint(item.length, "u16", `${path}.length`, ctx);
  return { code, malformed: true, length, data };
}

function typedOption(code: number, body: unknown, path: string, ctx: Ctx): DhcpOption {
  const fields = FIELDS[code];
  if (!fields) {
    throw new BuildError(
      path,
      `${optionName(code)} has no typed form here; write {code: ${code}, data: <hex>}`,
    );
  }
  const names = Object.keys(fields);
  const flagNames = FLAG_NAMES[code] ?? {};
  let obj: Record<string, unknown>;
  if (isPlainObject(body)) obj = body;
  else if (body === null || body === undefined) obj = {};
  else if (names.filter((n) => n !== "options").length === 1) {
    obj = { [names.filter((n) => n !== "options")[0]]: body };
  } else {
    throw new BuildError(path, `expected a mapping of ${names.join(", ")}`);
  }
  if (code === 26 && typeof obj.prefix === "string" && obj.prefix.includes("/")) {
    const [p, len] = obj.prefix.split("/");
    obj = { ...obj, prefix: p, prefixLength: obj.prefixLength ?? len };
  }
  const out: Record<string, unknown> = { code };
  let flags = 0;
  let namedFlags = false;
  for (const [k, v] of Object.entries(obj)) {
    if (k in flagNames) {
      if (typeof v !== "boolean") throw new BuildError(`${path}.${k}`, "expected true or false");
      if (v) flags |= flagNames[k];
      namedFlags = true;
      continue;
    }
    if (!(k in fields)) {
      const known = [...names, ...Object.keys(flagNames)].join(", ") || "no fields";
      throw new BuildError(`${path}.${k}`, `unknown field of ${optionName(code)} (${known})`);
    }
    out[k] = field(fields[k], v, `${path}.${k}`, ctx);
  }
  if (namedFlags && out.flags === undefined) out.flags = flags;
  else if (namedFlags) out.flags = (out.flags as number) | flags;
  for (const n of names) {
    if (out[n] !== undefined) continue;
    if (n in OPTIONAL_DEFAULTS) out[n] = structuredClone(OPTIONAL_DEFAULTS[n]);
    else if (n === "flags") out[n] = 0;
    else if (n === "partial") out[n] = false;
    else throw new BuildError(`${path}.${n}`, `missing field of ${optionName(code)}`);
  }
  return out as unknown as DhcpOption;
}

/** Converts one option list item (see the module doc). */
export function buildOption(
  item: unknown,
  path: string,
  ctx: Ctx = { checkOnly: false },
): DhcpOption {
  if (!isPlainObject(item)) {
    throw new BuildError(path, "an option is a mapping such as {F_MCLT: 60}");
  }
  if ("code" in item) return rawOption(item, path, ctx);
  const keys = Object.keys(item);
  if (keys.length !== 1) {
    throw new BuildError(
      path,
      `an option mapping has one key (the option name), got ${keys.length}`,
    );
  }
  const code = optionCodeOf(keys[0]);
  if (code === undefined) throw new BuildError(path, `unknown option "${keys[0]}"`);
  return typedOption(code, item[keys[0]], `${path}.${optionName(code)}`, ctx);
}

/** Converts an option list (or a mapping of name → fields, for unique names). */
export function buildOptions(
  items: unknown,
  path = "options",
  ctx: Ctx = { checkOnly: false },
): DhcpOption[] {
  if (items === null || items === undefined) return [];
  if (isPlainObject(items)) {
    return Object.entries(items).map(([k, v], i) => buildOption({ [k]: v }, `${path}[${i}]`, ctx));
  }
  if (!Array.isArray(items)) throw new BuildError(path, "expected a list of options");
  return items.map((it, i) => buildOption(it, `${path}[${i}]`, ctx));
}

/** Checks one option item without converting values (for load-time validation). */
export function checkOption(item: unknown, path: string): void {
  buildOption(item, path, { checkOnly: true });
}

/** Checks option names and fields without converting values (for load-time validation). */
export function checkOptions(items: unknown, path = "options"): void {
  buildOptions(items, path, { checkOnly: true });
}

// ---------------------------------------------------------------------------------------------
// Lease shorthand
// ---------------------------------------------------------------------------------------------

/** Keys of the `lease:` shorthand. */
export const LEASE_KEYS = [
  "client",
  "iaid",
  "ia",
  "address",
  "prefix",
  "prefixLength",
  "t1",
  "t2",
  "preferredLifetime",
  "validLifetime",
  "status",
  "startTimeOfState",
  "stateExpirationTime",
  "cltTime",
  "partnerLifetime",
  "partnerRawCltTime",
  "expirationTime",
  "partnerLifetimeSent",
  "baseTime",
  "statusCode",
  "statusMessage",
] as const;

/** What `leaseTree` needs besides the lease: the time now and the MCLT. */
export interface LeaseContext {
  /** Absolute time (seconds since 2000). */
  now: number;
  mclt: number;
}

interface Lease {
  client?: Uint8Array;
  ia: 3 | 4 | 25;
  iaid: number;
  address?: string;
  prefix?: string;
  prefixLength?: number;
  t1: number;
  t2: number;
  preferred: number;
  valid: number;
  fields: LeaseFields;
}

function optU32(v: unknown, path: string): number | undefined {
  return v === undefined || v === null ? undefined : uint(v, "u32", path, { checkOnly: false });
}

function parseLease(raw: unknown, path: string, lc: LeaseContext, reply: boolean): Lease {
  if (!isPlainObject(raw)) throw new BuildError(path, "a lease is a mapping (address, client ...)");
  for (const k of Object.keys(raw)) {
    if (!(LEASE_KEYS as readonly string[]).includes(k)) {
      throw new BuildError(`${path}.${k}`, `unknown lease key (${LEASE_KEYS.join(", ")})`);
    }
  }
  const ctx = { checkOnly: false };
  const client = raw.client === undefined
    ? undefined
    : field("bytes", raw.client, `${path}.client`, ctx) as Uint8Array;
  let address: string | undefined;
  let prefix: string | undefined;
  let prefixLength: number | undefined;
  if (raw.address !== undefined) {
    address = field("address", raw.address, `${path}.address`, ctx) as string;
  }
  if (raw.prefix !== undefined) {
    const text = String(raw.prefix);
    const [p, len] = text.split("/");
    prefix = field("address", p, `${path}.prefix`, ctx) as string;
    const l = raw.prefixLength ?? len;
    if (l === undefined) throw new BuildError(`${path}.prefix`, "needs a length (2001:db8::/56)");
    prefixLength = uint(l, "u8", `${path}.prefixLength`, ctx);
    if (prefixLength > 128) throw new BuildError(`${path}.prefixLength`, "over 128");
  }
  if ((address === undefined) === (prefix === undefined)) {
    throw new BuildError(path, "a lease has exactly one of address or prefix");
  }
  if (client === undefined && address !== undefined) {
    throw new BuildError(path, "an address lease needs a client (DUID hex)");
  }
  const iaName = raw.ia === undefined ? (address ? "na" : "pd") : String(raw.ia).toLowerCase();
  const ia = ({ na: 3, ta: 4, pd: 25 } as const)[iaName as "na" | "ta" | "pd"];
  if (ia === undefined) throw new BuildError(`${path}.ia`, "expected na, ta or pd");
  if ((ia === 25) !== (prefix !== undefined)) {
    throw new BuildError(`${path}.ia`, "IA_PD carries prefixes, IA_NA/IA_TA addresses");
  }
  const status = raw.status === undefined
    ? 1
    : enumValue(raw.status, bindingStatusOf, "binding status", `${path}.status`, ctx);
  const valid = optU32(raw.validLifetime, `${path}.validLifetime`) ?? 3600;
  const preferred = optU32(raw.preferredLifetime, `${path}.preferredLifetime`) ?? valid;
  const t1 = optU32(raw.t1, `${path}.t1`) ?? Math.floor(valid / 2);
  const t2 = optU32(raw.t2, `${path}.t2`) ?? Math.floor(valid * 0.8);
  const now = lc.now;
  // ACTIVE always has a timeout (RFC 8156 §7.2): default its three timed options.
  const timed = status === 1;
  const pick = (k: string, dflt: number | undefined): number | undefined =>
    raw[k] === null ? undefined : optU32(raw[k], `${path}.${k}`) ?? dflt;
  const fields: LeaseFields = reply
    ? {
      bindingStatus: status,
      stateExpirationTime: pick("stateExpirationTime", undefined),
      partnerLifetimeSent: pick("partnerLifetimeSent", undefined),
    }
    : {
      bindingStatus: status,
      startTimeOfState: pick("startTimeOfState", now),
      stateExpirationTime: pick("stateExpirationTime", timed ? now + valid : undefined),
      cltTime: pick("cltTime", timed && client ? 0 : undefined),
      partnerLifetime: pick("partnerLifetime", timed ? now + valid + lc.mclt : undefined),
      partnerRawCltTime: pick("partnerRawCltTime", undefined),
      expirationTime: pick("expirationTime", timed ? now + valid : undefined),
      partnerLifetimeSent: pick("partnerLifetimeSent", undefined),
    };
  if (client === undefined && !reply) fields.baseTime = pick("baseTime", now);
  if (raw.statusCode !== undefined) {
    fields.status = {
      code: enumValue(raw.statusCode, statusCodeOf, "status code", `${path}.statusCode`, ctx),
      message: raw.statusMessage === undefined ? "" : String(raw.statusMessage),
    };
  }
  return {
    client,
    ia,
    iaid: optU32(raw.iaid, `${path}.iaid`) ?? 1,
    address,
    prefix,
    prefixLength,
    t1,
    t2,
    preferred,
    valid,
    fields,
  };
}

function leaf(l: Lease): DhcpOption {
  const opts = leaseOptions(l.fields);
  if (l.address !== undefined) {
    return {
      code: 5,
      address: l.address,
      preferredLifetime: l.preferred,
      validLifetime: l.valid,
      options: opts,
    };
  }
  return {
    code: 26,
    preferredLifetime: l.preferred,
    validLifetime: l.valid,
    prefixLength: l.prefixLength!,
    prefix: l.prefix!,
    options: opts,
  };
}

/**
 * The BNDUPD (or, with `reply`, BNDREPLY) option tree for one lease or a list of leases of one
 * client (RFC 8156 §7.4 shape A: CLIENT_DATA with CLIENTID, LQ_BASE_TIME and IAs), or for one
 * prefix without a client (shape B: a standalone IAPREFIX with LQ_BASE_TIME). Defaults: status
 * ACTIVE, valid lifetime 3600, start-time-of-state now; for ACTIVE also state-expiration-time
 * and expiration-time now + valid, partner-lifetime now + valid + MCLT, CLT_TIME 0. A key set
 * to null leaves its option out.
 */
export function leaseTree(
  raw: unknown,
  lc: LeaseContext,
  reply = false,
  path = "lease",
): DhcpOption[] {
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) throw new BuildError(path, "no lease given");
  const leases = list.map((r, i) =>
    parseLease(r, Array.isArray(raw) ? `${path}[${i}]` : path, lc, reply)
  );
  const client = leases[0].client;
  if (client === undefined) {
    if (leases.length !== 1) {
      throw new BuildError(path, "a BNDUPD carries one standalone IAPREFIX (RFC 8156 §7.4)");
    }
    return [leaf(leases[0])];
  }
  const same = (a: Uint8Array, b: Uint8Array | undefined) =>
    b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
  if (!leases.every((l) => same(client, l.client))) {
    throw new BuildError(path, "all leases of one BNDUPD belong to one client");
  }
  const inner: DhcpOption[] = [{ code: 1, duid: client }];
  if (!reply) inner.push({ code: 100, baseTime: lc.now });
  const ias = new Map<string, { options: DhcpOption[] }>();
  for (const l of leases) {
    const k = `${l.ia}/${l.iaid}`;
    let ia = ias.get(k);
    if (!ia) {
      const made: DhcpOption = l.ia === 4
        ? { code: 4, iaid: l.iaid, options: [] }
        : { code: l.ia as 3, iaid: l.iaid, t1: l.t1, t2: l.t2, options: [] };
      ia = made as { options: DhcpOption[] };
      ias.set(k, ia);
      inner.push(made);
    }
    ia.options.push(leaf(l));
  }
  return [{ code: 45, options: inner }];
}

/** Turns a state given by name or number into its code (for `state:` shorthands). */
export function stateValue(v: unknown, path: string): number {
  return enumValue(v, stateOf, "failover state", path, { checkOnly: false });
}

/** Turns a status given by name, number or `{code, message}` into a status pair. */
export function statusValue(v: unknown, path: string): { code: number; message: string } {
  if (isPlainObject(v)) {
    return {
      code: enumValue(v.code, statusCodeOf, "status code", `${path}.code`, { checkOnly: false }),
      message: v.message === undefined ? "" : String(v.message),
    };
  }
  return {
    code: enumValue(v, statusCodeOf, "status code", path, { checkOnly: false }),
    message: "",
  };
}

/** OPTION_F_SERVER_FLAGS from a number or named booleans (`{startup: true}`). */
export function serverFlagsValue(v: unknown, path: string): number {
  if (isPlainObject(v)) {
    let f = 0;
    for (const [k, b] of Object.entries(v)) {
      const mask = FLAG_NAMES[131][k];
      if (mask === undefined) {
        throw new BuildError(`${path}.${k}`, "unknown flag (communicated, startup, ackStartup)");
      }
      if (typeof b !== "boolean") throw new BuildError(`${path}.${k}`, "expected true or false");
      if (b) f |= mask;
    }
    return f;
  }
  return uint(v, "u8", path, { checkOnly: false });
}
