import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeMessage } from "../../lib/wire/decode.ts";
import { encodeMessage } from "../../lib/wire/encode.ts";
import type { WireErrorKind } from "../../lib/wire/errors.ts";
import { messageToJson, renderMessage } from "../../lib/wire/render.ts";
import { bndupd, message } from "./arbitraries.ts";

const DECODE_KINDS: ReadonlySet<WireErrorKind> = new Set([
  "message-too-short",
  "option-overrun",
  "option-too-short",
  "option-bad-length",
  "invalid-value",
  "trailing-octets",
  "relay-nesting-too-deep",
  "option-nesting-too-deep",
]);

/** A valid encoding plus a list of bit flips and an optional cut. */
const mutated = fc.record({
  m: fc.oneof(message, bndupd),
  flips: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
  cut: fc.option(fc.nat(), { nil: undefined }),
}).map(({ m, flips, cut }) => {
  const b = encodeMessage(m);
  for (const f of flips) {
    const bit = f % (b.length * 8);
    b[bit >> 3] ^= 1 << (bit & 7);
  }
  return cut === undefined ? b : b.slice(0, cut % (b.length + 1));
});

function checkTyped(bytes: Uint8Array): void {
  const r = decodeMessage(bytes);
  for (const e of r.errors) {
    assert.ok(DECODE_KINDS.has(e.kind), `unexpected kind ${e.kind}`);
    assert.equal(typeof e.path, "string");
    assert.ok(Number.isInteger(e.offset) && e.offset >= 0 && e.offset <= bytes.length);
    assert.equal(typeof e.message, "string");
  }
  if (r.message === undefined) {
    assert.equal(r.errors[0].kind, "message-too-short");
    return;
  }
  // Rendering a damaged message never throws either.
  messageToJson(r.message);
  renderMessage(r.message, r.errors);
  // Malformed parts are kept raw, so the octets come back exactly unless some were dropped.
  if (!r.errors.some((e) => e.kind === "trailing-octets")) {
    assert.deepStrictEqual(encodeMessage(r.message), bytes);
  }
}

Deno.test("mutation: bit flips and truncations never throw; errors are typed", () => {
  fc.assert(fc.property(mutated, checkTyped), { numRuns: 1000 });
});

Deno.test("mutation: random octet strings never throw", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), checkTyped),
    { numRuns: 1000 },
  );
});

Deno.test("mutation: every prefix of a BNDUPD decodes without throwing", () => {
  fc.assert(
    fc.property(bndupd, (m) => {
      const b = encodeMessage(m);
      for (let n = 0; n <= b.length; n++) checkTyped(b.slice(0, n));
    }),
    { numRuns: 50 },
  );
});
