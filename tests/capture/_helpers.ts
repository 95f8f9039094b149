/**
 * Test helpers: a tiny independent capture-file encoder (either byte order), raw IP packet
 * makers, a chunked source, and a length-prefix splitter over reassembled TCP events.
 */

import type { CaptureRecord } from "../../lib/capture/record.ts";
import type { TcpEvent, TcpStreamInfo } from "../../lib/capture/tcp_reassembly.ts";

/** Concatenates byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Bytes from a hex string (spaces ignored). */
export function hex(s: string): Uint8Array {
  const t = s.replace(/\s+/g, "");
  return Uint8Array.from(t.match(/../g) ?? [], (x) => parseInt(x, 16));
}

class Buf {
  parts: number[] = [];
  constructor(readonly le: boolean) {}
  u8(v: number) {
    this.parts.push(v & 0xff);
    return this;
  }
  u16(v: number) {
    const b = [(v >> 8) & 0xff, v & 0xff];
    this.parts.push(...(this.le ? b.reverse() : b));
    return this;
  }
  u32(v: number) {
    const b = [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
    this.parts.push(...(this.le ? b.reverse() : b));
    return this;
  }
  bytes(b: Uint8Array) {
    this.parts.push(...b);
    return this;
  }
  pad4() {
    while (this.parts.length % 4) this.parts.push(0);
    return this;
  }
  get length() {
    return this.parts.length;
  }
  out() {
    return Uint8Array.from(this.parts);
  }
}

/** A classic pcap record to encode. */
export interface PcapRec {
  sec: number;
  frac: number;
  data: Uint8Array;
  orig?: number;
}

/** Encodes a classic pcap file. */
export function pcapFile(
  opts: { le: boolean; nano?: boolean; linkType: number; snaplen?: number },
  recs: PcapRec[],
): Uint8Array {
  const b = new Buf(opts.le);
  b.u32(opts.nano ? 0xa1b23c4d : 0xa1b2c3d4).u16(2).u16(4).u32(0).u32(0).u32(opts.snaplen ?? 65535)
    .u32(opts.linkType);
  for (const r of recs) {
    b.u32(r.sec).u32(r.frac).u32(r.data.length).u32(r.orig ?? r.data.length).bytes(r.data);
  }
  return b.out();
}

/** A pcapng block to encode inside a section. */
export type NgBlock =
  | { type: "idb"; linkType: number; tsresol?: number; tsoffset?: bigint; snaplen?: number }
  | { type: "epb"; ifId: number; ts: bigint; data: Uint8Array; orig?: number }
  | { type: "opb"; ifId: number; ts: bigint; data: Uint8Array; orig?: number }
  | { type: "spb"; data: Uint8Array; orig?: number }
  | { type: "raw"; blockType: number; body: Uint8Array };

function ngBlock(le: boolean, type: number, body: (b: Buf) => void): Uint8Array {
  const inner = new Buf(le);
  body(inner);
  inner.pad4();
  const total = inner.length + 12;
  return new Buf(le).u32(type).u32(total).bytes(inner.out()).u32(total).out();
}

/** Encodes one pcapng section (SHB plus blocks). */
export function pcapngSection(le: boolean, blocks: NgBlock[]): Uint8Array {
  const parts = [ngBlock(le, 0x0a0d0d0a, (b) => {
    b.u32(0x1a2b3c4d).u16(1).u16(0).u32(0xffffffff).u32(0xffffffff);
  })];
  for (const k of blocks) {
    switch (k.type) {
      case "idb":
        parts.push(ngBlock(le, 1, (b) => {
          b.u16(k.linkType).u16(0).u32(k.snaplen ?? 0);
          if (k.tsresol !== undefined) b.u16(9).u16(1).u8(k.tsresol).pad4();
          if (k.tsoffset !== undefined) {
            b.u16(14).u16(8);
            const v = BigInt.asUintN(64, k.tsoffset);
            const hi = Number(v >> 32n);
            const lo = Number(v & 0xffffffffn);
            if (le) b.u32(lo).u32(hi);
            else b.u32(hi).u32(lo);
          }
          if (k.tsresol !== undefined || k.tsoffset !== undefined) b.u16(0).u16(0);
        }));
        break;
      case "epb":
        parts.push(ngBlock(le, 6, (b) => {
          b.u32(k.ifId).u32(Number(k.ts >> 32n)).u32(Number(k.ts & 0xffffffffn))
            .u32(k.data.length).u32(k.orig ?? k.data.length).bytes(k.data);
        }));
        break;
      case "opb":
        parts.push(ngBlock(le, 2, (b) => {
          b.u16(k.ifId).u16(0).u32(Number(k.ts >> 32n)).u32(Number(k.ts & 0xffffffffn))
            .u32(k.data.length).u32(k.orig ?? k.data.length).bytes(k.data);
        }));
        break;
      case "spb":
        parts.push(ngBlock(le, 3, (b) => {
          b.u32(k.orig ?? k.data.length).bytes(k.data);
        }));
        break;
      case "raw":
        parts.push(ngBlock(le, k.blockType, (b) => {
          b.bytes(k.body);
        }));
        break;
    }
  }
  return concat(parts);
}

/** Yields `bytes` in chunks whose sizes cycle through `sizes`. */
export async function* chunked(bytes: Uint8Array, sizes: number[]): AsyncGenerator<Uint8Array> {
  let i = 0;
  let k = 0;
  while (i < bytes.length) {
    const n = sizes[k++ % sizes.length];
    yield bytes.slice(i, i + n);
    i += n;
    await Promise.resolve();
  }
}

/** Collects an async iterable. */
export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Collects records, and the error that stopped the reader (if any). */
export async function collectUntilError(
  it: AsyncIterable<CaptureRecord>,
): Promise<{ records: CaptureRecord[]; error: unknown }> {
  const records: CaptureRecord[] = [];
  try {
    for await (const r of it) records.push(r);
  } catch (e) {
    return { records, error: e };
  }
  return { records, error: undefined };
}

/** An IPv6 header (next header, payload length) followed by `payload`. */
export function ipv6(
  src: Uint8Array,
  dst: Uint8Array,
  nh: number,
  payload: Uint8Array,
  hop = 64,
): Uint8Array {
  return concat([
    Uint8Array.of(0x60, 0, 0, 0, payload.length >> 8, payload.length & 0xff, nh, hop),
    src,
    dst,
    payload,
  ]);
}

/** An IPv4 header (no options, checksum left zero) followed by `payload`. */
export function ipv4(
  src: number[],
  dst: number[],
  proto: number,
  payload: Uint8Array,
  opts: { id?: number; mf?: boolean; fragOffset?: number; ttl?: number } = {},
): Uint8Array {
  const total = 20 + payload.length;
  const fo = (opts.mf ? 0x2000 : 0) | ((opts.fragOffset ?? 0) >> 3);
  const id = opts.id ?? 0;
  return concat([
    Uint8Array.of(
      0x45,
      0,
      total >> 8,
      total & 0xff,
      id >> 8,
      id & 0xff,
      fo >> 8,
      fo & 0xff,
      opts.ttl ?? 64,
      proto,
      0,
      0,
    ),
    Uint8Array.from(src),
    Uint8Array.from(dst),
    payload,
  ]);
}

/** A UDP header (checksum zero) followed by `payload`. */
export function udp(sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const len = 8 + payload.length;
  return concat([
    Uint8Array.of(sport >> 8, sport & 0xff, dport >> 8, dport & 0xff, len >> 8, len & 0xff, 0, 0),
    payload,
  ]);
}

/** A 20-octet TCP header (checksum zero) followed by `payload`. */
export function tcp(
  sport: number,
  dport: number,
  seq: number,
  ack: number,
  flags: number,
  payload: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const h = new Uint8Array(20);
  const dv = new DataView(h.buffer);
  dv.setUint16(0, sport);
  dv.setUint16(2, dport);
  dv.setUint32(4, seq >>> 0);
  dv.setUint32(8, ack >>> 0);
  h[12] = 5 << 4;
  h[13] = flags;
  dv.setUint16(14, 65535);
  return concat([h, payload]);
}

/** TCP flag bits. */
export const F = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16 } as const;

/** Ethernet header with the given ethertype chain (VLAN tags given as [tpid, vid] pairs). */
export function ether(ethertype: number, tags: [number, number][] = []): Uint8Array {
  const parts = [hex("020000000002 020000000001")];
  for (const [tpid, vid] of tags) {
    parts.push(Uint8Array.of(tpid >> 8, tpid & 0xff, vid >> 8, vid & 0xff));
  }
  parts.push(Uint8Array.of(ethertype >> 8, ethertype & 0xff));
  return concat(parts);
}

/** One message cut from a reassembled stream by its 2-octet length prefix. */
export interface FramedMessage {
  stream: TcpStreamInfo;
  offset: number;
  size: number;
  /** Record at which the message became complete (ready frame of its last captured octet). */
  frame: number;
  timestamp: string | null;
  interface?: number;
  /** Record that captured its first octet. */
  firstFrame: number;
  /** Gaps inside the message. */
  gaps: { streamOffset: number; missingBytes: number }[];
  /** Octets present after the prefix when the stream ended first (otherwise undefined). */
  availableSize?: number;
  /** The message octets after the prefix (gap octets as 0). */
  body: Uint8Array;
  /** Index of the event that completed it, for ordering. */
  completedAt: number;
}

interface ByteInfo {
  value: number; // -1 in a gap
  ready: number;
  readyTs: string | null;
  readyIf?: number;
  captured: number;
  event: number;
  gap?: { streamOffset: number; missingBytes: number };
}

/**
 * Cuts 2-octet length-prefixed messages out of every stream of `events` (in stream offset
 * terms, gaps counted as octets). Returns messages in the order their completing events came.
 */
export function splitLengthPrefixed(events: TcpEvent[]): FramedMessage[] {
  const streams = new Map<TcpStreamInfo, { bytes: ByteInfo[]; endEvent: number }>();
  const get = (s: TcpStreamInfo) => {
    let st = streams.get(s);
    if (!st) streams.set(s, st = { bytes: [], endEvent: -1 });
    return st;
  };
  events.forEach((e, idx) => {
    if (e.kind === "data") {
      const st = get(e.stream);
      if (st.bytes.length !== e.streamOffset) {
        throw new Error(`data not contiguous at ${e.streamOffset}`);
      }
      for (const v of e.bytes) {
        st.bytes.push({
          value: v,
          ready: e.frame.frame,
          readyTs: e.frame.timestamp,
          readyIf: e.frame.interface,
          captured: e.capturedFrame.frame,
          event: idx,
        });
      }
    } else if (e.kind === "gap") {
      const st = get(e.stream);
      if (st.bytes.length !== e.streamOffset) {
        throw new Error(`gap not contiguous at ${e.streamOffset}`);
      }
      const gap = { streamOffset: e.streamOffset, missingBytes: e.missingBytes };
      for (let k = 0; k < e.missingBytes; k++) {
        st.bytes.push({ value: -1, ready: 0, readyTs: null, captured: 0, event: idx, gap });
      }
    } else if (e.kind === "end") {
      get(e.stream).endEvent = idx;
    }
  });
  const out: FramedMessage[] = [];
  for (const [stream, st] of streams) {
    const b = st.bytes;
    let o = 0;
    while (o + 2 <= b.length) {
      const size = (b[o].value << 8) | b[o + 1].value;
      const end = o + 2 + size;
      const last = Math.min(end, b.length);
      const span = b.slice(o, last);
      let ready = span[0];
      for (const x of span) if (x.value >= 0 && x.ready >= ready.ready) ready = x;
      const gaps = [...new Set(span.filter((x) => x.gap).map((x) => x.gap!))];
      out.push({
        stream,
        offset: o,
        size,
        frame: ready.ready,
        timestamp: ready.readyTs,
        interface: ready.readyIf,
        firstFrame: span[0].captured,
        gaps,
        availableSize: end > b.length ? b.length - o - 2 : undefined,
        body: Uint8Array.from(span.slice(2), (x) => Math.max(0, x.value)),
        completedAt: end > b.length ? st.endEvent : Math.max(...span.map((x) => x.event)),
      });
      o = end;
    }
  }
  return out.sort((x, y) => x.completedAt - y.completedAt || x.offset - y.offset);
}
