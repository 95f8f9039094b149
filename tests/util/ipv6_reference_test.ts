import assert from "node:assert/strict";
import fc from "fast-check";
import { formatIPv6, IPV6_MAX, parseIPv6 } from "../../lib/util/ipv6.ts";
import { referenceFormatIPv6, referenceParseIPv6 } from "./ipv6_reference.ts";

const address = fc.oneof(
  fc.bigInt({ min: 0n, max: IPV6_MAX }),
  // Mostly-zero addresses: runs of zero groups in every position.
  fc.array(fc.oneof(fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff })), {
    minLength: 8,
    maxLength: 8,
  }).map((g) => g.reduce((a, x) => (a << 16n) | BigInt(x), 0n)),
);

Deno.test("formatIPv6 gives the reference model's text for any address", () => {
  fc.assert(fc.property(address, (a) => assert.equal(formatIPv6(a), referenceFormatIPv6(a))), {
    numRuns: 20_000,
  });
  for (const a of [0n, 1n, IPV6_MAX, 0xffff_c000_0201n, 0xffff_0000_0000n, 1n << 112n]) {
    assert.equal(formatIPv6(a), referenceFormatIPv6(a));
  }
});

Deno.test("formatIPv6 throws the reference model's RangeError outside the address space", () => {
  for (const a of [-1n, IPV6_MAX + 1n]) {
    assert.throws(() => formatIPv6(a), RangeError);
    assert.throws(() => referenceFormatIPv6(a), RangeError);
  }
});

Deno.test("parseIPv6 gives the reference model's value for any text, address or not", () => {
  const texts = fc.oneof(
    address.map(formatIPv6),
    address.map((a) => formatIPv6(a).toUpperCase()),
    // Uncompressed and oddly padded forms.
    address.map((a) => a.toString(16).padStart(32, "0").replace(/(.{4})(?!$)/g, "$1:")),
    fc.stringMatching(/^[0-9a-fA-F:.%g ]{0,46}$/),
    fc.array(fc.constantFrom("", "0", "1", "ffff", "FFFF", "12345", "1.2.3.4", "::", ":", "g"), {
      maxLength: 10,
    }).map((p) => p.join(":")),
  );
  fc.assert(fc.property(texts, (t) => assert.equal(parseIPv6(t), referenceParseIPv6(t))), {
    numRuns: 20_000,
  });
  const edge = [
    "",
    "::",
    ":::",
    "::1",
    "1::",
    "1:::2",
    "1::2:",
    ":1::2",
    "1:2:3:4:5:6:7:8",
    "1:2:3:4:5:6:7::",
    "::2:3:4:5:6:7:8",
    "1:2:3:4::5:6:7:8",
    "1:2:3:4:5:6:7:8:9",
    "::ffff:192.0.2.1",
    "::ffff:192.0.2.01",
    "1.2.3.4",
    "2001:db8::1%eth0",
    "fe80::1",
    "2001:DB8::A",
    "00000::1",
    "x",
  ];
  for (const t of edge) assert.equal(parseIPv6(t), referenceParseIPv6(t), t);
});
