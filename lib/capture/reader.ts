/**
 * `readCapture`: detects classic pcap or pcapng from the magic and streams packet records.
 *
 * @module
 */

import { ByteReader, type ByteSource, u32 } from "./bytes.ts";
import { CaptureError } from "./errors.ts";
import { pcapMagic, readPcap } from "./pcap.ts";
import { BlockType, readPcapng } from "./pcapng.ts";
import type { CaptureFormat, CaptureRecord, ReadOptions } from "./record.ts";

/** Names the format of a file from its first four octets; `null` if neither. */
export function detectFormat(first4: Uint8Array): CaptureFormat | null {
  if (first4.length < 4) return null;
  if (u32(first4, 0, true) === BlockType.SECTION_HEADER) return "pcapng";
  return pcapMagic(first4) ? "pcap" : null;
}

/**
 * Streams the packet records of a pcap or pcapng capture, one at a time, holding at most one
 * record (plus one input chunk) in memory.
 *
 * Records before a fault are yielded; the fault then throws a `CaptureError` with the byte
 * offset (`not-a-capture`, `truncated`, `bad-block-length`, `bad-record-length`,
 * `bad-section-header`, `bad-interface-id`).
 *
 * @example
 * ```ts
 * using file = await Deno.open("session.pcapng");
 * for await (const rec of readCapture(file.readable)) console.log(rec.frame, rec.timestamp);
 * ```
 */
export async function* readCapture(
  source: ByteSource,
  options: ReadOptions = {},
): AsyncGenerator<CaptureRecord> {
  const reader = new ByteReader(source);
  const n = await reader.fill(4);
  if (n === 0) throw new CaptureError("not-a-capture", 0, "empty input is not a capture");
  const format = detectFormat(reader.peek(Math.min(n, 4)));
  if (format === null) {
    throw new CaptureError(
      "not-a-capture",
      0,
      n < 4
        ? `input of ${n} octets is too short for a capture`
        : "unknown magic number (neither pcap nor pcapng)",
    );
  }
  yield* format === "pcap" ? readPcap(reader, options) : readPcapng(reader, options);
}
