/**
 * Per-connection, per-direction TCP stream reassembly for captures.
 *
 * Feed it TCP segments in capture order (`push`), then call `flush` at the end of the
 * capture. It emits events in the order a reader of the streams would see them:
 *
 * - `open`: a direction's stream starts (after SYN, or mid-stream when no SYN was seen);
 * - `data`: in-order bytes at `streamOffset` (0 = first data octet after SYN), with the record
 *   that captured them (`capturedFrame`) and the record whose arrival made them deliverable
 *   (`frame`; past a gap, the latest record among the bytes delivered so far, holes skipped);
 * - `gap`: octets that will never arrive (`streamOffset`, `missingBytes`), declared when the
 *   peer acknowledges data past the hole while later data or the FIN is already captured
 *   (`acked-unseen`), when the buffer limit is exceeded (`buffer-limit`), on RST (`rst`),
 *   at `flush` (`capture-end`) or when the connection is evicted (`evicted`/`reused`);
 * - `conflict`: a retransmission carried different octets than the first copy still held in
 *   the buffer (the first copy wins; bytes already delivered are not kept for comparison);
 * - `end`: the direction is finished (`fin`, `rst`, `capture-end`, `evicted`, `reused`).
 *
 * Duplicates and retransmissions of delivered bytes are dropped silently (see `stats`).
 * Memory: out-of-order bytes are copied and bounded per direction and in total; closed
 * connections are remembered (to drop late retransmissions) up to `maxConnections`.
 *
 * @module
 */

import type { TcpSegment } from "./dissect.ts";
import type { CaptureRecord } from "./record.ts";

/** Which capture record an event refers to. */
export interface FrameRef {
  /** 1-based record number. */
  frame: number;
  /** The record's timestamp. */
  timestamp: string | null;
  /** pcapng section. */
  section?: number;
  /** pcapng interface. */
  interface?: number;
}

/** One direction of one TCP connection. Shared by every event of that direction. */
export interface TcpStreamInfo {
  /** Connection number, 1-based in order of first sight. */
  conn: number;
  /** Sender's role: `initiator` sent the SYN (or, with no SYN seen, the first segment). */
  dir: "initiator" | "responder";
  /** Sender address. */
  src: string;
  /** Receiver address. */
  dst: string;
  /** Sender port. */
  sport: number;
  /** Receiver port. */
  dport: number;
  /** IP version. */
  ipVersion: 4 | 6;
}

/** A direction's stream begins. */
export interface TcpOpenEvent {
  /** Discriminant. */
  kind: "open";
  /** The direction this event belongs to. */
  stream: TcpStreamInfo;
  /** True when no SYN was seen: offset 0 is the first octet captured, not the stream start. */
  midstream: boolean;
  /** The record at which this happened. */
  frame: FrameRef;
}

/** In-order stream bytes. */
export interface TcpDataEvent {
  /** Discriminant. */
  kind: "data";
  /** The direction this event belongs to. */
  stream: TcpStreamInfo;
  /** Stream offset of `bytes[0]`. */
  streamOffset: number;
  /** The octets. A view: do not modify; copy if kept long. */
  bytes: Uint8Array;
  /** The record whose arrival made these octets deliverable (holes skipped). */
  frame: FrameRef;
  /** The record that first carried these octets. */
  capturedFrame: FrameRef;
}

/** Why a gap was declared. */
export type TcpGapReason =
  | "acked-unseen"
  | "buffer-limit"
  | "rst"
  | "capture-end"
  | "evicted"
  | "reused";

/** Octets that will never arrive. Delivery resumes at `streamOffset + missingBytes`. */
export interface TcpGapEvent {
  /** Discriminant. */
  kind: "gap";
  /** The direction this event belongs to. */
  stream: TcpStreamInfo;
  /** Stream offset of the first missing octet. */
  streamOffset: number;
  /** Missing octets. */
  missingBytes: number;
  /** The record at which the gap was declared. */
  frame: FrameRef;
  /** Why the gap was declared. */
  reason: TcpGapReason;
}

/** A retransmission disagreed with buffered octets; the first copy was kept. */
export interface TcpConflictEvent {
  /** Discriminant. */
  kind: "conflict";
  /** The direction this event belongs to. */
  stream: TcpStreamInfo;
  /** First octet of the overlap. */
  streamOffset: number;
  /** Octets in the overlap (some or all of which differ). */
  length: number;
  /** The record carrying the disagreeing copy. */
  frame: FrameRef;
  /** The record whose copy was kept. */
  keptFrame: FrameRef;
}

/** Why a direction ended. */
export type TcpEndReason = "fin" | "rst" | "capture-end" | "evicted" | "reused";

/** A direction is finished; no more events for it. */
export interface TcpEndEvent {
  /** Discriminant. */
  kind: "end";
  /** The direction this event belongs to. */
  stream: TcpStreamInfo;
  /** Octets in the stream (delivered plus gaps). */
  streamOffset: number;
  /** Why the direction ended. */
  reason: TcpEndReason;
  /** The record at which it ended (the last record seen for `capture-end`). */
  frame: FrameRef;
}

/** Everything the reassembler emits. */
export type TcpEvent = TcpOpenEvent | TcpDataEvent | TcpGapEvent | TcpConflictEvent | TcpEndEvent;

/** Limits of a `TcpReassembler`. */
export interface TcpReassemblerOptions {
  /** Out-of-order octets buffered per direction before the first hole is declared a gap (1 MiB). */
  maxBufferedBytes?: number;
  /** Out-of-order octets buffered over all connections (64 MiB). */
  maxTotalBufferedBytes?: number;
  /** Connections (open or recently closed) remembered; the least recently active is evicted (65536). */
  maxConnections?: number;
}

/** Counters for diagnostics. */
export interface TcpReassemblerStats {
  /** Connections remembered now (open or closed). */
  connections: number;
  /** Out-of-order octets held now. */
  bufferedBytes: number;
  /** Octets dropped because they had already been delivered or buffered. */
  duplicateBytes: number;
  /** Octets dropped because their direction had ended, or they were more than 1 GiB ahead. */
  lateBytes: number;
}

interface Piece {
  offset: number;
  bytes: Uint8Array;
  frame: FrameRef;
}

const TWO32 = 0x1_0000_0000;
const MAX_AHEAD = 0x4000_0000;

class Half {
  base: number | null = null;
  next = 0;
  pending: Piece[] = [];
  buffered = 0;
  fin: number | null = null;
  acked = 0;
  ready: FrameRef | null = null;
  ended = false;
  constructor(readonly stream: TcpStreamInfo) {}
}

class Conn {
  closed = false;
  constructor(readonly id: number, readonly halves: [Half, Half]) {}
}

/** Nearest 53-bit stream offset to `ref` whose low 32 bits match `seq - base`. */
function unwrap(seq: number, base: number, ref: number): number {
  const rel = (seq - base) >>> 0;
  return rel + Math.round((ref - rel) / TWO32) * TWO32;
}

/** The `FrameRef` of a record. */
export function frameRefOf(record: CaptureRecord): FrameRef {
  const ref: FrameRef = { frame: record.frame, timestamp: record.timestamp };
  if (record.section !== undefined) ref.section = record.section;
  if (record.interface !== undefined) ref.interface = record.interface;
  return ref;
}

/**
 * Reassembles TCP streams from captured segments. See the module documentation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dissect, LinkType, TcpConversation, TcpReassembler } from "@failover6/failover6";
 *
 * // A connection to the failover port carrying "hello" in two segments.
 * const conv = new TcpConversation(
 *   { address: "2001:db8::1", port: 40000 },
 *   { address: "2001:db8::2", port: 647 },
 *   { mss: 3 },
 * );
 * const frames = [...conv.handshake(), ...conv.send("client", new TextEncoder().encode("hello"))];
 * const tcp = new TcpReassembler();
 * let text = "";
 * frames.forEach((data, i) => {
 *   const seg = dissect({
 *     frame: i + 1,
 *     timestamp: null,
 *     format: "pcapng",
 *     linkType: LinkType.ETHERNET,
 *     capturedLength: data.length,
 *     originalLength: data.length,
 *     data,
 *     offset: 0,
 *   });
 *   if (seg.kind !== "tcp") return;
 *   for (const ev of tcp.push(seg)) {
 *     if (ev.kind === "data") text += new TextDecoder().decode(ev.bytes);
 *   }
 * });
 * assert.equal(text, "hello");
 * assert.ok(tcp.flush().some((ev) => ev.kind === "end"));
 * ```
 */
export class TcpReassembler {
  #conns = new Map<string, Conn>();
  #nextId = 1;
  #maxBuffered: number;
  #maxTotal: number;
  #maxConns: number;
  #total = 0;
  #dup = 0;
  #late = 0;
  #lastFrame: FrameRef = { frame: 0, timestamp: null };

  /** Creates a reassembler with the given limits. */
  constructor(options: TcpReassemblerOptions = {}) {
    this.#maxBuffered = options.maxBufferedBytes ?? 1024 * 1024;
    this.#maxTotal = options.maxTotalBufferedBytes ?? 64 * 1024 * 1024;
    this.#maxConns = options.maxConnections ?? 65536;
  }

  /** Current counters. */
  get stats(): TcpReassemblerStats {
    return {
      connections: this.#conns.size,
      bufferedBytes: this.#total,
      duplicateBytes: this.#dup,
      lateBytes: this.#late,
    };
  }

  /** Feeds one segment (in capture order); returns the events it causes, in order. */
  push(seg: TcpSegment): TcpEvent[] {
    const events: TcpEvent[] = [];
    const frame = frameRefOf(seg.record);
    this.#lastFrame = frame;
    const { src, dst, sport, dport } = {
      src: seg.ip.src,
      dst: seg.ip.dst,
      sport: seg.sport,
      dport: seg.dport,
    };
    const a = `${src}|${sport}`;
    const b = `${dst}|${dport}`;
    const key = `${seg.ip.version}|${a < b ? a : b}|${a < b ? b : a}`;
    const { syn, fin, rst } = seg.flags;
    const hasData = seg.payload.length > 0;

    let conn = this.#conns.get(key);
    if (conn !== undefined) {
      // Keep the map in least-recently-active order.
      this.#conns.delete(key);
      this.#conns.set(key, conn);
      if (syn && !seg.flags.ack) {
        const h = conn.halves[this.#dirOf(conn, src, sport)];
        const reused = conn.closed || (h.base !== null && h.base !== ((seg.seq + 1) >>> 0));
        if (reused) {
          if (!conn.closed) this.#finish(conn, "reused", frame, events);
          conn = undefined;
        }
      }
      if (conn?.closed) {
        this.#late += seg.payload.length;
        return events;
      }
    }
    if (conn === undefined) {
      if (!syn && !hasData) return events;
      const initiatorIsSender = !(syn && seg.flags.ack);
      const v = seg.ip.version;
      const fwd: TcpStreamInfo = {
        conn: this.#nextId,
        dir: "initiator",
        src,
        dst,
        sport,
        dport,
        ipVersion: v,
      };
      const rev: TcpStreamInfo = {
        conn: this.#nextId,
        dir: "responder",
        src: dst,
        dst: src,
        sport: dport,
        dport: sport,
        ipVersion: v,
      };
      if (!initiatorIsSender) {
        fwd.dir = "responder";
        rev.dir = "initiator";
      }
      const halves: [Half, Half] = initiatorIsSender
        ? [new Half(fwd), new Half(rev)]
        : [new Half(rev), new Half(fwd)];
      conn = new Conn(this.#nextId++, halves);
      this.#conns.set(key, conn);
      while (this.#conns.size > this.#maxConns) {
        const [oldKey, old] = this.#conns.entries().next().value!;
        if (!old.closed) this.#finish(old, "evicted", frame, events);
        this.#conns.delete(oldKey);
      }
    }

    const d = this.#dirOf(conn, src, sport);
    const h = conn.halves[d];
    const peer = conn.halves[1 - d];

    // 1. The acknowledgment tells what the peer's receiver got: holes it covers are lost.
    if (seg.flags.ack && peer.base !== null && !peer.ended) {
      let acked = unwrap(seg.ack, peer.base, peer.next);
      if (peer.fin !== null && acked > peer.fin) acked = peer.fin;
      if (acked > peer.acked) {
        peer.acked = acked;
        this.#resolveAcked(peer, frame, events);
      }
    }

    // 2. Stream start.
    if (h.base === null && !h.ended) {
      if (syn) {
        h.base = (seg.seq + 1) >>> 0;
        events.push({ kind: "open", stream: h.stream, midstream: false, frame });
      } else if (hasData || fin) {
        h.base = seg.seq;
        events.push({ kind: "open", stream: h.stream, midstream: true, frame });
      }
    }

    // 3. Data and FIN.
    if (h.base !== null && !h.ended) {
      const off = unwrap(syn ? (seg.seq + 1) >>> 0 : seg.seq, h.base, h.next);
      if (fin && h.fin === null && off + seg.segmentLength >= h.next) {
        h.fin = off + seg.segmentLength;
        this.#trimToFin(h);
      }
      if (hasData) this.#insert(h, off, seg.payload, frame, events);
      this.#resolveAcked(h, frame, events);
      this.#checkEnd(h, frame, events);
      while (!h.ended && h.buffered > this.#maxBuffered) {
        this.#gapTo(h, h.pending[0].offset, frame, "buffer-limit", events);
        this.#checkEnd(h, frame, events);
      }
      if (this.#total > this.#maxTotal) this.#shed(frame, events);
    } else if (hasData) {
      this.#late += seg.payload.length;
    }

    // 4. Reset ends both directions.
    if (rst) this.#finish(conn, "rst", frame, events);
    if (conn.halves[0].ended && conn.halves[1].ended) conn.closed = true;
    return events;
  }

  /** Ends every open connection (the capture is over): remaining holes become gaps. */
  flush(): TcpEvent[] {
    const events: TcpEvent[] = [];
    for (const conn of this.#conns.values()) {
      if (!conn.closed) this.#finish(conn, "capture-end", this.#lastFrame, events);
    }
    this.#conns.clear();
    return events;
  }

  #dirOf(conn: Conn, src: string, sport: number): 0 | 1 {
    const s = conn.halves[0].stream;
    return s.src === src && s.sport === sport ? 0 : 1;
  }

  /** Ends both directions of `conn`, declaring remaining holes up to what was captured. */
  #finish(
    conn: Conn,
    reason: Exclude<TcpEndReason, "fin">,
    frame: FrameRef,
    events: TcpEvent[],
  ): void {
    for (const h of conn.halves) {
      if (h.ended) continue;
      if (h.base === null) {
        h.ended = true;
        continue;
      }
      this.#gapTo(h, this.#capturedEnd(h), frame, reason, events);
      this.#checkEnd(h, frame, events);
      if (!h.ended) this.#end(h, reason, frame, events);
    }
    conn.closed = true;
  }

  /** End of what was captured in this direction (last buffered octet or the FIN). */
  #capturedEnd(h: Half): number {
    const last = h.pending[h.pending.length - 1];
    let end = last ? last.offset + last.bytes.length : h.next;
    if (h.fin !== null && h.fin > end) end = h.fin;
    return end;
  }

  #resolveAcked(h: Half, frame: FrameRef, events: TcpEvent[]): void {
    if (h.acked <= h.next || h.ended) return;
    const upTo = Math.min(h.acked, this.#capturedEnd(h));
    if (upTo > h.next) {
      this.#gapTo(h, upTo, frame, "acked-unseen", events);
      this.#checkEnd(h, frame, events);
    }
  }

  #trimToFin(h: Half): void {
    const fin = h.fin!;
    while (h.pending.length > 0) {
      const last = h.pending[h.pending.length - 1];
      if (last.offset + last.bytes.length <= fin) break;
      const keep = Math.max(0, fin - last.offset);
      const drop = last.bytes.length - keep;
      h.buffered -= drop;
      this.#total -= drop;
      if (keep === 0) h.pending.pop();
      else last.bytes = last.bytes.subarray(0, keep);
    }
  }

  #insert(h: Half, start: number, bytes: Uint8Array, frame: FrameRef, events: TcpEvent[]): void {
    let end = start + bytes.length;
    if (h.fin !== null && end > h.fin) {
      this.#late += end - Math.max(start, h.fin);
      end = h.fin;
    }
    if (end <= h.next) {
      this.#dup += Math.max(0, end - start);
      return;
    }
    if (start - h.next > MAX_AHEAD) {
      this.#late += end - start;
      return;
    }
    if (start < h.next) {
      this.#dup += h.next - start;
      bytes = bytes.subarray(h.next - start);
      start = h.next;
    }
    bytes = bytes.subarray(0, end - start);
    if (start === h.next && h.pending.length === 0) {
      this.#deliver(h, start, bytes, frame, events);
      return;
    }
    // Insert the parts not already buffered; the first copy wins.
    const p = h.pending;
    let lo = 0;
    let hi = p.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (p[mid].offset + p[mid].bytes.length <= start) lo = mid + 1;
      else hi = mid;
    }
    let i = lo;
    let cursor = start;
    const add = (from: number, to: number) => {
      const piece = { offset: from, bytes: bytes.slice(from - start, to - start), frame };
      p.splice(i++, 0, piece);
      h.buffered += to - from;
      this.#total += to - from;
    };
    while (cursor < end) {
      const q = p[i];
      if (q === undefined || q.offset >= end) {
        add(cursor, end);
        break;
      }
      if (q.offset > cursor) add(cursor, q.offset);
      const qEnd = q.offset + q.bytes.length;
      const ovStart = Math.max(cursor, q.offset);
      const ovEnd = Math.min(end, qEnd);
      if (ovEnd > ovStart) {
        this.#dup += ovEnd - ovStart;
        const mine = bytes.subarray(ovStart - start, ovEnd - start);
        const theirs = q.bytes.subarray(ovStart - q.offset, ovEnd - q.offset);
        for (let k = 0; k < mine.length; k++) {
          if (mine[k] !== theirs[k]) {
            events.push({
              kind: "conflict",
              stream: h.stream,
              streamOffset: ovStart,
              length: ovEnd - ovStart,
              frame,
              keptFrame: q.frame,
            });
            break;
          }
        }
      }
      cursor = Math.max(cursor, qEnd);
      i++;
    }
    this.#drain(h, events);
  }

  #deliver(
    h: Half,
    offset: number,
    bytes: Uint8Array,
    captured: FrameRef,
    events: TcpEvent[],
  ): void {
    if (h.ready === null || captured.frame > h.ready.frame) h.ready = captured;
    events.push({
      kind: "data",
      stream: h.stream,
      streamOffset: offset,
      bytes,
      frame: h.ready,
      capturedFrame: captured,
    });
    h.next = offset + bytes.length;
  }

  #drain(h: Half, events: TcpEvent[]): void {
    while (h.pending.length > 0 && h.pending[0].offset <= h.next) {
      const q = h.pending.shift()!;
      h.buffered -= q.bytes.length;
      this.#total -= q.bytes.length;
      const skip = h.next - q.offset;
      if (skip >= q.bytes.length) continue;
      this.#deliver(h, h.next, q.bytes.subarray(skip), q.frame, events);
    }
  }

  /** Declares every hole below `upTo` a gap, delivering what lies between. */
  #gapTo(h: Half, upTo: number, frame: FrameRef, reason: TcpGapReason, events: TcpEvent[]): void {
    while (h.next < upTo) {
      const first = h.pending[0];
      if (first !== undefined && first.offset <= h.next) {
        this.#drain(h, events);
        continue;
      }
      const holeEnd = first !== undefined ? Math.min(first.offset, upTo) : upTo;
      events.push({
        kind: "gap",
        stream: h.stream,
        streamOffset: h.next,
        missingBytes: holeEnd - h.next,
        frame,
        reason,
      });
      h.next = holeEnd;
      this.#drain(h, events);
    }
  }

  #checkEnd(h: Half, frame: FrameRef, events: TcpEvent[]): void {
    if (!h.ended && h.fin !== null && h.next >= h.fin) this.#end(h, "fin", frame, events);
  }

  #end(h: Half, reason: TcpEndReason, frame: FrameRef, events: TcpEvent[]): void {
    h.ended = true;
    this.#total -= h.buffered;
    h.buffered = 0;
    h.pending = [];
    events.push({ kind: "end", stream: h.stream, streamOffset: h.next, reason, frame });
  }

  /** Over the total limit: declare the first hole of the fullest directions as gaps. */
  #shed(frame: FrameRef, events: TcpEvent[]): void {
    while (this.#total > this.#maxTotal) {
      let worst: Half | null = null;
      for (const c of this.#conns.values()) {
        for (const h of c.halves) {
          if (!h.ended && (worst === null || h.buffered > worst.buffered)) worst = h;
        }
      }
      if (worst === null || worst.pending.length === 0) return;
      this.#gapTo(worst, worst.pending[0].offset, frame, "buffer-limit", events);
      this.#checkEnd(worst, frame, events);
    }
  }
}
