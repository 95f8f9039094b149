/** pcapng writer and frame builders: round trips, and byte-exact rebuilds of oracle frames. */

import assert from "node:assert/strict";
import {
  buildTcp6Frame,
  buildUdp6Frame,
  internetChecksum,
  TcpConversation,
} from "../../lib/capture/build.ts";
import { dissect } from "../../lib/capture/dissect.ts";
import { LinkType } from "../../lib/capture/linktype.ts";
import { readCapture } from "../../lib/capture/reader.ts";
import { readTransport } from "../../lib/capture/transport.ts";
import { encodeEnhancedPacket, PcapngWriter } from "../../lib/capture/writer.ts";
import { chunked, collect, concat } from "./_helpers.ts";

const DIR = new URL("../../../shared/captures/", import.meta.url);
const oracle = await Deno.stat(DIR).then(() => true, () => false);

function memorySink() {
  const chunks: Uint8Array[] = [];
  return { chunks, write: (c: Uint8Array) => void chunks.push(c), bytes: () => concat(chunks) };
}

Deno.test({
  name: "builders reproduce oracle frames byte for byte (UDP and TCP checksums)",
  ignore: !oracle,
  fn: async () => {
    const checks: [string, number][] = [
      ["dhcpv6-4way.pcapng", 1],
      ["dhcpv6-4way.pcapng", 2],
      ["failover-session.pcapng", 1],
      ["failover-session.pcapng", 5],
      ["failover-session.pcapng", 19],
    ];
    for (const [name, frame] of checks) {
      const recs = await collect(readCapture(await Deno.readFile(new URL(name, DIR))));
      const rec = recs[frame - 1];
      const d = dissect(rec);
      const mac = (at: number) => rec.data.subarray(at, at + 6);
      const common = {
        srcMac: mac(6),
        dstMac: mac(0),
        src: d.kind === "udp" || d.kind === "tcp" ? d.ip.src : "",
        dst: d.kind === "udp" || d.kind === "tcp" ? d.ip.dst : "",
        hopLimit: d.kind === "udp" || d.kind === "tcp" ? d.ip.hopLimit : 0,
      };
      let built: Uint8Array;
      if (d.kind === "udp") {
        built = buildUdp6Frame({ ...common, sport: d.sport, dport: d.dport, payload: d.payload });
      } else if (d.kind === "tcp") {
        built = buildTcp6Frame({
          ...common,
          sport: d.sport,
          dport: d.dport,
          seq: d.seq,
          ack: d.ack,
          flags: d.flags,
          window: d.window,
          payload: d.payload,
        });
      } else {
        throw new Error(`${name} frame ${frame} is ${d.kind}`);
      }
      assert.deepEqual(built, rec.data, `${name} frame ${frame}`);
    }
  },
});

Deno.test("checksum: a built segment sums to zero with its pseudo-header", () => {
  const f = buildTcp6Frame({
    src: "2001:db8::1",
    dst: "2001:db8::2",
    sport: 1,
    dport: 2,
    seq: 3,
    flags: { syn: true },
    options: Uint8Array.of(2, 4, 5, 0xa0),
    payload: Uint8Array.of(1, 2, 3),
  });
  const p = 14 + 40;
  const len = f.length - p;
  const pseudo = concat([
    f.subarray(22, 54),
    Uint8Array.of(0, 0, len >> 8, len & 0xff, 0, 0, 0, 6),
  ]);
  assert.equal(internetChecksum(concat([pseudo, f.subarray(p)])), 0);
  const d = dissect({
    frame: 1,
    timestamp: null,
    format: "pcapng",
    linkType: 1,
    capturedLength: f.length,
    originalLength: f.length,
    data: f,
    offset: 0,
  });
  assert.equal(d.kind === "tcp" && d.payload.length, 3, "options skipped via the data offset");
});

Deno.test("writer round trip: interfaces, µs and ns timestamps, cut frames, VLAN tags", async () => {
  const sink = memorySink();
  const w = new PcapngWriter(sink, { bufferBytes: 64 });
  const eth = w.addInterface({ linkType: LinkType.ETHERNET, name: "eth0" });
  const fine = w.addInterface({ linkType: LinkType.ETHERNET, nanoseconds: true, snapLength: 200 });
  const udp = buildUdp6Frame({
    src: "fe80::1",
    dst: "ff02::1:2",
    sport: 546,
    dport: 547,
    payload: Uint8Array.of(1, 0xab, 0xcd, 0xef),
    vlanIds: [10, 20],
  });
  await w.writePacket({ interfaceId: eth, timestampMs: 1709294400123, data: udp });
  await w.writePacket({
    interfaceId: fine,
    timestampNs: 1709294400123456789n,
    data: udp.subarray(0, 60),
    originalLength: udp.length,
  });
  await w.writePacket({ interfaceId: fine, timestampMs: 1.5, data: udp });
  await assert.rejects(() => w.writePacket({ interfaceId: 5, data: udp }), RangeError);
  await w.close();
  assert.equal(w.bytesWritten, sink.bytes().length);
  const recs = await collect(readCapture(sink.bytes()));
  assert.deepEqual(
    recs.map((r) => [r.frame, r.interface, r.timestamp, r.capturedLength, r.originalLength]),
    [
      [1, 0, "1709294400.123000", udp.length, udp.length],
      [2, 1, "1709294400.123456789", 60, udp.length],
      [3, 1, "0.001500000", udp.length, udp.length],
    ],
  );
  const d = dissect(recs[0]);
  assert.equal(d.kind, "udp");
  assert.deepEqual(
    d.kind === "udp" && [d.vlanIds, d.ip.src, d.ip.dst, d.sport, d.dport, [...d.payload]],
    [
      [10, 20],
      "fe80::1",
      "ff02::1:2",
      546,
      547,
      [1, 0xab, 0xcd, 0xef],
    ],
  );
  assert.equal(dissect(recs[1]).truncated, true);
  // The pure encoder agrees with the buffered writer.
  const epb = encodeEnhancedPacket({ timestampMs: 1709294400123, data: udp });
  assert.ok(indexOf(sink.bytes(), epb) > 0);
});

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let k = 0; k < needle.length; k++) if (hay[i + k] !== needle[k]) continue outer;
    return i;
  }
  return -1;
}

Deno.test("TcpConversation recorded with the writer reassembles to the sent streams", async () => {
  const conv = new TcpConversation(
    { address: "2001:db8:f0::1", port: 49152, isn: 0xffff_ff00 },
    { address: "2001:db8:f0::2", port: 647 },
    { mss: 100 },
  );
  const c2s = Uint8Array.from({ length: 450 }, (_, i) => i & 0xff);
  const s2c = Uint8Array.from({ length: 120 }, (_, i) => (i * 3) & 0xff);
  const frames = [
    ...conv.handshake(),
    ...conv.send("client", c2s),
    ...conv.send("server", s2c),
    conv.ack("client"),
    conv.close("client"),
    conv.close("server"),
    conv.ack("client"),
  ];
  const sink = memorySink();
  const w = new PcapngWriter(sink);
  w.addInterface({ linkType: LinkType.ETHERNET });
  for (const [i, data] of frames.entries()) await w.writePacket({ timestampMs: 1000 + i, data });
  await w.close();
  const events = await collect(readTransport(chunked(sink.bytes(), [4096, 7])));
  const tcpEvents = events.filter((e) =>
    e.kind !== "udp" && e.kind !== "skipped" && e.kind !== "malformed"
  );
  assert.equal(tcpEvents.length, events.length, "nothing but TCP");
  const streamData = (dir: string) =>
    concat(events.flatMap((e) => e.kind === "data" && e.stream.dir === dir ? [e.bytes] : []));
  assert.deepEqual(streamData("initiator"), c2s);
  assert.deepEqual(streamData("responder"), s2c);
  const ends = events.filter((e) => e.kind === "end");
  assert.deepEqual(ends.map((e) => e.kind === "end" && [e.stream.dir, e.reason, e.streamOffset]), [
    ["initiator", "fin", 450],
    ["responder", "fin", 120],
  ]);
  const open = events.find((e) => e.kind === "open");
  assert.ok(open?.kind === "open");
  assert.deepEqual([open.stream.src, open.stream.sport, open.midstream], [
    "2001:db8:f0::1",
    49152,
    false,
  ]);
});

Deno.test("writer to a WritableStream (a real file), read back through Deno.open", async () => {
  const path = await Deno.makeTempFile({ suffix: ".pcapng" });
  try {
    const file = await Deno.open(path, { write: true, truncate: true });
    const w = new PcapngWriter(file.writable, { bufferBytes: 1024 });
    w.addInterface({ linkType: LinkType.ETHERNET });
    const n = 300;
    for (let i = 0; i < n; i++) {
      const data = buildUdp6Frame({
        src: "2001:db8::1",
        dst: "2001:db8::2",
        sport: 547,
        dport: 547,
        payload: new Uint8Array(i % 50),
      });
      await w.writePacket({ timestampNs: BigInt(i) * 1000n, data });
    }
    await w.close();
    using input = await Deno.open(path);
    let count = 0;
    for await (const r of readCapture(input.readable)) {
      count++;
      const d = dissect(r);
      assert.equal(d.kind === "udp" && d.payload.length, (count - 1) % 50);
    }
    assert.equal(count, n);
  } finally {
    await Deno.remove(path);
  }
});
