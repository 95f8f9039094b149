/**
 * IP and MAC address text forms: IPv6 in RFC 5952 canonical form, IPv4 dotted quad, and the
 * parsers the packet builders need.
 *
 * @module
 */

/** Formats 4 octets at `b[i]` as a dotted quad. */
export function formatIpv4(b: Uint8Array, i = 0): string {
  return `${b[i]}.${b[i + 1]}.${b[i + 2]}.${b[i + 3]}`;
}

const CACHE_SIZE = 64;
const cacheKeys = new Uint8Array(CACHE_SIZE * 16);
const cacheText: (string | undefined)[] = new Array(CACHE_SIZE);

/**
 * Formats 16 octets at `b[i]` in RFC 5952 form: lower case, no leading zeros, the longest run
 * (first on a tie) of two or more zero groups as `::`, IPv4-mapped addresses as `::ffff:a.b.c.d`.
 * A small cache makes repeated addresses (the usual case in a capture) cheap.
 */
export function formatIpv6(b: Uint8Array, i = 0): string {
  const slot = (b[i + 15] ^ (b[i + 14] << 2) ^ (b[i + 13] << 4) ^ b[i + 7]) & (CACHE_SIZE - 1);
  const base = slot * 16;
  const cached = cacheText[slot];
  if (cached !== undefined) {
    let k = 0;
    while (k < 16 && cacheKeys[base + k] === b[i + k]) k++;
    if (k === 16) return cached;
  }
  const text = formatIpv6Uncached(b, i);
  for (let k = 0; k < 16; k++) cacheKeys[base + k] = b[i + k];
  cacheText[slot] = text;
  return text;
}

function formatIpv6Uncached(b: Uint8Array, i: number): string {
  const word = (k: number) => (b[i + 2 * k] << 8) | b[i + 2 * k + 1];
  let bestStart = -1;
  let bestLen = 1;
  let runStart = -1;
  for (let k = 0; k < 8; k++) {
    if (word(k) !== 0) {
      runStart = -1;
      continue;
    }
    if (runStart < 0) runStart = k;
    if (k - runStart + 1 > bestLen) {
      bestStart = runStart;
      bestLen = k - runStart + 1;
    }
  }
  if (bestStart === 0 && bestLen === 5 && word(5) === 0xffff) {
    return `::ffff:${formatIpv4(b, i + 12)}`;
  }
  let s = "";
  let colon = false;
  for (let k = 0; k < 8; k++) {
    if (k === bestStart) {
      s += "::";
      k += bestLen - 1;
      colon = false;
      continue;
    }
    if (colon) s += ":";
    s += word(k).toString(16);
    colon = true;
  }
  return s;
}

/** Thrown by the address parsers for text that is not an address. */
export class AddressSyntaxError extends Error {
  /** The text that failed to parse. */
  readonly text: string;
  /** Builds the error. */
  constructor(kind: string, text: string) {
    super(`not an ${kind} address: ${JSON.stringify(text)}`);
    this.name = "AddressSyntaxError";
    this.text = text;
  }
}

/** Parses a dotted-quad IPv4 address to 4 octets. */
export function parseIpv4(text: string): Uint8Array {
  const parts = text.split(".");
  if (parts.length !== 4) throw new AddressSyntaxError("IPv4", text);
  const out = new Uint8Array(4);
  parts.forEach((p, k) => {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) throw new AddressSyntaxError("IPv4", text);
    out[k] = Number(p);
  });
  return out;
}

/** Parses any RFC 4291 textual IPv6 address (with `::` and an optional dotted-quad tail). */
export function parseIpv6(text: string): Uint8Array {
  const bad = () => new AddressSyntaxError("IPv6", text);
  let s = text;
  const tail: number[] = [];
  const lastColon = s.lastIndexOf(":");
  if (s.includes(".")) {
    const v4 = parseIpv4(s.slice(lastColon + 1));
    tail.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    s = s.slice(0, lastColon + 1);
    if (!s.endsWith("::")) s = s.slice(0, -1);
  }
  const halves = s.split("::");
  if (halves.length > 2) throw bad();
  const group = (h: string) =>
    (h === "" ? [] : h.split(":")).map((x) => {
      if (!/^[0-9a-fA-F]{1,4}$/.test(x)) throw bad();
      return parseInt(x, 16);
    });
  const head = group(halves[0]);
  const rest = halves.length === 2 ? group(halves[1]) : [];
  const groups = [...head];
  const explicit = head.length + rest.length + tail.length;
  if (halves.length === 2) {
    if (explicit > 7) throw bad();
    for (let k = explicit; k < 8; k++) groups.push(0);
  } else if (explicit !== 8) throw bad();
  groups.push(...rest, ...tail);
  const out = new Uint8Array(16);
  groups.forEach((x, k) => {
    out[2 * k] = x >> 8;
    out[2 * k + 1] = x & 0xff;
  });
  return out;
}

/** Parses a MAC address `aa:bb:cc:dd:ee:ff` (or with `-`) to 6 octets. */
export function parseMac(text: string): Uint8Array {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new AddressSyntaxError("Ethernet", text);
  }
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}
