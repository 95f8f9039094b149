/**
 * IPv6 addresses as 16 octets <-> text: the one IPv6 text parser (every RFC 4291 §2.2 form) and
 * the one RFC 5952 formatter of the project. The codec (`lib/wire`), the capture reader
 * (`lib/capture`) and the `bigint` arithmetic of `ipv6.ts` all go through these.
 *
 * @module
 */

/** Scratch groups for `formatIPv6Bytes` (synchronous, so one buffer serves every call). */
const GROUPS = new Uint16Array(8);

/**
 * RFC 5952 text of the 16 octets at `offset`: lower case, no leading zeros, the longest
 * run of two or more zero groups (the first on a tie) as `::`; IPv4-mapped addresses
 * (`::ffff:0:0/96`) in mixed notation, `::ffff:192.0.2.1` (RFC 5952 §5).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatIPv6Bytes, parseIPv6Bytes } from "@failover6/failover6";
 *
 * const octets = parseIPv6Bytes("2001:DB8:0:0:0:0:0:1")!;
 * assert.equal(formatIPv6Bytes(octets), "2001:db8::1");
 * ```
 */
export function formatIPv6Bytes(bytes: Uint8Array, offset = 0): string {
  const g = GROUPS;
  for (let i = 0; i < 8; i++) g[i] = (bytes[offset + 2 * i] << 8) | bytes[offset + 2 * i + 1];
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    const b = offset + 12;
    return `::ffff:${bytes[b]}.${bytes[b + 1]}.${bytes[b + 2]}.${bytes[b + 3]}`;
  }
  const run = longestZeroRun(g);
  const bestStart = run >> 4;
  const bestLen = run & 15;
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

/**
 * The longest run of two or more zero groups (the first on a tie) as `start << 4 | length`;
 * start -1 (and length 1) when there is none.
 */
function longestZeroRun(g: Uint16Array): number {
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
  return bestStart < 0 ? -16 | 1 : (bestStart << 4) | bestLen;
}

/**
 * Whether `text` is exactly what {@linkcode formatIPv6Bytes} gives for the 16 octets at
 * `offset` (their RFC 5952 text), checked without making that text.
 */
export function isFormattedIPv6(bytes: Uint8Array, offset: number, text: string): boolean {
  const g = GROUPS;
  for (let i = 0; i < 8; i++) g[i] = (bytes[offset + 2 * i] << 8) | bytes[offset + 2 * i + 1];
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return formatIPv6Bytes(bytes, offset) === text; // mixed notation: rare
  }
  const run = longestZeroRun(g);
  const bestStart = run >> 4;
  const bestLen = run & 15;
  let p = 0;
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      if (text.charCodeAt(p) !== 58 || text.charCodeAt(p + 1) !== 58) return false;
      p += 2;
      i += bestLen - 1;
      continue;
    }
    if (i > 0 && i !== bestStart + bestLen) {
      if (text.charCodeAt(p++) !== 58) return false;
    }
    const v = g[i];
    for (
      let shift = v >= 0x1000 ? 12 : v >= 0x100 ? 8 : v >= 0x10 ? 4 : 0;
      shift >= 0;
      shift -= 4
    ) {
      const nibble = (v >> shift) & 15;
      if (text.charCodeAt(p++) !== (nibble < 10 ? 48 + nibble : 87 + nibble)) return false;
    }
  }
  return p === text.length;
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
      // No leading zeros in a dotted quad (as inet_pton): `01.2.3.4` is not an address.
      if (q.some((x, j) => x > 255 || (m[j + 1].length > 1 && m[j + 1][0] === "0"))) {
        return undefined;
      }
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
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseIPv6Into } from "@failover6/failover6";
 *
 * const buffer = new Uint8Array(32);
 * assert.equal(parseIPv6Into("::1", buffer, 16), true);
 * assert.equal(buffer[31], 1);
 * assert.equal(parseIPv6Into("not an address", buffer), false);
 * ```
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

/** The 16 octets of IPv6 text in any RFC 4291 §2.2 form; undefined if not an address. *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseIPv6Bytes } from "@failover6/failover6";
 *
 * assert.deepEqual(parseIPv6Bytes("::ffff:192.0.2.1")?.slice(10), Uint8Array.of(255, 255, 192, 0, 2, 1));
 * assert.equal(parseIPv6Bytes("2001:db8::1%eth0"), undefined);
 * ```
 */
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
