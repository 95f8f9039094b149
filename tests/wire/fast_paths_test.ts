/**
 * The codec's fast paths give the answers of the general ones: `encodeFrames` ≡ one
 * `frameMessage(encodeMessage(m))` per message (errors included), the allocation-free IPv6
 * parser ≡ the general one, `isFormattedIPv6` ≡ comparing with `formatIPv6Bytes`, `hexToBytes`' fast path ≡ its separator-stripping rule, and
 * errors found on the fast encoding path still name their field.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeFrames, encodeMessage } from "../../lib/wire/encode.ts";
import { Deframer, frameMessage } from "../../lib/wire/framing.ts";
import {
  formatIPv6Bytes,
  isFormattedIPv6,
  parseIPv6Bytes,
  parseIPv6Into,
} from "../../lib/util/ipv6_octets.ts";
import { hexToBytes } from "../../lib/wire/bytes.ts";
import { WireEncodeError } from "../../lib/wire/errors.ts";
import { failoverMessage, iaAddr, iaNa } from "../../lib/wire/options.ts";
import type { Message } from "../../lib/wire/types.ts";
import { parseIPv6 } from "../../lib/util/ipv6.ts";
import { message } from "./arbitraries.ts";

/** What `encodeMessage` + `frameMessage` give for one message: the frame, or the error. */
function framed(m: Message): Uint8Array | Error {
  try {
    return frameMessage(encodeMessage(m));
  } catch (e) {
    return e as Error;
  }
}

/** A message whose IAADDR cannot be encoded (not an address). */
const BAD: Message = failoverMessage(24, 7, 800000000, [
  iaNa(1, 0, 0, [iaAddr("2001:db8::zz", 0, 0)]),
]);

Deno.test("encodeFrames: the frames of encodeMessage + frameMessage, back to back", () => {
  fc.assert(
    fc.property(fc.array(fc.oneof({ weight: 9, arbitrary: message }, fc.constant(BAD))), (ms) => {
      const errors: [Message, unknown][] = [];
      const { data, bounds } = encodeFrames(ms, (m, e) => errors.push([m, e]));
      const expected = ms.map(framed);
      const good = expected.filter((x): x is Uint8Array => x instanceof Uint8Array);
      assert.deepEqual(data, new Uint8Array(good.flatMap((b) => [...b])));
      let at = 0;
      ms.forEach((m, i) => {
        const x = expected[i];
        if (x instanceof Uint8Array) {
          assert.deepEqual([bounds[2 * i], bounds[2 * i + 1]], [at + 2, at + x.length]);
          assert.deepEqual(data.subarray(bounds[2 * i], bounds[2 * i + 1]), encodeMessage(m));
          at += x.length;
        } else {
          assert.deepEqual([bounds[2 * i], bounds[2 * i + 1]], [-1, -1]);
        }
      });
      // Each message left out is reported with the error encodeMessage throws for it.
      assert.deepEqual(
        errors.map(([m, e]) => [m, (e as Error).message]),
        ms.flatMap((m, i) => {
          const x = expected[i];
          return x instanceof Error ? [[m, x.message]] : [];
        }),
      );
    }),
    { numRuns: 300 },
  );
});

Deno.test("encodeFrames: a message over 65535 octets is left out as frameMessage would", () => {
  const big = failoverMessage(24, 1, 0, [{ code: 18, interfaceId: new Uint8Array(65530) }]);
  const small = failoverMessage(35, 2, 0);
  const errors: unknown[] = [];
  const { data, bounds } = encodeFrames([big, small], (_, e) => errors.push(e));
  assert.deepEqual(data, frameMessage(encodeMessage(small)));
  assert.deepEqual(bounds, [-1, -1, 2, 10]);
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof WireEncodeError);
  assert.match((errors[0] as Error).message, /exceeds 65535/);
});

Deno.test("encodeMessage: the fast path's failures still throw the error naming the field", () => {
  assert.throws(
    () => encodeMessage(BAD),
    (e: unknown) => e instanceof WireEncodeError && e.path === "IA_NA[0].IAADDR[0].address",
  );
  // And a message that encodes is the same through encodeFrames.
  const ok = failoverMessage(24, 7, 800000000, [iaNa(1, 0, 0, [iaAddr("2001:db8::1", 0, 0)])]);
  const { data } = encodeFrames([ok]);
  assert.deepEqual(data.subarray(2), encodeMessage(ok));
});

Deno.test("parseIPv6Into: the addresses of the general parser, for any text", () => {
  const text = fc.string({
    unit: fc.constantFrom(..."0123456789abcdefABCDEF:.g% ".split("")),
    maxLength: 46,
  });
  const groups = fc.array(fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16)), {
    maxLength: 9,
  });
  const shaped = fc.tuple(groups, groups, fc.boolean()).map(([a, b, dbl]) =>
    dbl ? `${a.join(":")}::${b.join(":")}` : a.join(":")
  );
  fc.assert(
    fc.property(fc.oneof(text, shaped), (t) => {
      const bytes = parseIPv6Bytes(t);
      const out = new Uint8Array(20).fill(0xee);
      assert.equal(parseIPv6Into(t, out, 2), bytes !== undefined);
      if (bytes) assert.deepEqual(out.subarray(2, 18), bytes);
      else assert.deepEqual(out, new Uint8Array(20).fill(0xee)); // untouched
      // Hex-and-colon text: the same answer as lib/util's parser.
      if (!t.includes(".")) {
        const v = parseIPv6(t);
        assert.equal(bytes === undefined, v === undefined, t);
        if (bytes && v !== undefined) {
          assert.equal(
            BigInt(`0x${[...bytes].map((x) => x.toString(16).padStart(2, "0")).join("")}`),
            v,
          );
        }
      }
    }),
    { numRuns: 20000 },
  );
  assert.deepEqual([...parseIPv6Bytes("::ffff:192.0.2.1")!.subarray(10)], [255, 255, 192, 0, 2, 1]);
});

Deno.test("hexToBytes: plain hex and hex with separators give the same octets", () => {
  const reference = (t: string): number[] | undefined => {
    const clean = t.replace(/[\s:.\-]/g, "");
    if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) return undefined;
    return clean.match(/../g)?.map((h) => parseInt(h, 16)) ?? [];
  };
  fc.assert(
    fc.property(
      fc.string({ unit: fc.constantFrom(..."0123456789abcdefABCDEFxyz:-. ".split("")) }),
      (t) => {
        const b = hexToBytes(t);
        assert.deepEqual(b === undefined ? undefined : [...b], reference(t));
      },
    ),
    { numRuns: 5000 },
  );
});

Deno.test("Deframer: any cut of the stream gives the frames, errors and counts of one octet at a time", () => {
  const frame = fc.uint8Array({ maxLength: 40 }).map((d) => frameMessage(d));
  const junk = fc.uint8Array({ minLength: 1, maxLength: 5 });
  type Seen = { frames: [number, number, number[]][]; error?: string; buffered: number };
  const run = (stream: Uint8Array, cuts: number[], max: number): Seen => {
    const d = new Deframer({ maxFrameSize: max });
    const seen: Seen = { frames: [], buffered: 0 };
    let at = 0;
    for (let i = 0; at < stream.length; i++) {
      const size = i < cuts.length ? cuts[i] : stream.length - at;
      const r = d.push(stream.slice(at, at + size));
      for (const f of r.frames) seen.frames.push([f.offset, f.size, [...f.data]]);
      if (r.error) seen.error = r.error.message;
      at += size;
    }
    // After an error the deframer takes nothing more: what it holds depends on the cuts.
    seen.buffered = seen.error === undefined ? d.buffered : -1;
    return seen;
  };
  fc.assert(
    fc.property(
      fc.array(fc.oneof({ weight: 8, arbitrary: frame }, junk), { maxLength: 20 }),
      fc.array(fc.nat({ max: 60 }), { maxLength: 30 }),
      fc.integer({ min: 0, max: 45 }),
      (parts, cuts, max) => {
        const stream = new Uint8Array(parts.flatMap((p) => [...p]));
        const ones = new Array<number>(stream.length).fill(1);
        assert.deepEqual(run(stream, cuts, max), run(stream, ones, max));
      },
    ),
    { numRuns: 3000 },
  );
});

/** 16 octets with runs of zero groups and IPv4-mapped forms common. */
const octets16: fc.Arbitrary<Uint8Array> = fc.array(
  fc.oneof(fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff })),
  { minLength: 8, maxLength: 8 },
).map((g) => {
  const b = new Uint8Array(16);
  g.forEach((v, i) => {
    b[2 * i] = v >> 8;
    b[2 * i + 1] = v & 0xff;
  });
  return b;
});

Deno.test("isFormattedIPv6: true exactly for the text formatIPv6Bytes gives", () => {
  fc.assert(
    fc.property(
      octets16,
      fc.constantFrom("same", "upper", "expanded", "padded", "suffix", "other"),
      octets16,
      (b, how, other) => {
        const text = formatIPv6Bytes(b);
        const variant = how === "same"
          ? text
          : how === "upper"
          ? text.toUpperCase()
          : how === "expanded"
          ? Array.from({ length: 8 }, (_, i) => ((b[2 * i] << 8) | b[2 * i + 1]).toString(16))
            .join(":")
          : how === "padded"
          ? text.replace(/(^|:)([0-9a-f]{1,3})(?=:|$)/, "$10$2")
          : how === "suffix"
          ? text + "0"
          : formatIPv6Bytes(other);
        assert.equal(isFormattedIPv6(b, 0, variant), variant === text, `${how}: ${variant}`);
      },
    ),
    { numRuns: 3000 },
  );
  // At an offset, as the decoder reads addresses.
  const buf = new Uint8Array(20);
  buf.set([0x20, 0x01, 0x0d, 0xb8], 4);
  buf[19] = 1;
  assert.equal(isFormattedIPv6(buf, 4, "2001:db8::1"), true);
  assert.equal(isFormattedIPv6(buf, 4, "2001:db8:0::1"), false);
});
