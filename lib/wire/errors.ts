/**
 * Typed errors of the wire codec. The decoder never throws: it returns these, each with
 * the `kind`, the option `path` (e.g. `IA_NA[0].IAADDR[1]`), the byte `offset` from the
 * start of the outermost message (or stream, for framing) and the figures of the problem.
 * `errorToJson` gives the oracle shape (`{kind, ...figures}`).
 *
 * @module
 */

/** Fields every wire error has. */
export interface WireErrorBase {
  /** Option path from the message root, e.g. `CLIENT_DATA[0].IA_NA[0].IAADDR[1]`; `""` for the header. */
  path: string;
  /** Byte offset of the offending item from the start of the outermost message or stream. */
  offset: number;
  /** One line of human text. */
  message: string;
}

/** The message is shorter than its header. */
export interface MessageTooShortError extends WireErrorBase {
  /** Discriminant. */
  kind: "message-too-short";
  /** The message type, when at least one octet is there. */
  msgType?: number;
  /** Octets present. */
  length: number;
  /** Octets the header of this message type needs. */
  minimumLength: number;
}

/** An option's option-len runs past the end of its container or message. */
export interface OptionOverrunError extends WireErrorBase {
  /** Discriminant. */
  kind: "option-overrun";
  /** Code of the option at fault. */
  code: number;
  /** The option-len on the wire. */
  declaredLength: number;
  /** Octets that were left in the container. */
  availableLength: number;
  /** Code of the enclosing option (absent at message level). */
  parentCode?: number;
}

/** An option is shorter than its fixed part. */
export interface OptionTooShortError extends WireErrorBase {
  /** Discriminant. */
  kind: "option-too-short";
  /** Code of the option at fault. */
  code: number;
  /** The option-len on the wire. */
  length: number;
  /** Octets the fixed part of the option needs. */
  minimumLength: number;
  /** Code of the enclosing option, when nested. */
  parentCode?: number;
}

/** An option's length is not allowed by its format (fixed size, or multiple of a unit). */
export interface OptionBadLengthError extends WireErrorBase {
  /** Discriminant. */
  kind: "option-bad-length";
  /** Code of the option at fault. */
  code: number;
  /** The option-len on the wire. */
  length: number;
  /** The one length a fixed-size option must have. */
  expectedLength?: number;
  /** The largest length allowed. */
  maximumLength?: number;
  /** The length must be a multiple of this (e.g. 16 for address lists). */
  multipleOf?: number;
  /** Code of the enclosing option, when nested. */
  parentCode?: number;
}

/** 1–3 octets left after the last option: too few for an option header. */
export interface TrailingOctetsError extends WireErrorBase {
  /** Discriminant. */
  kind: "trailing-octets";
  /** Octets left over after the last field. */
  length: number;
  /** Code of the enclosing option, when nested. */
  parentCode?: number;
}

/** A field holds a value its format does not allow (bad enum, bad name, bad UTF-8 ...). */
export interface InvalidValueError extends WireErrorBase {
  /** Discriminant. */
  kind: "invalid-value";
  /** Code of the option at fault. */
  code: number;
  /** Name of the field with the bad value. */
  field: string;
  /** The value as found (number or text). */
  value: number | string;
  /** Code of the enclosing option, when nested. */
  parentCode?: number;
}

/** Relay messages nested deeper than the limit; decoding stopped at the limit. */
export interface RelayNestingTooDeepError extends WireErrorBase {
  /** Discriminant. */
  kind: "relay-nesting-too-deep";
  /** Number of relay headers in the whole chain (outermost included). */
  relayDepth: number;
  /** The HOP_COUNT_LIMIT in force. */
  hopCountLimit: number;
}

/** Options nested deeper than the decoder's limit; the deeper part is kept raw. */
export interface OptionNestingTooDeepError extends WireErrorBase {
  /** Discriminant. */
  kind: "option-nesting-too-deep";
  /** Code of the container kept raw. */
  code: number;
  /** Nesting depth reached. */
  depth: number;
  /** The deepest nesting decoded. */
  limit: number;
}

/** The capture cut the message (captured length below original length). */
export interface CaptureTruncatedError extends WireErrorBase {
  /** Discriminant. */
  kind: "capture-truncated";
  /** Octets of the frame in the capture. */
  capturedLength: number;
  /** Octets the frame had on the wire. */
  originalLength: number;
}

/** A stream frame announces more octets than the deframer allows. */
export interface FrameTooLargeError extends WireErrorBase {
  /** Discriminant. */
  kind: "frame-too-large";
  /** The message-size prefix found. */
  declaredSize: number;
  /** The largest message-size accepted. */
  maxSize: number;
}

/** The stream ended inside a frame. `declaredSize` is absent if the prefix itself was cut. */
export interface FrameTruncatedError extends WireErrorBase {
  /** Discriminant. */
  kind: "frame-truncated";
  /** The message-size prefix, absent when even it was cut. */
  declaredSize?: number;
  /** Octets of the message that arrived. */
  availableSize: number;
}

/** Any error the wire layer reports. */
export type WireError =
  | MessageTooShortError
  | OptionOverrunError
  | OptionTooShortError
  | OptionBadLengthError
  | InvalidValueError
  | TrailingOctetsError
  | RelayNestingTooDeepError
  | OptionNestingTooDeepError
  | CaptureTruncatedError
  | FrameTooLargeError
  | FrameTruncatedError;

/** The error kinds. */
export type WireErrorKind = WireError["kind"];

/**
 * The oracle (expect.json) shape of an error: `kind` plus its figures, without path,
 * offset and text unless `detail` is set.
 */
export function errorToJson(
  error: WireError,
  detail = false,
): Record<string, unknown> {
  const { path, offset, message, ...rest } = error;
  const out: Record<string, unknown> = { ...rest };
  if (detail) {
    out.path = path;
    out.offset = offset;
    out.message = message;
  }
  return out;
}

/**
 * One line for users: `<message> (at <path>, offset <n>)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeMessage, formatWireError } from "@failover6/failover6";
 *
 * // A SOLICIT whose CLIENTID declares 4 octets of which only 1 is there.
 * const { errors } = decodeMessage(new Uint8Array([1, 0, 0, 1, 0, 1, 0, 4, 0]));
 * assert.equal(
 *   formatWireError(errors[0]),
 *   "option-overrun: OPTION_CLIENTID declares 4 octets but only 1 remain (CLIENTID[0], offset 4)",
 * );
 * ```
 */
export function formatWireError(error: WireError): string {
  const where = error.path === ""
    ? `offset ${error.offset}`
    : `${error.path}, offset ${error.offset}`;
  return `${error.kind}: ${error.message} (${where})`;
}

/**
 * Thrown by the encoder and framer for values that cannot be put on the wire (a number
 * out of range, an unparsable address, a message over 65535 octets). Programming errors,
 * not bad input: decoding never throws.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeMessage, iaAddr, iaNa, MessageType, WireEncodeError } from "@failover6/failover6";
 *
 * assert.throws(
 *   () =>
 *     encodeMessage({
 *       kind: "client-server",
 *       msgType: MessageType.REPLY,
 *       transactionId: 1,
 *       options: [iaNa(1, 0, 0, [iaAddr("not-an-address", 0, 0)])],
 *     }),
 *   (e) => e instanceof WireEncodeError && e.path === "IA_NA[0].IAADDR[0].address",
 * );
 * ```
 */
export class WireEncodeError extends Error {
  /** Path of the offending field, e.g. `IA_NA[0].IAADDR[0].address`. */
  readonly path: string;
  /** Creates the error. */
  constructor(path: string, message: string) {
    super(path === "" ? message : `${path}: ${message}`);
    this.name = "WireEncodeError";
    this.path = path;
  }
}
