import assert from "node:assert/strict";
import fc from "fast-check";
import { errorToJson } from "../../lib/wire/errors.ts";
import { Deframer, type Frame, frameMessage } from "../../lib/wire/framing.ts";
import { hex } from "./helpers.ts";

/** Pushes `stream` cut at `cuts` (sorted offsets) and collects every frame. */
function feed(d: Deframer, stream: Uint8Array, cuts: number[]): Frame[] {
  const out: Frame[] = [];
  let prev = 0;
  for (const c of [...cuts, stream.length]) {
    const r = d.push(stream.subarray(prev, c));
    assert.equal(r.error, undefined);
    out.push(...r.frames);
    prev = c;
  }
  return out;
}

const messages = fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 });

Deno.test("framing: random segmentations give back the same frames and offsets", () => {
  fc.assert(
    fc.property(
      messages,
      fc.array(fc.nat(), { maxLength: 40 }),
      (msgs, rawCuts) => {
        const stream = new Uint8Array(msgs.reduce((n, m) => n + 2 + m.length, 0));
        const offsets: number[] = [];
        let at = 0;
        for (const m of msgs) {
          offsets.push(at);
          stream.set(frameMessage(m), at);
          at += 2 + m.length;
        }
        const cuts = [...new Set(rawCuts.map((c) => c % (stream.length + 1)))].sort((a, b) =>
          a - b
        );
        const d = new Deframer();
        const frames = feed(d, stream, cuts);
        assert.deepStrictEqual(frames.map((f) => f.data), msgs);
        assert.deepStrictEqual(frames.map((f) => f.offset), offsets);
        assert.deepStrictEqual(frames.map((f) => f.size), msgs.map((m) => m.length));
        assert.equal(d.buffered, 0);
        assert.equal(d.offset, stream.length);
        assert.equal(d.finish(), undefined);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("framing: one octet at a time and all at once agree", () => {
  const stream = new Uint8Array([
    ...frameMessage(hex("01020304")),
    ...frameMessage(hex("")),
    ...frameMessage(hex("ff")),
  ]);
  const a = feed(new Deframer(), stream, Array.from({ length: stream.length }, (_, i) => i));
  const b = feed(new Deframer(), stream, []);
  assert.deepStrictEqual(a, b);
  assert.deepStrictEqual(a.map((f) => f.size), [4, 0, 1]);
});

Deno.test("framing: frames are copies, not views of pushed chunks", () => {
  const chunk = frameMessage(hex("aabb"));
  const d = new Deframer();
  const [f] = d.push(chunk).frames;
  chunk.fill(0);
  assert.deepStrictEqual(f.data, hex("aabb"));
});

Deno.test("framing: oversize guard reports frame-too-large and stops the deframer", () => {
  const d = new Deframer({ maxFrameSize: 100 });
  const ok = frameMessage(new Uint8Array(100));
  const r1 = d.push(ok);
  assert.equal(r1.frames.length, 1);
  const r2 = d.push(hex("0065 00"));
  assert.deepStrictEqual(r2.frames, []);
  assert.deepStrictEqual(errorToJson(r2.error!), {
    kind: "frame-too-large",
    declaredSize: 101,
    maxSize: 100,
  });
  assert.equal(r2.error!.offset, 102);
  const r3 = d.push(frameMessage(hex("01")));
  assert.deepStrictEqual(r3.frames, []);
  assert.equal(r3.error, r2.error);
  assert.equal(d.error, r2.error);
});

Deno.test("framing: finish() reports a frame cut by the end of the stream", () => {
  const d = new Deframer();
  d.push(hex("0258"));
  d.push(new Uint8Array(30));
  assert.deepStrictEqual(errorToJson(d.finish()!), {
    kind: "frame-truncated",
    declaredSize: 600,
    availableSize: 30,
  });
  const e = new Deframer();
  e.push(hex("02"));
  assert.deepStrictEqual(errorToJson(e.finish()!), { kind: "frame-truncated", availableSize: 0 });
});

Deno.test("framing: frameMessage rejects messages over 65535 octets", () => {
  assert.equal(frameMessage(new Uint8Array(65535)).length, 65537);
  assert.throws(() => frameMessage(new Uint8Array(65536)));
});
