/**
 * RFC 5460 §5.1 stream framing, used by the failover TCP connection (RFC 8156 §5.1): each
 * message is preceded by a 2-octet message-size (network order) counting the octets that
 * follow. `Deframer` takes chunks as TCP delivers them (split or coalesced) and yields
 * whole frames.
 *
 * @module
 */

import { WireEncodeError, type WireError } from "./errors.ts";
import { MAX_FRAMED_MESSAGE } from "./types.ts";

/**
 * Prefixes a message with its 2-octet message-size. Throws over 65535 octets.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeMessage, failoverMessage, frameMessage, MessageType } from "@failover6/failover6";
 *
 * const message = encodeMessage(failoverMessage(MessageType.CONTACT, 1, 800000000));
 * const frame = frameMessage(message);
 * assert.deepEqual([...frame.subarray(0, 2)], [0, 8]); // message-size 8
 * assert.equal(frame.length, 2 + message.length);
 * ```
 */
export function frameMessage(message: Uint8Array): Uint8Array {
  if (message.length > MAX_FRAMED_MESSAGE) {
    throw new WireEncodeError("", `message of ${message.length} octets exceeds 65535`);
  }
  const out = new Uint8Array(2 + message.length);
  out[0] = message.length >> 8;
  out[1] = message.length & 0xff;
  out.set(message, 2);
  return out;
}

/** One message taken off the stream. */
export interface Frame {
  /** Stream offset of the 2-octet size prefix (0 = first octet pushed). */
  offset: number;
  /** The message-size (octets after the prefix). */
  size: number;
  /**
   * The message octets: a copy, safe to keep (a view on one copy of the pushed chunk, so
   * keeping it keeps that copy).
   */
  data: Uint8Array;
}

/** Options of a `Deframer`. */
export interface DeframerOptions {
  /** Largest message-size accepted (default 65535, i.e. any). */
  maxFrameSize?: number;
}

/** What `Deframer.push` returns: whole frames, and the error that stopped the stream, if any. */
export interface DeframeResult {
  /** Whole frames completed by this chunk, in stream order. */
  frames: Frame[];
  /** Set once a frame exceeds `maxFrameSize`; the deframer then yields nothing more. */
  error?: WireError;
}

/**
 * Reassembles frames from arbitrary chunks. After a `frame-too-large` error it is stopped:
 * every later `push` returns no frames and the same error (close the connection).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   Deframer,
 *   encodeMessage,
 *   failoverMessage,
 *   frameMessage,
 *   MessageType,
 * } from "@failover6/failover6";
 *
 * const frame = frameMessage(encodeMessage(failoverMessage(MessageType.CONTACT, 1, 800000000)));
 * const deframer = new Deframer();
 * assert.deepEqual(deframer.push(frame.subarray(0, 3)).frames, []); // not complete yet
 * const { frames } = deframer.push(frame.subarray(3));
 * assert.equal(frames.length, 1);
 * assert.equal(frames[0].size, 8);
 * assert.equal(deframer.finish(), undefined); // nothing left over
 * ```
 */
export class Deframer {
  readonly #max: number;
  #chunks: Uint8Array[] = [];
  #head = 0;
  #buffered = 0;
  #offset = 0;
  #error: WireError | undefined;

  /** Creates a deframer. */
  constructor(options: DeframerOptions = {}) {
    this.#max = options.maxFrameSize ?? MAX_FRAMED_MESSAGE;
  }

  /** Octets received but not yet returned in a frame. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Stream offset of the first octet not yet returned in a frame. */
  get offset(): number {
    return this.#offset;
  }

  /** The error that stopped the deframer, if any. */
  get error(): WireError | undefined {
    return this.#error;
  }

  #peek(i: number): number {
    let idx = this.#head + i;
    for (const c of this.#chunks) {
      if (idx < c.length) return c[idx];
      idx -= c.length;
    }
    return 0;
  }

  #take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.#chunks[0];
      const k = Math.min(n - filled, c.length - this.#head);
      out.set(c.subarray(this.#head, this.#head + k), filled);
      filled += k;
      this.#head += k;
      if (this.#head === c.length) {
        this.#chunks.shift();
        this.#head = 0;
      }
    }
    this.#buffered -= n;
    this.#offset += n;
    return out;
  }

  /** Adds a chunk of the stream and returns the frames it completed. */
  push(chunk: Uint8Array): DeframeResult {
    if (this.#error) return { frames: [], error: this.#error };
    const frames: Frame[] = [];
    let start = 0;
    if (this.#buffered > 0) {
      // A frame begun in an earlier chunk: complete it with as few octets of this one as it
      // needs, so that the rest of the chunk takes the fast path below.
      if (this.#buffered < 2) {
        const k = Math.min(2 - this.#buffered, chunk.length);
        this.#chunks.push(chunk.slice(0, k));
        this.#buffered += k;
        start = k;
      }
      if (this.#buffered >= 2) {
        const size = (this.#peek(0) << 8) | this.#peek(1);
        if (size > this.#max) {
          // Stopped: the rest of the chunk is kept with the rest (as `buffered` counts it).
          if (start < chunk.length) {
            this.#chunks.push(chunk.slice(start));
            this.#buffered += chunk.length - start;
          }
          return { frames, error: this.#tooLarge(size) };
        }
        const k = Math.min(2 + size - this.#buffered, chunk.length - start);
        if (k > 0) {
          this.#chunks.push(chunk.slice(start, start + k));
          this.#buffered += k;
          start += k;
        }
        if (this.#buffered === 2 + size) {
          const offset = this.#offset;
          this.#take(2);
          frames.push({ offset, size, data: this.#take(size) });
        }
      }
      if (this.#buffered > 0) return { frames }; // the chunk ended inside that frame
    }
    // Fast path: the rest of the chunk is copied once and the frames wholly inside it are
    // views on that copy (one allocation per chunk, not per frame); an unfinished tail is
    // kept for the next chunk.
    let pos = start;
    let copy: Uint8Array | undefined;
    while (chunk.length - pos >= 2) {
      const size = (chunk[pos] << 8) | chunk[pos + 1];
      if (size > this.#max || chunk.length - pos < 2 + size) break;
      copy ??= chunk.slice(start);
      frames.push({
        offset: this.#offset,
        size,
        data: copy.subarray(pos - start + 2, pos - start + 2 + size),
      });
      this.#offset += 2 + size;
      pos += 2 + size;
    }
    if (pos < chunk.length) {
      this.#chunks.push(copy ? copy.subarray(pos - start) : chunk.slice(pos));
      this.#buffered += chunk.length - pos;
    }
    if (this.#buffered >= 2) {
      const size = (this.#peek(0) << 8) | this.#peek(1);
      if (size > this.#max) return { frames, error: this.#tooLarge(size) };
    }
    return { frames };
  }

  /** Stops the deframer on a frame over the limit. */
  #tooLarge(size: number): WireError {
    this.#error = {
      kind: "frame-too-large",
      path: "",
      offset: this.#offset,
      message: `frame of ${size} octets exceeds the limit of ${this.#max}`,
      declaredSize: size,
      maxSize: this.#max,
    };
    return this.#error;
  }

  /**
   * Call at end of stream: a `frame-truncated` error if octets of an unfinished frame are
   * left (`declaredSize` absent when even the size prefix was cut), else undefined.
   */
  finish(): WireError | undefined {
    if (this.#buffered === 0 || this.#error) return undefined;
    if (this.#buffered < 2) {
      return {
        kind: "frame-truncated",
        path: "",
        offset: this.#offset,
        message: "stream ended inside a message-size prefix",
        availableSize: 0,
      };
    }
    const size = (this.#peek(0) << 8) | this.#peek(1);
    return {
      kind: "frame-truncated",
      path: "",
      offset: this.#offset,
      message: `stream ended after ${this.#buffered - 2} of ${size} octets of a frame`,
      declaredSize: size,
      availableSize: this.#buffered - 2,
    };
  }
}
