/**
 * The message pipeline behind `failover6 decode` (lib/capture/messages.ts) on captures built
 * here with the wire encoder and the capture builders: STARTTLS, framing lost in a gap and
 * found again, bulk leasequery on TCP 547, BNDUPD/BNDREPLY pairing and the summary.
 */
import assert from "node:assert/strict";
import { TcpConversation } from "../../lib/capture/build.ts";
import { LinkType } from "../../lib/capture/linktype.ts";
import {
  CaptureDecoder,
  type CaptureDecoderOptions,
  type MessageEvent,
  MessageSummary,
  type PipelineEvent,
  type StreamNoteEvent,
  timestampToIso,
} from "../../lib/capture/messages.ts";
import { PcapngWriter } from "../../lib/capture/writer.ts";
import { encodeMessage } from "../../lib/wire/encode.ts";
import { frameMessage } from "../../lib/wire/framing.ts";
import { connectOptions, failoverMessage, stateOptions } from "../../lib/wire/options.ts";
import type { Message } from "../../lib/wire/types.ts";

const T0 = Date.UTC(2024, 2, 1, 12, 0, 0);

/** An in-memory pcapng of Ethernet frames, one millisecond apart. */
async function pcapng(frames: Uint8Array[]): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const w = new PcapngWriter({ write: (c) => void chunks.push(c) });
  const eth = w.addInterface({ linkType: LinkType.ETHERNET });
  let ms = T0;
  for (const data of frames) await w.writePacket({ interfaceId: eth, timestampMs: ms++, data });
  await w.close();
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

async function run(bytes: Uint8Array, opts: CaptureDecoderOptions = {}) {
  const decoder = new CaptureDecoder(opts);
  const events: PipelineEvent[] = [];
  for await (const ev of decoder.decode(bytes)) events.push(ev);
  const messages = events.filter((e): e is MessageEvent => e.kind === "message");
  const notes = events.filter((e): e is StreamNoteEvent => e.kind === "note");
  return { events, messages, notes, stats: decoder.stats };
}

const framed = (m: Message) => frameMessage(encodeMessage(m));
const cs = (msgType: number, transactionId: number, options: Message["options"] = []): Message => ({
  kind: "client-server",
  msgType,
  transactionId,
  options,
});
const conversation = (port = 647, mss?: number) =>
  new TcpConversation(
    { address: "2001:db8:f0::1", port: 49152 },
    { address: "2001:db8:f0::2", port },
    { mss },
  );
const connect = (xid: number) =>
  failoverMessage(
    31,
    xid,
    762609600,
    connectOptions({
      mclt: 3600,
      keepaliveTime: 60,
      maxUnackedBndupd: 10,
    }),
  );
const state = (xid: number) =>
  failoverMessage(
    34,
    xid,
    762609600,
    stateOptions({
      serverState: 2,
      flags: 1,
      startTimeOfState: 762609000,
    }),
  );
/** A TLS record header plus `n` octets of ciphertext. */
const tls = (n: number) =>
  Uint8Array.from([0x16, 0x03, 0x03, n >> 8, n & 0xff, ...new Array(n).fill(0xab)]);

Deno.test("STARTTLS answered by a REPLY without status: one tls note, the rest is not decoded", async () => {
  const c = conversation();
  const frames = [
    ...c.handshake(),
    ...c.send("client", framed(cs(23, 0x123456))),
    ...c.send("server", framed(cs(7, 0x123456))),
    ...c.send("client", tls(300)),
    ...c.send("server", tls(1200)),
    ...c.send("client", tls(50)),
    c.close("client"),
    c.close("server"),
  ];
  const { messages, notes, stats } = await run(await pcapng(frames));
  assert.deepEqual(messages.map((m) => [m.msgType, m.message?.kind, m.errors.length]), [
    [23, "client-server", 0],
    [7, "client-server", 0],
  ]);
  assert.equal(
    messages[0].message?.kind === "client-server" && messages[0].message.transactionId,
    0x123456,
  );
  assert.equal(notes.length, 1);
  assert.equal(notes[0].note, "tls");
  assert.equal(notes[0].conn, 1);
  assert.equal(stats.tlsOctets, 305 + 1205 + 55);
});

Deno.test("STARTTLS refused with TLSConnectionRefused: decoding goes on in clear", async () => {
  const c = conversation();
  const refused = cs(7, 1, [{ code: 13, statusCode: 15, statusMessage: "no TLS here" }]);
  const frames = [
    ...c.handshake(),
    ...c.send("client", framed(cs(23, 1))),
    ...c.send("server", framed(refused)),
    ...c.send("client", framed(connect(2))),
    c.close("client"),
  ];
  const { messages, notes, stats } = await run(await pcapng(frames));
  assert.deepEqual(messages.map((m) => m.msgType), [23, 7, 31]);
  assert.equal(notes.length, 0);
  assert.equal(stats.tlsOctets, 0);
  assert.deepEqual(messages[2].errors, []);
});

Deno.test("STARTTLS: TLS octets from the initiator before the REPLY is seen are recognised", async () => {
  const c = conversation();
  const hs = c.handshake();
  const starttls = c.send("client", framed(cs(23, 9)));
  const reply = c.send("server", framed(cs(7, 9)));
  const hello = c.send("client", tls(100));
  // The capture saw the ClientHello before the REPLY (e.g. two capture points merged).
  const { messages, notes } = await run(await pcapng([...hs, ...starttls, ...hello, ...reply]));
  assert.deepEqual(messages.map((m) => m.msgType), [23, 7]);
  assert.equal(notes.length, 1);
  assert.deepEqual(messages.flatMap((m) => m.errors), []);
});

/** Five failover messages in one stream, cut into `mss`-octet segments. */
function burst() {
  const msgs = [connect(1), state(2), connect(3), state(4), connect(5)].map(framed);
  const starts: number[] = [];
  let o = 0;
  for (const m of msgs) {
    starts.push(o);
    o += m.length;
  }
  const stream = new Uint8Array(o);
  msgs.forEach((m, i) => stream.set(m, starts[i]));
  return { stream, starts };
}

Deno.test("a gap that takes a size prefix: resync at the next whole frame, later messages decode", async () => {
  const { stream, starts } = burst();
  const mss = 20;
  // The segment holding the size prefix of message 3 (index 2).
  const k = Math.floor(starts[2] / mss);
  assert.ok(starts[2] + 1 < (k + 1) * mss && k * mss > starts[1] + 2, "test layout");
  const c = conversation(647, mss);
  const hs = c.handshake();
  const segments = c.send("client", stream);
  const frames = [...hs, ...segments.filter((_, i) => i !== k), c.ack("server")];
  const { messages, notes, stats } = await run(await pcapng(frames));
  const xids = messages.map((m) => m.message?.kind === "failover" ? m.message.transactionId : null);
  assert.deepEqual(xids, [1, 2, 4, 5], "message 3 is lost, 4 and 5 are found again");
  assert.deepEqual(messages[0].errors, []);
  assert.deepEqual(messages[1].errors.map((e) => e.kind), ["tcp-gap"], "message 2 lost its tail");
  assert.deepEqual(messages[1].message?.options, [], "no options for a message with a gap");
  assert.deepEqual(messages[2].errors, []);
  assert.equal(messages[2].tcpStreamOffset, starts[3]);
  assert.equal(notes.length, 1);
  assert.equal(notes[0].note, "resync");
  assert.equal(notes[0].streamOffset, starts[2], "framing was lost at message 3's prefix");
  assert.equal(notes[0].resumedAt, starts[3]);
  assert.equal(notes[0].octets, starts[3] - (k + 1) * mss, "captured octets of message 3 skipped");
  assert.equal(stats.gaps, 1);
  assert.equal(stats.gapOctets, mss);
});

Deno.test("a gap before the end of the stream with no frame after it: resync note with resumedAt null", async () => {
  const { stream, starts } = burst();
  const mss = 20;
  const k = Math.floor(starts[4] / mss);
  const c = conversation(647, mss);
  const hs = c.handshake();
  const segments = c.send("client", stream);
  // Drop the segment with message 5's prefix; keep the one after it.
  const frames = [...hs, ...segments.slice(0, k), segments[k + 1], c.ack("server")];
  const { messages, notes } = await run(await pcapng(frames));
  assert.equal(messages.length, 4);
  assert.equal(notes.length, 1);
  assert.equal(notes[0].resumedAt, null);
});

Deno.test("bulk leasequery on TCP 547: 4-octet headers, 2-octet framing", async () => {
  const c = conversation(547);
  const clientId = { code: 1, duid: Uint8Array.of(0, 3, 0, 1, 1, 2, 3, 4, 5, 6) } as const;
  const frames = [
    ...c.handshake(),
    ...c.send("client", framed(cs(14, 0xabcdef, [clientId]))),
    ...c.send(
      "server",
      new Uint8Array([
        ...framed(cs(15, 0xabcdef, [clientId])),
        ...framed(cs(17, 0xabcdef)),
        ...framed(cs(16, 0xabcdef)),
      ]),
    ),
    c.close("client"),
    c.close("server"),
  ];
  const { messages } = await run(await pcapng(frames));
  assert.deepEqual(
    messages.map((m) => [m.msgType, m.message?.kind, m.tcpStreamOffset, m.dport]),
    [[14, "client-server", 0, 547], [15, "client-server", 0, 49152], [
      17,
      "client-server",
      20,
      49152,
    ], [
      16,
      "client-server",
      26,
      49152,
    ]],
  );
  for (const m of messages) {
    assert.equal(m.message?.kind === "client-server" && m.message.transactionId, 0xabcdef);
  }
});

Deno.test("failoverPort moves the failover port; other TCP traffic is not decoded", async () => {
  const c = conversation(6470);
  const frames = [...c.handshake(), ...c.send("client", framed(connect(7))), c.close("client")];
  const bytes = await pcapng(frames);
  const plain = await run(bytes);
  assert.equal(plain.messages.length, 0);
  assert.equal(plain.stats.otherRecords, 5);
  const moved = await run(bytes, { failoverPort: 6470 });
  assert.deepEqual(moved.messages.map((m) => m.msgType), [31]);
});

Deno.test("BNDUPD/BNDREPLY pairing by connection and transaction-id, with RTT", async () => {
  const upd = (xid: number) => failoverMessage(24, xid, 762609600, []);
  const rep = (xid: number) => failoverMessage(25, xid, 762609600, []);
  const a = conversation();
  const b = new TcpConversation(
    { address: "2001:db8:f0::3", port: 49153 },
    { address: "2001:db8:f0::2", port: 647 },
  );
  const frames = [
    ...a.handshake(),
    ...b.handshake(),
    ...a.send("client", framed(upd(10))), // frame 7
    ...b.send("client", framed(upd(10))), // frame 8, same xid on another connection
    ...a.send("client", framed(upd(11))), // frame 9
    ...b.send("server", framed(rep(10))), // frame 10: answers frame 8
    ...a.send("server", framed(rep(11))), // frame 11: answers frame 9
    ...a.send("server", framed(rep(99))), // frame 12: nothing to answer
  ];
  const { messages, stats } = await run(await pcapng(frames));
  const replies = messages.filter((m) => m.msgType === 25);
  assert.deepEqual(replies.map((m) => [m.frame, m.pairedFrame, m.rttMs]), [
    [10, 8, 2],
    [11, 9, 2],
    [12, undefined, undefined],
  ]);
  assert.deepEqual(
    [stats.bndupd, stats.paired, stats.unpairedReplies, stats.unansweredBndupd],
    [3, 2, 1, 1],
  );
  const s = new MessageSummary();
  for (const m of messages) s.add(m);
  const j = s.toJson(stats);
  assert.deepEqual(j.pairing.rttMs, { count: 2, min: 2, mean: 2, p50: 2, p95: 2, p99: 2, max: 2 });
  assert.deepEqual(j.byType, [{ msgType: 24, count: 3 }, { msgType: 25, count: 3 }]);
  assert.deepEqual(j.conversations.map((c) => [c.transport, c.conn, c.messages]), [
    ["tcp", 1, 4],
    ["tcp", 2, 2],
  ]);
});

Deno.test("the outstanding-BNDUPD table is bounded: the oldest is dropped and counted", async () => {
  const c = conversation();
  const frames = [...c.handshake()];
  for (let x = 1; x <= 5; x++) frames.push(...c.send("client", framed(failoverMessage(24, x, 0))));
  frames.push(...c.send("server", framed(failoverMessage(25, 1, 0))));
  frames.push(...c.send("server", framed(failoverMessage(25, 5, 0))));
  const { stats, messages } = await run(await pcapng(frames), { maxOutstandingBndupd: 3 });
  assert.equal(messages.at(-2)!.pairedFrame, undefined, "xid 1 was dropped from the table");
  assert.equal(messages.at(-1)!.pairedFrame, 8);
  assert.deepEqual([stats.paired, stats.unpairedReplies, stats.unansweredBndupd], [1, 1, 4]);
});

Deno.test("a broken capture tail ends the events with one capture-error after the good records", async () => {
  const c = conversation();
  const bytes = await pcapng([...c.handshake(), ...c.send("client", framed(connect(1)))]);
  const cut = bytes.subarray(0, bytes.length - 10);
  const { events, stats } = await run(cut);
  const last = events.at(-1)!;
  assert.equal(last.kind, "capture-error");
  assert.equal(last.kind === "capture-error" && last.error.kind, "truncated");
  assert.equal(last.kind === "capture-error" && last.records, 3);
  assert.equal(stats.records, 3);
  const empty = await run(new Uint8Array(0));
  assert.deepEqual(empty.events.map((e) => e.kind === "capture-error" && e.error.kind), [
    "not-a-capture",
  ]);
});

Deno.test("timestampToIso keeps every fraction digit; null stays null", () => {
  assert.equal(timestampToIso("1709294400.002150"), "2024-03-01T12:00:00.002150Z");
  assert.equal(timestampToIso("1709294400.000000001"), "2024-03-01T12:00:00.000000001Z");
  assert.equal(timestampToIso("0"), "1970-01-01T00:00:00Z");
  assert.equal(timestampToIso(null), null);
});
