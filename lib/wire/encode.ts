/**
 * Encoding of messages and options. Lengths are computed from the content, except for
 * `MalformedOption`, which writes its recorded `length` so that any decoded message,
 * malformed parts included, re-encodes byte for byte. Values that cannot go on the wire
 * throw `WireEncodeError` naming the field path.
 *
 * @module
 */

import { ByteWriter } from "./bytes.ts";
import { SCALAR_OPTIONS } from "./layout.ts";
import { encodeName } from "./dnsname.ts";
import { WireEncodeError } from "./errors.ts";
import { parseIPv6Bytes, parseIPv6Into } from "../util/ipv6_octets.ts";
import { optionShortName } from "./names.ts";
import {
  type DhcpOption,
  isFailoverMsgType,
  isRelayMsgType,
  type KnownOption,
  type MalformedOption,
  MAX_FRAMED_MESSAGE,
  type Message,
} from "./types.ts";

const UTF8 = new TextEncoder();

/**
 * A field path built without string work; turned into text (`IA_NA[0].IAADDR[1].address`)
 * only when an error is thrown.
 */
class Path {
  constructor(
    readonly up: Path | undefined,
    readonly field: string | undefined,
    readonly code = 0,
    readonly idx = -1,
  ) {}
  toString(): string {
    const seg = this.field ??
      (this.idx < 0 ? optionShortName(this.code) : `${optionShortName(this.code)}[${this.idx}]`);
    const up = this.up === undefined ? "" : this.up.toString();
    return up === "" ? seg : seg === "" ? up : `${up}.${seg}`;
  }
}

const ROOT = new Path(undefined, "");

function join(path: Path, field: string): Path {
  return new Path(path, field);
}

function address(w: ByteWriter, text: string, path: Path): void {
  const b = parseIPv6Bytes(text);
  if (b === undefined) {
    throw new WireEncodeError(`${path}`, `not an IPv6 address: ${JSON.stringify(text)}`);
  }
  w.bytes(b);
}

function bytesField(w: ByteWriter, b: Uint8Array, path: Path): void {
  if (!(b instanceof Uint8Array)) throw new WireEncodeError(`${path}`, "not a Uint8Array");
  w.bytes(b);
}

function name(w: ByteWriter, text: string, partial: boolean | undefined, path: Path): void {
  if (typeof text !== "string") throw new WireEncodeError(`${path}`, "not a string");
  const r = encodeName(text, partial === true);
  if (typeof r === "string") throw new WireEncodeError(`${path}`, r);
  w.bytes(r);
}

function writeMessage(w: ByteWriter, m: Message, path: Path): void {
  switch (m.kind) {
    case "relay":
      if (!isRelayMsgType(m.msgType)) {
        throw new WireEncodeError(`${join(path, "msgType")}`, `${m.msgType} is not a relay type`);
      }
      w.uint(m.msgType, 1, join(path, "msgType"));
      w.uint(m.hopCount, 1, join(path, "hopCount"));
      address(w, m.linkAddress, join(path, "linkAddress"));
      address(w, m.peerAddress, join(path, "peerAddress"));
      break;
    case "failover":
      if (!isFailoverMsgType(m.msgType)) {
        throw new WireEncodeError(
          `${join(path, "msgType")}`,
          `${m.msgType} is not a failover type`,
        );
      }
      w.uint(m.msgType, 1, join(path, "msgType"));
      w.uint(m.transactionId, 3, join(path, "transactionId"));
      w.uint(m.sentTime, 4, join(path, "sentTime"));
      break;
    case "client-server":
      if (isRelayMsgType(m.msgType) || isFailoverMsgType(m.msgType)) {
        throw new WireEncodeError(
          `${join(path, "msgType")}`,
          `${m.msgType} needs a ${isRelayMsgType(m.msgType) ? "relay" : "failover"} header`,
        );
      }
      w.uint(m.msgType, 1, join(path, "msgType"));
      w.uint(m.transactionId, 3, join(path, "transactionId"));
      break;
    default:
      throw new WireEncodeError(`${path}`, `unknown message kind ${(m as { kind: unknown }).kind}`);
  }
  writeOptions(w, m.options, path);
}

function writeOptions(w: ByteWriter, options: readonly DhcpOption[], path: Path): void {
  if (!Array.isArray(options)) {
    throw new WireEncodeError(`${join(path, "options")}`, "not an array");
  }
  for (let i = 0; i < options.length; i++) {
    const o = options[i];
    let idx = 0;
    for (let j = 0; j < i; j++) if (options[j].code === o.code) idx++;
    writeOption(w, o, new Path(path, undefined, o.code, idx));
  }
}

function writeOption(w: ByteWriter, o: DhcpOption, path: Path): void {
  w.uint(o.code, 2, join(path, "code"));
  const lenAt = w.length;
  w.uint(0, 2, path);
  const start = w.length;
  if ("malformed" in o && o.malformed) {
    bytesField(w, o.data, join(path, "data"));
    if (!Number.isInteger(o.length) || o.length < 0 || o.length > 0xffff) {
      throw new WireEncodeError(`${join(path, "length")}`, `${o.length} is not an option length`);
    }
    w.patch16(lenAt, o.length);
    return;
  }
  if ("raw" in o && o.raw) bytesField(w, o.data, join(path, "data"));
  else writeKnown(w, o as KnownOption, path);
  const len = w.length - start;
  if (len > 0xffff) {
    throw new WireEncodeError(`${path}`, `option data of ${len} octets exceeds 65535`);
  }
  w.patch16(lenAt, len);
}

function writeKnown(w: ByteWriter, o: KnownOption, path: Path): void {
  const f = (field: string) => join(path, field);
  const scalar = SCALAR_OPTIONS[o.code];
  if (scalar !== undefined) {
    const [field, size] = scalar;
    w.uint((o as unknown as Record<string, number>)[field], size, f(field));
    return;
  }
  switch (o.code) {
    case 1:
    case 2:
      bytesField(w, o.duid, f("duid"));
      return;
    case 3:
    case 25:
      w.uint(o.iaid, 4, f("iaid"));
      w.uint(o.t1, 4, f("t1"));
      w.uint(o.t2, 4, f("t2"));
      writeOptions(w, o.options, path);
      return;
    case 4:
      w.uint(o.iaid, 4, f("iaid"));
      writeOptions(w, o.options, path);
      return;
    case 5:
      address(w, o.address, f("address"));
      w.uint(o.preferredLifetime, 4, f("preferredLifetime"));
      w.uint(o.validLifetime, 4, f("validLifetime"));
      writeOptions(w, o.options, path);
      return;
    case 26:
      w.uint(o.preferredLifetime, 4, f("preferredLifetime"));
      w.uint(o.validLifetime, 4, f("validLifetime"));
      w.uint(o.prefixLength, 1, f("prefixLength"));
      address(w, o.prefix, f("prefix"));
      writeOptions(w, o.options, path);
      return;
    case 45:
    case 116:
      writeOptions(w, o.options, path);
      return;
    case 6:
      if (!Array.isArray(o.requestedOptions)) {
        throw new WireEncodeError(`${f("requestedOptions")}`, "not an array");
      }
      o.requestedOptions.forEach((c, i) => w.uint(c, 2, f(`requestedOptions[${i}]`)));
      return;
    case 9:
      writeMessage(w, o.message, f("message"));
      return;
    case 47:
      address(w, o.peerAddress, f("peerAddress"));
      writeMessage(w, o.message, f("message"));
      return;
    case 12:
      address(w, o.serverAddress, f("serverAddress"));
      return;
    case 13:
      w.uint(o.statusCode, 2, f("statusCode"));
      if (typeof o.statusMessage !== "string") {
        throw new WireEncodeError(`${f("statusMessage")}`, "not a string");
      }
      if (o.statusMessageOctets !== undefined) {
        bytesField(w, o.statusMessageOctets, f("statusMessageOctets"));
      } else w.bytes(UTF8.encode(o.statusMessage));
      return;
    case 130:
      if (typeof o.relationshipName !== "string") {
        throw new WireEncodeError(`${f("relationshipName")}`, "not a string");
      }
      if (o.relationshipNameOctets !== undefined) {
        bytesField(w, o.relationshipNameOctets, f("relationshipNameOctets"));
      } else w.bytes(UTF8.encode(o.relationshipName));
      return;
    case 14:
    case 20:
      return;
    case 18:
      bytesField(w, o.interfaceId, f("interfaceId"));
      return;
    case 23:
      if (!Array.isArray(o.dnsServers)) {
        throw new WireEncodeError(`${f("dnsServers")}`, "not an array");
      }
      o.dnsServers.forEach((a, i) => address(w, a, f(`dnsServers[${i}]`)));
      return;
    case 24:
      if (!Array.isArray(o.domains)) throw new WireEncodeError(`${f("domains")}`, "not an array");
      o.domains.forEach((d, i) => name(w, d, false, f(`domains[${i}]`)));
      return;
    case 39:
      w.uint(o.flags, 1, f("flags"));
      name(w, o.domainName, o.partial, f("domainName"));
      return;
    case 117:
      name(w, o.hostName, o.partial, f("hostName"));
      return;
    case 118:
      name(w, o.zoneName, o.partial, f("zoneName"));
      return;
    case 68:
      w.uint(o.vssType, 1, f("vssType"));
      bytesField(w, o.vssInfo, f("vssInfo"));
      return;
    case 127:
      w.uint(o.majorVersion, 2, f("majorVersion"));
      w.uint(o.minorVersion, 2, f("minorVersion"));
      return;
    case 129:
      w.uint(o.reconfigureTime, 4, f("reconfigureTime"));
      bytesField(w, o.reconfigureKey, f("reconfigureKey"));
      return;
    default:
      throw new WireEncodeError(
        `${path}`,
        `option code ${
          (o as { code: number }).code
        } has no typed form; use {code, raw: true, data}`,
      );
  }
}

// ---------------------------------------------------------------------------------------
// The fast path: the same octets with no field paths, into one reused buffer. Any value it
// does not take (a failed check, an unknown code) sends the whole message through the
// checked path above, which throws the error naming the field (or, should it not fail,
// gives the octets): results and errors are those of the checked path.
// ---------------------------------------------------------------------------------------

/** Thrown inside the fast path: the value needs the checked path. */
const SLOW: Error = new Error("use the checked encoder");

/** `SCALAR_OPTIONS` as an array indexed by code. */
const SCALAR_BY_CODE: (readonly [string, 1 | 2 | 4] | undefined)[] = [];
for (const [code, layout] of Object.entries(SCALAR_OPTIONS)) SCALAR_BY_CODE[Number(code)] = layout;

let buf = new Uint8Array(8192);
let pos = 0;
let busy = false;

function room(n: number): void {
  if (pos + n <= buf.length) return;
  let size = buf.length * 2;
  while (size < pos + n) size *= 2;
  const next = new Uint8Array(size);
  next.set(buf.subarray(0, pos));
  buf = next;
}

function u8(v: number): void {
  if (!(v >= 0 && v <= 0xff && Number.isInteger(v))) throw SLOW;
  room(1);
  buf[pos++] = v;
}

function u16(v: number): void {
  if (!(v >= 0 && v <= 0xffff && Number.isInteger(v))) throw SLOW;
  room(2);
  buf[pos] = v >> 8;
  buf[pos + 1] = v & 0xff;
  pos += 2;
}

function u24(v: number): void {
  if (!(v >= 0 && v <= 0xffffff && Number.isInteger(v))) throw SLOW;
  room(3);
  buf[pos] = v >> 16;
  buf[pos + 1] = (v >> 8) & 0xff;
  buf[pos + 2] = v & 0xff;
  pos += 3;
}

function u32(v: number): void {
  if (!(v >= 0 && v <= 0xffffffff && Number.isInteger(v))) throw SLOW;
  room(4);
  buf[pos] = v >>> 24;
  buf[pos + 1] = (v >>> 16) & 0xff;
  buf[pos + 2] = (v >>> 8) & 0xff;
  buf[pos + 3] = v & 0xff;
  pos += 4;
}

function uint(v: number, size: 1 | 2 | 4): void {
  if (size === 4) u32(v);
  else if (size === 2) u16(v);
  else u8(v);
}

function octets(b: Uint8Array): void {
  if (!(b instanceof Uint8Array)) throw SLOW;
  room(b.length);
  buf.set(b, pos);
  pos += b.length;
}

function fastAddress(text: string): void {
  room(16);
  if (!parseIPv6Into(text, buf, pos)) throw SLOW;
  pos += 16;
}

function fastName(text: string, partial: boolean | undefined): void {
  if (typeof text !== "string") throw SLOW;
  const r = encodeName(text, partial === true);
  if (typeof r === "string") throw SLOW;
  octets(r);
}

function fastMessage(m: Message): void {
  switch (m.kind) {
    case "relay":
      if (!isRelayMsgType(m.msgType)) throw SLOW;
      u8(m.msgType);
      u8(m.hopCount);
      fastAddress(m.linkAddress);
      fastAddress(m.peerAddress);
      break;
    case "failover":
      if (!isFailoverMsgType(m.msgType)) throw SLOW;
      u8(m.msgType);
      u24(m.transactionId);
      u32(m.sentTime);
      break;
    case "client-server":
      if (isRelayMsgType(m.msgType) || isFailoverMsgType(m.msgType)) throw SLOW;
      u8(m.msgType);
      u24(m.transactionId);
      break;
    default:
      throw SLOW;
  }
  fastOptions(m.options);
}

function fastOptions(options: readonly DhcpOption[]): void {
  if (!Array.isArray(options)) throw SLOW;
  for (let i = 0; i < options.length; i++) fastOption(options[i]);
}

function fastOption(o: DhcpOption): void {
  u16(o.code);
  room(2);
  const lenAt = pos;
  pos += 2;
  const start = pos;
  // Property reads, not `in`: the same truth for plain option objects, and cheaper.
  const special = o as Partial<{ malformed: boolean; raw: boolean; data: Uint8Array }>;
  if (special.malformed) {
    const m = o as MalformedOption;
    octets(m.data);
    const l = m.length;
    if (!Number.isInteger(l) || l < 0 || l > 0xffff) throw SLOW;
    buf[lenAt] = l >> 8;
    buf[lenAt + 1] = l & 0xff;
    return;
  }
  if (special.raw) octets(special.data as Uint8Array);
  else fastKnown(o as KnownOption);
  const len = pos - start;
  if (len > 0xffff) throw SLOW;
  buf[lenAt] = len >> 8;
  buf[lenAt + 1] = len & 0xff;
}

function fastKnown(o: KnownOption): void {
  const scalar = SCALAR_BY_CODE[o.code];
  if (scalar !== undefined) {
    uint((o as unknown as Record<string, number>)[scalar[0]], scalar[1]);
    return;
  }
  switch (o.code) {
    case 1:
    case 2:
      octets(o.duid);
      return;
    case 3:
    case 25:
      u32(o.iaid);
      u32(o.t1);
      u32(o.t2);
      fastOptions(o.options);
      return;
    case 4:
      u32(o.iaid);
      fastOptions(o.options);
      return;
    case 5:
      fastAddress(o.address);
      u32(o.preferredLifetime);
      u32(o.validLifetime);
      fastOptions(o.options);
      return;
    case 26:
      u32(o.preferredLifetime);
      u32(o.validLifetime);
      u8(o.prefixLength);
      fastAddress(o.prefix);
      fastOptions(o.options);
      return;
    case 45:
    case 116:
      fastOptions(o.options);
      return;
    case 6:
      if (!Array.isArray(o.requestedOptions)) throw SLOW;
      for (const c of o.requestedOptions) u16(c);
      return;
    case 9:
      fastMessage(o.message);
      return;
    case 47:
      fastAddress(o.peerAddress);
      fastMessage(o.message);
      return;
    case 12:
      fastAddress(o.serverAddress);
      return;
    case 13:
      u16(o.statusCode);
      if (typeof o.statusMessage !== "string") throw SLOW;
      if (o.statusMessageOctets !== undefined) octets(o.statusMessageOctets);
      else if (o.statusMessage !== "") octets(UTF8.encode(o.statusMessage));
      return;
    case 130:
      if (typeof o.relationshipName !== "string") throw SLOW;
      if (o.relationshipNameOctets !== undefined) octets(o.relationshipNameOctets);
      else octets(UTF8.encode(o.relationshipName));
      return;
    case 14:
    case 20:
      return;
    case 18:
      octets(o.interfaceId);
      return;
    case 23:
      if (!Array.isArray(o.dnsServers)) throw SLOW;
      for (const a of o.dnsServers) fastAddress(a);
      return;
    case 24:
      if (!Array.isArray(o.domains)) throw SLOW;
      for (const d of o.domains) fastName(d, false);
      return;
    case 39:
      u8(o.flags);
      fastName(o.domainName, o.partial);
      return;
    case 117:
      fastName(o.hostName, o.partial);
      return;
    case 118:
      fastName(o.zoneName, o.partial);
      return;
    case 68:
      u8(o.vssType);
      octets(o.vssInfo);
      return;
    case 127:
      u16(o.majorVersion);
      u16(o.minorVersion);
      return;
    case 129:
      u32(o.reconfigureTime);
      octets(o.reconfigureKey);
      return;
    default:
      throw SLOW;
  }
}

/**
 * Writes `message` into the reused buffer from `start` and returns true, or false when the
 * fast path does not take it (`pos` is then back at `start`).
 */
function fast(start: number, message: Message): boolean {
  pos = start;
  try {
    fastMessage(message);
    return true;
  } catch {
    pos = start;
    return false;
  }
}

/** The checked encoder: throws the error naming the field, or returns the octets. */
function checkedMessage(message: Message): Uint8Array {
  const w = new ByteWriter();
  writeMessage(w, message, ROOT);
  return w.finish();
}

/**
 * Encodes a message: header by `kind` (which must agree with `msgType`), then options.
 * Throws `WireEncodeError` for values that cannot be encoded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { clientId, encodeMessage, MessageType } from "@failover6/failover6";
 *
 * const bytes = encodeMessage({
 *   kind: "client-server",
 *   msgType: MessageType.SOLICIT,
 *   transactionId: 0x123456,
 *   options: [clientId(new Uint8Array([0, 3, 0, 1, 2, 0, 0, 0, 0, 1]))],
 * });
 * // msg-type, 3-octet transaction-id, then OPTION_CLIENTID (code 1, length 10).
 * assert.deepEqual([...bytes.subarray(0, 8)], [1, 0x12, 0x34, 0x56, 0, 1, 0, 10]);
 * assert.equal(bytes.length, 18);
 * ```
 */
export function encodeMessage(message: Message): Uint8Array {
  if (busy) return checkedMessage(message);
  busy = true;
  try {
    if (fast(0, message)) return buf.slice(0, pos);
  } finally {
    busy = false;
  }
  return checkedMessage(message);
}

/** What {@linkcode encodeFrames} returns. */
export interface EncodedFrames {
  /** The frames, back to back: the octets of one TCP write. */
  data: Uint8Array;
  /**
   * Per message, the `[start, end)` of its octets in `data` (after its 2-octet size), as
   * pairs: message `i` is `data.subarray(bounds[2 * i], bounds[2 * i + 1])`; both are -1 for
   * a message left out.
   */
  bounds: number[];
}

/**
 * Encodes messages as consecutive RFC 5460 frames (2-octet message-size, then the message,
 * as {@linkcode frameMessage} makes them) into one array. A message that cannot be encoded,
 * or is over 65535 octets, is left out and given to `onError` with the error that
 * `encodeMessage` or `frameMessage` throws for it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFrames, encodeMessage } from "./encode.ts";
 * import { failoverMessage } from "./options.ts";
 * import { MessageType } from "./types.ts";
 *
 * const a = failoverMessage(MessageType.CONTACT, 1, 800000000);
 * const b = failoverMessage(MessageType.CONTACT, 2, 800000000);
 * const { data, bounds } = encodeFrames([a, b]);
 * assert.deepEqual(bounds, [2, 10, 12, 20]);
 * assert.deepEqual(data.subarray(12, 20), encodeMessage(b));
 * ```
 */
export function encodeFrames(
  messages: readonly Message[],
  onError?: (message: Message, error: unknown) => void,
): EncodedFrames {
  const bounds: number[] = [];
  if (busy) return framesChecked(messages, bounds, onError);
  busy = true;
  try {
    let end = 0;
    for (const m of messages) {
      room(2);
      if (fast(end + 2, m) && pos - end - 2 <= MAX_FRAMED_MESSAGE) {
        const size = pos - end - 2;
        buf[end] = size >> 8;
        buf[end + 1] = size & 0xff;
        bounds.push(end + 2, pos);
        end = pos;
        continue;
      }
      pos = end;
      const bytes = checkedFrame(m, bounds, onError);
      if (bytes === undefined) continue;
      room(2 + bytes.length);
      buf[end] = bytes.length >> 8;
      buf[end + 1] = bytes.length & 0xff;
      buf.set(bytes, end + 2);
      bounds.push(end + 2, end + 2 + bytes.length);
      end += 2 + bytes.length;
      pos = end;
    }
    return { data: buf.slice(0, end), bounds };
  } finally {
    busy = false;
  }
}

/** The checked path of one frame: its octets, or undefined (reported, bounds -1). */
function checkedFrame(
  m: Message,
  bounds: number[],
  onError?: (message: Message, error: unknown) => void,
): Uint8Array | undefined {
  try {
    const bytes = checkedMessage(m);
    if (bytes.length > MAX_FRAMED_MESSAGE) {
      throw new WireEncodeError("", `message of ${bytes.length} octets exceeds 65535`);
    }
    return bytes;
  } catch (e) {
    bounds.push(-1, -1);
    onError?.(m, e);
    return undefined;
  }
}

/** {@linkcode encodeFrames} without the reused buffer (when it is in use). */
function framesChecked(
  messages: readonly Message[],
  bounds: number[],
  onError?: (message: Message, error: unknown) => void,
): EncodedFrames {
  const w = new ByteWriter();
  for (const m of messages) {
    const bytes = checkedFrame(m, bounds, onError);
    if (bytes === undefined) continue;
    w.uint(bytes.length, 2, "");
    bounds.push(w.length, w.length + bytes.length);
    w.bytes(bytes);
  }
  return { data: w.finish(), bounds };
}

/** Encodes one option, header included (code, length, data). */
export function encodeOption(option: DhcpOption): Uint8Array {
  const w = new ByteWriter();
  writeOption(w, option, new Path(ROOT, undefined, option.code));
  return w.finish();
}

/** Encodes an option sequence. */
export function encodeOptions(options: readonly DhcpOption[]): Uint8Array {
  const w = new ByteWriter();
  writeOptions(w, options, ROOT);
  return w.finish();
}

/** Length of an option's data as it would be encoded (the `length` shown in JSON). */
export function optionDataLength(option: DhcpOption): number {
  if ("malformed" in option && option.malformed) return option.length;
  return encodeOption(option).length - 4;
}
