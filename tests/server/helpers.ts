/** Shared builders for the server core tests: configurations, client messages, reply readers. */
import assert from "node:assert/strict";
import type { Lifetimes, Subnet } from "../../lib/config/types.ts";
import { handle } from "../../lib/server/handle.ts";
import type { FailoverPolicy } from "../../lib/server/policy.ts";
import { ServerCore } from "../../lib/server/service.ts";
import {
  compileSettings,
  type ServerOptions,
  type ServerSettings,
} from "../../lib/server/settings.ts";
import type { HandleResult, Inbound, LeaseView, ReplyResult } from "../../lib/server/types.ts";
import { parsePrefix, type Prefix } from "../../lib/util/ipv6.ts";
import { bytesToHex, hexToBytes } from "../../lib/wire/bytes.ts";
import { findOption, findOptions } from "../../lib/wire/options.ts";
import type {
  ClientServerMessage,
  DhcpOption,
  IaAddrOption,
  IaNaOption,
  IaPdOption,
  IaPrefixOption,
  Message,
} from "../../lib/wire/types.ts";

/** Our server DUID (a DUID-LLT). */
export const SERVER_DUID: Uint8Array = hexToBytes("000100012a2b2c2d000c29aabbcc")!;
/** Someone else's server DUID. */
export const OTHER_SERVER_DUID: Uint8Array = hexToBytes("000100012a2b2c2d000c29ddeeff")!;

/** A DUID-LL for client `n` (MAC 02:00:00:00:hi:lo). */
export function clientDuid(n: number): Uint8Array {
  return new Uint8Array([0, 3, 0, 1, 2, 0, 0, 0, (n >> 8) & 255, n & 255]);
}

/** Hex of {@linkcode clientDuid}. */
export function clientHex(n: number): string {
  return bytesToHex(clientDuid(n));
}

/** A prefix from text (throws on bad text: tests only). */
export function pfx(text: string): Prefix {
  const r = parsePrefix(text);
  if (!r.ok) throw new Error(`bad prefix ${text}`);
  return r.prefix;
}

/** 1 h preferred, 2 h valid, T1 0.5, T2 0.8. */
export const LIFETIMES: Lifetimes = {
  preferred: 3600,
  valid: 7200,
  t1: { kind: "fraction", value: 0.5 },
  t2: { kind: "fraction", value: 0.8 },
};

/** A subnet 2001:db8:1::/64 with pool ::100-::1ff and prefixes 2001:db8:f0::/48 by /56. */
export function subnet(over: Partial<Subnet> = {}): Subnet {
  return {
    name: "lan",
    prefix: pfx("2001:db8:1::/64"),
    link: { linkAddresses: [], interfaces: [], interfaceIds: [] },
    pools: [{
      name: "lan-pool",
      start: 0x2001_0db8_0001_0000_0000_0000_0000_0100n,
      end: 0x2001_0db8_0001_0000_0000_0000_0000_01ffn,
      size: 256n,
      allocation: null,
    }],
    prefixes: [{
      name: "lan-pd",
      prefix: pfx("2001:db8:f0::/48"),
      delegatedLength: 56,
      allocation: null,
    }],
    reservations: [],
    lifetimes: LIFETIMES,
    options: { dnsServers: ["2001:db8::53"], domainSearch: ["example.com"], raw: [] },
    rapidCommit: true,
    relationship: null,
    ...over,
  };
}

/** An address pool from `a` to `b` (text). */
export function pool(name: string, a: string, b: string): Subnet["pools"][number] {
  const start = pfx(`${a}/128`).address, end = pfx(`${b}/128`).address;
  return { name, start, end, size: end - start + 1n, allocation: null };
}

/** Compiled settings for `subnets` (default: one {@linkcode subnet}). */
export function settings(
  subnets: Subnet[] = [subnet()],
  options: ServerOptions = {},
): ServerSettings {
  return compileSettings(
    {
      defaults: {
        lifetimes: LIFETIMES,
        options: { dnsServers: ["2001:db8::35"], domainSearch: [], raw: [] },
        rapidCommit: false,
      },
      subnets,
    },
    options,
  );
}

/** A client message. */
export function msg(
  msgType: number,
  options: DhcpOption[],
  transactionId = 0x0a0b0c,
): ClientServerMessage {
  return { kind: "client-server", msgType, transactionId, options };
}

/** ClientID of client `n`. */
export function cid(n: number): DhcpOption {
  return { code: 1, duid: clientDuid(n) };
}

/** Our ServerID. */
export function sid(duid: Uint8Array = SERVER_DUID): DhcpOption {
  return { code: 2, duid };
}

/** An IA_NA with optional IAADDR hints. */
export function na(iaid: number, ...addresses: string[]): IaNaOption {
  return {
    code: 3,
    iaid,
    t1: 0,
    t2: 0,
    options: addresses.map((a) => ({
      code: 5,
      address: a,
      preferredLifetime: 0,
      validLifetime: 0,
      options: [],
    })),
  };
}

/** An IA_PD with optional IAPREFIX hints (`addr/len`). */
export function pd(iaid: number, ...prefixes: string[]): IaPdOption {
  return {
    code: 25,
    iaid,
    t1: 0,
    t2: 0,
    options: prefixes.map((p) => {
      const [a, l] = p.split("/");
      return {
        code: 26,
        preferredLifetime: 0,
        validLifetime: 0,
        prefixLength: Number(l),
        prefix: a,
        options: [],
      };
    }),
  };
}

/** An ORO. */
export function oro(...codes: number[]): DhcpOption {
  return { code: 6, requestedOptions: codes };
}

/** A direct multicast datagram from fe80::1 port 546. */
export function inbound(message: Message, over: Partial<Inbound> = {}): Inbound {
  return { message, sourceAddress: "fe80::1", sourcePort: 546, unicast: false, ...over };
}

/** Runs the pure handler over `view`. */
export function run(
  s: ServerSettings,
  view: LeaseView,
  message: Message,
  now = 1_700_000_000_000,
  over: Partial<Inbound> = {},
  policy?: FailoverPolicy,
): HandleResult {
  return handle(
    { settings: s, serverDuid: SERVER_DUID, leases: view, ...(policy ? { policy } : {}) },
    inbound(message, over),
    now,
  );
}

/** A fresh core over `s`. */
export function core(s: ServerSettings = settings()): ServerCore {
  return new ServerCore({ settings: s, serverDuid: SERVER_DUID });
}

/** Asserts a reply and returns it. */
export function replyOf(r: HandleResult): ReplyResult {
  if (r.kind !== "reply") assert.fail(`expected a reply, got drop ${r.reason}: ${r.detail}`);
  return r;
}

/** The client-level message of a reply (inside any Relay-repl). */
export function innerOf(r: HandleResult): ClientServerMessage {
  let m = replyOf(r).message;
  while (m.kind === "relay") {
    const inner = findOption(m.options, 9);
    assert.ok(inner, "relay reply without relay message");
    m = inner.message;
  }
  assert.equal(m.kind, "client-server");
  return m as ClientServerMessage;
}

/** Asserts a drop with `reason`. */
export function assertDrop(r: HandleResult, reason: string): void {
  assert.equal(r.kind, "drop", r.kind === "reply" ? "expected a drop, got a reply" : "");
  if (r.kind === "drop") assert.equal(r.reason, reason, r.detail);
}

/** The status code at the top level of `options`, if any. */
export function statusIn(options: readonly DhcpOption[]): number | undefined {
  return findOption(options, 13)?.statusCode;
}

/** IA_NA options of a message. */
export function iaNas(m: ClientServerMessage): IaNaOption[] {
  return findOptions(m.options, 3);
}

/** IA_PD options of a message. */
export function iaPds(m: ClientServerMessage): IaPdOption[] {
  return findOptions(m.options, 25);
}

/** IAADDRs of an IA_NA. */
export function addrs(ia: IaNaOption): IaAddrOption[] {
  return findOptions(ia.options, 5);
}

/** IAPREFIXes of an IA_PD. */
export function prefixes(ia: IaPdOption): IaPrefixOption[] {
  return findOptions(ia.options, 26);
}

/** Shorthand: the address granted in the only IA_NA of a reply. */
export function onlyAddress(r: HandleResult): string {
  const ias = iaNas(innerOf(r));
  assert.equal(ias.length, 1);
  const a = addrs(ias[0]);
  assert.equal(a.length, 1, "one address");
  return a[0].address;
}
