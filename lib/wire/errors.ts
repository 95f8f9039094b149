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
  kind: "message-too-short";
  msgType?: number;
  length: number;
  minimumLength: number;
}

/** An option's option-len runs past the end of its container or message. */
export interface OptionOverrunError extends WireErrorBase {
  kind: "option-overrun";
  code: number;
  declaredLength: number;
  availableLength: number;
  /** Code of the enclosing option (absent at message level). */
  parentCode?: number;
}

/** An option is shorter than its fixed part. */
export interface OptionTooShortError extends WireErrorBase {
  kind: "option-too-short";
  code: number;
  length: number;
  minimumLength: number;
  parentCode?: number;
}

/** An option's length is not allowed by its format (fixed size, or multiple of a unit). */
export interface OptionBadLengthError extends WireErrorBase {
  kind: "option-bad-length";
  code: number;
  length: number;
  expectedLength?: number;
  maximumLength?: number;
  multipleOf?: number;
  parentCode?: number;
}

/** 1–3 octets left after the last option: too few for an option header. */
export interface TrailingOctetsError extends WireErrorBase {
  kind: "trailing-octets";
  length: number;
  parentCode?: number;
}

/** A field holds a value its format does not allow (bad enum, bad name, bad UTF-8 ...). */
export interface InvalidValueError extends WireErrorBase {
  kind: "invalid-value";
  code: number;
  field: string;
  value: number | string;
  parentCode?: number;
}

/** Relay messages nested deeper than the limit; decoding stopped at the limit. */
export interface RelayNestingTooDeepError extends WireErrorBase {
  kind: "relay-nesting-too-deep";
  /** Number of relay headers in the whole chain (outermost included). */
  relayDepth: number;
  hopCountLimit: number;
}

/** Options nested deeper than the decoder's limit; the deeper part is kept raw. */
export interface OptionNestingTooDeepError extends WireErrorBase {
  kind: "option-nesting-too-deep";
  code: number;
  depth: number;
  limit: number;
}

/** The capture cut the message (captured length below original length). */
export interface CaptureTruncatedError extends WireErrorBase {
  kind: "capture-truncated";
  capturedLength: number;
  originalLength: number;
}

/** A stream frame announces more octets than the deframer allows. */
export interface FrameTooLargeError extends WireErrorBase {
  kind: "frame-too-large";
  declaredSize: number;
  maxSize: number;
}

/** The stream ended inside a frame. `declaredSize` is absent if the prefix itself was cut. */
export interface FrameTruncatedError extends WireErrorBase {
  kind: "frame-truncated";
  declaredSize?: number;
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

/** One line for users: `<message> (at <path>, offset <n>)`. */
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
