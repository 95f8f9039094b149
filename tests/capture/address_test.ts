/** Address text forms (RFC 5952 vectors). */

import assert from "node:assert/strict";
import fc from "fast-check";
import { bytesToIPv6, formatIPv6 } from "../../lib/util/ipv6.ts";
import {
  AddressSyntaxError,
  formatIpv6,
  parseIpv4,
  parseIpv6,
  parseMac,
} from "../../lib/capture/address.ts";

const CANON: [string, string][] = [
  ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
  ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // first of equal runs
  ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // a single zero group is not shortened
  ["2001:db8:0:0:0:1:0:0", "2001:db8::1:0:0"],
  ["0:0:0:0:0:0:0:0", "::"],
  ["0:0:0:0:0:0:0:1", "::1"],
  ["fe80:0:0:0:0211:22ff:fe33:4455", "fe80::211:22ff:fe33:4455"],
  ["FF02:0:0:0:0:0:1:2", "ff02::1:2"],
  ["0:0:0:0:0:ffff:c000:0201", "::ffff:192.0.2.1"],
  ["::ffff:192.0.2.1", "::ffff:192.0.2.1"],
  ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
  ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
  ["1:0:0:2:0:0:0:3", "1:0:0:2::3"],
];

Deno.test("IPv6 parse and RFC 5952 format", () => {
  for (const [input, canon] of CANON) assert.equal(formatIpv6(parseIpv6(input)), canon, input);
});

Deno.test("address parsers reject bad text with a typed error", () => {
  for (
    const bad of [
      "",
      ":",
      "1::2::3",
      "12345::",
      "1:2:3:4:5:6:7:8:9",
      "g::",
      "1:2:3:4:5:6:7",
      "::1.2.3",
    ]
  ) {
    assert.throws(() => parseIpv6(bad), AddressSyntaxError, bad);
  }
  assert.throws(() => parseIpv4("1.2.3.256"), AddressSyntaxError);
  assert.throws(() => parseMac("00:11:22:33:44"), AddressSyntaxError);
  assert.deepEqual(parseMac("00-11-22-aa-BB-cc"), Uint8Array.of(0, 0x11, 0x22, 0xaa, 0xbb, 0xcc));
});

Deno.test("property: formatIpv6 round-trips and is canonical, also through its cache", () => {
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom(0, 0, 0, 1, 0xffff, 0x0db8, 0x2001), { minLength: 8, maxLength: 8 }),
      fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }),
      fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
      (zeroish, random, pick) => {
        const b = new Uint8Array(16);
        for (let k = 0; k < 8; k++) {
          const w = pick[k] ? zeroish[k] : random[k];
          b[2 * k] = w >> 8;
          b[2 * k + 1] = w & 0xff;
        }
        const text = formatIpv6(b);
        assert.equal(text, formatIPv6(bytesToIPv6(b)), "agrees with lib/util's bigint formatter");
        assert.equal(formatIpv6(b), text, "cached answer is the same");
        assert.deepEqual(parseIpv6(text), b);
        assert.ok(!/[A-F]/.test(text) && !/(^|:)0[0-9a-f]/.test(text), text);
        assert.ok(text.split("::").length <= 2, text);
        assert.ok(
          !/(^|:)0:0(:|$)/.test(text) || text.includes("::"),
          `an unshortened zero run: ${text}`,
        );
      },
    ),
    { numRuns: 2000 },
  );
});
