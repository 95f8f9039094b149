/**
 * The whole capture pipeline in one call: records → link/IP/transport → TCP reassembly.
 * This is what `failover6 decode` needs: UDP datagrams as they come, TCP streams as in-order
 * chunks with gaps, and every skipped or malformed record, all in capture order.
 *
 * @module
 */

import type { ByteSource } from "./bytes.ts";
import {
  dissect,
  type MalformedPacket,
  type SkippedPacket,
  type TcpSegment,
  type UdpDatagram,
} from "./dissect.ts";
import { readCapture } from "./reader.ts";
import type { ReadOptions } from "./record.ts";
import { type TcpEvent, TcpReassembler, type TcpReassemblerOptions } from "./tcp_reassembly.ts";

/** What `readTransport` yields. */
export type TransportEvent = UdpDatagram | SkippedPacket | MalformedPacket | TcpEvent;

/** Options for `readTransport`. */
export interface TransportOptions extends ReadOptions, TcpReassemblerOptions {
  /** Which TCP segments to reassemble (default: all); refused segments are dropped. */
  tcpFilter?: (segment: TcpSegment) => boolean;
}

/**
 * Streams transport-level events from a capture. At the end (or when the file turns out to be
 * truncated or bad) the reassembler is flushed, so pending streams end with their gaps; a
 * `CaptureError` is rethrown after that.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LinkType, PcapngWriter, readTransport, TcpConversation } from "@failover6/failover6";
 *
 * const conv = new TcpConversation(
 *   { address: "2001:db8::1", port: 40000 },
 *   { address: "2001:db8::2", port: 647 },
 * );
 * const chunks: Uint8Array[] = [];
 * const writer = new PcapngWriter({ write: (c) => chunks.push(c) });
 * writer.addInterface({ linkType: LinkType.ETHERNET });
 * const frames = [
 *   ...conv.handshake(),
 *   ...conv.send("client", new Uint8Array([0, 1, 42])),
 *   conv.close("client"),
 *   conv.close("server"),
 * ];
 * for (const data of frames) await writer.writePacket({ data });
 * await writer.close();
 *
 * const kinds: string[] = [];
 * for await (const ev of readTransport(chunks)) kinds.push(ev.kind);
 * assert.deepEqual(kinds, ["open", "open", "data", "end", "end"]);
 * ```
 */
export async function* readTransport(
  source: ByteSource,
  options: TransportOptions = {},
): AsyncGenerator<TransportEvent> {
  const tcp = new TcpReassembler(options);
  const filter = options.tcpFilter;
  let failure: unknown = undefined;
  try {
    for await (const record of readCapture(source, options)) {
      const d = dissect(record);
      if (d.kind === "tcp") {
        if (filter && !filter(d)) continue;
        yield* tcp.push(d);
      } else {
        yield d;
      }
    }
  } catch (e) {
    failure = e;
  }
  yield* tcp.flush();
  if (failure !== undefined) throw failure;
}
