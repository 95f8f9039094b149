/**
 * The `failover6 serve` configuration file as zod schemas: the shape of the YAML (keys in
 * camelCase, unknown keys refused) and every single-value check (addresses, prefixes,
 * ranges, durations, hex, ports). Checks that relate several values live in `semantic.ts`.
 *
 * The output of {@linkcode fileSchema} keeps the file's structure, so an issue path is
 * also a path in the file.
 *
 * @module
 */

import { z } from "zod";
import { parseDuration } from "../util/duration.ts";
import { formatIPv6, parseIPv6, parsePrefix, type Prefix } from "../util/ipv6.ts";
import type { RenewTime } from "./types.ts";

type Ctx = z.RefinementCtx;

/**
 * Records an issue and returns `z.NEVER`, which the transform must return in turn (it does
 * not throw; typed `never` so it fits any transform's return type).
 */
function fail(ctx: Ctx, message: string): never {
  ctx.addIssue({ code: "custom", message });
  return z.NEVER as never;
}

/** How a value from YAML reads in a message. */
export function describe(v: unknown): string {
  // used as "must be X, not <describe(v)>"; a missing value reads "nothing"
  if (v === null || v === undefined) return "nothing";
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return "a list";
  return "a mapping";
}

/** "is required" for a missing value, else "must be <what>, not <value>". */
function mustBe(ctx: Ctx, v: unknown, what: string): never {
  return fail(ctx, v === undefined ? "is required" : `must be ${what}, not ${describe(v)}`);
}

/**
 * Text that must be a string (numbers are refused with a hint to quote); `undefined` after
 * recording an issue.
 */
function text(v: unknown, ctx: Ctx, what: string): string | undefined {
  if (typeof v === "string") return v.trim();
  ctx.addIssue({
    code: "custom",
    message: v === undefined
      ? "is required"
      : typeof v === "number"
      ? `must be ${what} written as text (quote it), not the number ${v}`
      : `must be ${what}, not ${describe(v)}`,
  });
  return undefined;
}

/** An IPv6 address, output as RFC 5952 text. */
export const ipv6Address = z.unknown().transform((v, ctx): string => {
  const t = text(v, ctx, "an IPv6 address");
  if (t === undefined) return z.NEVER as never;
  const a = parseIPv6(t);
  return a === undefined ? fail(ctx, `${JSON.stringify(t)} is not an IPv6 address`) : formatIPv6(a);
});

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** An IPv4 or IPv6 address (for the control API), output canonical. */
export const ipAddress = z.unknown().transform((v, ctx): string => {
  const t = text(v, ctx, "an IP address");
  if (t === undefined) return z.NEVER as never;
  if (IPV4.test(t)) return t;
  const a = parseIPv6(t);
  return a === undefined ? fail(ctx, `${JSON.stringify(t)} is not an IP address`) : formatIPv6(a);
});

/** An IPv6 prefix `address/length` with no host bits set. */
export const ipv6Prefix = z.unknown().transform((v, ctx): Prefix => {
  const t = text(v, ctx, "an IPv6 prefix (address/length)");
  if (t === undefined) return z.NEVER as never;
  const r = parsePrefix(t);
  if (r.ok) return r.prefix;
  switch (r.reason) {
    case "syntax":
      return fail(
        ctx,
        `${JSON.stringify(t)} is not a prefix: write address/length, e.g. fd00::/64`,
      );
    case "address":
      return fail(ctx, `${JSON.stringify(t)} does not start with an IPv6 address`);
    case "length":
      return fail(ctx, `${JSON.stringify(t)} has a bad length (0-128)`);
    case "host-bits": {
      const loose = parsePrefix(t, false);
      const hint = loose.ok
        ? ` (did you mean ${formatIPv6(loose.prefix.address)}/${loose.prefix.length}?)`
        : "";
      return fail(ctx, `${JSON.stringify(t)} has address bits set after the prefix length${hint}`);
    }
  }
});

/** An inclusive address range written `start - end`. */
export const addressRange = z.unknown().transform((v, ctx): { start: bigint; end: bigint } => {
  const t = text(v, ctx, "an address range (start - end)");
  if (t === undefined) return z.NEVER as never;
  const parts = t.split("-").map((s) => s.trim());
  if (parts.length !== 2) {
    return fail(
      ctx,
      `${JSON.stringify(t)} is not a range: write start - end, e.g. fd00::100 - fd00::1ff`,
    );
  }
  const start = parseIPv6(parts[0]);
  const end = parseIPv6(parts[1]);
  if (start === undefined) {
    return fail(ctx, `start ${JSON.stringify(parts[0])} is not an IPv6 address`);
  }
  if (end === undefined) return fail(ctx, `end ${JSON.stringify(parts[1])} is not an IPv6 address`);
  if (end < start) return fail(ctx, "end is before start");
  return { start, end };
});

/** Whole seconds from `90`, `"90s"`, `"45m"`, `"1h30m"`, `"3d"`, `"PT1H"`. */
export function duration(min = 0): z.ZodType<number, unknown> {
  return z.unknown().transform((v, ctx): number => {
    let seconds: number;
    if (typeof v === "number") {
      if (!Number.isSafeInteger(v) || v < 0) {
        return fail(ctx, `${v} is not a duration: a plain number is whole seconds`);
      }
      seconds = v;
    } else if (typeof v === "string") {
      const r = parseDuration(v);
      if (!r.ok) {
        return fail(
          ctx,
          `${
            JSON.stringify(v)
          } is not a duration: ${r.error.message} (e.g. 90, 90s, 45m, 1h30m, 3d, PT1H)`,
        );
      }
      seconds = r.seconds;
    } else return mustBe(ctx, v, `a duration (e.g. 90s, 45m, 1h30m, 3d)`);
    if (seconds < min) return fail(ctx, `must be at least ${min} s`);
    if (seconds > 0xffff_ffff) return fail(ctx, "is longer than 2^32-1 seconds");
    return seconds;
  });
}

/** A duration, or `off` / `false` (output `null`). */
export const durationOrOff = z.unknown().transform((v, ctx): number | null => {
  if (v === false || v === "off" || v === "OFF" || v === "Off") return null;
  const r = duration(1).safeParse(v);
  if (r.success) return r.data;
  return fail(ctx, `${r.error.issues[0].message}; or write off`);
});

/** T1/T2: a number between 0 and 1 is a fraction of the preferred lifetime; else a duration. */
export const renewTime = z.unknown().transform((v, ctx): RenewTime => {
  if (typeof v === "number" && v > 0 && v < 1) return { kind: "fraction", value: v };
  if (v === 0 || v === "0") {
    return fail(ctx, "must be more than 0 (a fraction like 0.5 or a duration)");
  }
  const r = duration(1).safeParse(v);
  if (r.success) return { kind: "seconds", value: r.data };
  return mustBe(ctx, v, `a fraction of the preferred lifetime (0 < x < 1) or a duration`);
});

/** Hex octets (`:`, `-` and spaces allowed between them), output lower-case without separators. */
export function hexOctets(
  what: string,
  minOctets: number,
  maxOctets: number,
): z.ZodType<string, unknown> {
  return z.unknown().transform((v, ctx): string => {
    const t = text(v, ctx, what);
    if (t === undefined) return z.NEVER as never;
    const hex = t.replace(/[\s:-]/g, "").replace(/^0x/i, "").toLowerCase();
    if (!/^[0-9a-f]*$/.test(hex) || hex.length % 2 !== 0) {
      return fail(ctx, `${JSON.stringify(t)} is not ${what} (hex octets, e.g. 00:03:00:01:…)`);
    }
    const n = hex.length / 2;
    if (n < minOctets || n > maxOctets) {
      return fail(ctx, `${what} must be ${minOctets}-${maxOctets} octets, got ${n}`);
    }
    return hex;
  });
}

/** A DUID: 2-octet type + 1–128 octets (RFC 8415 §11). */
export const duid = hexOctets("a DUID", 3, 130);

/** A UDP/TCP port. */
export const port = z.unknown().transform((v, ctx): number => {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 65535) {
    return mustBe(ctx, v, `a port number 1-65535`);
  }
  return v;
});

function intIn(min: number, max: number): z.ZodType<number, unknown> {
  return z.unknown().transform((v, ctx): number => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      return mustBe(ctx, v, `a whole number ${min}-${max}`);
    }
    return v;
  });
}

const name = z.unknown().transform((v, ctx): string => {
  const t = text(v, ctx, "a name");
  if (t === undefined) return z.NEVER as never;
  if (!/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$/.test(t)) {
    return fail(ctx, `${JSON.stringify(t)} is not a name (1-64 letters, digits, . _ : / -)`);
  }
  return t;
});

const interfaceName = z.unknown().transform((v, ctx): string => {
  const t = text(v, ctx, "an interface name");
  if (t === undefined) return z.NEVER as never;
  if (!/^[^\s/:]{1,15}$/.test(t) || t === "." || t === "..") {
    return fail(
      ctx,
      `${JSON.stringify(t)} is not an interface name (1-15 characters, no / : or spaces)`,
    );
  }
  return t;
});

/** Interface-ID option value: text, or hex after `0x`. Output lower-case hex. */
const interfaceId = z.unknown().transform((v, ctx): string => {
  const t = text(v, ctx, "an interface-id");
  if (t === undefined) return z.NEVER as never;
  if (/^0x/i.test(t)) {
    const hex = t.slice(2).toLowerCase();
    if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-f]+$/.test(hex)) {
      return fail(ctx, `${JSON.stringify(t)} is not hex octets after 0x`);
    }
    return hex;
  }
  if (t.length === 0) return fail(ctx, "must not be empty");
  return [...new TextEncoder().encode(t)].map((b) => b.toString(16).padStart(2, "0")).join("");
});

const dnsName = z.unknown().transform((v, ctx): string => {
  const raw = text(v, ctx, "a domain name");
  if (raw === undefined) return z.NEVER as never;
  const t = raw.replace(/\.$/, "").toLowerCase();
  if (t === undefined) return z.NEVER as never;
  const labels = t.split(".");
  if (
    t.length === 0 || t.length > 253 ||
    labels.some((l) => !/^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/.test(l))
  ) {
    return fail(ctx, `${JSON.stringify(t)} is not a domain name`);
  }
  return t;
});

const filePath = z.unknown().transform((v, ctx): string => {
  const t = text(v, ctx, "a file path");
  if (t === undefined) return z.NEVER as never;
  return t === "" ? fail(ctx, "must not be empty") : t;
});

const bool = z.unknown().transform((v, ctx): boolean => {
  if (typeof v !== "boolean") return mustBe(ctx, v, `true or false`);
  return v;
});

function oneOf<T extends string>(values: readonly T[]): z.ZodType<T, unknown> {
  return z.unknown().transform((v, ctx): T => {
    if (typeof v !== "string" || !values.includes(v as T)) {
      return mustBe(ctx, v, `one of ${values.join(", ")}`);
    }
    return v as T;
  });
}

const allocationMode = oneOf(["independent", "proportional"] as const);

/** A list. */
function list<T>(item: z.ZodType<T, unknown>): z.ZodArray<z.ZodType<T, unknown>> {
  return z.array(item);
}

/** Lifetimes as written (all optional: they inherit). */
export const lifetimesSchema = z.strictObject({
  preferred: duration(1).optional(),
  valid: duration(1).optional(),
  t1: renewTime.optional(),
  t2: renewTime.optional(),
});

/** Option codes the server builds itself and that may not be given as raw options. */
export const MANAGED_OPTION_CODES: ReadonlySet<number> = new Set([
  1, // CLIENTID
  2, // SERVERID
  3, // IA_NA
  4, // IA_TA
  5, // IAADDR
  6, // ORO
  9, // RELAY_MSG
  13, // STATUS_CODE
  14, // RAPID_COMMIT
  18, // INTERFACE_ID
  19, // RECONF_MSG
  23, // DNS_SERVERS (use dnsServers)
  24, // DOMAIN_LIST (use domainSearch)
  25, // IA_PD
  26, // IAPREFIX
]);

const rawOption = z.strictObject({
  code: intIn(1, 65535),
  hex: hexOctets("option data", 0, 65535),
});

/** Options as written. */
export const optionsSchema = z.strictObject({
  dnsServers: list(ipv6Address).optional(),
  domainSearch: list(dnsName).optional(),
  raw: list(rawOption).optional(),
});

const poolSchema = z.strictObject({
  name: name.optional(),
  range: addressRange.optional(),
  prefix: ipv6Prefix.optional(),
  allocation: allocationMode.optional(),
});

const delegableSchema = z.strictObject({
  name: name.optional(),
  prefix: ipv6Prefix,
  delegatedLength: intIn(1, 128),
  allocation: allocationMode.optional(),
});

const reservationSchema = z.strictObject({
  duid,
  address: ipv6Address.optional(),
  prefix: ipv6Prefix.optional(),
});

const subnetSchema = z.strictObject({
  name: name.optional(),
  prefix: ipv6Prefix,
  link: z.strictObject({
    linkAddresses: list(ipv6Address).optional(),
    interfaces: list(interfaceName).optional(),
    interfaceIds: list(interfaceId).optional(),
  }).optional(),
  pools: list(poolSchema).optional(),
  prefixes: list(delegableSchema).optional(),
  reservations: list(reservationSchema).optional(),
  lifetimes: lifetimesSchema.optional(),
  options: optionsSchema.optional(),
  rapidCommit: bool.optional(),
});

const listenSchema = z.strictObject({
  address: ipv6Address.optional(),
  interface: interfaceName.optional(),
  port: port.optional(),
});

const relationshipSchema = z.strictObject({
  name,
  role: oneOf(["primary", "secondary"] as const),
  peer: z.strictObject({ address: ipv6Address, port: port.optional() }),
  local: z.strictObject({ address: ipv6Address.optional(), port: port.optional() }).optional(),
  mclt: duration(1).optional(),
  keepalive: duration(1).optional(),
  connectTimeout: duration(1).optional(),
  maxUnacked: intIn(1, 65535).optional(),
  autoPartnerDown: durationOrOff.optional(),
  tls: z.strictObject({ cert: filePath, key: filePath, ca: filePath }).optional(),
  insecure: bool.optional(),
  allocation: z.strictObject({
    addresses: allocationMode.optional(),
    prefixes: allocationMode.optional(),
    proportion: z.unknown().transform((v, ctx): number => {
      if (typeof v !== "number" || !(v >= 0 && v <= 1)) {
        return mustBe(ctx, v, `a number from 0 to 1 (the secondary's share)`);
      }
      return v;
    }).optional(),
  }).optional(),
  subnets: list(
    z.unknown().transform((v, ctx): string =>
      text(v, ctx, "a subnet name or prefix") ?? z.NEVER as never
    ),
  ).min(1),
});

/** The whole file. */
export const fileSchema = z.strictObject({
  server: z.strictObject({ duid: duid.optional(), duidFile: filePath.optional() }).optional(),
  leaseDatabase: filePath.optional(),
  listen: list(listenSchema).min(1),
  rapidCommit: bool.optional(),
  lifetimes: lifetimesSchema.optional(),
  options: optionsSchema.optional(),
  subnets: list(subnetSchema).min(1),
  control: z.strictObject({
    enabled: bool.optional(),
    address: ipAddress.optional(),
    port: port.optional(),
    token: z.unknown().transform((v, ctx) => {
      const t = text(v, ctx, "a token");
      if (t === undefined) return z.NEVER as never;
      return t.length < 16 ? fail(ctx, "must be at least 16 characters") : t;
    }).optional(),
    tokenFile: filePath.optional(),
  }).optional(),
  logging: z.strictObject({
    format: oneOf(["text", "json"] as const).optional(),
    level: oneOf(["debug", "info", "warn", "error"] as const).optional(),
  }).optional(),
  failover: list(relationshipSchema).optional(),
});

/** The file as parsed: same structure as the YAML, leaves checked and converted. */
export type ConfigFile = z.output<typeof fileSchema>;

/** A subnet as written. */
export type SubnetFile = ConfigFile["subnets"][number];
