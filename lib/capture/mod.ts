/**
 * Capture files for failover6: streaming pcap/pcapng readers, link/IP/UDP/TCP dissection,
 * TCP stream reassembly with gap reporting, and a pcapng writer with frame builders.
 *
 * Typical use (what `failover6 decode` does):
 * ```ts ignore
 * using file = await Deno.open(path);
 * for await (const ev of readTransport(file.readable)) {
 *   if (ev.kind === "udp") { ... ev.payload ... }
 *   else if (ev.kind === "data") { ... feed ev.bytes to the stream's deframer ... }
 *   else if (ev.kind === "gap") { ... mark the message spanning ev.streamOffset ... }
 * }
 * ```
 *
 * @module
 */

export { CaptureError, type CaptureErrorKind } from "./errors.ts";
export { type ByteSource } from "./bytes.ts";
export {
  type CaptureFormat,
  type CaptureRecord,
  DEFAULT_MAX_RECORD_BYTES,
  type OtherBlock,
  type ReadOptions,
} from "./record.ts";
export { detectFormat, readCapture } from "./reader.ts";
export { parsePcapHeader, type PcapHeader } from "./pcap.ts";
export { BlockType } from "./pcapng.ts";
export {
  decimalsFor,
  formatPcapTimestamp,
  formatUnitsTimestamp,
  MICROSECONDS,
  NANOSECONDS,
  resolutionFromTsresol,
  type TimeResolution,
} from "./timestamp.ts";
export { EtherType, type LinkName, linkName, LinkType } from "./linktype.ts";
export {
  AddressSyntaxError,
  formatIpv4,
  formatIpv6,
  parseIpv4,
  parseIpv6,
  parseMac,
} from "./address.ts";
export {
  dissect,
  type Dissection,
  type IpHeader,
  type LayeredPacket,
  type MalformedPacket,
  type SkippedPacket,
  type SkipReason,
  type TcpFlags,
  type TcpSegment,
  type UdpDatagram,
} from "./dissect.ts";
export {
  type FrameRef,
  frameRefOf,
  type TcpConflictEvent,
  type TcpDataEvent,
  type TcpEndEvent,
  type TcpEndReason,
  type TcpEvent,
  type TcpGapEvent,
  type TcpGapReason,
  type TcpOpenEvent,
  TcpReassembler,
  type TcpReassemblerOptions,
  type TcpReassemblerStats,
  type TcpStreamInfo,
} from "./tcp_reassembly.ts";
export { type SpanFacts, type SpanGap, StreamFrameIndex } from "./stream_index.ts";
export { readTransport, type TransportEvent, type TransportOptions } from "./transport.ts";
export {
  type AddressInput,
  buildTcp6Frame,
  buildUdp6Frame,
  type EthernetOptions,
  internetChecksum,
  type Ipv6Options,
  type Tcp6Spec,
  TcpConversation,
  type TcpEndpoint,
  type TcpSide,
  type Udp6Spec,
} from "./build.ts";
export {
  encodeEnhancedPacket,
  encodeInterfaceDescription,
  encodeSectionHeader,
  type InterfaceSpec,
  type PacketSpec,
  type PcapngSink,
  PcapngWriter,
} from "./writer.ts";
