/**
 * pcapng: section header, interface description, enhanced, simple and obsolete packet
 * blocks; several sections (each with its own byte order and interfaces); `if_tsresol` and
 * `if_tsoffset`. Other blocks are skipped or handed to `ReadOptions.onBlock`.
 *
 * @module
 */

import { type ByteReader, u16, u32 } from "./bytes.ts";
import { CaptureError } from "./errors.ts";
import { type CaptureRecord, DEFAULT_MAX_RECORD_BYTES, type ReadOptions } from "./record.ts";
import {
  formatUnitsTimestamp,
  MICROSECONDS,
  resolutionFromTsresol,
  type TimeResolution,
} from "./timestamp.ts";

/** pcapng block types this reader interprets. */
export const BlockType = {
  SECTION_HEADER: 0x0a0d0d0a,
  INTERFACE_DESCRIPTION: 0x00000001,
  OBSOLETE_PACKET: 0x00000002,
  SIMPLE_PACKET: 0x00000003,
  ENHANCED_PACKET: 0x00000006,
} as const;

/** The byte-order magic of a section header block. */
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/** One interface description, as far as reading packets needs it. */
export interface PcapngInterface {
  /** LINKTYPE_* of the interface. */
  linkType: number;
  /** Snapshot length (0 = none). */
  snapLength: number;
  /** Timestamp unit. */
  resolution: TimeResolution;
  /** Seconds added to every timestamp (`if_tsoffset`). */
  offsetSeconds: bigint;
}

/** Reads `if_tsresol` and `if_tsoffset` from an IDB options area. */
function interfaceOptions(
  body: Uint8Array,
  start: number,
  le: boolean,
): { resolution: TimeResolution; offsetSeconds: bigint } {
  let resolution = MICROSECONDS;
  let offsetSeconds = 0n;
  let i = start;
  while (i + 4 <= body.length) {
    const code = u16(body, i, le);
    const len = u16(body, i + 2, le);
    if (code === 0) break;
    const v = i + 4;
    if (v + len > body.length) break;
    if (code === 9 && len >= 1) resolution = resolutionFromTsresol(body[v]);
    if (code === 14 && len >= 8) {
      const dv = new DataView(body.buffer, body.byteOffset + v, 8);
      offsetSeconds = dv.getBigInt64(0, le);
    }
    i = v + ((len + 3) & ~3);
  }
  return { resolution, offsetSeconds };
}

/** Reads a pcapng file from its first octet (which must begin a section header block). */
export async function* readPcapng(
  reader: ByteReader,
  options: ReadOptions = {},
): AsyncGenerator<CaptureRecord> {
  const maxRecord = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  let le = true;
  let section = -1;
  let interfaces: PcapngInterface[] = [];
  let frame = 0;
  for (;;) {
    const avail = reader.buffered >= 12 ? reader.buffered : await reader.fill(12);
    if (avail === 0) return;
    const offset = reader.offset;
    if (avail < 8) throw new CaptureError("truncated", offset, "pcapng block header cut short");
    const head = reader.peek(Math.min(avail, 12));
    let type = u32(head, 0, le);
    if (u32(head, 0, true) === BlockType.SECTION_HEADER) {
      if (head.length < 12) {
        throw new CaptureError("truncated", offset, "pcapng section header cut short");
      }
      const bom = u32(head, 8, true);
      if (bom === BYTE_ORDER_MAGIC) le = true;
      else if (u32(head, 8, false) === BYTE_ORDER_MAGIC) le = false;
      else {
        throw new CaptureError(
          "bad-section-header",
          offset + 8,
          `pcapng byte-order magic 0x${bom.toString(16).padStart(8, "0")} is not 0x1a2b3c4d`,
        );
      }
      type = BlockType.SECTION_HEADER;
    } else if (section < 0) {
      throw new CaptureError(
        "not-a-capture",
        offset,
        "pcapng file does not start with a section header",
      );
    }
    const total = u32(head, 4, le);
    const isPacket = type === BlockType.ENHANCED_PACKET || type === BlockType.SIMPLE_PACKET ||
      type === BlockType.OBSOLETE_PACKET;
    const blockFrame = isPacket ? frame + 1 : undefined;
    if (total < 12 || total % 4 !== 0) {
      throw new CaptureError(
        "bad-block-length",
        offset + 4,
        `pcapng block total length ${total} (type 0x${type.toString(16)}) is ${
          total < 12 ? "below 12" : "not a multiple of 4"
        }`,
        blockFrame,
      );
    }
    if (total > maxRecord + 64) {
      throw new CaptureError(
        "bad-block-length",
        offset + 4,
        `pcapng block total length ${total} exceeds ${maxRecord + 64}`,
        blockFrame,
      );
    }
    if (
      !isPacket && type !== BlockType.SECTION_HEADER && type !== BlockType.INTERFACE_DESCRIPTION &&
      !options.onBlock
    ) {
      // A block nobody wants: skip it without buffering it.
      const skipped = await reader.skip(total);
      if (skipped < total) {
        throw new CaptureError(
          "truncated",
          offset,
          `pcapng block (type 0x${type.toString(16)}) cut short`,
        );
      }
      continue;
    }
    if (reader.buffered < total && (await reader.fill(total)) < total) {
      throw new CaptureError(
        "truncated",
        offset,
        `pcapng block (type 0x${type.toString(16)}, length ${total}) cut short`,
        blockFrame,
      );
    }
    const block = reader.take(total);
    const trailer = u32(block, total - 4, le);
    if (trailer !== total) {
      throw new CaptureError(
        "bad-block-length",
        offset + total - 4,
        `pcapng trailing block length ${trailer} differs from leading ${total}`,
        blockFrame,
      );
    }
    const body = block.subarray(8, total - 4);
    switch (type) {
      case BlockType.SECTION_HEADER: {
        if (body.length < 16) {
          throw new CaptureError(
            "bad-block-length",
            offset + 4,
            `pcapng section header length ${total} below 28`,
          );
        }
        const major = u16(body, 4, le);
        if (major !== 1) {
          throw new CaptureError(
            "bad-section-header",
            offset + 12,
            `pcapng major version ${major} is not 1`,
          );
        }
        section++;
        interfaces = [];
        break;
      }
      case BlockType.INTERFACE_DESCRIPTION: {
        if (body.length < 8) {
          throw new CaptureError(
            "bad-block-length",
            offset + 4,
            `pcapng interface description length ${total} below 20`,
          );
        }
        interfaces.push({
          linkType: u16(body, 0, le),
          snapLength: u32(body, 4, le),
          ...interfaceOptions(body, 8, le),
        });
        break;
      }
      case BlockType.ENHANCED_PACKET:
      case BlockType.OBSOLETE_PACKET: {
        frame++;
        const enhanced = type === BlockType.ENHANCED_PACKET;
        const fixed = 20;
        if (body.length < fixed) {
          throw new CaptureError(
            "bad-block-length",
            offset + 4,
            `pcapng packet block length ${total} below 32`,
            frame,
          );
        }
        const ifId = enhanced ? u32(body, 0, le) : u16(body, 0, le);
        const iface = interfaces[ifId];
        if (!iface) {
          throw new CaptureError(
            "bad-interface-id",
            offset + 8,
            `pcapng packet block names interface ${ifId}, section ${section} has ${interfaces.length}`,
            frame,
          );
        }
        const capturedLength = u32(body, 12, le);
        const originalLength = u32(body, 16, le);
        if (fixed + capturedLength > body.length) {
          throw new CaptureError(
            "bad-block-length",
            offset + 20,
            `pcapng captured length ${capturedLength} overruns block of length ${total}`,
            frame,
          );
        }
        yield {
          frame,
          timestamp: formatUnitsTimestamp(
            u32(body, 4, le),
            u32(body, 8, le),
            iface.resolution,
            iface.offsetSeconds,
          ),
          format: "pcapng",
          section,
          interface: ifId,
          linkType: iface.linkType,
          capturedLength,
          originalLength,
          data: body.subarray(fixed, fixed + capturedLength),
          offset,
        };
        break;
      }
      case BlockType.SIMPLE_PACKET: {
        frame++;
        if (body.length < 4) {
          throw new CaptureError(
            "bad-block-length",
            offset + 4,
            `pcapng simple packet length ${total} below 16`,
            frame,
          );
        }
        const iface = interfaces[0];
        if (!iface) {
          throw new CaptureError(
            "bad-interface-id",
            offset,
            `pcapng simple packet block before any interface description (section ${section})`,
            frame,
          );
        }
        const originalLength = u32(body, 0, le);
        let capturedLength = Math.min(originalLength, body.length - 4);
        if (iface.snapLength > 0) capturedLength = Math.min(capturedLength, iface.snapLength);
        yield {
          frame,
          timestamp: null,
          format: "pcapng",
          section,
          interface: 0,
          linkType: iface.linkType,
          capturedLength,
          originalLength,
          data: body.subarray(4, 4 + capturedLength),
          offset,
        };
        break;
      }
      default:
        options.onBlock?.({ type, offset, section, littleEndian: le, body });
    }
  }
}
