/**
 * The independent captures in /work/shared/captures (made with scapy and a separate encoder,
 * checked with tshark) against our readers, dissector and reassembler.
 */

import assert from "node:assert/strict";
import { dissect, type UdpDatagram } from "../../lib/capture/dissect.ts";
import { readCapture } from "../../lib/capture/reader.ts";
import { type TcpEvent, TcpReassembler } from "../../lib/capture/tcp_reassembly.ts";
import { readTransport } from "../../lib/capture/transport.ts";
import { StreamFrameIndex } from "../../lib/capture/stream_index.ts";
import { chunked, collect, splitLengthPrefixed } from "./_helpers.ts";
import { type DecodeIo, runDecode } from "../../cli/decode.ts";
import { timestampDiffMs, timestampToIso } from "../../lib/capture/messages.ts";
import { FakeClock } from "../../lib/util/clock.ts";
import { decodeMessage } from "../../lib/wire/decode.ts";
import { messageToJson } from "../../lib/wire/render.ts";

const DIR = new URL("../../../shared/captures/", import.meta.url);

interface Expected {
  frame: number;
  timestamp: string;
  section?: number;
  interface?: number;
  vlanIds?: number[];
  transport: "udp" | "tcp";
  src: string;
  dst: string;
  sport: number;
  dport: number;
  msgType: number;
  transactionId: number | null;
  sentTime?: number;
  messageSize?: number;
  tcpStreamOffset?: number;
  firstFrame?: number;
  errors: { kind: string; [k: string]: unknown }[];
}

const FILES: Record<string, { records: number }> = {
  "dhcpv6-4way.pcapng": { records: 10 },
  "dhcpv6-relayed.pcap": { records: 4 },
  "failover-reorder.pcap": { records: 19 },
  "failover-session.pcapng": { records: 35 },
  "malformed.pcap": { records: 19 },
  "mixed-links.pcapng": { records: 8 },
};

async function load(name: string) {
  const bytes = await Deno.readFile(new URL(name, DIR));
  const expect: Expected[] = JSON.parse(
    await Deno.readTextFile(new URL(`${name}.expect.json`, DIR)),
  );
  return { bytes, expect };
}

const available = await Deno.stat(DIR).then(() => true, () => false);
if (!available) console.warn(`oracle captures not found at ${DIR.pathname}: oracle tests skipped`);

function be24(b: Uint8Array, i: number) {
  return (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
}

for (const [name, facts] of Object.entries(FILES)) {
  Deno.test({
    name: `oracle ${name}: records, UDP messages, TCP framing`,
    ignore: !available,
    fn: async () => {
      const { bytes, expect } = await load(name);
      const records = await collect(readCapture(bytes));
      assert.equal(records.length, facts.records);
      assert.deepEqual(records.map((r) => r.frame), records.map((_, i) => i + 1));

      // ---- UDP: every oracle message is a datagram at that frame, and nothing more.
      const udp = new Map<number, UdpDatagram>();
      const tcpEvents: TcpEvent[] = [];
      const tcp = new TcpReassembler();
      for (const r of records) {
        const d = dissect(r);
        if (d.kind === "udp") udp.set(r.frame, d);
        else if (d.kind === "tcp") tcpEvents.push(...tcp.push(d));
      }
      tcpEvents.push(...tcp.flush());
      const udpExpect = expect.filter((e) => e.transport === "udp");
      assert.equal(udp.size, udpExpect.length, "UDP datagram count");
      for (const e of udpExpect) {
        const d = udp.get(e.frame);
        assert.ok(d, `frame ${e.frame} is a UDP datagram`);
        const r = d.record;
        assert.equal(r.timestamp, e.timestamp, `frame ${e.frame} timestamp`);
        assert.equal(r.interface, e.interface, `frame ${e.frame} interface`);
        if (e.section !== undefined) assert.equal(r.section, e.section);
        assert.deepEqual(d.vlanIds, e.vlanIds ?? [], `frame ${e.frame} vlanIds`);
        assert.deepEqual(
          [d.ip.src, d.ip.dst, d.sport, d.dport],
          [e.src, e.dst, e.sport, e.dport],
          `frame ${e.frame} addresses`,
        );
        assert.equal(d.payload[0], e.msgType, `frame ${e.frame} first payload octet is msg-type`);
        if (e.transactionId !== null) assert.equal(be24(d.payload, 1), e.transactionId);
        const cut = e.errors.find((x) => x.kind === "capture-truncated");
        assert.equal(d.truncated, cut !== undefined, `frame ${e.frame} truncated flag`);
        if (cut) {
          assert.equal(r.capturedLength, cut.capturedLength);
          assert.equal(r.originalLength, cut.originalLength);
          assert.ok(d.payload.length < d.payloadLength);
        } else {
          assert.equal(d.payload.length, d.payloadLength);
        }
      }

      // ---- TCP: the length-prefixed frames land where the oracle says, in its order.
      const tcpExpect = expect.filter((e) => e.transport === "tcp");
      const msgs = splitLengthPrefixed(tcpEvents);
      assert.equal(msgs.length, tcpExpect.length, "TCP message count");
      tcpExpect.forEach((e, i) => {
        const m = msgs[i];
        const at = `TCP message ${i} (${e.src}:${e.sport} offset ${e.tcpStreamOffset})`;
        assert.deepEqual(
          [m.stream.src, m.stream.dst, m.stream.sport, m.stream.dport],
          [e.src, e.dst, e.sport, e.dport],
          at,
        );
        assert.equal(m.offset, e.tcpStreamOffset, `${at} offset`);
        assert.equal(m.size, e.messageSize, `${at} size`);
        assert.equal(m.frame, e.frame, `${at} frame`);
        assert.equal(m.firstFrame, e.firstFrame, `${at} firstFrame`);
        assert.equal(m.timestamp, e.timestamp, `${at} timestamp`);
        assert.equal(m.interface, e.interface, `${at} interface`);
        assert.equal(m.body[0], e.msgType, `${at} msg-type`);
        assert.equal(be24(m.body, 1), e.transactionId, `${at} transaction-id`);
        assert.equal(new DataView(m.body.buffer).getUint32(4), e.sentTime, `${at} sent-time`);
        const gap = e.errors.find((x) => x.kind === "tcp-gap");
        assert.deepEqual(
          m.gaps,
          gap ? [{ streamOffset: gap.streamOffset, missingBytes: gap.missingBytes }] : [],
          at,
        );
        const cut = e.errors.find((x) => x.kind === "frame-truncated");
        assert.equal(m.availableSize, cut?.availableSize, `${at} frame-truncated`);
      });
    },
  });
}

Deno.test({
  name:
    "oracle failover-reorder.pcap: out-of-order reordered, duplicate dropped, gap declared once",
  ignore: !available,
  fn: async () => {
    const { bytes } = await load("failover-reorder.pcap");
    const tcp = new TcpReassembler();
    const events: TcpEvent[] = [];
    for await (const r of readCapture(bytes)) {
      const d = dissect(r);
      if (d.kind === "tcp") events.push(...tcp.push(d));
    }
    const gaps = events.filter((e) => e.kind === "gap");
    assert.equal(gaps.length, 1);
    assert.equal(gaps[0].kind === "gap" && gaps[0].reason, "acked-unseen");
    assert.equal(gaps[0].frame.frame, 15, "declared when the peer acknowledged past the hole");
    // Frame 11 repeats frame 10 (137 octets): dropped, nothing delivered twice.
    assert.equal(tcp.stats.duplicateBytes, 137);
    const data = events.filter((e) => e.kind === "data");
    const initiator = data.filter((e) => e.stream.dir === "initiator");
    let next = 0;
    for (const e of initiator) {
      if (e.streamOffset !== next) {
        assert.equal(e.streamOffset, 577, "only the gap interrupts the stream");
        assert.equal(next, 517);
      }
      next = e.streamOffset + e.bytes.length;
    }
    const ends = events.filter((e) => e.kind === "end");
    assert.deepEqual(
      ends.map((e) => [e.stream.dir, e.streamOffset, e.kind === "end" && e.reason]),
      [
        ["initiator", 650, "fin"],
        ["responder", 458, "fin"],
      ],
    );
  },
});

Deno.test({
  name:
    "oracle malformed.pcap: zero-length record counted and skipped; 600-octet prefix with 30 octets before FIN",
  ignore: !available,
  fn: async () => {
    const { bytes } = await load("malformed.pcap");
    const events = await collect(readTransport(bytes));
    const skipped = events.filter((e) => e.kind === "skipped");
    assert.equal(skipped.length, 1);
    assert.equal(skipped[0].kind === "skipped" && skipped[0].reason, "empty");
    assert.equal(skipped[0].kind === "skipped" && skipped[0].record.frame, 5);
    assert.equal(skipped[0].kind === "skipped" && skipped[0].record.originalLength, 90);
    const tcpEvents = events.filter((e): e is TcpEvent =>
      e.kind === "data" || e.kind === "gap" || e.kind === "end" || e.kind === "open" ||
      e.kind === "conflict"
    );
    const msgs = splitLengthPrefixed(tcpEvents);
    const cut = msgs.find((m) => m.size === 600);
    assert.ok(cut);
    assert.equal(cut.offset, 64);
    assert.equal(cut.availableSize, 30);
    const end = tcpEvents.find((e) => e.kind === "end" && e.stream === cut.stream);
    assert.ok(end?.kind === "end");
    assert.equal(end.reason, "fin");
    assert.equal(end.streamOffset, 96);
  },
});

Deno.test({
  name: "oracle captures read through tiny chunks (1-7 octets) give the same records",
  ignore: !available,
  fn: async () => {
    for (const name of Object.keys(FILES)) {
      const { bytes } = await load(name);
      const whole = await collect(readCapture(bytes));
      const tiny = await collect(readCapture(chunked(bytes, [1, 7, 3, 2, 5, 4, 6])));
      assert.deepEqual(tiny, whole, name);
    }
  },
});

Deno.test({
  name:
    "oracle: StreamFrameIndex gives each TCP message's frame, firstFrame, gaps and available octets",
  ignore: !available,
  fn: async () => {
    let checked = 0;
    for (const name of Object.keys(FILES)) {
      const { bytes, expect } = await load(name);
      const indexes = new Map<string, StreamFrameIndex>();
      for await (const ev of readTransport(bytes)) {
        if (ev.kind !== "data" && ev.kind !== "gap") continue;
        const key = `${ev.stream.src}|${ev.stream.sport}`;
        if (!indexes.has(key)) indexes.set(key, new StreamFrameIndex());
        indexes.get(key)!.add(ev);
      }
      for (const e of expect.filter((x) => x.transport === "tcp")) {
        const idx = indexes.get(`${e.src}|${e.sport}`);
        assert.ok(idx, `${name}: a stream from ${e.src}:${e.sport}`);
        const start = e.tcpStreamOffset!;
        const f = idx.span(start, start + 2 + e.messageSize!);
        const at = `${name} offset ${start}`;
        assert.equal(f.frame?.frame, e.frame, at);
        assert.equal(f.frame?.timestamp, e.timestamp, at);
        assert.equal(f.firstFrame?.frame, e.firstFrame, at);
        const gap = e.errors.find((x) => x.kind === "tcp-gap");
        assert.deepEqual(
          f.gaps,
          gap ? [{ streamOffset: gap.streamOffset, missingBytes: gap.missingBytes }] : [],
        );
        const cut = e.errors.find((x) => x.kind === "frame-truncated");
        assert.equal(f.known, cut ? 2 + (cut.availableSize as number) : 2 + e.messageSize!, at);
        checked++;
      }
    }
    assert.equal(checked, 13 + 33 + 3);
  },
});

Deno.test("StreamFrameIndex merges runs and forgets consumed ranges", () => {
  const idx = new StreamFrameIndex();
  const stream = {
    conn: 1,
    dir: "initiator" as const,
    src: "a",
    dst: "b",
    sport: 1,
    dport: 2,
    ipVersion: 6 as const,
  };
  const ref = (frame: number) => ({ frame, timestamp: null });
  for (let i = 0; i < 100; i++) {
    idx.add({
      kind: "data",
      stream,
      streamOffset: i * 10,
      bytes: new Uint8Array(10),
      frame: ref(i),
      capturedFrame: ref(i),
    });
  }
  idx.add({
    kind: "data",
    stream,
    streamOffset: 1000,
    bytes: new Uint8Array(10),
    frame: ref(99),
    capturedFrame: ref(99),
  });
  assert.equal(idx.size, 100, "same facts merged");
  assert.deepEqual(idx.span(15, 42).frame, ref(4));
  assert.deepEqual(idx.span(15, 42).firstFrame, ref(1));
  idx.discardBefore(500);
  assert.equal(idx.size, 50);
  assert.equal(idx.span(0, 10).frame, null, "forgotten");
  assert.deepEqual(idx.span(995, 1010).frame, ref(99));
});

// ---------------------------------------------------------------------------------------
// `failover6 decode --json` against every entry of every expect file.
// ---------------------------------------------------------------------------------------

type Json = Record<string, unknown>;

/** Fields our JSON adds to the oracle's (checked separately below). */
const ADDED = new Set(["time", "conn", "pairedFrame", "rttMs"]);

/** Runs `decode --json` in-process on a file (or on `-` fed in chunks) and parses the lines. */
async function decodeJson(name: string, stdin?: Uint8Array[]): Promise<Json[]> {
  let out = "";
  const io: DecodeIo = {
    write: (t) => {
      out += t;
      return Promise.resolve();
    },
    flush: () => Promise.resolve(),
    stderr: (t) => {
      throw new Error(`unexpected stderr: ${t}`);
    },
    stderrIsTerminal: () => false,
    stdin: () => ReadableStream.from(stdin ?? []),
    clock: new FakeClock(0),
  };
  const file = stdin ? "-" : new URL(name, DIR).pathname;
  await runDecode(file, { json: true }, io);
  return out.trimEnd().split("\n").map((l) => JSON.parse(l));
}

/**
 * Deep comparison of our options with the oracle's. The one deliberate difference: a relay
 * chain deeper than HOP_COUNT_LIMIT + 1 headers stops at the limit with the innermost
 * RELAY_MSG kept raw (`data`), while the oracle holds the full 40-level tree; there the raw
 * octets, decoded with the limits lifted, must equal the oracle's subtree.
 */
function compareTree(ours: unknown, theirs: unknown, at: string): number {
  if (Array.isArray(theirs)) {
    assert.ok(Array.isArray(ours), `${at}: array expected`);
    assert.equal(ours.length, theirs.length, `${at}: length`);
    return theirs.reduce((n: number, t, i) => n + compareTree(ours[i], t, `${at}[${i}]`), 0);
  }
  if (theirs !== null && typeof theirs === "object") {
    const o = ours as Json;
    const t = theirs as Json;
    assert.ok(o !== null && typeof o === "object", `${at}: object expected`);
    if (t.code === 9 && "message" in t && "data" in o && !("message" in o)) {
      const { code, name, length } = o;
      assert.deepStrictEqual({ code, name, length }, {
        code: t.code,
        name: t.name,
        length: t.length,
      });
      const deep = decodeMessage(hexOctets(o.data as string), { hopCountLimit: 64, maxDepth: 128 });
      assert.deepStrictEqual(deep.errors, [], `${at}: raw relay message decodes cleanly`);
      assert.deepStrictEqual(messageToJson(deep.message!), t.message, `${at}.message`);
      return 1;
    }
    assert.deepStrictEqual(Object.keys(o).sort(), Object.keys(t).sort(), `${at}: keys`);
    return Object.keys(t).reduce((n, k) => n + compareTree(o[k], t[k], `${at}.${k}`), 0);
  }
  assert.deepStrictEqual(ours, theirs, at);
  return 0;
}

function hexOctets(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
}

for (const name of Object.keys(FILES)) {
  Deno.test({
    name: `oracle ${name}: decode --json equals every expect.json entry`,
    ignore: !available,
    fn: async () => {
      const expect: Json[] = JSON.parse(
        await Deno.readTextFile(new URL(`${name}.expect.json`, DIR)),
      );
      const ours = await decodeJson(name);
      assert.equal(ours.length, expect.length, "message count");
      let limited = 0;
      expect.forEach((e, i) => {
        const o = ours[i];
        const at = `${name} message ${i} (frame ${e.frame})`;
        for (const k of Object.keys(o)) {
          assert.ok(k in e || ADDED.has(k), `${at}: field ${k} is not in the oracle`);
        }
        for (const k of Object.keys(e)) {
          assert.ok(k in o, `${at}: field ${k} missing`);
          if (k === "options") limited += compareTree(o.options, e.options, `${at}.options`);
          else assert.deepStrictEqual(o[k], e[k], `${at}: ${k}`);
        }
        // Added fields: ISO time, and BNDUPD pairing checked against the oracle's own entries.
        assert.equal(o.time, timestampToIso(e.timestamp as string), `${at}: time`);
        if (e.transport === "tcp") assert.equal(typeof o.conn, "number", `${at}: conn`);
        else assert.ok(!("conn" in o), at);
        if (e.msgType === 25) {
          const upd = expect.slice(0, i).findLast((u) =>
            u.msgType === 24 && u.transactionId === e.transactionId && u.src === e.dst &&
            u.sport === e.dport
          );
          assert.ok(upd, `${at}: the oracle has the BNDUPD`);
          assert.equal(o.pairedFrame, upd.frame, `${at}: pairedFrame`);
          assert.equal(
            o.rttMs,
            timestampDiffMs(upd.timestamp as string, e.timestamp as string),
            `${at}: rttMs`,
          );
        } else {
          assert.ok(!("pairedFrame" in o) && !("rttMs" in o), `${at}: only BNDREPLY is paired`);
        }
      });
      const deep = expect.filter((e) =>
        (e.errors as Json[]).some((x) => x.kind === "relay-nesting-too-deep")
      );
      assert.equal(limited, deep.length, "each over-deep relay chain is checked past our limit");
    },
  });
}

Deno.test({
  name: "oracle: decode - (stdin in 1-13 octet chunks) gives the same JSON as the file",
  ignore: !available,
  fn: async () => {
    for (const name of Object.keys(FILES)) {
      const bytes = await Deno.readFile(new URL(name, DIR));
      const chunks: Uint8Array[] = [];
      const sizes = [1, 13, 2, 7, 3, 11, 5];
      for (let i = 0, k = 0; i < bytes.length; k++) {
        const n = sizes[k % sizes.length];
        chunks.push(bytes.slice(i, i + n));
        i += n;
      }
      assert.deepStrictEqual(await decodeJson(name, chunks), await decodeJson(name), name);
    }
  },
});

Deno.test({
  name: "oracle rttMs: milliseconds between decimal timestamps, exact to the nanosecond",
  fn: () => {
    assert.equal(timestampDiffMs("1709294410.000000", "1709294411.000000"), 1000);
    assert.equal(timestampDiffMs("1709294420.101500", "1709294420.600000"), 498.5);
    assert.equal(timestampDiffMs("1709294420.999999999", "1709294421.000000001"), 0.000002);
    assert.equal(timestampDiffMs("1709294421.5", "1709294421.25"), -250);
  },
});
