/**
 * Classic libpcap format: both byte orders, micro- and nanosecond magic, and the
 * Kuznetzov "modified" variant with its longer record header.
 *
 * @module
 */

import { type ByteReader, u16, u32 } from "./bytes.ts";
import { CaptureError } from "./errors.ts";
import { type CaptureRecord, DEFAULT_MAX_RECORD_BYTES, type ReadOptions } from "./record.ts";
import { formatPcapTimestamp } from "./timestamp.ts";

/** What the 24-octet global header says. */
export interface PcapHeader {
  /** Byte order of every header field in the file. */
  littleEndian: boolean;
  /** Nanosecond timestamps (magic 0xa1b23c4d) rather than microseconds. */
  nanoseconds: boolean;
  /** Kuznetzov modified pcap: 24-octet record headers. */
  modified: boolean;
  /** Format version. */
  versionMajor: number;
  /** Format version. */
  versionMinor: number;
  /** Snapshot length. */
  snapLength: number;
  /** LINKTYPE_* of every record. */
  linkType: number;
}

const MAGICS: Record<number, { nanoseconds: boolean; modified: boolean }> = {
  0xa1b2c3d4: { nanoseconds: false, modified: false },
  0xa1b23c4d: { nanoseconds: true, modified: false },
  0xa1b2cd34: { nanoseconds: false, modified: true },
};

/** Recognises a classic pcap magic in the first four octets; `null` if it is not one. */
export function pcapMagic(
  b: Uint8Array,
): { littleEndian: boolean; nanoseconds: boolean; modified: boolean } | null {
  const be = MAGICS[u32(b, 0, false)];
  if (be) return { littleEndian: false, ...be };
  const le = MAGICS[u32(b, 0, true)];
  if (le) return { littleEndian: true, ...le };
  return null;
}

/** Parses the 24-octet global header (the magic must already be known to be a pcap one). */
export function parsePcapHeader(b: Uint8Array): PcapHeader {
  const m = pcapMagic(b);
  if (!m) throw new CaptureError("not-a-capture", 0, "unknown magic number");
  const le = m.littleEndian;
  return {
    ...m,
    versionMajor: u16(b, 4, le),
    versionMinor: u16(b, 6, le),
    snapLength: u32(b, 16, le),
    // The upper bits of the link-type field carry FCS information; the type is the low 16.
    linkType: u32(b, 20, le) & 0xffff,
  };
}

/** Reads a classic pcap file from its first octet (the magic must be a pcap one). */
export async function* readPcap(
  reader: ByteReader,
  options: ReadOptions = {},
): AsyncGenerator<CaptureRecord> {
  const maxRecord = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  if ((await reader.fill(24)) < 24) {
    throw new CaptureError("truncated", 0, "pcap file header cut short");
  }
  const h = parsePcapHeader(reader.take(24));
  const le = h.littleEndian;
  const headerLength = h.modified ? 24 : 16;
  let frame = 0;
  for (;;) {
    const avail = reader.buffered >= headerLength
      ? reader.buffered
      : await reader.fill(headerLength);
    if (avail === 0) return;
    const offset = reader.offset;
    frame++;
    if (avail < headerLength) {
      throw new CaptureError("truncated", offset, "pcap record header cut short", frame);
    }
    const rh = reader.take(headerLength);
    const seconds = u32(rh, 0, le);
    const fraction = u32(rh, 4, le);
    const capturedLength = u32(rh, 8, le);
    const originalLength = u32(rh, 12, le);
    if (capturedLength > maxRecord) {
      throw new CaptureError(
        "bad-record-length",
        offset,
        `pcap record captured length ${capturedLength} exceeds ${maxRecord}`,
        frame,
      );
    }
    if (reader.buffered < capturedLength && (await reader.fill(capturedLength)) < capturedLength) {
      throw new CaptureError(
        "truncated",
        offset,
        `pcap record data cut short (captured length ${capturedLength}, ${reader.buffered} present)`,
        frame,
      );
    }
    const data = reader.take(capturedLength);
    yield {
      frame,
      timestamp: formatPcapTimestamp(seconds, fraction, h.nanoseconds),
      format: "pcap",
      linkType: h.linkType,
      capturedLength,
      originalLength,
      data,
      offset,
    };
  }
}
