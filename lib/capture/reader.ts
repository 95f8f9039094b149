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
 * import assert from "node:assert/strict";
 * import { buildUdp6Frame, LinkType, PcapngWriter, readCapture } from "@failover6/failover6";
 *
 * // A capture made in memory; a file works the same: `(await Deno.open(path)).readable`.
 * const chunks: Uint8Array[] = [];
 * const writer = new PcapngWriter({ write: (c) => chunks.push(c) });
 * writer.addInterface({ linkType: LinkType.ETHERNET });
 * const payload = new Uint8Array([1, 0, 0, 1]);
 * const data = buildUdp6Frame({
 *   src: "fe80::1",
 *   dst: "ff02::1:2",
 *   sport: 546,
 *   dport: 547,
 *   payload,
 * });
 * await writer.writePacket({ timestampMs: 1709294400100, data });
 * await writer.close();
 *
 * for await (const rec of readCapture(chunks)) {
 *   assert.equal(rec.frame, 1);
 *   assert.equal(rec.format, "pcapng");
 *   assert.equal(rec.timestamp, "1709294400.100000");
 *   assert.equal(rec.capturedLength, data.length);
 * }
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
