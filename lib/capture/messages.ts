/**
 * From capture records to decoded DHCPv6 and failover messages: the pipeline behind
 * `failover6 decode`. Records are read and dissected (`readCapture`, `dissect`), TCP streams
 * on the failover port (647) and the bulk-leasequery port (547) are reassembled and deframed
 * (RFC 5460 §5.1, `wire.Deframer`), UDP 546/547 datagrams are decoded as they come, and each
 * message becomes one {@linkcode MessageEvent} carrying the capture facts the oracle files
 * show (frame, firstFrame, timestamp, interface, addresses, ports, stream offset, errors).
 *
 * - A gap inside a message (the size prefix was captured) gives that message a `tcp-gap`
 *   error and decoding goes on at the next frame. A gap that swallows a size prefix loses
 *   the framing: the pipeline then looks for the next offset where a whole, well-formed frame
 *   starts (type plausible for the port, options exactly filling the frame, next prefix
 *   plausible) and resumes there, with a `resync` note.
 * - STARTTLS (23) as the first message of a connection, answered by a REPLY (7) without a
 *   failure status, turns the rest of that connection into TLS: one `tls` note, no decoding.
 * - BNDUPD and BNDREPLY are paired by connection and transaction-id; the BNDREPLY event gets
 *   `pairedFrame` and `rttMs`.
 *
 * Memory stays flat: one record, the reassembler's bounded buffers, per-stream deframers and
 * bounded tables for pairing and conversations.
 *
 * @module
 */

import type { ByteSource } from "./bytes.ts";
import { dissect, type UdpDatagram } from "./dissect.ts";
import { CaptureError } from "./errors.ts";
import { readCapture } from "./reader.ts";
import type { CaptureFormat, CaptureRecord, ReadOptions } from "./record.ts";
import { StreamFrameIndex } from "./stream_index.ts";
import {
  type FrameRef,
  type TcpDataEvent,
  type TcpEndEvent,
  type TcpEvent,
  type TcpGapEvent,
  TcpReassembler,
  type TcpReassemblerOptions,
  type TcpStreamInfo,
} from "./tcp_reassembly.ts";
import { decodeMessage, type DecodeOptions } from "../wire/decode.ts";
import type { WireError } from "../wire/errors.ts";
import { Deframer, type Frame } from "../wire/framing.ts";
import { FAILOVER_PORT, isFailoverMsgType, isRelayMsgType, type Message } from "../wire/types.ts";

// ---------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------

/** A hole in the reassembled stream inside the message (the oracle's `tcp-gap`). */
export interface TcpGapError {
  /** Discriminant. */
  kind: "tcp-gap";
  /** Stream offset of the first missing octet. */
  streamOffset: number;
  /** Missing octets (the whole gap, as the reassembler declared it). */
  missingBytes: number;
  /** One line of human text. */
  message: string;
}

/**
 * The UDP datagram is the first fragment of a fragmented IP packet (IP reassembly is not
 * done): the message is cut like a snaplen cut.
 */
export interface IpFragmentError {
  /** Discriminant. */
  kind: "ip-fragment";
  /** Payload octets present in the first fragment. */
  capturedLength: number;
  /** UDP payload length of the whole datagram. */
  originalLength: number;
  /** One line of human text. */
  message: string;
}

/** Any error attached to a message: the codec's, or the capture layer's. */
export type MessageError = WireError | TcpGapError | IpFragmentError;

/** Where a message travelled. */
export type MessageTransport = "udp" | "tcp";

/** One DHCPv6 or failover message found in the capture. */
export interface MessageEvent {
  /** Discriminant. */
  kind: "message";
  /** Record number (1-based); for TCP the record at which the message was complete. */
  frame: number;
  /** TCP only: the record that captured the message's first octet (its size prefix). */
  firstFrame?: number;
  /** Epoch seconds as in the file (`"1709294400.100000"`), `null` for a pcapng simple packet. */
  timestamp: string | null;
  /** pcapng section (0-based). */
  section?: number;
  /** pcapng interface id within its section. */
  interface?: number;
  /** 802.1Q/802.1ad VLAN ids, outermost first (UDP only; empty when untagged). */
  vlanIds: number[];
  /** Transport. */
  transport: MessageTransport;
  /** Sender address. */
  src: string;
  /** Receiver address. */
  dst: string;
  /** Sender port. */
  sport: number;
  /** Receiver port. */
  dport: number;
  /** TCP connection number (1-based, in order of first sight). */
  conn?: number;
  /** The decoded message; absent when even its header was not captured. */
  message?: Message;
  /** Message type (from the message, or the first octet when only that was captured). */
  msgType: number | null;
  /** TCP only: the message-size prefix. */
  messageSize?: number;
  /** TCP only: stream offset of the size prefix from the first data octet. */
  tcpStreamOffset?: number;
  /** Every problem, in order. Empty for a clean message. */
  errors: MessageError[];
  /** BNDREPLY only: the frame of the BNDUPD it answers. */
  pairedFrame?: number;
  /** BNDREPLY only: milliseconds from that BNDUPD to this BNDREPLY (capture timestamps). */
  rttMs?: number;
}

/** What a stream note is about. */
export type StreamNoteKind = "tls" | "resync" | "conflict";

/** Something about a TCP stream that is not a message. */
export interface StreamNoteEvent {
  /** Discriminant. */
  kind: "note";
  /**
   * `tls`: STARTTLS succeeded, the rest of the connection is TLS (said once per connection);
   * `resync`: a gap took a size prefix, captured octets were skipped to the next trusted frame;
   * `conflict`: a retransmission carried other octets than the copy kept.
   */
  note: StreamNoteKind;
  /** Record at which this was found. */
  frame: number;
  /** Its timestamp. */
  timestamp: string | null;
  /** pcapng section. */
  section?: number;
  /** pcapng interface. */
  interface?: number;
  /** Always `tcp`. */
  transport: "tcp";
  /** Sender of the direction concerned. */
  src: string;
  /** Receiver. */
  dst: string;
  /** Sender port. */
  sport: number;
  /** Receiver port. */
  dport: number;
  /** TCP connection number. */
  conn: number;
  /** Stream offset concerned (`resync`: where framing was lost). */
  streamOffset: number;
  /** `resync`: stream offset where decoding resumed; `null` if no frame boundary was found. */
  resumedAt?: number | null;
  /** Octets concerned (`resync`: captured octets skipped; `conflict`: overlap length). */
  octets?: number;
  /** One line of human text. */
  text: string;
}

/** A record whose link, IP or transport headers are broken (see `dissect`). */
export interface PacketErrorEvent {
  /** Discriminant. */
  kind: "packet-error";
  /** Record number. */
  frame: number;
  /** Its timestamp. */
  timestamp: string | null;
  /** Layer at fault. */
  layer: "link" | "ip" | "udp" | "tcp";
  /** Header field at fault. */
  field: string;
  /** One line saying what is wrong. */
  detail: string;
  /** True when the record was cut by the snapshot length. */
  truncated: boolean;
}

/**
 * The capture file itself is bad from this point on (truncated, bad block ...). Always the
 * last event; `records` tells how many records were read before it.
 */
export interface CaptureFaultEvent {
  /** Discriminant. */
  kind: "capture-error";
  /** The reader's typed error (`kind`, byte `offset`, `frame`). */
  error: CaptureError;
  /** Records read before the fault. */
  records: number;
}

/** Everything the pipeline yields, in capture order. */
export type PipelineEvent = MessageEvent | StreamNoteEvent | PacketErrorEvent | CaptureFaultEvent;

// ---------------------------------------------------------------------------------------
// Options and statistics
// ---------------------------------------------------------------------------------------

/** Options of a {@linkcode CaptureDecoder}. */
export interface CaptureDecoderOptions extends ReadOptions, TcpReassemblerOptions {
  /** TCP port of the failover connection (default 647). */
  failoverPort?: number;
  /** TCP port of bulk/active leasequery (default 547). */
  leasequeryPort?: number;
  /** UDP ports of DHCPv6 (default 546 and 547). */
  udpPorts?: readonly number[];
  /** Codec limits passed to `decodeMessage`. */
  decode?: Pick<DecodeOptions, "hopCountLimit" | "maxDepth">;
  /** Outstanding BNDUPDs remembered for pairing (default 65536; the oldest is dropped). */
  maxOutstandingBndupd?: number;
  /** Called once per record read (progress display). */
  onRecord?: (record: CaptureRecord) => void;
}

/** Counters of a run. */
export interface CaptureDecoderStats {
  /** Container format, once known. */
  format: CaptureFormat | null;
  /** Records read. */
  records: number;
  /** UDP datagrams on the DHCPv6 ports. */
  udpDatagrams: number;
  /** TCP segments on the failover or leasequery ports. */
  tcpSegments: number;
  /** Records of other traffic (other ports, other protocols, non-IP, later fragments, empty). */
  otherRecords: number;
  /** Records with broken headers. */
  malformedPackets: number;
  /** Messages yielded. */
  messages: number;
  /** TCP connections seen on the decoded ports. */
  tcpConnections: number;
  /** Gaps declared by the reassembler on decoded streams. */
  gaps: number;
  /** Octets in those gaps. */
  gapOctets: number;
  /** Captured octets skipped while looking for a frame boundary after a gap. */
  resyncOctets: number;
  /** Octets of TLS after a successful STARTTLS (not decoded). */
  tlsOctets: number;
  /** BNDUPDs seen. */
  bndupd: number;
  /** BNDREPLYs paired with a BNDUPD. */
  paired: number;
  /** BNDREPLYs with no BNDUPD seen before them on their connection. */
  unpairedReplies: number;
  /** BNDUPDs that got no BNDREPLY (at the end of the run, or dropped from the table). */
  unansweredBndupd: number;
}

const UDP_DEFAULT = [546, 547] as const;
const LEASEQUERY_PORT = 547;
const MAX_OUTSTANDING = 65536;
const HEAD = 2 + 34;

/** Failover types (24–35) a failover stream may resynchronise on. */
const FAILOVER_TYPES = new Set([24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35]);
/** Leasequery types a TCP 547 stream may resynchronise on (RFC 5460, 7653). */
const LEASEQUERY_TYPES = new Set([14, 15, 16, 17, 22]);

function headerLength(msgType: number): number {
  return isRelayMsgType(msgType) ? 34 : isFailoverMsgType(msgType) ? 8 : 4;
}

// ---------------------------------------------------------------------------------------
// Per-stream state
// ---------------------------------------------------------------------------------------

interface Conn {
  id: number;
  open: number;
  /** The direction that sent STARTTLS as its first message. */
  starttls?: TcpStreamInfo;
  tls: boolean;
  tlsNoted: boolean;
  dirs: Dir[];
}

interface Resync {
  /** Stream offset of `buf[0]`. */
  start: number;
  buf: Uint8Array;
  len: number;
  /** Offset at which framing was lost. */
  lostAt: number;
  /** Captured octets dropped so far (before `start`). */
  skipped: number;
  /** Next candidate offset to try (absolute). */
  scan: number;
  frame: FrameRef;
}

interface Dir {
  stream: TcpStreamInfo;
  conn: Conn;
  failover: boolean;
  mode: "frames" | "resync" | "tls";
  index: StreamFrameIndex;
  deframer: Deframer;
  /** Stream offset of the deframer's offset 0. */
  base: number;
  /** Stream offset of the next size prefix. */
  boundary: number;
  /** First octet of a size prefix split across events, else -1. */
  prefixHi: number;
  /** Start of the frame being received, and its first octets. */
  frameStart: number;
  head: Uint8Array;
  frames: number;
  awaitTls: boolean;
  resync?: Resync;
  last: FrameRef;
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/** Milliseconds from timestamp `a` to `b` (decimal epoch strings), rounded to 1 ns. */
export function timestampDiffMs(a: string, b: string): number {
  const [as, af] = splitTimestamp(a);
  const [bs, bf] = splitTimestamp(b);
  return Math.round((bs - as + (bf - af)) * 1e9) / 1e6;
}

/** Whole seconds and the fraction of a decimal timestamp, each exact to the digit. */
function splitTimestamp(ts: string): [number, number] {
  const dot = ts.indexOf(".");
  if (dot < 0) return [Number(ts), 0];
  return [Number(ts.slice(0, dot)), Number(`0${ts.slice(dot)}`)];
}

/** ISO 8601 UTC text of a decimal epoch timestamp, keeping every fraction digit. */
export function timestampToIso(ts: string | null): string | null {
  if (ts === null) return null;
  const [s, f] = ts.split(".");
  const iso = new Date(Number(s) * 1000).toISOString().slice(0, 19);
  return f === undefined ? `${iso}Z` : `${iso}.${f}Z`;
}

/** Sets `section` (when above 0) and `interface` (pcapng) from a record; returns `ev`. */
function withFrameFields<T extends { section?: number; interface?: number }>(
  ev: T,
  ref: { section?: number; interface?: number },
): T {
  if (ref.section !== undefined && ref.section > 0) ev.section = ref.section;
  if (ref.interface !== undefined) ev.interface = ref.interface;
  return ev;
}

/** The header of a message whose first `known` octets were captured. */
function headerOnly(
  data: Uint8Array,
  known: number,
): { message?: Message; msgType: number | null } {
  if (known < 1) return { msgType: null };
  const t = data[0];
  const h = headerLength(t);
  if (known >= h) return { message: decodeMessage(data.subarray(0, h)).message, msgType: t };
  return { msgType: t };
}

function looksLikeTls(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] >= 0x14 && b[0] <= 0x17 && b[1] === 0x03;
}

function gapError(g: { streamOffset: number; missingBytes: number }): TcpGapError {
  return {
    kind: "tcp-gap",
    streamOffset: g.streamOffset,
    missingBytes: g.missingBytes,
    message: `${g.missingBytes} octets missing from the capture at stream offset ${g.streamOffset}`,
  };
}

/** Pairing key of a BNDUPD sent in direction `initiator` of connection `conn`. */
function pairKey(conn: number, initiator: boolean, transactionId: number): number {
  return conn * 0x2000000 + (initiator ? 0x1000000 : 0) + transactionId;
}

function statusOf(m: Message | undefined): number | undefined {
  if (m === undefined) return undefined;
  for (const o of m.options) {
    if (o.code === 13 && "statusCode" in o) return o.statusCode;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------
// The decoder
// ---------------------------------------------------------------------------------------

/**
 * Decodes the DHCPv6 and failover messages of one capture. One instance per run; `stats`
 * holds the counters once `decode` has finished.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   CaptureDecoder,
 *   encodeMessage,
 *   failoverMessage,
 *   frameMessage,
 *   LinkType,
 *   MessageType,
 *   PcapngWriter,
 *   TcpConversation,
 * } from "@failover6/failover6";
 *
 * // A failover connection (TCP 647) carrying one framed CONTACT, captured in memory.
 * const conv = new TcpConversation(
 *   { address: "2001:db8::1", port: 40000 },
 *   { address: "2001:db8::2", port: 647 },
 * );
 * const contact = frameMessage(encodeMessage(failoverMessage(MessageType.CONTACT, 1, 800000000)));
 * const chunks: Uint8Array[] = [];
 * const writer = new PcapngWriter({ write: (c) => chunks.push(c) });
 * writer.addInterface({ linkType: LinkType.ETHERNET });
 * for (const data of [...conv.handshake(), ...conv.send("client", contact)]) {
 *   await writer.writePacket({ data });
 * }
 * await writer.close();
 *
 * const decoder = new CaptureDecoder();
 * for await (const ev of decoder.decode(chunks)) {
 *   if (ev.kind === "message") {
 *     assert.deepEqual([ev.frame, ev.msgType, ev.conn, ev.tcpStreamOffset], [4, 35, 1, 0]);
 *   }
 * }
 * assert.equal(decoder.stats.messages, 1);
 * assert.equal(decoder.stats.tcpConnections, 1);
 * ```
 */
export class CaptureDecoder {
  readonly #failoverPort: number;
  readonly #leasequeryPort: number;
  readonly #udpPorts: ReadonlySet<number>;
  readonly #decodeOpts: DecodeOptions;
  readonly #maxOutstanding: number;
  readonly #options: CaptureDecoderOptions;
  readonly #dirs = new Map<TcpStreamInfo, Dir>();
  readonly #conns = new Map<number, Conn>();
  readonly #outstanding = new Map<number, { frame: number; timestamp: string | null }>();
  #out: PipelineEvent[] = [];
  #stats: CaptureDecoderStats = {
    format: null,
    records: 0,
    udpDatagrams: 0,
    tcpSegments: 0,
    otherRecords: 0,
    malformedPackets: 0,
    messages: 0,
    tcpConnections: 0,
    gaps: 0,
    gapOctets: 0,
    resyncOctets: 0,
    tlsOctets: 0,
    bndupd: 0,
    paired: 0,
    unpairedReplies: 0,
    unansweredBndupd: 0,
  };

  /** Creates a decoder; see {@linkcode CaptureDecoderOptions}. */
  constructor(options: CaptureDecoderOptions = {}) {
    this.#options = options;
    this.#failoverPort = options.failoverPort ?? FAILOVER_PORT;
    this.#leasequeryPort = options.leasequeryPort ?? LEASEQUERY_PORT;
    this.#udpPorts = new Set(options.udpPorts ?? UDP_DEFAULT);
    this.#decodeOpts = { ...options.decode };
    this.#maxOutstanding = options.maxOutstandingBndupd ?? MAX_OUTSTANDING;
  }

  /** Counters (final once `decode` has returned). */
  get stats(): Readonly<CaptureDecoderStats> {
    return this.#stats;
  }

  /**
   * Streams the events of a capture in capture order. Never throws for bad capture content: a
   * broken file ends with a `capture-error` event (an empty or non-capture input gives only
   * that event, with `records: 0`). I/O errors of the source are rethrown.
   */
  async *decode(source: ByteSource): AsyncGenerator<PipelineEvent> {
    for await (const batch of this.decodeBatches(source)) yield* batch;
  }

  /**
   * As {@linkcode CaptureDecoder.decode}, but yields the events in batches (those of one
   * record, or of the end of the capture), which saves an asynchronous step per event.
   */
  async *decodeBatches(source: ByteSource): AsyncGenerator<PipelineEvent[]> {
    const tcp = new TcpReassembler(this.#options);
    const onRecord = this.#options.onRecord;
    const s = this.#stats;
    let fault: CaptureError | undefined;
    try {
      for await (const record of readCapture(source, this.#options)) {
        s.records++;
        s.format = record.format;
        if (onRecord) onRecord(record);
        const d = dissect(record);
        if (d.kind === "udp") {
          if (this.#udpPorts.has(d.sport) || this.#udpPorts.has(d.dport)) {
            s.udpDatagrams++;
            yield [this.#udp(d)];
          } else s.otherRecords++;
        } else if (d.kind === "tcp") {
          if (this.#isTcpPort(d.sport) || this.#isTcpPort(d.dport)) {
            s.tcpSegments++;
            for (const e of tcp.push(d)) this.#tcpEvent(e);
            if (this.#out.length > 0) yield this.#take();
          } else s.otherRecords++;
        } else if (d.kind === "skipped") {
          s.otherRecords++;
        } else {
          s.malformedPackets++;
          yield [{
            kind: "packet-error",
            frame: record.frame,
            timestamp: record.timestamp,
            layer: d.layer,
            field: d.field,
            detail: d.detail,
            truncated: d.truncated,
          }];
        }
      }
    } catch (e) {
      if (!(e instanceof CaptureError)) throw e;
      fault = e;
    }
    for (const e of tcp.flush()) this.#tcpEvent(e);
    s.unansweredBndupd += this.#outstanding.size;
    this.#outstanding.clear();
    const last = this.#take();
    if (fault !== undefined) last.push({ kind: "capture-error", error: fault, records: s.records });
    if (last.length > 0) yield last;
  }

  #take(): PipelineEvent[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }

  #isTcpPort(p: number): boolean {
    return p === this.#failoverPort || p === this.#leasequeryPort;
  }

  // ---- UDP -----------------------------------------------------------------------------

  #udp(d: UdpDatagram): MessageEvent {
    const r = d.record;
    const payload = d.payload;
    const cut = payload.length < d.payloadLength;
    const opts: DecodeOptions = cut
      ? {
        ...this.#decodeOpts,
        captureTruncated: d.truncated
          ? { capturedLength: r.capturedLength, originalLength: r.originalLength }
          : { capturedLength: payload.length, originalLength: d.payloadLength },
      }
      : this.#decodeOpts;
    const res = decodeMessage(payload, opts);
    let errors: MessageError[] = res.errors;
    if (cut && !d.truncated) {
      errors = errors.map((e): MessageError =>
        e.kind === "capture-truncated"
          ? {
            kind: "ip-fragment",
            capturedLength: payload.length,
            originalLength: d.payloadLength,
            message:
              `first IP fragment: ${payload.length} of ${d.payloadLength} payload octets (no IP reassembly)`,
          }
          : e
      );
    }
    const ev: MessageEvent = withFrameFields({
      kind: "message",
      frame: r.frame,
      timestamp: r.timestamp,
      vlanIds: d.vlanIds,
      transport: "udp",
      src: d.ip.src,
      dst: d.ip.dst,
      sport: d.sport,
      dport: d.dport,
      message: res.message,
      msgType: res.message?.msgType ?? (payload.length > 0 ? payload[0] : null),
      errors,
    } as MessageEvent, r);
    this.#stats.messages++;
    return ev;
  }

  // ---- TCP -----------------------------------------------------------------------------

  #dir(stream: TcpStreamInfo, at: FrameRef): Dir {
    let dir = this.#dirs.get(stream);
    if (dir !== undefined) return dir;
    let conn = this.#conns.get(stream.conn);
    if (conn === undefined) {
      conn = { id: stream.conn, open: 0, tls: false, tlsNoted: false, dirs: [] };
      this.#conns.set(stream.conn, conn);
      this.#stats.tcpConnections++;
    }
    conn.open++;
    dir = {
      stream,
      conn,
      failover: stream.sport === this.#failoverPort || stream.dport === this.#failoverPort,
      mode: conn.tls ? "tls" : "frames",
      index: new StreamFrameIndex(),
      deframer: new Deframer(),
      base: 0,
      boundary: 0,
      prefixHi: -1,
      frameStart: 0,
      head: new Uint8Array(HEAD),
      frames: 0,
      awaitTls: false,
      last: at,
    };
    conn.dirs.push(dir);
    this.#dirs.set(stream, dir);
    return dir;
  }

  #tcpEvent(e: TcpEvent): void {
    switch (e.kind) {
      case "open":
        this.#dir(e.stream, e.frame);
        return;
      case "data":
        this.#onData(this.#dir(e.stream, e.frame), e);
        return;
      case "gap":
        this.#onGap(this.#dir(e.stream, e.frame), e);
        return;
      case "conflict": {
        const dir = this.#dir(e.stream, e.frame);
        this.#note(dir, "conflict", e.frame, e.streamOffset, {
          octets: e.length,
          text: `retransmission of ${e.length} octets at stream offset ${e.streamOffset} ` +
            `differs from the copy kept (frame ${e.keptFrame.frame})`,
        });
        return;
      }
      case "end":
        this.#onEnd(this.#dir(e.stream, e.frame), e);
        return;
    }
  }

  #onData(dir: Dir, ev: TcpDataEvent): void {
    const bytes = ev.bytes;
    dir.last = ev.frame;
    if (
      dir.mode === "frames" && dir.awaitTls &&
      (dir.conn.tls ||
        (dir.boundary === ev.streamOffset && dir.prefixHi < 0 && looksLikeTls(bytes)))
    ) this.#toTls(dir, ev.frame);
    if (dir.mode === "tls") {
      this.#stats.tlsOctets += bytes.length;
      return;
    }
    dir.index.add(ev);
    if (dir.mode === "resync") this.#resyncPush(dir, bytes, ev.streamOffset, ev.frame);
    else this.#feed(dir, bytes, ev.streamOffset);
  }

  /** Tracks frame boundaries and the first octets of the pending frame, then deframes. */
  #feed(dir: Dir, bytes: Uint8Array, at: number): void {
    const end = at + bytes.length;
    while (true) {
      if (dir.prefixHi >= 0) {
        if (dir.boundary + 1 >= end) break;
        const size = (dir.prefixHi << 8) | bytes[dir.boundary + 1 - at];
        dir.prefixHi = -1;
        dir.boundary += 2 + size;
        continue;
      }
      if (dir.boundary >= end) break;
      dir.frameStart = dir.boundary;
      const i = dir.boundary - at;
      if (i + 1 < bytes.length) {
        dir.boundary += 2 + ((bytes[i] << 8) | bytes[i + 1]);
      } else {
        dir.prefixHi = bytes[i];
        break;
      }
    }
    const from = Math.max(dir.frameStart, at);
    const to = Math.min(dir.frameStart + HEAD, end);
    if (from < to) dir.head.set(bytes.subarray(from - at, to - at), from - dir.frameStart);
    const r = dir.deframer.push(bytes);
    for (const f of r.frames) {
      this.#frame(dir, f);
      if (dir.mode !== "frames") break;
    }
  }

  #frame(dir: Dir, f: Frame): void {
    const off = dir.base + f.offset;
    const end = off + 2 + f.size;
    const span = dir.index.span(off, end);
    dir.index.discardBefore(end);
    let message: Message | undefined;
    let msgType: number | null;
    let errors: MessageError[];
    if (span.gaps.length === 0) {
      const r = decodeMessage(f.data, this.#decodeOpts);
      message = r.message;
      msgType = message?.msgType ?? (f.data.length > 0 ? f.data[0] : null);
      errors = r.errors;
    } else {
      const known = Math.max(0, Math.min(f.size, span.gaps[0].streamOffset - off - 2));
      ({ message, msgType } = headerOnly(f.data, known));
      errors = span.gaps.map(gapError);
    }
    const ref = span.frame ?? dir.last;
    const ev = this.#tcpMessage(dir, ref, span.firstFrame?.frame ?? ref.frame, off, f.size, {
      message,
      msgType,
      errors,
    });
    const first = dir.frames === 0 && off === 0;
    dir.frames++;
    this.#emit(dir, ev);
    if (!first) return;
    // STARTTLS (RFC 7653 §8.2, RFC 8156 §10): first message of the initiator, REPLY first back.
    if (msgType === 23) {
      dir.conn.starttls = dir.stream;
      dir.awaitTls = true;
    } else if (
      msgType === 7 && dir.conn.starttls !== undefined && dir.conn.starttls !== dir.stream
    ) {
      const status = statusOf(message);
      if (errors.length === 0 && (status === undefined || status === 0)) {
        dir.conn.tls = true;
        this.#toTls(dir, ref);
        for (const other of dir.conn.dirs) {
          if (other.awaitTls && other.mode === "frames" && other.deframer.buffered > 0) {
            this.#toTls(other, ref);
          }
        }
      }
    }
  }

  #tcpMessage(
    dir: Dir,
    ref: FrameRef,
    firstFrame: number,
    off: number,
    size: number,
    m: { message?: Message; msgType: number | null; errors: MessageError[] },
  ): MessageEvent {
    const s = dir.stream;
    this.#stats.messages++;
    return withFrameFields({
      kind: "message",
      frame: ref.frame,
      firstFrame,
      timestamp: ref.timestamp,
      vlanIds: [],
      transport: "tcp",
      src: s.src,
      dst: s.dst,
      sport: s.sport,
      dport: s.dport,
      conn: s.conn,
      message: m.message,
      msgType: m.msgType,
      messageSize: size,
      tcpStreamOffset: off,
      errors: m.errors,
    } as MessageEvent, ref);
  }

  /** Pairs BNDUPD/BNDREPLY and queues the event. */
  #emit(dir: Dir, ev: MessageEvent): void {
    const m = ev.message;
    if (m !== undefined && m.kind === "failover" && (m.msgType === 24 || m.msgType === 25)) {
      const s = this.#stats;
      // Key: connection, sending direction, transaction-id (one number, no string work).
      const initiator = dir.stream.dir === "initiator";
      if (m.msgType === 24) {
        s.bndupd++;
        const key = pairKey(ev.conn!, initiator, m.transactionId);
        this.#outstanding.set(key, { frame: ev.frame, timestamp: ev.timestamp });
        if (this.#outstanding.size > this.#maxOutstanding) {
          const oldest = this.#outstanding.keys().next().value!;
          this.#outstanding.delete(oldest);
          s.unansweredBndupd++;
        }
      } else {
        const key = pairKey(ev.conn!, !initiator, m.transactionId);
        const upd = this.#outstanding.get(key);
        if (upd === undefined) s.unpairedReplies++;
        else {
          this.#outstanding.delete(key);
          s.paired++;
          ev.pairedFrame = upd.frame;
          if (upd.timestamp !== null && ev.timestamp !== null) {
            ev.rttMs = timestampDiffMs(upd.timestamp, ev.timestamp);
          }
        }
      }
    }
    this.#out.push(ev);
  }

  #toTls(dir: Dir, at: FrameRef): void {
    dir.mode = "tls";
    dir.awaitTls = false;
    dir.resync = undefined;
    dir.deframer = new Deframer();
    const conn = dir.conn;
    if (conn.tlsNoted) return;
    conn.tlsNoted = true;
    this.#note(dir, "tls", at, dir.boundary, {
      text: `STARTTLS accepted: the rest of connection ${conn.id} is TLS and is not decoded`,
    });
  }

  #note(
    dir: Dir,
    note: StreamNoteKind,
    at: FrameRef,
    streamOffset: number,
    extra: { octets?: number; resumedAt?: number | null; text: string },
  ): void {
    const s = dir.stream;
    this.#out.push(withFrameFields({
      kind: "note",
      note,
      frame: at.frame,
      timestamp: at.timestamp,
      transport: "tcp",
      src: s.src,
      dst: s.dst,
      sport: s.sport,
      dport: s.dport,
      conn: s.conn,
      streamOffset,
      ...extra,
    } as StreamNoteEvent, at));
  }

  // ---- gaps and resynchronisation --------------------------------------------------------

  #onGap(dir: Dir, ev: TcpGapEvent): void {
    this.#stats.gaps++;
    this.#stats.gapOctets += ev.missingBytes;
    dir.last = ev.frame;
    if (dir.mode === "tls") return;
    dir.index.add(ev);
    const g0 = ev.streamOffset;
    const g1 = g0 + ev.missingBytes;
    if (dir.mode === "resync") {
      const r = dir.resync!;
      r.skipped += r.len;
      r.start = g1;
      r.scan = g1;
      r.len = 0;
      return;
    }
    if (dir.prefixHi < 0 && dir.boundary >= g1) {
      // The hole lies inside the frame being received: keep offsets aligned, go on.
      this.#feed(dir, new Uint8Array(ev.missingBytes), g0);
      return;
    }
    // The hole took a size prefix: finish the frame it cut, then look for a boundary.
    const lostAt = dir.boundary;
    if (dir.prefixHi < 0 && dir.boundary > g0) {
      this.#feed(dir, new Uint8Array(dir.boundary - g0), g0);
    }
    dir.mode = "resync";
    dir.deframer = new Deframer();
    dir.prefixHi = -1;
    dir.resync = {
      start: g1,
      buf: new Uint8Array(4096),
      len: 0,
      lostAt,
      skipped: 0,
      scan: g1,
      frame: ev.frame,
    };
  }

  #resyncPush(dir: Dir, bytes: Uint8Array, at: number, ref: FrameRef): void {
    const r = dir.resync!;
    if (r.len === 0) {
      r.start = at;
      r.scan = Math.max(r.scan, at);
    }
    if (r.len + bytes.length > r.buf.length) {
      const bigger = new Uint8Array(Math.max(r.buf.length * 2, r.len + bytes.length));
      bigger.set(r.buf.subarray(0, r.len));
      r.buf = bigger;
    }
    r.buf.set(bytes, r.len);
    r.len += bytes.length;
    r.frame = ref;
    this.#resyncScan(dir, false);
  }

  /** Tries candidates from `scan`; on success switches back to frames mode. */
  #resyncScan(dir: Dir, atEnd: boolean): boolean {
    const r = dir.resync!;
    const b = r.buf;
    const types = dir.failover ? FAILOVER_TYPES : LEASEQUERY_TYPES;
    const bufEnd = r.start + r.len;
    for (let p = r.scan; p + 3 <= bufEnd; p++) {
      const v = this.#candidate(b, p - r.start, r.len, types, atEnd);
      if (v === "no") continue;
      if (v === "wait") {
        r.scan = p;
        this.#resyncCompact(dir);
        return false;
      }
      // Trusted boundary at p.
      const skipped = r.skipped + (p - r.start);
      this.#stats.resyncOctets += skipped;
      this.#note(dir, "resync", r.frame, r.lostAt, {
        resumedAt: p,
        octets: skipped,
        text: `a gap took the size prefix at stream offset ${r.lostAt}: ` +
          `resumed at offset ${p} after skipping ${skipped} captured octets`,
      });
      const rest = b.slice(p - r.start, r.len);
      dir.resync = undefined;
      dir.mode = "frames";
      dir.deframer = new Deframer();
      dir.base = p;
      dir.boundary = p;
      dir.prefixHi = -1;
      dir.frameStart = p;
      this.#feed(dir, rest, p);
      return true;
    }
    r.scan = Math.max(r.scan, bufEnd - 2);
    this.#resyncCompact(dir);
    return false;
  }

  /** Drops buffered octets before the next candidate. */
  #resyncCompact(dir: Dir): void {
    const r = dir.resync!;
    const drop = r.scan - r.start;
    if (drop <= 0) return;
    r.buf.copyWithin(0, drop, r.len);
    r.len -= drop;
    r.skipped += drop;
    r.start = r.scan;
    dir.index.discardBefore(r.start);
  }

  /** Is there a whole well-formed frame at `i`? "wait" if the octets are not all there yet. */
  #candidate(
    b: Uint8Array,
    i: number,
    len: number,
    types: ReadonlySet<number>,
    atEnd: boolean,
  ): "yes" | "no" | "wait" {
    const size = (b[i] << 8) | b[i + 1];
    const t = b[i + 2];
    if (!types.has(t) || size < headerLength(t)) return "no";
    const end = i + 2 + size;
    if (end > len) return atEnd ? "no" : "wait";
    let o = i + 2 + headerLength(t);
    while (o + 4 <= end) o += 4 + ((b[o + 2] << 8) | b[o + 3]);
    if (o !== end) return "no";
    if (end + 3 <= len) {
      const next = (b[end] << 8) | b[end + 1];
      const nt = b[end + 2];
      return types.has(nt) && next >= headerLength(nt) ? "yes" : "no";
    }
    if (atEnd || size > headerLength(t)) return "yes";
    return "wait";
  }

  #onEnd(dir: Dir, ev: TcpEndEvent): void {
    dir.last = ev.frame;
    if (dir.mode === "resync") {
      if (!this.#resyncScan(dir, true)) {
        const r = dir.resync!;
        const skipped = r.skipped + r.len;
        this.#stats.resyncOctets += skipped;
        this.#note(dir, "resync", ev.frame, r.lostAt, {
          resumedAt: null,
          octets: skipped,
          text: `a gap took the size prefix at stream offset ${r.lostAt}: ` +
            `no frame boundary found before the end of the stream (${skipped} captured octets skipped)`,
        });
      }
    }
    if (dir.mode === "frames") {
      const err = dir.deframer.finish();
      if (err !== undefined && err.kind === "frame-truncated") this.#truncated(dir, err);
    }
    this.#dirs.delete(dir.stream);
    const conn = dir.conn;
    conn.open--;
    if (conn.open <= 0) this.#conns.delete(conn.id);
  }

  /** The frame the stream ended in: header from the captured octets, `frame-truncated`. */
  #truncated(dir: Dir, err: WireError & { kind: "frame-truncated" }): void {
    const off = dir.base + err.offset;
    const avail = err.availableSize;
    const captured = err.declaredSize === undefined ? 1 : 2 + avail;
    const span = dir.index.span(off, off + captured);
    let known = err.declaredSize === undefined ? 0 : avail;
    if (span.gaps.length > 0) {
      known = Math.max(0, Math.min(known, span.gaps[0].streamOffset - off - 2));
    }
    const head = dir.frameStart === off
      ? dir.head.subarray(2, 2 + Math.min(known, HEAD - 2))
      : new Uint8Array(0);
    const { message, msgType } = headerOnly(head, head.length);
    const ref = span.frame ?? dir.last;
    const errors: MessageError[] = [...span.gaps.map(gapError), err];
    const ev = this.#tcpMessage(
      dir,
      ref,
      span.firstFrame?.frame ?? ref.frame,
      off,
      err.declaredSize ?? 0,
      { message, msgType, errors },
    );
    if (err.declaredSize === undefined) delete ev.messageSize;
    this.#emit(dir, ev);
  }
}

/**
 * Convenience: runs a {@linkcode CaptureDecoder} over `source`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   buildUdp6Frame,
 *   clientId,
 *   decodeCapture,
 *   encodeMessage,
 *   LinkType,
 *   MessageType,
 *   PcapngWriter,
 * } from "@failover6/failover6";
 *
 * const chunks: Uint8Array[] = [];
 * const writer = new PcapngWriter({ write: (c) => chunks.push(c) });
 * writer.addInterface({ linkType: LinkType.ETHERNET });
 * const payload = encodeMessage({
 *   kind: "client-server",
 *   msgType: MessageType.SOLICIT,
 *   transactionId: 1,
 *   options: [clientId(new Uint8Array([0, 3, 0, 1, 2, 0, 0, 0, 0, 1]))],
 * });
 * const data = buildUdp6Frame({ src: "fe80::1", dst: "ff02::1:2", sport: 546, dport: 547, payload });
 * await writer.writePacket({ data });
 * await writer.close();
 *
 * const types: (number | null)[] = [];
 * for await (const ev of decodeCapture(chunks)) if (ev.kind === "message") types.push(ev.msgType);
 * assert.deepEqual(types, [MessageType.SOLICIT]);
 * ```
 */
export function decodeCapture(
  source: ByteSource,
  options: CaptureDecoderOptions = {},
): AsyncGenerator<PipelineEvent> {
  return new CaptureDecoder(options).decode(source);
}

// ---------------------------------------------------------------------------------------
// Summary
// ---------------------------------------------------------------------------------------

/** One TCP connection or UDP address pair in a {@linkcode MessageSummary}. */
export interface Conversation {
  /** `tcp` connection or `udp` pair. */
  transport: MessageTransport;
  /** TCP connection number. */
  conn?: number;
  /** First sender seen (TCP: the first direction with a message). */
  a: string;
  /** Its port. */
  aPort: number;
  /** The other side. */
  b: string;
  /** Its port. */
  bPort: number;
  /** Messages both ways. */
  messages: number;
  /** Messages with errors. */
  errors: number;
  /** `tcp-gap` errors. */
  gaps: number;
  /** First and last frame. */
  firstFrame: number;
  /** Last frame. */
  lastFrame: number;
  /** True once STARTTLS succeeded on the connection. */
  tls?: boolean;
}

/** Round-trip statistics of BNDUPD/BNDREPLY pairs, in milliseconds. */
export interface RttStats {
  /** Pairs measured. */
  count: number;
  /** Smallest. */
  min: number;
  /** Mean. */
  mean: number;
  /** Median (nearest rank). */
  p50: number;
  /** 95th percentile (nearest rank). */
  p95: number;
  /** 99th percentile (nearest rank). */
  p99: number;
  /** Largest. */
  max: number;
}

/** The JSON shape of a summary (`failover6 decode --summary --json`). */
export interface SummaryJson {
  records: number;
  format: CaptureFormat | null;
  messages: number;
  firstTimestamp: string | null;
  lastTimestamp: string | null;
  byType: { msgType: number | null; count: number }[];
  conversations: Conversation[];
  /** Conversations not listed because the table was full. */
  conversationsNotListed: number;
  messagesWithErrors: number;
  errors: Record<string, number>;
  notes: Record<string, number>;
  packetErrors: number;
  gaps: number;
  gapOctets: number;
  resyncOctets: number;
  tlsOctets: number;
  tcpConnections: number;
  otherRecords: number;
  pairing: {
    bndupd: number;
    paired: number;
    unansweredBndupd: number;
    unpairedReplies: number;
    rttMs: RttStats | null;
  };
  captureError: { kind: string; offset: number; frame?: number; message: string } | null;
}

const MAX_CONVERSATIONS = 65536;

function nearestRank(sorted: Float64Array, q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

/**
 * Accumulates what `--summary` shows: counts per message type, conversations, errors, notes,
 * and the round-trip times of paired BNDREPLYs. Bounded: at most 65536 conversations each
 * for TCP and UDP are listed; RTTs take 8 octets per pair.
 */
export class MessageSummary {
  #messages = 0;
  #first: string | null = null;
  #last: string | null = null;
  #byType = new Map<number | null, number>();
  #tcp = new Map<number, Conversation>();
  #udp = new Map<string, Conversation>();
  #notListed = 0;
  #withErrors = 0;
  #errors = new Map<string, number>();
  #notes = new Map<string, number>();
  #packetErrors = 0;
  #rtt = new Float64Array(1024);
  #rttCount = 0;
  #fault: CaptureError | null = null;

  /** Adds one event (messages, notes, packet errors, the capture fault). */
  add(ev: PipelineEvent): void {
    switch (ev.kind) {
      case "message":
        this.#message(ev);
        return;
      case "note":
        this.#notes.set(ev.note, (this.#notes.get(ev.note) ?? 0) + 1);
        if (ev.note === "tls") {
          const c = this.#tcp.get(ev.conn);
          if (c) c.tls = true;
        }
        return;
      case "packet-error":
        this.#packetErrors++;
        return;
      case "capture-error":
        this.#fault = ev.error;
        return;
    }
  }

  /** Adds a round-trip time measured on a BNDREPLY the display filters left out. */
  addRtt(ms: number): void {
    if (this.#rttCount === this.#rtt.length) {
      const bigger = new Float64Array(this.#rtt.length * 2);
      bigger.set(this.#rtt);
      this.#rtt = bigger;
    }
    this.#rtt[this.#rttCount++] = ms;
  }

  #message(ev: MessageEvent): void {
    this.#messages++;
    if (ev.timestamp !== null) {
      if (this.#first === null) this.#first = ev.timestamp;
      this.#last = ev.timestamp;
    }
    this.#byType.set(ev.msgType, (this.#byType.get(ev.msgType) ?? 0) + 1);
    if (ev.errors.length > 0) this.#withErrors++;
    let gaps = 0;
    for (const e of ev.errors) {
      this.#errors.set(e.kind, (this.#errors.get(e.kind) ?? 0) + 1);
      if (e.kind === "tcp-gap") gaps++;
    }
    if (ev.rttMs !== undefined) this.addRtt(ev.rttMs);
    let c: Conversation | undefined;
    if (ev.transport === "tcp" && ev.conn !== undefined) {
      c = this.#tcp.get(ev.conn);
      if (c === undefined && this.#tcp.size < MAX_CONVERSATIONS) {
        c = this.#newConversation(ev);
        c.conn = ev.conn;
        this.#tcp.set(ev.conn, c);
      }
    } else {
      const x = `${ev.src}|${ev.sport}`;
      const y = `${ev.dst}|${ev.dport}`;
      const key = x < y ? `${x}|${y}` : `${y}|${x}`;
      c = this.#udp.get(key);
      if (c === undefined && this.#udp.size < MAX_CONVERSATIONS) {
        c = this.#newConversation(ev);
        this.#udp.set(key, c);
      }
    }
    if (c === undefined) {
      this.#notListed++;
      return;
    }
    c.messages++;
    if (ev.errors.length > 0) c.errors++;
    c.gaps += gaps;
    c.lastFrame = ev.frame;
  }

  #newConversation(ev: MessageEvent): Conversation {
    return {
      transport: ev.transport,
      a: ev.src,
      aPort: ev.sport,
      b: ev.dst,
      bPort: ev.dport,
      messages: 0,
      errors: 0,
      gaps: 0,
      firstFrame: ev.frame,
      lastFrame: ev.frame,
    };
  }

  /** Round-trip statistics, or null when no pair was measured. */
  rtt(): RttStats | null {
    const n = this.#rttCount;
    if (n === 0) return null;
    const sorted = this.#rtt.slice(0, n).sort();
    let sum = 0;
    for (const v of sorted) sum += v;
    const r6 = (v: number) => Math.round(v * 1e6) / 1e6;
    return {
      count: n,
      min: sorted[0],
      mean: r6(sum / n),
      p50: nearestRank(sorted, 0.5),
      p95: nearestRank(sorted, 0.95),
      p99: nearestRank(sorted, 0.99),
      max: sorted[n - 1],
    };
  }

  /** The summary as plain data, with the decoder's counters. */
  toJson(stats: Readonly<CaptureDecoderStats>): SummaryJson {
    const byType = [...this.#byType].map(([msgType, count]) => ({ msgType, count }))
      .sort((x, y) => (x.msgType ?? 1e9) - (y.msgType ?? 1e9));
    const f = this.#fault;
    return {
      records: stats.records,
      format: stats.format,
      messages: this.#messages,
      firstTimestamp: this.#first,
      lastTimestamp: this.#last,
      byType,
      conversations: [...this.#tcp.values(), ...this.#udp.values()],
      conversationsNotListed: this.#notListed,
      messagesWithErrors: this.#withErrors,
      errors: Object.fromEntries(this.#errors),
      notes: Object.fromEntries(this.#notes),
      packetErrors: this.#packetErrors,
      gaps: stats.gaps,
      gapOctets: stats.gapOctets,
      resyncOctets: stats.resyncOctets,
      tlsOctets: stats.tlsOctets,
      tcpConnections: stats.tcpConnections,
      otherRecords: stats.otherRecords,
      pairing: {
        bndupd: stats.bndupd,
        paired: stats.paired,
        unansweredBndupd: stats.unansweredBndupd,
        unpairedReplies: stats.unpairedReplies,
        rttMs: this.rtt(),
      },
      captureError: f === null ? null : {
        kind: f.kind,
        offset: f.offset,
        ...(f.frame === undefined ? {} : { frame: f.frame }),
        message: f.message,
      },
    };
  }
}
