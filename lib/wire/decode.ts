/**
 * Decoding of DHCPv6 and failover messages. `decodeMessage` never throws: malformed
 * options are kept in place (`malformed: true` with their raw octets), decoding goes on,
 * and every problem is a typed `WireError` with path and offset.
 *
 * Header by message type: 12/13 relay (34 octets), 24–35 failover (8 octets with
 * sent-time), anything else (STARTTLS 23 and its REPLY 7 included) 4 octets.
 *
 * @module
 */

import { decodeName, isNameError } from "./dnsname.ts";
import type { WireError } from "./errors.ts";
import { formatIPv6Bytes } from "../util/ipv6_octets.ts";
import {
  isKnownBindingStatus,
  isKnownFailoverState,
  optionName,
  optionShortName,
} from "./names.ts";
import {
  type DhcpOption,
  HOP_COUNT_LIMIT,
  isFailoverMsgType,
  isRelayMsgType,
  type KnownOption,
  type MalformedOption,
  type Message,
} from "./types.ts";
import { bytesToHex } from "./bytes.ts";
import { headerLength, SCALAR_OPTIONS } from "./layout.ts";

/** Options of `decodeMessage`. */
export interface DecodeOptions {
  /**
   * Set when `bytes` was cut by a capture's snaplen: the end of `bytes` is then the cut, the
   * top-level option it falls in is kept as `{malformed, truncated: true, capturedLength}`
   * (no overrun error), and one `capture-truncated` error carries these figures (the
   * capture layer's frame lengths, as the oracle shows them).
   */
  captureTruncated?: { capturedLength: number; originalLength: number };
  /**
   * HOP_COUNT_LIMIT (default 8). Relay chains of up to `hopCountLimit + 1` relay headers
   * are decoded (relays forward hop-counts 0..limit, RFC 8415 §19.1.1); a deeper chain is
   * reported as `relay-nesting-too-deep` and the innermost decoded RELAY_MSG kept raw.
   */
  hopCountLimit?: number;
  /** Deepest option/message nesting decoded (default 32); deeper containers are kept raw. */
  maxDepth?: number;
}

/** What `decodeMessage` returns: the message (absent only if the header is cut) and errors. */
export interface DecodeResult {
  /** The decoded message; absent only when the header is cut. */
  message?: Message;
  /** Every problem found, in order; empty for a clean message. */
  errors: WireError[];
}

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const LOSSY = new TextDecoder("utf-8", { ignoreBOM: true });

function join(path: string, seg: string): string {
  return path === "" ? seg : `${path}.${seg}`;
}

/**
 * An option path, written out only when an error needs it (decoding stays free of string
 * work): the option with `code` whose header is at `at`, in the option list starting at
 * `listStart` under `up`. Its index among same-code siblings is counted when written.
 */
class LazyPath {
  constructor(
    readonly up: Path,
    readonly listStart: number,
    readonly at: number,
    readonly code: number,
  ) {}
}
type Path = string | LazyPath;

function pathText(b: Uint8Array, p: Path): string {
  if (typeof p === "string") return p;
  let idx = 0;
  for (let i = p.listStart; i < p.at; i += 4 + ((b[i + 2] << 8) | b[i + 3])) {
    if (((b[i] << 8) | b[i + 1]) === p.code) idx++;
  }
  return join(pathText(b, p.up), `${optionShortName(p.code)}[${idx}]`);
}

/** `SCALAR_OPTIONS` as an array indexed by code (a fast lookup on the hot path). */
const SCALAR_BY_CODE: (readonly [string, 1 | 2 | 4] | undefined)[] = [];
for (const [code, layout] of Object.entries(SCALAR_OPTIONS)) SCALAR_BY_CODE[Number(code)] = layout;

/** The typed form of a fixed-size integer option (`SCALAR_OPTIONS`), as a literal shape. */
function scalarOption(code: number, field: string, v: number): KnownOption {
  switch (code) {
    case 7:
      return { code, preference: v };
    case 8:
      return { code, elapsedTime: v };
    case 19:
      return { code, reconfMsgType: v };
    case 32:
      return { code, informationRefreshTime: v };
    case 46:
      return { code, cltTime: v };
    case 82:
      return { code, solMaxRt: v };
    case 83:
      return { code, infMaxRt: v };
    case 100:
      return { code, baseTime: v };
    case 114:
      return { code, bindingStatus: v };
    case 115:
    case 119:
    case 131:
      return { code, flags: v };
    case 120:
      return { code, expirationTime: v };
    case 121:
      return { code, maxUnackedBndupd: v };
    case 122:
      return { code, mclt: v };
    case 123:
      return { code, partnerLifetime: v };
    case 124:
      return { code, partnerLifetimeSent: v };
    case 125:
      return { code, partnerDownTime: v };
    case 126:
      return { code, partnerRawCltTime: v };
    case 128:
      return { code, keepaliveTime: v };
    case 132:
      return { code, serverState: v };
    case 133:
      return { code, startTimeOfState: v };
    case 134:
      return { code, stateExpirationTime: v };
  }
  return { code, [field]: v } as unknown as KnownOption;
}

type Fail = { minimumLength: number };

class Decoder {
  readonly b: Uint8Array;
  readonly errors: WireError[] = [];
  readonly truncated: boolean;
  readonly maxRelays: number;
  readonly hopCountLimit: number;
  readonly maxDepth: number;

  constructor(b: Uint8Array, opts: DecodeOptions) {
    this.b = b;
    this.truncated = opts.captureTruncated !== undefined;
    this.hopCountLimit = opts.hopCountLimit ?? HOP_COUNT_LIMIT;
    this.maxRelays = this.hopCountLimit + 1;
    this.maxDepth = opts.maxDepth ?? 32;
  }

  u16(i: number): number {
    return (this.b[i] << 8) | this.b[i + 1];
  }
  u24(i: number): number {
    return (this.b[i] << 16) | (this.b[i + 1] << 8) | this.b[i + 2];
  }
  u32(i: number): number {
    return ((this.b[i] << 24) >>> 0) + (this.b[i + 1] << 16) + (this.b[i + 2] << 8) + this.b[i + 3];
  }
  uint(i: number, size: 1 | 2 | 4): number {
    return size === 1 ? this.b[i] : size === 2 ? this.u16(i) : this.u32(i);
  }

  /** Decodes a message in `[start, end)`; `relays` counts relay headers above it. */
  message(
    start: number,
    end: number,
    path: Path,
    depth: number,
    relays: number,
    top: boolean,
  ): Message | Fail {
    const len = end - start;
    if (len < 1) return { minimumLength: 4 };
    const msgType = this.b[start];
    const need = headerLength(msgType);
    if (len < need) return { minimumLength: need };
    if (isRelayMsgType(msgType)) {
      return {
        kind: "relay",
        msgType,
        hopCount: this.b[start + 1],
        linkAddress: formatIPv6Bytes(this.b, start + 2),
        peerAddress: formatIPv6Bytes(this.b, start + 18),
        options: this.options(start + 34, end, path, depth, relays + 1, undefined, top),
      };
    }
    if (isFailoverMsgType(msgType)) {
      return {
        kind: "failover",
        msgType,
        transactionId: this.u24(start + 1),
        sentTime: this.u32(start + 4),
        options: this.options(start + 8, end, path, depth, relays, undefined, top),
      };
    }
    return {
      kind: "client-server",
      msgType,
      transactionId: this.u24(start + 1),
      options: this.options(start + 4, end, path, depth, relays, undefined, top),
    };
  }

  options(
    start: number,
    end: number,
    path: Path,
    depth: number,
    relays: number,
    parentCode: number | undefined,
    top: boolean,
  ): DhcpOption[] {
    const out: DhcpOption[] = [];
    let i = start;
    while (i < end) {
      if (end - i < 4) {
        if (!(top && this.truncated)) {
          this.errors.push({
            kind: "trailing-octets",
            path: pathText(this.b, path),
            offset: i,
            message: `${end - i} octet(s) after the last option, too few for an option header`,
            length: end - i,
            ...(parentCode === undefined ? {} : { parentCode }),
          });
        }
        break;
      }
      const code = this.u16(i);
      const len = this.u16(i + 2);
      const ds = i + 4;
      if (ds + len > end) {
        const p = new LazyPath(path, start, i, code);
        const avail = end - ds;
        const data = this.b.slice(ds, end);
        if (top && this.truncated) {
          out.push({
            code,
            malformed: true,
            length: len,
            data,
            truncated: true,
            capturedLength: avail,
          });
        } else {
          this.errors.push({
            kind: "option-overrun",
            path: pathText(this.b, p),
            offset: i,
            message: `${optionName(code)} declares ${len} octets but only ${avail} remain`,
            code,
            declaredLength: len,
            availableLength: avail,
            ...(parentCode === undefined ? {} : { parentCode }),
          });
          out.push({ code, malformed: true, length: len, availableLength: avail, data });
        }
        break;
      }
      out.push(this.option(code, ds, ds + len, path, start, i, depth, relays, parentCode));
      i = ds + len;
    }
    return out;
  }

  malformed(
    code: number,
    ds: number,
    de: number,
    extra: Partial<MalformedOption>,
  ): MalformedOption {
    return { code, malformed: true, length: de - ds, ...extra, data: this.b.slice(ds, de) };
  }

  tooShort(
    code: number,
    ds: number,
    de: number,
    min: number,
    path: Path,
    at: number,
    parentCode?: number,
  ): MalformedOption {
    this.errors.push({
      kind: "option-too-short",
      path: pathText(this.b, path),
      offset: at,
      message: `${optionName(code)} has ${de - ds} octets, needs at least ${min}`,
      code,
      length: de - ds,
      minimumLength: min,
      ...(parentCode === undefined ? {} : { parentCode }),
    });
    return this.malformed(code, ds, de, { minimumLength: min });
  }

  badLength(
    code: number,
    ds: number,
    de: number,
    path: Path,
    at: number,
    parentCode: number | undefined,
    figures: { expectedLength?: number; maximumLength?: number; multipleOf?: number },
  ): MalformedOption {
    const len = de - ds;
    const want = figures.expectedLength !== undefined
      ? `exactly ${figures.expectedLength}`
      : figures.maximumLength !== undefined
      ? `at most ${figures.maximumLength}`
      : `a multiple of ${figures.multipleOf}`;
    this.errors.push({
      kind: "option-bad-length",
      path: pathText(this.b, path),
      offset: at,
      message: `${optionName(code)} has ${len} octets, must have ${want}`,
      code,
      length: len,
      ...figures,
      ...(parentCode === undefined ? {} : { parentCode }),
    });
    return this.malformed(
      code,
      ds,
      de,
      figures.expectedLength !== undefined ? { expectedLength: figures.expectedLength } : {},
    );
  }

  invalid(
    code: number,
    field: string,
    value: number | string,
    path: Path,
    at: number,
    parentCode: number | undefined,
    why: string,
  ): void {
    this.errors.push({
      kind: "invalid-value",
      path: join(pathText(this.b, path), field),
      offset: at,
      message: `${optionName(code)} ${field}: ${why}`,
      code,
      field,
      value,
      ...(parentCode === undefined ? {} : { parentCode }),
    });
  }

  /** A container nested past `maxDepth`: kept raw, with `option-nesting-too-deep`. */
  tooDeep(code: number, ds: number, de: number, path: Path, at: number, depth: number): DhcpOption {
    this.errors.push({
      kind: "option-nesting-too-deep",
      path: pathText(this.b, path),
      offset: at,
      message: `${optionName(code)} nested deeper than ${this.maxDepth} levels; kept raw`,
      code,
      depth: depth + 1,
      limit: this.maxDepth,
    });
    return { code, raw: true, data: this.b.slice(ds, de) };
  }

  /**
   * Decodes the option whose data is `[ds, de)`; `at` is the offset of its header, in the
   * option list starting at `listStart` under `up` (its path is made only when needed).
   */
  option(
    code: number,
    ds: number,
    de: number,
    up: Path,
    listStart: number,
    at: number,
    depth: number,
    relays: number,
    parentCode: number | undefined,
  ): DhcpOption {
    const len = de - ds;
    const b = this.b;
    const scalar = SCALAR_BY_CODE[code];
    if (scalar !== undefined) {
      const field = scalar[0];
      const size = scalar[1];
      if (len !== size) {
        const path = new LazyPath(up, listStart, at, code);
        if (len < size) return this.tooShort(code, ds, de, size, path, at, parentCode);
        return this.badLength(code, ds, de, path, at, parentCode, { expectedLength: size });
      }
      const value = this.uint(ds, size);
      if (code === 114 && !isKnownBindingStatus(value)) {
        const path = new LazyPath(up, listStart, at, code);
        this.invalid(code, field, value, path, ds, parentCode, `${value} is not a binding status`);
      } else if (code === 132 && !isKnownFailoverState(value)) {
        const path = new LazyPath(up, listStart, at, code);
        this.invalid(code, field, value, path, ds, parentCode, `${value} is not a failover state`);
      }
      return scalarOption(code, field, value);
    }
    const path = new LazyPath(up, listStart, at, code);
    const deep = depth + 1 > this.maxDepth;
    switch (code) {
      case 1:
      case 2:
        if (len < 3) return this.tooShort(code, ds, de, 3, path, at, parentCode);
        if (len > 130) {
          return this.badLength(code, ds, de, path, at, parentCode, { maximumLength: 130 });
        }
        return { code, duid: b.slice(ds, de) } as KnownOption;
      case 3:
      case 25: {
        if (len < 12) return this.tooShort(code, ds, de, 12, path, at, parentCode);
        if (deep) return this.tooDeep(code, ds, de, path, at, depth);
        const options = this.options(ds + 12, de, path, depth + 1, relays, code, false);
        return {
          code,
          iaid: this.u32(ds),
          t1: this.u32(ds + 4),
          t2: this.u32(ds + 8),
          options,
        } as KnownOption;
      }
      case 4: {
        if (len < 4) return this.tooShort(code, ds, de, 4, path, at, parentCode);
        if (deep) return this.tooDeep(code, ds, de, path, at, depth);
        const options = this.options(ds + 4, de, path, depth + 1, relays, code, false);
        return { code, iaid: this.u32(ds), options };
      }
      case 5: {
        if (len < 24) return this.tooShort(code, ds, de, 24, path, at, parentCode);
        if (deep) return this.tooDeep(code, ds, de, path, at, depth);
        const options = this.options(ds + 24, de, path, depth + 1, relays, code, false);
        return {
          code,
          address: formatIPv6Bytes(b, ds),
          preferredLifetime: this.u32(ds + 16),
          validLifetime: this.u32(ds + 20),
          options,
        };
      }
      case 26: {
        if (len < 25) return this.tooShort(code, ds, de, 25, path, at, parentCode);
        if (deep) return this.tooDeep(code, ds, de, path, at, depth);
        const options = this.options(ds + 25, de, path, depth + 1, relays, code, false);
        const prefixLength = b[ds + 8];
        if (prefixLength > 128) {
          this.invalid(code, "prefixLength", prefixLength, path, ds + 8, parentCode, "over 128");
        }
        return {
          code,
          preferredLifetime: this.u32(ds),
          validLifetime: this.u32(ds + 4),
          prefixLength,
          prefix: formatIPv6Bytes(b, ds + 9),
          options,
        };
      }
      case 45:
      case 116: {
        if (deep) return this.tooDeep(code, ds, de, path, at, depth);
        const options = this.options(ds + 0, de, path, depth + 1, relays, code, false);
        return { code, options } as KnownOption;
      }
      case 6: {
        if (len % 2 !== 0) {
          return this.badLength(code, ds, de, path, at, parentCode, { multipleOf: 2 });
        }
        const requestedOptions: number[] = [];
        for (let i = ds; i < de; i += 2) requestedOptions.push(this.u16(i));
        return { code, requestedOptions };
      }
      case 9:
        return this.embedded(code, ds, de, 0, path, at, depth, relays, parentCode);
      case 47: {
        if (len < 16) return this.tooShort(code, ds, de, 20, path, at, parentCode);
        return this.embedded(code, ds, de, 16, path, at, depth, relays, parentCode);
      }
      case 12:
        if (len !== 16) {
          return this.badLength(code, ds, de, path, at, parentCode, { expectedLength: 16 });
        }
        return { code, serverAddress: formatIPv6Bytes(b, ds) };
      case 13: {
        if (len < 2) return this.tooShort(code, ds, de, 2, path, at, parentCode);
        const text = this.utf8(code, ds + 2, de, "statusMessage", path, parentCode);
        if (typeof text === "string") {
          return { code, statusCode: this.u16(ds), statusMessage: text };
        }
        return {
          code,
          statusCode: this.u16(ds),
          statusMessage: text.lossy,
          statusMessageOctets: b.slice(ds + 2, de),
        };
      }
      case 130: {
        const text = this.utf8(code, ds, de, "relationshipName", path, parentCode);
        if (typeof text === "string") return { code, relationshipName: text };
        return { code, relationshipName: text.lossy, relationshipNameOctets: b.slice(ds, de) };
      }
      case 14:
      case 20:
        if (len !== 0) {
          return this.badLength(code, ds, de, path, at, parentCode, { expectedLength: 0 });
        }
        return { code } as KnownOption;
      case 18:
        return { code, interfaceId: b.slice(ds, de) };
      case 23: {
        if (len % 16 !== 0) {
          return this.badLength(code, ds, de, path, at, parentCode, { multipleOf: 16 });
        }
        const dnsServers: string[] = [];
        for (let i = ds; i < de; i += 16) dnsServers.push(formatIPv6Bytes(b, i));
        return { code, dnsServers };
      }
      case 24: {
        const domains: string[] = [];
        for (let i = ds; i < de;) {
          const r = decodeName(b, i, de, false);
          if (isNameError(r)) {
            this.invalid(
              code,
              "domains",
              bytesToHex(b.slice(ds, de)),
              path,
              i + r.at,
              parentCode,
              r.reason,
            );
            return this.malformed(code, ds, de, {});
          }
          domains.push(r.name);
          i += r.length;
        }
        return { code, domains };
      }
      case 39: {
        if (len < 1) return this.tooShort(code, ds, de, 1, path, at, parentCode);
        const name = this.name(code, ds + 1, de, "domainName", path, parentCode);
        if (name === undefined) return this.malformed(code, ds, de, {});
        return name.partial
          ? { code, flags: b[ds], domainName: name.name, partial: true }
          : { code, flags: b[ds], domainName: name.name };
      }
      case 117:
      case 118: {
        const field = code === 117 ? "hostName" : "zoneName";
        const name = this.name(code, ds, de, field, path, parentCode);
        if (name === undefined) return this.malformed(code, ds, de, {});
        const o = { code, [field]: name.name, ...(name.partial ? { partial: true } : {}) };
        return o as unknown as KnownOption;
      }
      case 68:
        if (len < 1) return this.tooShort(code, ds, de, 1, path, at, parentCode);
        return { code, vssType: b[ds], vssInfo: b.slice(ds + 1, de) };
      case 127:
        if (len < 4) return this.tooShort(code, ds, de, 4, path, at, parentCode);
        if (len > 4) {
          return this.badLength(code, ds, de, path, at, parentCode, { expectedLength: 4 });
        }
        return { code, majorVersion: this.u16(ds), minorVersion: this.u16(ds + 2) };
      case 129:
        if (len < 4) return this.tooShort(code, ds, de, 4, path, at, parentCode);
        return { code, reconfigureTime: this.u32(ds), reconfigureKey: b.slice(ds + 4, de) };
      default:
        return { code, raw: true, data: b.slice(ds, de) };
    }
  }

  utf8(
    code: number,
    s: number,
    e: number,
    field: string,
    path: Path,
    parentCode: number | undefined,
  ): string | { lossy: string } {
    try {
      return UTF8.decode(this.b.subarray(s, e));
    } catch {
      this.invalid(code, field, bytesToHex(this.b.slice(s, e)), path, s, parentCode, "not UTF-8");
      return { lossy: LOSSY.decode(this.b.subarray(s, e)) };
    }
  }

  name(
    code: number,
    s: number,
    e: number,
    field: string,
    path: Path,
    parentCode: number | undefined,
  ): { name: string; partial: boolean } | undefined {
    const r = decodeName(this.b, s, e, true);
    if (isNameError(r)) {
      this.invalid(
        code,
        field,
        bytesToHex(this.b.slice(s, e)),
        path,
        s + r.at,
        parentCode,
        r.reason,
      );
      return undefined;
    }
    if (r.length !== e - s) {
      const why = `${e - s - r.length} octet(s) after the root label`;
      this.invalid(
        code,
        field,
        bytesToHex(this.b.slice(s, e)),
        path,
        s + r.length,
        parentCode,
        why,
      );
      return undefined;
    }
    return r;
  }

  /** RELAY_MSG (skip 0) or LQ_RELAY_DATA (skip 16): an option holding a whole message. */
  embedded(
    code: 9 | 47,
    ds: number,
    de: number,
    skip: number,
    path: Path,
    at: number,
    depth: number,
    relays: number,
    parentCode: number | undefined,
  ): DhcpOption {
    const ms = ds + skip;
    if (ms < de && isRelayMsgType(this.b[ms]) && relays >= this.maxRelays) {
      const relayDepth = relays + this.countRelayChain(ms, de);
      this.errors.push({
        kind: "relay-nesting-too-deep",
        path: pathText(this.b, path),
        offset: at,
        message: `relay chain of ${relayDepth} relay headers exceeds ${this.maxRelays} ` +
          `(HOP_COUNT_LIMIT ${this.hopCountLimit}); not decoded deeper`,
        relayDepth,
        hopCountLimit: this.hopCountLimit,
      });
      return { code, raw: true, data: this.b.slice(ds, de) };
    }
    if (depth + 1 > this.maxDepth) {
      this.errors.push({
        kind: "option-nesting-too-deep",
        path: pathText(this.b, path),
        offset: at,
        message: `${optionName(code)} nested deeper than ${this.maxDepth} levels; kept raw`,
        code,
        depth: depth + 1,
        limit: this.maxDepth,
      });
      return { code, raw: true, data: this.b.slice(ds, de) };
    }
    const m = this.message(ms, de, path, depth + 1, relays, false);
    if ("minimumLength" in m) {
      return this.tooShort(code, ds, de, skip + m.minimumLength, path, at, parentCode);
    }
    if (code === 9) return { code, message: m };
    return { code, peerAddress: formatIPv6Bytes(this.b, ds), message: m };
  }

  /** Counts relay headers in a RELAY_MSG chain without decoding it (iterative). */
  countRelayChain(start: number, end: number): number {
    let n = 0;
    let s = start;
    let e = end;
    while (e - s >= 34 && isRelayMsgType(this.b[s])) {
      n++;
      let i = s + 34;
      let next: [number, number] | undefined;
      while (e - i >= 4) {
        const c = this.u16(i);
        const l = this.u16(i + 2);
        if (i + 4 + l > e) break;
        if (c === 9) {
          next = [i + 4, i + 4 + l];
          break;
        }
        i += 4 + l;
      }
      if (!next) break;
      [s, e] = next;
    }
    return n;
  }
}

/**
 * Decodes one DHCPv6 or failover message (without the TCP size prefix). Never throws:
 * `message` is absent only when the octets are too few for the header; every problem is
 * in `errors`. See `DecodeOptions` for captures cut by snaplen and the nesting limits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   decodeMessage,
 *   encodeMessage,
 *   failoverMessage,
 *   MessageType,
 * } from "@failover6/failover6";
 *
 * const bytes = encodeMessage(failoverMessage(MessageType.CONTACT, 3, 800000000));
 * const { message, errors } = decodeMessage(bytes);
 * assert.equal(message?.kind, "failover");
 * assert.equal(message?.msgType, MessageType.CONTACT);
 * assert.deepEqual(errors, []);
 *
 * // Bad input never throws: a cut header leaves `message` out and says why.
 * const cut = decodeMessage(bytes.subarray(0, 5));
 * assert.equal(cut.message, undefined);
 * assert.equal(cut.errors[0].kind, "message-too-short");
 * ```
 */
export function decodeMessage(bytes: Uint8Array, opts: DecodeOptions = {}): DecodeResult {
  const d = new Decoder(bytes, opts);
  const m = d.message(0, bytes.length, "", 0, 0, true);
  let message: Message | undefined;
  if ("minimumLength" in m) {
    d.errors.unshift({
      kind: "message-too-short",
      path: "",
      offset: 0,
      message:
        `message of ${bytes.length} octets is shorter than its ${m.minimumLength}-octet header`,
      ...(bytes.length > 0 ? { msgType: bytes[0] } : {}),
      length: bytes.length,
      minimumLength: m.minimumLength,
    });
  } else {
    message = m;
  }
  if (opts.captureTruncated !== undefined) {
    const { capturedLength, originalLength } = opts.captureTruncated;
    d.errors.push({
      kind: "capture-truncated",
      path: "",
      offset: bytes.length,
      message: `capture cut the frame: ${capturedLength} of ${originalLength} octets captured`,
      capturedLength,
      originalLength,
    });
  }
  return message === undefined ? { errors: d.errors } : { message, errors: d.errors };
}

/**
 * Decodes a bare option sequence (e.g. the data of a container), as if at message level.
 * Never throws. Offsets in errors are relative to `bytes`.
 */
export function decodeOptions(
  bytes: Uint8Array,
  opts: DecodeOptions = {},
): { options: DhcpOption[]; errors: WireError[] } {
  const d = new Decoder(bytes, { ...opts, captureTruncated: undefined });
  const options = d.options(0, bytes.length, "", 0, 0, undefined, false);
  return { options, errors: d.errors };
}
