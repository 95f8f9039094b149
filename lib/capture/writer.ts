/**
 * A pcapng writer: one section (little-endian), interface description blocks and enhanced
 * packet blocks, buffered into large writes. Also the pure block encoders it is made of.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FakeClock, LinkType, PcapngWriter } from "@failover6/failover6";
 *
 * // A file: `new PcapngWriter((await Deno.create("out.pcapng")).writable)`; here, memory.
 * const chunks: Uint8Array[] = [];
 * const clock = new FakeClock(1709294400000);
 * const w = new PcapngWriter({ write: (c) => chunks.push(c) });
 * const eth = w.addInterface({ linkType: LinkType.ETHERNET });
 * await w.writePacket({ interfaceId: eth, timestampMs: clock.now(), data: new Uint8Array(60) });
 * await w.close();
 * assert.equal(w.bytesWritten, chunks.reduce((n, c) => n + c.length, 0));
 * ```
 *
 * @module
 */

import { BlockType, BYTE_ORDER_MAGIC } from "./pcapng.ts";

/** Where the writer puts its bytes. Chunks handed over are never reused by the writer. */
export interface PcapngSink {
  /** Accepts one chunk; a returned promise is awaited before the next write. */
  write(chunk: Uint8Array): Promise<unknown> | unknown;
}

/** An interface to describe. */
export interface InterfaceSpec {
  /** LINKTYPE_* value. */
  linkType: number;
  /** Snapshot length (default 0: no limit). */
  snapLength?: number;
  /** `if_name`. */
  name?: string;
  /** Nanosecond timestamps (`if_tsresol` 9) instead of the default microseconds. */
  nanoseconds?: boolean;
}

/** One packet to write. */
export interface PacketSpec {
  /** Interface id from `addInterface` (default 0). */
  interfaceId?: number;
  /** Capture time in nanoseconds since the Unix epoch (wins over `timestampMs`). */
  timestampNs?: bigint;
  /** Capture time in milliseconds since the Unix epoch (e.g. `Clock.now()`); default 0. */
  timestampMs?: number;
  /** The frame, starting with the interface's link-layer header. */
  data: Uint8Array;
  /** Length on the wire if more than `data.length` (the frame was cut). */
  originalLength?: number;
}

const enc = new TextEncoder();

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** Encodes options (code, value) plus opt_endofopt; empty list gives no octets. */
function encodeOptions(options: [number, Uint8Array][]): Uint8Array {
  if (options.length === 0) return new Uint8Array(0);
  const len = options.reduce((n, [, v]) => n + 4 + pad4(v.length), 4);
  const out = new Uint8Array(len);
  const dv = new DataView(out.buffer);
  let p = 0;
  for (const [code, v] of options) {
    dv.setUint16(p, code, true);
    dv.setUint16(p + 2, v.length, true);
    out.set(v, p + 4);
    p += 4 + pad4(v.length);
  }
  return out; // the trailing 4 zero octets are opt_endofopt
}

function block(type: number, fixed: Uint8Array, options: Uint8Array): Uint8Array {
  const total = 12 + fixed.length + options.length;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, type, true);
  dv.setUint32(4, total, true);
  out.set(fixed, 8);
  out.set(options, 8 + fixed.length);
  dv.setUint32(total - 4, total, true);
  return out;
}

/** Encodes a little-endian section header block (version 1.0, section length unknown). */
export function encodeSectionHeader(application?: string): Uint8Array {
  const fixed = new Uint8Array(16);
  const dv = new DataView(fixed.buffer);
  dv.setUint32(0, BYTE_ORDER_MAGIC, true);
  dv.setUint16(4, 1, true);
  dv.setUint16(6, 0, true);
  dv.setBigInt64(8, -1n, true);
  const opts: [number, Uint8Array][] = application ? [[4, enc.encode(application)]] : [];
  return block(BlockType.SECTION_HEADER, fixed, encodeOptions(opts));
}

/** Encodes an interface description block. */
export function encodeInterfaceDescription(spec: InterfaceSpec): Uint8Array {
  const fixed = new Uint8Array(8);
  const dv = new DataView(fixed.buffer);
  dv.setUint16(0, spec.linkType, true);
  dv.setUint32(4, spec.snapLength ?? 0, true);
  const opts: [number, Uint8Array][] = [];
  if (spec.name) opts.push([2, enc.encode(spec.name)]);
  if (spec.nanoseconds) opts.push([9, Uint8Array.of(9)]);
  return block(BlockType.INTERFACE_DESCRIPTION, fixed, encodeOptions(opts));
}

/** Splits a timestamp into the 32-bit halves of the interface's unit count. */
function timestampUnits(p: PacketSpec, nanoseconds: boolean): [number, number] {
  let units: number | bigint;
  if (p.timestampNs !== undefined) units = nanoseconds ? p.timestampNs : p.timestampNs / 1000n;
  else {
    const ms = p.timestampMs ?? 0;
    units = nanoseconds ? BigInt(Math.round(ms * 1000)) * 1000n : Math.round(ms * 1000);
  }
  if (typeof units === "bigint") return [Number(units >> 32n), Number(units & 0xffffffffn)];
  const high = Math.floor(units / 0x1_0000_0000);
  return [high, units - high * 0x1_0000_0000];
}

/** Length of the enhanced packet block for `dataLength` captured octets. */
function epbLength(dataLength: number): number {
  return 32 + pad4(dataLength);
}

function writeEpb(out: Uint8Array, dv: DataView, at: number, p: PacketSpec, ns: boolean): number {
  const total = epbLength(p.data.length);
  const [high, low] = timestampUnits(p, ns);
  dv.setUint32(at, BlockType.ENHANCED_PACKET, true);
  dv.setUint32(at + 4, total, true);
  dv.setUint32(at + 8, p.interfaceId ?? 0, true);
  dv.setUint32(at + 12, high, true);
  dv.setUint32(at + 16, low, true);
  dv.setUint32(at + 20, p.data.length, true);
  dv.setUint32(at + 24, Math.max(p.originalLength ?? 0, p.data.length), true);
  out.set(p.data, at + 28);
  out.fill(0, at + 28 + p.data.length, at + total - 4);
  dv.setUint32(at + total - 4, total, true);
  return total;
}

/** Encodes an enhanced packet block (`nanoseconds` must match the interface). */
export function encodeEnhancedPacket(p: PacketSpec, nanoseconds = false): Uint8Array {
  const out = new Uint8Array(epbLength(p.data.length));
  writeEpb(out, new DataView(out.buffer), 0, p, nanoseconds);
  return out;
}

/**
 * Streams a pcapng file to a sink, in writes of about `bufferBytes` (default 256 KiB).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildUdp6Frame, LinkType, PcapngWriter, readCapture } from "@failover6/failover6";
 *
 * // Any sink works: here an array; `(await Deno.create(path)).writable` writes a file.
 * const chunks: Uint8Array[] = [];
 * const writer = new PcapngWriter({ write: (c) => chunks.push(c) });
 * const eth = writer.addInterface({ linkType: LinkType.ETHERNET });
 * const data = buildUdp6Frame({
 *   src: "fe80::1",
 *   dst: "ff02::1:2",
 *   sport: 546,
 *   dport: 547,
 *   payload: new Uint8Array([1, 0, 0, 1]),
 * });
 * await writer.writePacket({ interfaceId: eth, timestampMs: 1709294400100, data });
 * await writer.close();
 *
 * const records = [];
 * for await (const r of readCapture(chunks)) records.push(r);
 * assert.equal(records.length, 1);
 * assert.equal(records[0].timestamp, "1709294400.100000");
 * ```
 */
export class PcapngWriter {
  #sink: PcapngSink;
  #release: (() => Promise<void>) | null = null;
  #bufSize: number;
  #buf: Uint8Array;
  #dv: DataView;
  #used = 0;
  #written = 0;
  #interfaces: InterfaceSpec[] = [];
  #closed = false;

  /** Starts a section; a `WritableStream` is locked by the writer and closed by `close()`. */
  constructor(
    sink: PcapngSink | WritableStream<Uint8Array>,
    options: { application?: string; bufferBytes?: number } = {},
  ) {
    if (sink instanceof WritableStream) {
      const w = sink.getWriter();
      this.#sink = { write: (c) => w.write(c) };
      this.#release = () => w.close();
    } else {
      this.#sink = sink;
    }
    this.#bufSize = options.bufferBytes ?? 256 * 1024;
    this.#buf = new Uint8Array(this.#bufSize);
    this.#dv = new DataView(this.#buf.buffer);
    this.#append(encodeSectionHeader(options.application ?? "failover6"));
  }

  /** Octets handed to the sink so far (excluding what is still buffered). */
  get bytesWritten(): number {
    return this.#written;
  }

  /** Describes an interface; returns its id for `writePacket`. */
  addInterface(spec: InterfaceSpec): number {
    this.#append(encodeInterfaceDescription(spec));
    this.#interfaces.push(spec);
    return this.#interfaces.length - 1;
  }

  #append(bytes: Uint8Array): void {
    if (this.#used + bytes.length > this.#buf.length) this.#grow(bytes.length);
    this.#buf.set(bytes, this.#used);
    this.#used += bytes.length;
  }

  #grow(need: number): void {
    const size = Math.max(this.#buf.length * 2, this.#used + need);
    const bigger = new Uint8Array(size);
    bigger.set(this.#buf.subarray(0, this.#used));
    this.#buf = bigger;
    this.#dv = new DataView(bigger.buffer);
  }

  /** Appends one enhanced packet block; writes to the sink when the buffer is full. */
  async writePacket(p: PacketSpec): Promise<void> {
    if (this.#closed) throw new Error("pcapng writer is closed");
    const id = p.interfaceId ?? 0;
    const iface = this.#interfaces[id];
    if (!iface) throw new RangeError(`pcapng interface ${id} was not added`);
    const total = epbLength(p.data.length);
    if (this.#used + total > this.#buf.length) {
      if (this.#used > 0) await this.flush();
      if (total > this.#buf.length) this.#grow(total);
    }
    this.#used += writeEpb(this.#buf, this.#dv, this.#used, p, iface.nanoseconds === true);
    if (this.#used >= this.#bufSize) await this.flush();
  }

  /** Hands buffered blocks to the sink. */
  async flush(): Promise<void> {
    if (this.#used === 0) return;
    const chunk = this.#buf.subarray(0, this.#used);
    this.#written += this.#used;
    this.#buf = new Uint8Array(this.#bufSize);
    this.#dv = new DataView(this.#buf.buffer);
    this.#used = 0;
    await this.#sink.write(chunk);
  }

  /** Flushes, and closes the stream if the writer was given a `WritableStream`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    if (this.#release) await this.#release();
  }
}
