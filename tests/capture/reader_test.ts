/** Synthetic captures for what the oracle files lack: byte orders, resolutions, blocks, errors. */

import assert from "node:assert/strict";
import { CaptureError } from "../../lib/capture/errors.ts";
import { readCapture } from "../../lib/capture/reader.ts";
import type { OtherBlock } from "../../lib/capture/record.ts";
import { formatUnitsTimestamp } from "../../lib/capture/timestamp.ts";
import {
  chunked,
  collect,
  collectUntilError,
  concat,
  pcapFile,
  pcapngSection,
} from "./_helpers.ts";

const P1 = Uint8Array.of(1, 2, 3, 4, 5);
const P2 = Uint8Array.of(9, 8, 7);

for (const le of [true, false]) {
  for (const nano of [false, true]) {
    Deno.test(`pcap ${le ? "little" : "big"}-endian, ${nano ? "nano" : "micro"}second magic`, async () => {
      const file = pcapFile({ le, nano, linkType: 1 }, [
        { sec: 1709294400, frac: nano ? 123456789 : 123456, data: P1 },
        { sec: 1709294401, frac: 7, data: P2, orig: 60 },
      ]);
      const recs = await collect(readCapture(file));
      assert.equal(recs.length, 2);
      assert.deepEqual(
        recs.map((r) => r.timestamp),
        nano
          ? ["1709294400.123456789", "1709294401.000000007"]
          : ["1709294400.123456", "1709294401.000007"],
      );
      assert.deepEqual(
        recs.map((r) => [r.frame, r.format, r.linkType, r.capturedLength, r.originalLength]),
        [
          [1, "pcap", 1, 5, 5],
          [2, "pcap", 1, 3, 60],
        ],
      );
      assert.deepEqual(recs[1].data, P2);
      assert.equal(recs[0].section, undefined);
      assert.equal(recs[0].interface, undefined);
      assert.deepEqual(recs.map((r) => r.offset), [24, 24 + 16 + 5]);
    });
  }
}

Deno.test("pcap link-type field: FCS bits above the low 16 are ignored", async () => {
  const file = pcapFile({ le: true, linkType: 0x1000_0000 | 113 }, [{ sec: 1, frac: 0, data: P1 }]);
  const [r] = await collect(readCapture(file));
  assert.equal(r.linkType, 113);
});

Deno.test("pcap microsecond fraction above one second is carried", async () => {
  const file = pcapFile({ le: true, linkType: 1 }, [{ sec: 10, frac: 2_500_000, data: P1 }]);
  const [r] = await collect(readCapture(file));
  assert.equal(r.timestamp, "12.500000");
});

for (const le of [true, false]) {
  Deno.test(`pcapng ${le ? "little" : "big"}-endian: interfaces, tsresol, tsoffset, EPB/SPB/OPB, other blocks`, async () => {
    const file = pcapngSection(le, [
      { type: "idb", linkType: 1 },
      { type: "idb", linkType: 276, tsresol: 9 },
      { type: "raw", blockType: 4, body: Uint8Array.of(0, 0, 0, 0) }, // name resolution block
      { type: "epb", ifId: 0, ts: 1709294400_000150n, data: P1 },
      { type: "epb", ifId: 1, ts: 1709294400_000000123n, data: P2, orig: 90 },
      { type: "idb", linkType: 101, tsresol: 3, tsoffset: 100n },
      { type: "epb", ifId: 2, ts: 5_042n, data: P1 },
      { type: "spb", data: P2 },
      { type: "opb", ifId: 1, ts: 2_000000001n, data: P1 },
      { type: "epb", ifId: 0, ts: 0n, data: new Uint8Array(0), orig: 70 },
      { type: "raw", blockType: 0x0bad, body: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) },
    ]);
    const blocks: OtherBlock[] = [];
    const recs = await collect(readCapture(file, { onBlock: (b) => blocks.push(b) }));
    assert.deepEqual(
      recs.map((
        r,
      ) => [
        r.frame,
        r.section,
        r.interface,
        r.linkType,
        r.timestamp,
        r.capturedLength,
        r.originalLength,
      ]),
      [
        [1, 0, 0, 1, "1709294400.000150", 5, 5],
        [2, 0, 1, 276, "1709294400.000000123", 3, 90],
        [3, 0, 2, 101, "105.042000", 5, 5],
        [4, 0, 0, 1, null, 3, 3],
        [5, 0, 1, 276, "2.000000001", 5, 5],
        [6, 0, 0, 1, "0.000000", 0, 70],
      ],
    );
    assert.deepEqual(recs[1].data, P2);
    assert.deepEqual(recs[3].data, P2);
    assert.deepEqual(blocks.map((b) => [b.type, b.section, b.littleEndian, b.body.length]), [
      [4, 0, le, 4],
      [0x0bad, 0, le, 8],
    ]);
  });
}

Deno.test("pcapng several sections with different byte orders restart interface numbering", async () => {
  const file = concat([
    pcapngSection(true, [
      { type: "idb", linkType: 1 },
      { type: "epb", ifId: 0, ts: 1_000000n, data: P1 },
    ]),
    pcapngSection(false, [
      { type: "idb", linkType: 229 },
      { type: "idb", linkType: 113 },
      { type: "epb", ifId: 1, ts: 2_000000n, data: P2 },
      { type: "epb", ifId: 0, ts: 3_000000n, data: P1 },
    ]),
    pcapngSection(true, [
      { type: "idb", linkType: 0 },
      { type: "epb", ifId: 0, ts: 4_000000n, data: P2 },
    ]),
  ]);
  const recs = await collect(readCapture(file));
  assert.deepEqual(recs.map((r) => [r.frame, r.section, r.interface, r.linkType, r.timestamp]), [
    [1, 0, 0, 1, "1.000000"],
    [2, 1, 1, 113, "2.000000"],
    [3, 1, 0, 229, "3.000000"],
    [4, 2, 0, 0, "4.000000"],
  ]);
});

Deno.test("timestamps: binary resolution and negative offsets print exactly", () => {
  // 2^-10 units: 3 * 1024 + 512 = 3.5 s.
  assert.equal(formatUnitsTimestamp(0, 3 * 1024 + 512, { base: 2, exponent: 10 }), "3.500000000");
  assert.equal(formatUnitsTimestamp(0, 250000, { base: 10, exponent: 6 }, -1n), "-0.750000");
  // 1709294400.123456789 s in nanoseconds is above 2^53: the BigInt path stays exact.
  assert.equal(
    formatUnitsTimestamp(0x17b8a233, 0x5fec4d15, { base: 10, exponent: 9 }),
    "1709294400.123456789",
  );
  assert.equal(formatUnitsTimestamp(0, 5, { base: 10, exponent: 12 }), "0.000000000005");
});

Deno.test("streaming: a synthetic capture read in 1-7 octet chunks equals one big chunk", async () => {
  const file = concat([
    pcapngSection(false, [
      { type: "idb", linkType: 1, tsresol: 9 },
      ...Array.from({ length: 40 }, (_, i) => ({
        type: "epb" as const,
        ifId: 0,
        ts: BigInt(i) * 1_000_000_007n,
        data: Uint8Array.from({ length: (i * 37) % 200 }, (_, k) => (k * 7 + i) & 0xff),
      })),
      { type: "raw", blockType: 5, body: new Uint8Array(24) },
    ]),
    pcapngSection(true, [{ type: "idb", linkType: 1 }, { type: "spb", data: P1 }]),
  ]);
  const whole = await collect(readCapture(file));
  assert.equal(whole.length, 41);
  for (const sizes of [[1], [7], [1, 2, 3, 4, 5, 6, 7], [5, 1, 6, 2]]) {
    const parts = await collect(readCapture(chunked(file, sizes)));
    assert.deepEqual(parts, whole, `chunk sizes ${sizes}`);
  }
  const stream = ReadableStream.from(chunked(file, [3, 1, 4, 1, 5]));
  assert.deepEqual(await collect(readCapture(stream)), whole);
});

async function fails(bytes: Uint8Array | AsyncIterable<Uint8Array>) {
  const { records, error } = await collectUntilError(readCapture(bytes));
  assert.ok(error instanceof CaptureError, `expected a CaptureError, got ${error}`);
  return { records, error };
}

Deno.test("errors: not a capture, empty, too short", async () => {
  for (
    const bytes of [
      new TextEncoder().encode("GET / HTTP/1.1\r\n"),
      new Uint8Array(0),
      Uint8Array.of(0xd4, 0xc3),
    ]
  ) {
    const { records, error } = await fails(bytes);
    assert.equal(records.length, 0);
    assert.equal(error.kind, "not-a-capture");
    assert.equal(error.offset, 0);
  }
});

Deno.test("errors: truncated pcap trailing record is reported after the records before it", async () => {
  const file = pcapFile({ le: true, linkType: 1 }, [
    { sec: 1, frac: 0, data: P1 },
    { sec: 2, frac: 0, data: P2 },
    { sec: 3, frac: 0, data: P1 },
  ]);
  const third = 24 + 16 + 5 + 16 + 3;
  for (const cut of [third + 3, third + 16 + 2]) {
    const { records, error } = await fails(chunked(file.subarray(0, cut), [2, 5]));
    assert.equal(records.length, 2);
    assert.equal(error.kind, "truncated");
    assert.equal(error.offset, third);
    assert.equal(error.frame, 3);
  }
  const { error } = await fails(file.subarray(0, 10));
  assert.equal(error.kind, "truncated");
  assert.equal(error.offset, 0);
});

Deno.test("errors: pcap record length beyond the limit", async () => {
  const file = pcapFile({ le: false, linkType: 1 }, [{
    sec: 1,
    frac: 0,
    data: new Uint8Array(100),
  }]);
  const { error } = await collectUntilError(readCapture(file, { maxRecordBytes: 64 }));
  assert.ok(error instanceof CaptureError);
  assert.equal(error.kind, "bad-record-length");
  assert.equal(error.offset, 24);
});

Deno.test("errors: pcapng bad block lengths and truncation carry byte offsets", async () => {
  const good = pcapngSection(true, [
    { type: "idb", linkType: 1 },
    { type: "epb", ifId: 0, ts: 1n, data: P1 },
    { type: "epb", ifId: 0, ts: 2n, data: P2 },
  ]);
  const shb = 28;
  const idb = 20;
  const epb1 = 32 + 8;
  const second = shb + idb + epb1;
  const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset);

  // Leading length not a multiple of 4.
  let bad = good.slice();
  dv(bad).setUint32(second + 4, 37, true);
  let r = await fails(bad);
  assert.deepEqual([r.records.length, r.error.kind, r.error.offset, r.error.frame], [
    1,
    "bad-block-length",
    second + 4,
    2,
  ]);

  // Below the 12-octet minimum.
  bad = good.slice();
  dv(bad).setUint32(second + 4, 8, true);
  r = await fails(bad);
  assert.equal(r.error.kind, "bad-block-length");

  // Trailing length differs from the leading one.
  bad = good.slice();
  dv(bad).setUint32(good.length - 4, 44, true);
  r = await fails(bad);
  assert.deepEqual([r.records.length, r.error.kind, r.error.offset], [
    1,
    "bad-block-length",
    good.length - 4,
  ]);

  // Captured length overruns the block.
  bad = good.slice();
  dv(bad).setUint32(second + 20, 200, true);
  r = await fails(bad);
  assert.equal(r.error.kind, "bad-block-length");

  // File ends inside the last block.
  r = await fails(good.subarray(0, good.length - 6));
  assert.deepEqual([r.records.length, r.error.kind, r.error.offset, r.error.frame], [
    1,
    "truncated",
    second,
    2,
  ]);

  // Unknown interface id.
  bad = good.slice();
  dv(bad).setUint32(second + 8, 3, true);
  r = await fails(bad);
  assert.deepEqual([r.records.length, r.error.kind], [1, "bad-interface-id"]);

  // Bad byte-order magic in a later section header.
  const twoSections = concat([good, pcapngSection(true, [])]);
  bad = twoSections.slice();
  dv(bad).setUint32(good.length + 8, 0x11223344, true);
  r = await fails(bad);
  assert.deepEqual([r.records.length, r.error.kind, r.error.offset], [
    2,
    "bad-section-header",
    good.length + 8,
  ]);
});
