/**
 * DNS wire-format names (RFC 1035 §3.1, uncompressed as RFC 8415 §10 requires) <-> text.
 *
 * Text form: labels joined by `.`, no trailing dot; octets outside `!`..`~`, and `.` or
 * `\` inside a label, are written `\DDD` (three decimal digits, RFC 1035 §5.1), so every
 * label sequence has exactly one text form and re-encodes byte for byte.
 *
 * @module
 */

/** A decoded name: text and whether the terminating root label was absent. */
export interface DecodedName {
  name: string;
  /** True if the wire form ended without the zero-length root label (RFC 4704 partial name). */
  partial: boolean;
  /** Octets consumed. */
  length: number;
}

/** Why a name could not be decoded. */
export interface NameError {
  /** Offset of the problem relative to the start of the name. */
  at: number;
  reason: string;
}

function labelText(bytes: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i++) {
    const c = bytes[i];
    if (c > 0x20 && c < 0x7f && c !== 0x2e && c !== 0x5c) s += String.fromCharCode(c);
    else s += "\\" + c.toString().padStart(3, "0");
  }
  return s;
}

/**
 * Decodes one name from `bytes[start..end)`. With `allowPartial`, running out of octets
 * at a label boundary gives a partial name; otherwise it is an error. Stops after the
 * root label (the caller checks for trailing octets).
 */
export function decodeName(
  bytes: Uint8Array,
  start: number,
  end: number,
  allowPartial: boolean,
): DecodedName | NameError {
  const labels: string[] = [];
  let i = start;
  while (true) {
    if (i >= end) {
      if (!allowPartial) return { at: i - start, reason: "name has no terminating root label" };
      return { name: labels.join("."), partial: true, length: i - start };
    }
    const len = bytes[i];
    if (len === 0) return { name: labels.join("."), partial: false, length: i + 1 - start };
    if (len > 63) {
      return { at: i - start, reason: `label length octet ${len} (compression or extended label)` };
    }
    if (i + 1 + len > end) {
      return { at: i - start, reason: `label of ${len} octets runs past the end` };
    }
    labels.push(labelText(bytes, i + 1, i + 1 + len));
    i += 1 + len;
  }
}

/** True if `decodeName` returned an error. */
export function isNameError(r: DecodedName | NameError): r is NameError {
  return "reason" in r;
}

/**
 * Wire form of a name. A trailing `.` is accepted and ignored; `partial` omits the root
 * label. Returns a string describing the problem for an empty or over-long label or a
 * bad escape.
 */
export function encodeName(name: string, partial = false): Uint8Array | string {
  const text = name.endsWith(".") && !name.endsWith("\\.") ? name.slice(0, -1) : name;
  const out: number[] = [];
  if (text !== "") {
    let label: number[] = [];
    const flush = (): string | undefined => {
      if (label.length === 0) return `empty label in "${name}"`;
      if (label.length > 63) return `label longer than 63 octets in "${name}"`;
      out.push(label.length, ...label);
      label = [];
      return undefined;
    };
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (ch === ".") {
        const e = flush();
        if (e) return e;
      } else if (ch === "\\") {
        const d = /^\d{3}/.exec(text.slice(i + 1, i + 4));
        if (d) {
          const v = Number(d[0]);
          if (v > 255) return `bad escape \\${d[0]} in "${name}"`;
          label.push(v);
          i += 3;
        } else if (i + 1 < text.length) {
          const c = text.charCodeAt(i + 1);
          if (c > 0x7f) return `non-ASCII character in "${name}"`;
          label.push(c);
          i += 1;
        } else {
          return `dangling escape in "${name}"`;
        }
      } else {
        const c = text.charCodeAt(i);
        if (c > 0x7f) return `non-ASCII character in "${name}"`;
        label.push(c);
      }
    }
    const e = flush();
    if (e) return e;
  }
  if (!partial) out.push(0);
  return new Uint8Array(out);
}
