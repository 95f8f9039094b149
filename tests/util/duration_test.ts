import assert from "node:assert/strict";
import fc from "fast-check";
import { formatDuration, parseDuration } from "../../lib/util/duration.ts";

function seconds(text: string): number {
  const r = parseDuration(text);
  if (!r.ok) throw new Error(`${text}: ${r.error.message} at ${r.error.offset}`);
  return r.seconds;
}

function error(text: string): { message: string; offset: number } {
  const r = parseDuration(text);
  assert.equal(r.ok, false, `${text} should not parse`);
  return (r as { ok: false; error: { message: string; offset: number } }).error;
}

Deno.test("parseDuration reads the short forms of the issue", () => {
  assert.equal(seconds("90"), 90);
  assert.equal(seconds("90s"), 90);
  assert.equal(seconds("45m"), 2700);
  assert.equal(seconds("1h30m"), 5400);
  assert.equal(seconds("3d"), 259200);
  assert.equal(seconds("1.5d"), 129600);
  assert.equal(seconds("2w"), 1209600);
  assert.equal(seconds("1d 12h"), 129600);
  assert.equal(seconds(" 3H "), 10800);
  assert.equal(seconds("0"), 0);
  assert.equal(seconds("1.1h"), 3960);
});

Deno.test("parseDuration reads ISO 8601 durations", () => {
  assert.equal(seconds("P3D"), 259200);
  assert.equal(seconds("PT1H"), 3600);
  assert.equal(seconds("P1DT12H"), 129600);
  assert.equal(seconds("PT1H30M15S"), 5415);
  assert.equal(seconds("PT0.5H"), 1800);
  assert.equal(seconds("PT0,5H"), 1800);
  assert.equal(seconds("P1W"), 604800);
  assert.equal(seconds("pt10m"), 600);
});

Deno.test("parseDuration refuses bad text and says where", () => {
  assert.match(error("").message, /empty/);
  assert.match(error("-5m").message, /negative/);
  assert.equal(error("  -5m").offset, 2);
  assert.match(error("abc").message, /expected a number/);
  assert.equal(error("1h30").offset, 4);
  assert.match(error("1x").message, /unknown unit "x"/);
  assert.equal(error("1x").offset, 1);
  assert.match(error("30m1h").message, /out of order/);
  assert.match(error("1h1h").message, /repeated/);
  assert.match(error("1.5").message, /whole number of seconds/);
  assert.match(error("P1M").message, /months have no fixed length/);
  assert.match(error("P1Y").message, /years/);
  assert.match(error("P").message, /at least one part/);
  assert.match(error("PT").message, /"T" must be followed/);
  assert.match(error("PT1H2D").message, /unknown time unit/);
  assert.match(error("PT0.5H1M").message, /only the last part may have a fraction/);
  assert.match(error("P1D1D").message, /repeated or out of order/);
  assert.match(error("99999999999999999999d").message, /too large/);
});

Deno.test("formatDuration renders largest unit first and parses back", () => {
  assert.equal(formatDuration(0), "0s");
  assert.equal(formatDuration(3600), "1h");
  assert.equal(formatDuration(261000), "3d30m");
  assert.equal(formatDuration(133200), "1d13h");
  assert.equal(formatDuration(-90), "-1m30s");
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (n) => {
      assert.equal(seconds(formatDuration(n)), n);
    }),
    { numRuns: 300 },
  );
});

Deno.test("parseDuration never throws on arbitrary text", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 24 }), (text) => {
      const r = parseDuration(text);
      if (r.ok) assert.ok(Number.isSafeInteger(r.seconds) && r.seconds >= 0);
      else assert.ok(r.error.offset >= 0 && r.error.offset <= text.length);
    }),
    { numRuns: 500 },
  );
});
