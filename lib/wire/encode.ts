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
import { parseIPv6Bytes } from "./ipv6.ts";
import { optionShortName } from "./names.ts";
import {
  type DhcpOption,
  isFailoverMsgType,
  isRelayMsgType,
  type KnownOption,
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

/**
 * Encodes a message: header by `kind` (which must agree with `msgType`), then options.
 * Throws `WireEncodeError` for values that cannot be encoded.
 */
export function encodeMessage(message: Message): Uint8Array {
  const w = new ByteWriter();
  writeMessage(w, message, ROOT);
  return w.finish();
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
