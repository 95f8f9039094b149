/**
 * A reference model of IPv6 text (the project's first, regex-based implementation, kept as a
 * test oracle): the fast parser and formatter of lib/util/ipv6_octets.ts must agree with it.
 *
 * @module
 */

const REFERENCE_MAX = (1n << 128n) - 1n;

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const DOTTED_QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function parseGroups(part: string, allowV4: boolean): number[] | undefined {
  if (part === "") return [];
  const out: number[] = [];
  const pieces = part.split(":");
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i];
    if (allowV4 && i === pieces.length - 1 && p.includes(".")) {
      const m = DOTTED_QUAD.exec(p);
      if (!m) return undefined;
      const b = m.slice(1).map((x) => Number(x));
      if (b.some((x, j) => x > 255 || (m[j + 1].length > 1 && m[j + 1][0] === "0"))) {
        return undefined;
      }
      out.push((b[0] << 8) | b[1], (b[2] << 8) | b[3]);
    } else {
      if (!HEX_GROUP.test(p)) return undefined;
      out.push(parseInt(p, 16));
    }
  }
  return out;
}

/** Reference parse: `bigint`, or undefined when not an address. */
export function referenceParseIPv6(text: string): bigint | undefined {
  if (typeof text !== "string" || text.length === 0 || text.length > 45) return undefined;
  const dbl = text.indexOf("::");
  let groups: number[];
  if (dbl >= 0) {
    if (text.indexOf("::", dbl + 1) >= 0) return undefined;
    const head = parseGroups(text.slice(0, dbl), false);
    const tail = parseGroups(text.slice(dbl + 2), true);
    if (!head || !tail) return undefined;
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return undefined;
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    const all = parseGroups(text, true);
    if (!all || all.length !== 8) return undefined;
    groups = all;
  }
  let hex = "0x";
  for (const g of groups) hex += g.toString(16).padStart(4, "0");
  return BigInt(hex);
}

/** Reference RFC 5952 text. */
export function referenceFormatIPv6(addr: bigint): string {
  if (addr < 0n || addr > REFERENCE_MAX) throw new RangeError(`not an IPv6 address: ${addr}`);
  const full = addr.toString(16).padStart(32, "0");
  const groups: number[] = [];
  for (let i = 0; i < 32; i += 4) groups.push(parseInt(full.slice(i, i + 4), 16));
  if (addr >> 32n === 0xffffn) {
    const v4 = Number(addr & 0xffff_ffffn);
    return `::ffff:${v4 >>> 24}.${(v4 >>> 16) & 255}.${(v4 >>> 8) & 255}.${v4 & 255}`;
  }
  let bestStart = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}
