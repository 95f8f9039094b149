import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeMessage } from "../../lib/wire/decode.ts";
import { encodeMessage } from "../../lib/wire/encode.ts";
import { messageToJson } from "../../lib/wire/render.ts";
import { bndupd, message } from "./arbitraries.ts";

Deno.test("law 2: typed message -> encode -> decode gives the same values (all types 1-35)", () => {
  fc.assert(
    fc.property(message, (m) => {
      const r = decodeMessage(encodeMessage(m));
      assert.deepEqual(r.errors, []);
      assert.deepStrictEqual(r.message, m);
    }),
    { numRuns: 1000 },
  );
});

Deno.test("law 1: decode -> encode is byte-identical for well-formed encodings", () => {
  fc.assert(
    fc.property(message, (m) => {
      const bytes = encodeMessage(m);
      const r = decodeMessage(bytes);
      assert.ok(r.message);
      assert.deepStrictEqual(encodeMessage(r.message), bytes);
    }),
    { numRuns: 1000 },
  );
});

Deno.test("law 2 on BNDUPD trees (CLIENT_DATA > IA_NA/IA_PD > IAADDR/IAPREFIX > F_*)", () => {
  fc.assert(
    fc.property(bndupd, (m) => {
      const bytes = encodeMessage(m);
      const r = decodeMessage(bytes);
      assert.deepEqual(r.errors, []);
      assert.deepStrictEqual(r.message, m);
      assert.deepStrictEqual(encodeMessage(r.message!), bytes);
    }),
    { numRuns: 300 },
  );
});

const FIXED: Record<number, number> = { 3: 12, 4: 4, 5: 24, 25: 12, 26: 25, 45: 0, 116: 0 };

/** Walks JSON and octets together: each option's code and `length` must match the wire. */
function checkOptions(
  options: Record<string, unknown>[],
  bytes: Uint8Array,
  start: number,
): number {
  let i = start;
  for (const o of options) {
    assert.equal((bytes[i] << 8) | bytes[i + 1], o.code);
    assert.equal((bytes[i + 2] << 8) | bytes[i + 3], o.length);
    const code = o.code as number;
    if (Array.isArray(o.options)) {
      const end = checkOptions(o.options as Record<string, unknown>[], bytes, i + 4 + FIXED[code]);
      assert.equal(end, i + 4 + (o.length as number));
    }
    if (o.message) {
      checkMessage(o.message as Record<string, unknown>, bytes, i + 4 + (code === 47 ? 16 : 0));
    }
    i += 4 + (o.length as number);
  }
  return i;
}

function checkMessage(json: Record<string, unknown>, bytes: Uint8Array, at: number): number {
  assert.equal(bytes[at], json.msgType);
  const hdr = json.hopCount !== undefined ? 34 : json.sentTime !== undefined ? 8 : 4;
  return checkOptions(json.options as Record<string, unknown>[], bytes, at + hdr);
}

Deno.test("JSON option lengths agree with the encoding at every level", () => {
  fc.assert(
    fc.property(message, (m) => {
      const bytes = encodeMessage(m);
      assert.equal(checkMessage(messageToJson(m), bytes, 0), bytes.length);
    }),
    { numRuns: 300 },
  );
});
