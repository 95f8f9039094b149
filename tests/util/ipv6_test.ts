import assert from "node:assert/strict";
import fc from "fast-check";
import {
  addIPv6,
  bytesToIPv6,
  canonicalIPv6,
  compareIPv6,
  formatIPv6,
  formatPrefix,
  IPV6_MAX,
  ipv6ToBytes,
  nthAddress,
  nthPrefix,
  parseIPv6,
  parsePrefix,
  prefixContains,
  prefixContainsPrefix,
  prefixLast,
  rangeSize,
  rangesOverlap,
} from "../../lib/util/ipv6.ts";

const anyAddress = fc.bigInt({ min: 0n, max: IPV6_MAX });

Deno.test("ipv6: RFC 5952 canonical text", () => {
  const cases: [string, string][] = [
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // tie: first run shortened
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"], // longest run wins
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // a single zero group stays
    ["2001:DB8::ABCD", "2001:db8::abcd"],
    ["::", "::"],
    ["::1", "::1"],
    ["1::", "1::"],
    ["fe80:0:0:0:0:0:0:0", "fe80::"],
    ["::ffff:192.0.2.1", "::ffff:192.0.2.1"],
    ["::ffff:c000:0201", "::ffff:192.0.2.1"],
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
    ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
  ];
  for (const [input, want] of cases) assert.equal(canonicalIPv6(input), want, input);
});

Deno.test("ipv6: rejects text that is not an address", () => {
  const bad = [
    "",
    ":",
    ":::",
    "1:::2",
    "1::2::3",
    ":1::",
    "::1:",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "1:2:3:4:5:6:7:8::",
    "12345::",
    "g::",
    "1.2.3.4",
    "1.2.3.4::",
    "::256.1.1.1",
    "::01.1.1.1",
    "fe80::1%eth0",
    " ::1",
  ];
  for (const b of bad) assert.equal(parseIPv6(b), undefined, JSON.stringify(b));
});

Deno.test("ipv6: format/parse round trip (property)", () => {
  fc.assert(fc.property(anyAddress, (a) => parseIPv6(formatIPv6(a)) === a));
  fc.assert(
    fc.property(anyAddress, (a) => {
      const t = formatIPv6(a);
      return canonicalIPv6(t) === t && t === t.toLowerCase() && !/(^|:)0[0-9a-f]/.test(t);
    }),
  );
});

Deno.test("ipv6: bytes round trip and compare", () => {
  fc.assert(fc.property(anyAddress, (a) => bytesToIPv6(ipv6ToBytes(a)) === a));
  fc.assert(
    fc.property(anyAddress, anyAddress, (a, b) => {
      const byBytes = Buffer.compare(ipv6ToBytes(a), ipv6ToBytes(b));
      return Math.sign(byBytes) === compareIPv6(a, b);
    }),
  );
  assert.throws(() => bytesToIPv6(new Uint8Array(15)), RangeError);
});

Deno.test("ipv6: prefixes", () => {
  const p = parsePrefix("2001:db8:100::/40");
  assert.ok(p.ok);
  assert.equal(formatPrefix(p.prefix), "2001:db8:100::/40");
  assert.equal(formatIPv6(prefixLast(p.prefix)), "2001:db8:1ff:ffff:ffff:ffff:ffff:ffff");
  assert.ok(prefixContains(p.prefix, parseIPv6("2001:db8:1ab::1")!));
  assert.ok(!prefixContains(p.prefix, parseIPv6("2001:db8:200::")!));
  assert.deepEqual(parsePrefix("2001:db8::1/64"), { ok: false, reason: "host-bits" });
  const loose = parsePrefix("2001:db8::1/64", false);
  assert.ok(loose.ok && formatPrefix(loose.prefix) === "2001:db8::/64");
  assert.deepEqual(parsePrefix("2001:db8::/129"), { ok: false, reason: "length" });
  assert.deepEqual(parsePrefix("2001:db8::"), { ok: false, reason: "syntax" });
  assert.deepEqual(parsePrefix("2001:zz8::/32"), { ok: false, reason: "address" });
  const all = parsePrefix("::/0");
  assert.ok(all.ok && prefixLast(all.prefix) === IPV6_MAX);
  const q = parsePrefix("2001:db8:180::/44");
  assert.ok(q.ok && prefixContainsPrefix(p.prefix, q.prefix));
  assert.ok(!prefixContainsPrefix(q.prefix, p.prefix));
});

Deno.test("ipv6: ranges, nth address and nth prefix", () => {
  const start = parseIPv6("fd00::ffff:ffff:ffff:fff0")!;
  const r = { start, end: start + 0x1fn };
  assert.equal(rangeSize(r), 32n);
  assert.equal(formatIPv6(nthAddress(r, 16)!), "fd00:0:0:1::");
  assert.equal(nthAddress(r, 32), undefined);
  assert.equal(nthAddress(r, -1), undefined);
  assert.ok(rangesOverlap(r, { start: r.end, end: r.end + 5n }));
  assert.ok(!rangesOverlap(r, { start: r.end + 1n, end: r.end + 5n }));
  assert.equal(addIPv6(IPV6_MAX, 1), undefined);
  assert.equal(addIPv6(0n, -1), undefined);
  assert.equal(addIPv6(1n, 2n), 3n);
  const p48 = parsePrefix("2001:db8:7::/48");
  assert.ok(p48.ok);
  assert.equal(formatPrefix(nthPrefix(p48.prefix, 56, 3)!), "2001:db8:7:300::/56");
  assert.equal(formatPrefix(nthPrefix(p48.prefix, 56, 255)!), "2001:db8:7:ff00::/56");
  assert.equal(nthPrefix(p48.prefix, 56, 256), undefined);
  assert.equal(nthPrefix(p48.prefix, 40, 0), undefined);
});
