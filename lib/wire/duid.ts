/**
 * DUIDs (RFC 8415 §11, RFC 6355): parse the opaque octets into a typed view, build them,
 * and render them as the oracle does.
 *
 * @module
 */

import { bytesToHex } from "./bytes.ts";
import type { Duid } from "./types.ts";

function u16(b: Uint8Array, i: number): number {
  return (b[i] << 8) | b[i + 1];
}
function u32(b: Uint8Array, i: number): number {
  return ((b[i] << 24) >>> 0) + (b[i + 1] << 16) + (b[i + 2] << 8) + b[i + 3];
}

/** Typed view of DUID octets; unknown types and short DUIDs give `{other: true}`. */
export function parseDuid(bytes: Uint8Array): Duid {
  if (bytes.length < 2) return { other: true, identifier: bytes.slice() };
  const type = u16(bytes, 0);
  if (type === 1 && bytes.length >= 8) {
    return { type, hwType: u16(bytes, 2), time: u32(bytes, 4), linkLayerAddress: bytes.slice(8) };
  }
  if (type === 2 && bytes.length >= 6) {
    return { type, enterpriseNumber: u32(bytes, 2), identifier: bytes.slice(6) };
  }
  if (type === 3 && bytes.length >= 4) {
    return { type, hwType: u16(bytes, 2), linkLayerAddress: bytes.slice(4) };
  }
  if (type === 4 && bytes.length === 18) {
    const h = bytesToHex(bytes.subarray(2));
    const uuid = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${
      h.slice(20)
    }`;
    return { type, uuid };
  }
  return { type, other: true, identifier: bytes.slice(2) };
}

/** DUID-LLT octets: type 1, hardware type, time (seconds since 2000), link-layer address. */
export function duidLlt(hwType: number, time: number, linkLayerAddress: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + linkLayerAddress.length);
  const v = new DataView(b.buffer);
  v.setUint16(0, 1);
  v.setUint16(2, hwType);
  v.setUint32(4, time);
  b.set(linkLayerAddress, 8);
  return b;
}

/** DUID-EN octets: type 2, enterprise number, identifier. */
export function duidEn(enterpriseNumber: number, identifier: Uint8Array): Uint8Array {
  const b = new Uint8Array(6 + identifier.length);
  const v = new DataView(b.buffer);
  v.setUint16(0, 2);
  v.setUint32(2, enterpriseNumber);
  b.set(identifier, 6);
  return b;
}

/** DUID-LL octets: type 3, hardware type, link-layer address. */
export function duidLl(hwType: number, linkLayerAddress: Uint8Array): Uint8Array {
  const b = new Uint8Array(4 + linkLayerAddress.length);
  const v = new DataView(b.buffer);
  v.setUint16(0, 3);
  v.setUint16(2, hwType);
  b.set(linkLayerAddress, 4);
  return b;
}

/**
 * The oracle's JSON for a DUID: LLT `{type, hwType, time, linkLayerAddress, hex}`, EN
 * `{type, enterpriseNumber, identifier, hex}`, LL `{type, hwType, linkLayerAddress, hex}`,
 * UUID `{type, uuid, hex}`, other `{type, identifier, hex}`. Link-layer addresses are
 * colon hex, identifiers and `hex` plain lower-case hex.
 */
export function duidToJson(bytes: Uint8Array): Record<string, unknown> {
  const d = parseDuid(bytes);
  const hex = bytesToHex(bytes);
  if ("other" in d) {
    return d.type === undefined
      ? { identifier: bytesToHex(d.identifier), hex }
      : { type: d.type, identifier: bytesToHex(d.identifier), hex };
  }
  switch (d.type) {
    case 1:
      return {
        type: 1,
        hwType: d.hwType,
        time: d.time,
        linkLayerAddress: bytesToHex(d.linkLayerAddress, ":"),
        hex,
      };
    case 2:
      return {
        type: 2,
        enterpriseNumber: d.enterpriseNumber,
        identifier: bytesToHex(d.identifier),
        hex,
      };
    case 3:
      return {
        type: 3,
        hwType: d.hwType,
        linkLayerAddress: bytesToHex(d.linkLayerAddress, ":"),
        hex,
      };
    case 4:
      return { type: 4, uuid: d.uuid, hex };
  }
}
