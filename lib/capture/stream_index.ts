/**
 * `StreamFrameIndex`: remembers, per octet range of one reassembled TCP direction, which
 * record captured it and at which record it became deliverable, and where the gaps are. A
 * deframer working on stream offsets asks it, per message, for the oracle facts: `frame` (the
 * record at which the message was complete in the in-order stream), `firstFrame` (the record
 * that captured its first octet) and the gaps inside it.
 *
 * Feed it the `data` and `gap` events of one direction in order; call `discardBefore` as
 * messages are consumed so it stays small.
 *
 * @module
 */

import type { FrameRef, TcpDataEvent, TcpGapEvent } from "./tcp_reassembly.ts";

/** A gap inside a span. */
export interface SpanGap {
  /** Stream offset of the first missing octet. */
  streamOffset: number;
  /** Missing octets. */
  missingBytes: number;
}

/** Facts about the stream range `[start, end)`. */
export interface SpanFacts {
  /** Record at which every captured octet of the range had become deliverable; null if none captured. */
  frame: FrameRef | null;
  /** Record that captured the range's first octet; null if it lies in a gap or is unknown. */
  firstFrame: FrameRef | null;
  /** Gaps that overlap the range (whole gaps, as reported). */
  gaps: SpanGap[];
  /** Octets of the range that were captured or declared missing (less than the range at stream end). */
  known: number;
}

type Entry =
  | { start: number; end: number; frame: FrameRef; captured: FrameRef; gap?: undefined }
  | { start: number; end: number; gap: SpanGap };

/** Offset-to-record index for one direction of one TCP stream. */
export class StreamFrameIndex {
  #entries: Entry[] = [];
  #head = 0;

  /** Records a `data` or `gap` event (in stream order). */
  add(ev: TcpDataEvent | TcpGapEvent): void {
    if (ev.kind === "data") {
      if (ev.bytes.length === 0) return;
      const last = this.#entries[this.#entries.length - 1];
      const end = ev.streamOffset + ev.bytes.length;
      // Merge with the previous entry when it carries the same facts (the common case).
      if (
        last !== undefined && last.gap === undefined && last.end === ev.streamOffset &&
        last.frame.frame === ev.frame.frame && last.captured.frame === ev.capturedFrame.frame
      ) {
        last.end = end;
        return;
      }
      this.#entries.push({
        start: ev.streamOffset,
        end,
        frame: ev.frame,
        captured: ev.capturedFrame,
      });
    } else {
      const gap = { streamOffset: ev.streamOffset, missingBytes: ev.missingBytes };
      this.#entries.push({ start: ev.streamOffset, end: ev.streamOffset + ev.missingBytes, gap });
    }
  }

  /** Facts about `[start, end)`. */
  span(start: number, end: number): SpanFacts {
    const facts: SpanFacts = { frame: null, firstFrame: null, gaps: [], known: 0 };
    for (let i = this.#head; i < this.#entries.length; i++) {
      const e = this.#entries[i];
      if (e.end <= start) continue;
      if (e.start >= end) break;
      facts.known += Math.min(e.end, end) - Math.max(e.start, start);
      if (e.gap !== undefined) {
        facts.gaps.push(e.gap);
        continue;
      }
      if (e.start <= start) facts.firstFrame = e.captured;
      if (facts.frame === null || e.frame.frame > facts.frame.frame) facts.frame = e.frame;
    }
    return facts;
  }

  /** Forgets what lies wholly before `offset`. */
  discardBefore(offset: number): void {
    while (this.#head < this.#entries.length && this.#entries[this.#head].end <= offset) {
      this.#head++;
    }
    if (this.#head > 64 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Entries held (for tests and diagnostics). */
  get size(): number {
    return this.#entries.length - this.#head;
  }
}
