/**
 * IPv6 addresses as 16 octets <-> RFC 5952 canonical text. Kept here (not in lib/util)
 * so the codec floor depends on nothing that moves.
 *
 * @module
 */

/** Scratch groups for `formatIPv6Bytes` (synchronous, so one buffer serves every call). */
const GROUPS = new Uint16Array(8);

/**
 * RFC 5952 text of the 16 octets at `offset`: lower case, no leading zeros, the longest
 * run of two or more zero groups (the first on a tie) as `::`; IPv4-mapped addresses
 * (`::ffff:0:0/96`) in mixed notation, `::ffff:192.0.2.1` (RFC 5952 §5).
 */
export function formatIPv6Bytes(bytes: Uint8Array, offset = 0): string {
  const g = GROUPS;
  for (let i = 0; i < 8; i++) g[i] = (bytes[offset + 2 * i] << 8) | bytes[offset + 2 * i + 1];
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    const b = offset + 12;
    return `::ffff:${bytes[b]}.${bytes[b + 1]}.${bytes[b + 2]}.${bytes[b + 3]}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  let s = "";
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += "::";
      i += bestLen - 1;
      continue;
    }
    if (i > 0 && i !== bestStart + bestLen) s += ":";
    s += g[i].toString(16);
  }
  return s;
}

function groups(part: string, allowV4: boolean): number[] | undefined {
  if (part === "") return [];
  const out: number[] = [];
  const pieces = part.split(":");
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i];
    if (allowV4 && i === pieces.length - 1 && p.includes(".")) {
      const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(p);
      if (!m) return undefined;
      const q = m.slice(1).map(Number);
      if (q.some((x) => x > 255)) return undefined;
      out.push((q[0] << 8) | q[1], (q[2] << 8) | q[3]);
    } else {
      if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
      out.push(parseInt(p, 16));
    }
  }
  return out;
}

/** Scratch groups of the fast parser (synchronous, so one buffer serves every call). */
const PARSED = new Uint16Array(8);

/**
 * Hex digit value of a character code, or -1. `0`–`9`, `a`–`f`, `A`–`F`.
 */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20;
  return l >= 97 && l <= 102 ? l - 87 : -1;
}

/**
 * The fast parser: text made of hex digits and colons only, into `PARSED`. Returns true when
 * parsed, false when the text is not an address, undefined when it holds anything else
 * (a dotted quad: {@linkcode parseIPv6Slow} decides).
 */
function parseFast(text: string): boolean | undefined {
  const n = text.length;
  const g = PARSED;
  let count = 0;
  let dbl = -1;
  let i = 0;
  if (text.charCodeAt(0) === 58) {
    if (text.charCodeAt(1) !== 58) return false;
    dbl = 0;
    i = 2;
  }
  while (i < n) {
    let v = 0;
    let digits = 0;
    while (i < n) {
      const c = text.charCodeAt(i);
      const d = hexDigit(c);
      if (d < 0) {
        if (c === 46) return undefined; // '.': a dotted quad
        if (c !== 58) return false;
        break;
      }
      v = (v << 4) | d;
      digits++;
      i++;
    }
    if (digits === 0 || digits > 4 || count === 8) return false;
    g[count++] = v;
    if (i === n) break;
    i++; // the ':'
    if (text.charCodeAt(i) === 58) {
      if (dbl >= 0) return false;
      dbl = count;
      i++;
    } else if (i === n) return false;
  }
  if (dbl < 0) return count === 8;
  if (count > 7) return false;
  const gap = 8 - count;
  for (let k = count - 1; k >= dbl; k--) g[k + gap] = g[k];
  for (let k = dbl; k < dbl + gap; k++) g[k] = 0;
  return true;
}

/**
 * Writes the 16 octets of IPv6 text into `out` at `offset`; false (and `out` untouched) if the
 * text is not an address. The same addresses as {@linkcode parseIPv6Bytes}, with no
 * allocation for text without a dotted quad.
 */
export function parseIPv6Into(text: string, out: Uint8Array, offset = 0): boolean {
  if (typeof text !== "string" || text.length < 2 || text.length > 45) return false;
  const fast = parseFast(text);
  if (fast === false) return false;
  if (fast === undefined) {
    const b = parseIPv6Slow(text);
    if (b === undefined) return false;
    out.set(b, offset);
    return true;
  }
  const g = PARSED;
  for (let k = 0; k < 8; k++) {
    out[offset + 2 * k] = g[k] >> 8;
    out[offset + 2 * k + 1] = g[k] & 0xff;
  }
  return true;
}

/** The 16 octets of IPv6 text in any RFC 4291 §2.2 form; undefined if not an address. */
export function parseIPv6Bytes(text: string): Uint8Array | undefined {
  const out = new Uint8Array(16);
  return parseIPv6Into(text, out) ? out : undefined;
}

/** The general parser (every form, dotted quads included). */
function parseIPv6Slow(text: string): Uint8Array | undefined {
  if (typeof text !== "string" || text.length < 2 || text.length > 45) return undefined;
  let g: number[] | undefined;
  const dbl = text.indexOf("::");
  if (dbl >= 0) {
    if (text.indexOf("::", dbl + 1) >= 0) return undefined;
    const head = groups(text.slice(0, dbl), false);
    const tail = groups(text.slice(dbl + 2), true);
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    g = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    g = groups(text, true);
    if (!g || g.length !== 8) return undefined;
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = g[i] >> 8;
    out[2 * i + 1] = g[i] & 0xff;
  }
  return out;
}

/** The canonical RFC 5952 form of IPv6 text; undefined if not an address. */
export function canonicalIPv6(text: string): string | undefined {
  const b = parseIPv6Bytes(text);
  return b === undefined ? undefined : formatIPv6Bytes(b);
}
