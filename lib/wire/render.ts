/**
 * Rendering of decoded messages: `messageToJson` gives the plain JSON shape of the oracle
 * files (`shared/captures/*.expect.json`); `renderMessage` gives indented human text for
 * `failover6 decode` and partner logs.
 *
 * @module
 */

import { bytesToHex } from "./bytes.ts";
import { duidToJson, parseDuid } from "./duid.ts";
import { encodeOption } from "./encode.ts";
import { formatWireError, type WireError } from "./errors.ts";
import {
  bindingStatusName,
  duidTypeName,
  failoverStateName,
  messageTypeName,
  optionName,
  statusName,
} from "./names.ts";
import { SCALAR_OPTIONS } from "./layout.ts";
import { formatAbsoluteTime } from "./time.ts";
import {
  ConnectFlag,
  type DhcpOption,
  DnsFlag,
  INFINITY,
  type KnownOption,
  type Message,
  ServerFlag,
} from "./types.ts";

/** A JSON object. */
export type JsonObject = Record<string, unknown>;

function messageLength(m: Message): number {
  const header = m.kind === "relay" ? 34 : m.kind === "failover" ? 8 : 4;
  return header + sizeOf(m.options);
}

/** Octets the options occupy on the wire (a malformed option occupies 4 + its data). */
function sizeOf(options: readonly DhcpOption[]): number {
  let n = 0;
  for (const o of options) {
    n += 4 + ("malformed" in o && o.malformed ? o.data.length : optionLength(o));
  }
  return n;
}

/** Data length of an option as encoded (the declared length for malformed options). */
function optionLength(o: DhcpOption): number {
  if ("malformed" in o && o.malformed) return o.length;
  if ("raw" in o && o.raw) return o.data.length;
  const k = o as KnownOption;
  const scalar = SCALAR_OPTIONS[k.code];
  if (scalar !== undefined) return scalar[1];
  switch (k.code) {
    case 3:
    case 25:
      return 12 + sizeOf(k.options);
    case 4:
      return 4 + sizeOf(k.options);
    case 5:
      return 24 + sizeOf(k.options);
    case 26:
      return 25 + sizeOf(k.options);
    case 45:
    case 116:
      return sizeOf(k.options);
    case 9:
      return messageLength(k.message);
    case 47:
      return 16 + messageLength(k.message);
    default:
      return encodeOption(k).length - 4;
  }
}

function typedFields(o: KnownOption): JsonObject {
  switch (o.code) {
    case 1:
    case 2:
      return { duid: duidToJson(o.duid) };
    case 13:
      return {
        statusCode: o.statusCode,
        statusName: statusName(o.statusCode),
        statusMessage: o.statusMessage,
      };
    case 114:
      return {
        bindingStatus: o.bindingStatus,
        bindingStatusName: bindingStatusName(o.bindingStatus),
      };
    case 132:
      return { serverState: o.serverState, serverStateName: failoverStateName(o.serverState) };
    case 115:
      return { flags: o.flags, fixedPdLength: (o.flags & ConnectFlag.FIXED_PD_LENGTH) !== 0 };
    case 131:
      return {
        flags: o.flags,
        ackStartup: (o.flags & ServerFlag.ACK_STARTUP) !== 0,
        startup: (o.flags & ServerFlag.STARTUP) !== 0,
        communicated: (o.flags & ServerFlag.COMMUNICATED) !== 0,
      };
    case 119:
      return {
        flags: o.flags,
        usingRequestedFqdn: (o.flags & DnsFlag.USING_REQUESTED_FQDN) !== 0,
        synthesizedName: (o.flags & DnsFlag.SYNTHESIZED_NAME) !== 0,
        revUptodate: (o.flags & DnsFlag.REV_UPTODATE) !== 0,
        fwdUptodate: (o.flags & DnsFlag.FWD_UPTODATE) !== 0,
      };
    case 9:
      return { message: messageToJson(o.message) };
    case 47:
      return { peerAddress: o.peerAddress, message: messageToJson(o.message) };
    default: {
      const out: JsonObject = {};
      for (const [k, v] of Object.entries(o)) {
        if (k === "code" || k === "options" || k.endsWith("Octets")) continue;
        out[k] = v instanceof Uint8Array ? bytesToHex(v) : Array.isArray(v) ? [...v] : v;
      }
      if ("options" in o) out.options = o.options.map(optionToJson);
      return out;
    }
  }
}

/**
 * The oracle JSON of one option: `{code, name, length, ...fields, options?}`; malformed
 * options `{code, name, length, malformed: true, availableLength|minimumLength|
 * expectedLength, data}`; capture-cut ones `{code, name, length, truncated: true,
 * capturedLength}`; raw ones `{code, name, length, data}`. Octets are lower-case hex.
 */
export function optionToJson(o: DhcpOption): JsonObject {
  const head: JsonObject = { code: o.code, name: optionName(o.code), length: optionLength(o) };
  if ("malformed" in o && o.malformed) {
    if (o.truncated) return { ...head, truncated: true, capturedLength: o.capturedLength };
    const out: JsonObject = { ...head, malformed: true };
    if (o.availableLength !== undefined) out.availableLength = o.availableLength;
    if (o.minimumLength !== undefined) out.minimumLength = o.minimumLength;
    if (o.expectedLength !== undefined) out.expectedLength = o.expectedLength;
    out.data = bytesToHex(o.data);
    return out;
  }
  if ("raw" in o && o.raw) return { ...head, data: bytesToHex(o.data) };
  return { ...head, ...typedFields(o as KnownOption) };
}

/**
 * The oracle JSON of a message: `{msgType, msgName, transactionId, sentTime?, options}`;
 * relays `{msgType, msgName, transactionId: null, hopCount, linkAddress, peerAddress,
 * options}`. Capture fields (frame, timestamp, errors ...) are the caller's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { failoverMessage, MessageType, messageToJson } from "@failover6/failover6";
 *
 * assert.deepEqual(messageToJson(failoverMessage(MessageType.CONTACT, 3, 800000000)), {
 *   msgType: 35,
 *   msgName: "CONTACT",
 *   transactionId: 3,
 *   sentTime: 800000000,
 *   options: [],
 * });
 * ```
 */
export function messageToJson(m: Message): JsonObject {
  const out: JsonObject = { msgType: m.msgType, msgName: messageTypeName(m.msgType) };
  if (m.kind === "relay") {
    out.transactionId = null;
    out.hopCount = m.hopCount;
    out.linkAddress = m.linkAddress;
    out.peerAddress = m.peerAddress;
  } else {
    out.transactionId = m.transactionId;
    if (m.kind === "failover") out.sentTime = m.sentTime;
  }
  out.options = m.options.map(optionToJson);
  return out;
}

// ---------------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------------

const ABSOLUTE_FIELDS = new Set([
  "baseTime",
  "expirationTime",
  "partnerLifetime",
  "partnerLifetimeSent",
  "partnerDownTime",
  "partnerRawCltTime",
  "startTimeOfState",
  "stateExpirationTime",
  "reconfigureTime",
]);

const SECONDS_FIELDS = new Set([
  "t1",
  "t2",
  "preferredLifetime",
  "validLifetime",
  "informationRefreshTime",
  "cltTime",
  "solMaxRt",
  "infMaxRt",
  "mclt",
  "keepaliveTime",
]);

function seconds(v: number): string {
  return v === INFINITY ? `${v} (infinity)` : `${v}s`;
}

function duidText(bytes: Uint8Array): string {
  const d = parseDuid(bytes);
  if ("other" in d) {
    return `${d.type === undefined ? "DUID" : duidTypeName(d.type)} ${bytesToHex(bytes)}`;
  }
  switch (d.type) {
    case 1:
      return `DUID-LLT hwType=${d.hwType} time=${formatAbsoluteTime(d.time)} ` +
        `linkLayerAddress=${bytesToHex(d.linkLayerAddress, ":")}`;
    case 2:
      return `DUID-EN enterpriseNumber=${d.enterpriseNumber} identifier=${
        bytesToHex(d.identifier)
      }`;
    case 3:
      return `DUID-LL hwType=${d.hwType} linkLayerAddress=${bytesToHex(d.linkLayerAddress, ":")}`;
    case 4:
      return `DUID-UUID uuid=${d.uuid}`;
  }
}

function flagNames(json: JsonObject): string {
  const set = Object.entries(json).filter(([k, v]) => k !== "flags" && v === true).map(([k]) => k);
  return set.length === 0 ? "" : ` [${set.join(" ")}]`;
}

function fieldsText(o: KnownOption): string {
  switch (o.code) {
    case 1:
    case 2:
      return duidText(o.duid);
    case 13:
      return `statusCode=${o.statusCode} (${statusName(o.statusCode)}) statusMessage=${
        JSON.stringify(o.statusMessage)
      }`;
    case 114:
      return `bindingStatus=${o.bindingStatus} (${bindingStatusName(o.bindingStatus)})`;
    case 132:
      return `serverState=${o.serverState} (${failoverStateName(o.serverState)})`;
    case 115:
    case 119:
    case 131: {
      const json = typedFields(o);
      return `flags=0x${o.flags.toString(16).padStart(2, "0")}${flagNames(json)}`;
    }
    case 8:
      return `elapsedTime=${o.elapsedTime} (${(o.elapsedTime / 100).toFixed(2)}s)`;
    case 9:
      return "";
    case 47:
      return `peerAddress=${o.peerAddress}`;
  }
  const parts: string[] = [];
  for (const [k, v] of Object.entries(o)) {
    if (k === "code" || k === "options" || k.endsWith("Octets")) continue;
    let text: string;
    if (v instanceof Uint8Array) text = bytesToHex(v);
    else if (Array.isArray(v)) text = v.join(",");
    else if (typeof v === "string") {
      text = /^[\x21-\x7e]*$/.test(v) && v !== "" ? v : JSON.stringify(v);
    } else if (typeof v === "number" && ABSOLUTE_FIELDS.has(k)) text = formatAbsoluteTime(v);
    else if (typeof v === "number" && SECONDS_FIELDS.has(k)) text = seconds(v);
    else text = String(v);
    parts.push(`${k}=${text}`);
  }
  return parts.join(" ");
}

function headerText(m: Message): string {
  const name = `${messageTypeName(m.msgType)} (${m.msgType})`;
  if (m.kind === "relay") {
    return `${name} hopCount=${m.hopCount} linkAddress=${m.linkAddress} peerAddress=${m.peerAddress}`;
  }
  const xid = `transactionId=${m.transactionId} (0x${
    m.transactionId.toString(16).padStart(6, "0")
  })`;
  if (m.kind === "failover") return `${name} ${xid} sentTime=${formatAbsoluteTime(m.sentTime)}`;
  return `${name} ${xid}`;
}

function renderInto(lines: string[], m: Message, indent: string): void {
  lines.push(indent + headerText(m));
  for (const o of m.options) renderOption(lines, o, indent + "  ");
}

function renderOption(lines: string[], o: DhcpOption, indent: string): void {
  const head = `${indent}${optionName(o.code)} (${o.code}) length=${optionLength(o)}`;
  if ("malformed" in o && o.malformed) {
    const why = o.truncated
      ? `truncated by capture, ${o.capturedLength} octets captured`
      : o.availableLength !== undefined
      ? `overruns its container, ${o.availableLength} octets available`
      : o.minimumLength !== undefined
      ? `too short, needs ${o.minimumLength}`
      : o.expectedLength !== undefined
      ? `bad length, expected ${o.expectedLength}`
      : "bad value";
    lines.push(`${head}: MALFORMED (${why}) data=${bytesToHex(o.data)}`);
    return;
  }
  if ("raw" in o && o.raw) {
    lines.push(`${head}: data=${bytesToHex(o.data)}`);
    return;
  }
  const k = o as KnownOption;
  const text = fieldsText(k);
  lines.push(text === "" ? head : `${head}: ${text}`);
  if ("options" in k) { for (const c of k.options) renderOption(lines, c, indent + "  "); }
  if (k.code === 9 || k.code === 47) renderInto(lines, k.message, indent + "  ");
}

/**
 * Human text of a message: the header line (name and code, transaction-id, sent-time as
 * number and ISO), then the option tree indented two spaces per level, fields as
 * `name=value` with units (`s`), absolute times as number and ISO, states and statuses by
 * name. Lines are joined with `\n` (no trailing newline).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   connectOptions,
 *   failoverMessage,
 *   MessageType,
 *   renderMessage,
 * } from "@failover6/failover6";
 *
 * const connect = failoverMessage(
 *   MessageType.CONNECT,
 *   1,
 *   800000000,
 *   connectOptions({ mclt: 3600, keepaliveTime: 60, maxUnackedBndupd: 10 }),
 * );
 * const text = renderMessage(connect);
 * assert.equal(
 *   text.split("\n")[0],
 *   "CONNECT (31) transactionId=1 (0x000001) sentTime=800000000 (2025-05-08T06:13:20Z)",
 * );
 * assert.match(text, /OPTION_F_MCLT \(122\) length=4: mclt=3600s/);
 * ```
 */
export function renderMessage(message: Message, errors: readonly WireError[] = []): string {
  const lines: string[] = [];
  renderInto(lines, message, "");
  for (const e of errors) lines.push(`  ! ${formatWireError(e)}`);
  return lines.join("\n");
}
