/**
 * Typed errors for capture files. Every error names the byte offset in the file where the
 * problem starts, so a shell can print one line such as
 * `failover6: capture truncated at byte 2890 (record 17)`.
 *
 * @module
 */

/** What went wrong while reading a capture file. */
export type CaptureErrorKind =
  /** The input does not start with a pcap or pcapng magic number (or is empty). */
  | "not-a-capture"
  /** The input ends inside a file header, block or record. */
  | "truncated"
  /** A pcapng block total length is too small, not a multiple of 4, too large or mismatched. */
  | "bad-block-length"
  /** A classic pcap record length is larger than the reader accepts. */
  | "bad-record-length"
  /** A pcapng section header has a bad byte-order magic or an unsupported major version. */
  | "bad-section-header"
  /** A pcapng packet block names an interface no interface description block defined. */
  | "bad-interface-id";

/**
 * An error reading a capture file, with the byte offset where the bad item starts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CaptureError, readCapture } from "@failover6/failover6";
 *
 * await assert.rejects(
 *   async () => {
 *     const bytes = new TextEncoder().encode("not a capture");
 *     for await (const _record of readCapture(bytes)) assert.fail("no records");
 *   },
 *   (e) => e instanceof CaptureError && e.kind === "not-a-capture" && e.offset === 0,
 * );
 * ```
 */
export class CaptureError extends Error {
  /** What went wrong. */
  readonly kind: CaptureErrorKind;
  /** Byte offset, from the start of the input, of the header, block or record at fault. */
  readonly offset: number;
  /** The 1-based record number the bad record would have had, when the fault is in a record. */
  readonly frame: number | undefined;

  /** Builds an error; `message` should name the field at fault. */
  constructor(kind: CaptureErrorKind, offset: number, message: string, frame?: number) {
    super(`${message} at byte ${offset}${frame === undefined ? "" : ` (record ${frame})`}`);
    this.name = "CaptureError";
    this.kind = kind;
    this.offset = offset;
    this.frame = frame;
  }
}
