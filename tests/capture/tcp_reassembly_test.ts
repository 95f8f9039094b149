/** TCP reassembly: ordering, retransmissions, overlaps, gaps, wraparound, limits. */

import assert from "node:assert/strict";
import fc from "fast-check";
import type { TcpFlags, TcpSegment } from "../../lib/capture/dissect.ts";
import { type TcpEvent, TcpReassembler } from "../../lib/capture/tcp_reassembly.ts";
import { concat } from "./_helpers.ts";

interface SegSpec {
  frame: number;
  fromClient?: boolean;
  seq: number;
  ack?: number;
  flags?: Partial<TcpFlags>;
  payload?: Uint8Array;
  /** Length on the wire when more than the payload captured. */
  wireLength?: number;
}

const NOFLAGS: TcpFlags = {
  fin: false,
  syn: false,
  rst: false,
  psh: false,
  ack: false,
  urg: false,
  ece: false,
  cwr: false,
};

function seg(s: SegSpec): TcpSegment {
  const c = s.fromClient ?? true;
  const payload = s.payload ?? new Uint8Array(0);
  return {
    kind: "tcp",
    record: {
      frame: s.frame,
      timestamp: `${s.frame}.000000`,
      format: "pcap",
      linkType: 1,
      capturedLength: 0,
      originalLength: 0,
      data: new Uint8Array(0),
      offset: 0,
    },
    link: "ethernet",
    vlanIds: [],
    truncated: (s.wireLength ?? payload.length) > payload.length,
    ip: {
      version: 6,
      src: c ? "2001:db8::c" : "2001:db8::5",
      dst: c ? "2001:db8::5" : "2001:db8::c",
      protocol: 6,
      hopLimit: 64,
      extensionHeaders: [],
      headerOffset: 14,
    },
    sport: c ? 40000 : 647,
    dport: c ? 647 : 40000,
    seq: s.seq >>> 0,
    ack: (s.ack ?? 0) >>> 0,
    flags: { ...NOFLAGS, ack: s.ack !== undefined, ...s.flags },
    window: 65535,
    segmentLength: s.wireLength ?? payload.length,
    payload,
  };
}

function bytes(n: number, start = 0): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (start + i * 13) & 0xff);
}

/** Concatenated data of one direction; throws if data is not contiguous around gaps. */
function streamOf(events: TcpEvent[], dir: "initiator" | "responder") {
  const parts: Uint8Array[] = [];
  const gaps: [number, number][] = [];
  let next = 0;
  for (const e of events) {
    if (e.stream.dir !== dir) continue;
    if (e.kind === "data") {
      assert.equal(e.streamOffset, next, "data is contiguous");
      parts.push(e.bytes);
      next += e.bytes.length;
    } else if (e.kind === "gap") {
      assert.equal(e.streamOffset, next, "gap is contiguous");
      gaps.push([e.streamOffset, e.missingBytes]);
      parts.push(new Uint8Array(e.missingBytes));
      next += e.missingBytes;
    }
  }
  return { data: concat(parts), gaps };
}

const ISN_C = 1000;
const ISN_S = 5000;

function handshake(r: TcpReassembler): TcpEvent[] {
  return [
    ...r.push(seg({ frame: 1, seq: ISN_C, flags: { syn: true } })),
    ...r.push(
      seg({ frame: 2, fromClient: false, seq: ISN_S, ack: ISN_C + 1, flags: { syn: true } }),
    ),
    ...r.push(seg({ frame: 3, seq: ISN_C + 1, ack: ISN_S + 1 })),
  ];
}

Deno.test("in order: offsets from the first octet after SYN, open and FIN end", () => {
  const r = new TcpReassembler();
  const ev = handshake(r);
  assert.deepEqual(ev.map((e) => [e.kind, e.stream.dir, e.kind === "open" && e.midstream]), [
    ["open", "initiator", false],
    ["open", "responder", false],
  ]);
  const a = bytes(10);
  const b = bytes(5, 99);
  const out = [
    ...r.push(seg({ frame: 4, seq: ISN_C + 1, ack: ISN_S + 1, payload: a })),
    ...r.push(seg({ frame: 5, seq: ISN_C + 11, ack: ISN_S + 1, payload: b, flags: { fin: true } })),
  ];
  assert.deepEqual(
    out.map((
      e,
    ) => [e.kind, e.kind === "data" || e.kind === "end" ? e.streamOffset : -1, e.frame.frame]),
    [
      ["data", 0, 4],
      ["data", 10, 5],
      ["end", 15, 5],
    ],
  );
  assert.deepEqual(streamOf(out, "initiator").data, concat([a, b]));
  assert.deepEqual(
    r.push(seg({ frame: 6, seq: ISN_C + 1, ack: ISN_S + 1, payload: a })),
    [],
    "late data after FIN",
  );
});

Deno.test("out of order: delivered when the hole fills; frame = filling record, capturedFrame = carrier", () => {
  const r = new TcpReassembler();
  handshake(r);
  const a = bytes(8);
  const b = bytes(8, 50);
  const c = bytes(8, 100);
  assert.deepEqual(r.push(seg({ frame: 4, seq: ISN_C + 17, payload: c })), []);
  assert.deepEqual(r.push(seg({ frame: 5, seq: ISN_C + 9, payload: b })), []);
  const ev = r.push(seg({ frame: 6, seq: ISN_C + 1, payload: a }));
  assert.deepEqual(
    ev.map((e) => e.kind === "data" && [e.streamOffset, e.frame.frame, e.capturedFrame.frame]),
    [
      [0, 6, 6],
      [8, 6, 5],
      [16, 6, 4],
    ],
  );
  assert.equal(r.stats.bufferedBytes, 0);
});

Deno.test("retransmissions of delivered or buffered octets are dropped", () => {
  const r = new TcpReassembler();
  handshake(r);
  const a = bytes(20);
  r.push(seg({ frame: 4, seq: ISN_C + 1, payload: a }));
  assert.deepEqual(r.push(seg({ frame: 5, seq: ISN_C + 1, payload: a })), []);
  // Partly new: only the new tail is delivered.
  const more = concat([a.subarray(10), bytes(6, 7)]);
  const ev = r.push(seg({ frame: 6, seq: ISN_C + 11, payload: more }));
  assert.deepEqual(ev.map((e) => e.kind === "data" && [e.streamOffset, e.bytes.length]), [[20, 6]]);
  assert.equal(r.stats.duplicateBytes, 30);
});

Deno.test("overlapping retransmission with different data: first copy wins, conflict reported", () => {
  const r = new TcpReassembler();
  handshake(r);
  const first = Uint8Array.from({ length: 10 }, () => 0xaa); // offsets 10..20
  const other = Uint8Array.from({ length: 20 }, () => 0xbb); // offsets 5..25
  r.push(seg({ frame: 4, seq: ISN_C + 11, payload: first }));
  const ev = r.push(seg({ frame: 5, seq: ISN_C + 6, payload: other }));
  assert.deepEqual(ev, [{
    kind: "conflict",
    stream: ev[0].stream,
    streamOffset: 10,
    length: 10,
    frame: { frame: 5, timestamp: "5.000000" },
    keptFrame: { frame: 4, timestamp: "4.000000" },
  }]);
  const head = Uint8Array.from({ length: 10 }, () => 0xcc); // offsets 0..10
  const done = r.push(seg({ frame: 6, seq: ISN_C + 1, payload: head }));
  const expected = new Uint8Array(25);
  expected.fill(0xcc, 0, 5);
  expected.fill(0xbb, 5, 10); // buffered before the head arrived
  expected.fill(0xaa, 10, 20);
  expected.fill(0xbb, 20, 25);
  assert.deepEqual(streamOf(done, "initiator").data, expected);
  const conflicts = done.filter((e) => e.kind === "conflict");
  assert.deepEqual(
    conflicts.map((e) =>
      e.kind === "conflict" && [e.streamOffset, e.length, e.frame.frame, e.keptFrame.frame]
    ),
    [[5, 5, 6, 5]],
    "the head disagrees with the buffered copy at 5..10",
  );
});

Deno.test("gap: peer acknowledges past a hole while later data is captured", () => {
  const r = new TcpReassembler();
  handshake(r);
  r.push(seg({ frame: 4, seq: ISN_C + 1, payload: bytes(10) }));
  r.push(seg({ frame: 5, seq: ISN_C + 31, payload: bytes(10, 3) })); // 10..30 never captured
  // An ACK that does not pass the hole changes nothing.
  assert.deepEqual(
    r.push(seg({ frame: 6, fromClient: false, seq: ISN_S + 1, ack: ISN_C + 11 })),
    [],
  );
  const ev = r.push(
    seg({ frame: 7, fromClient: false, seq: ISN_S + 1, ack: ISN_C + 41, payload: bytes(3) }),
  );
  assert.deepEqual(ev.map((e) => [e.kind, e.stream.dir, e.frame.frame]), [
    ["gap", "initiator", 7],
    ["data", "initiator", 5],
    ["data", "responder", 7],
  ]);
  assert.deepEqual(ev[0].kind === "gap" && [ev[0].streamOffset, ev[0].missingBytes, ev[0].reason], [
    10,
    20,
    "acked-unseen",
  ]);
});

Deno.test("gap: an acknowledged hole with nothing captured after it waits for later data or the FIN", () => {
  const r = new TcpReassembler();
  handshake(r);
  r.push(seg({ frame: 4, seq: ISN_C + 1, payload: bytes(10) }));
  assert.deepEqual(
    r.push(seg({ frame: 5, fromClient: false, seq: ISN_S + 1, ack: ISN_C + 21 })),
    [],
  );
  const ev = r.push(seg({ frame: 6, seq: ISN_C + 21, flags: { fin: true } }));
  assert.deepEqual(
    ev.map((e) => [e.kind, e.kind === "gap" ? e.missingBytes : e.kind === "end" ? e.reason : 0]),
    [
      ["gap", 10],
      ["end", "fin"],
    ],
  );
});

Deno.test("gap: a segment cut by the snapshot length leaves a hole that the ACK closes", () => {
  const r = new TcpReassembler();
  handshake(r);
  r.push(seg({ frame: 4, seq: ISN_C + 1, payload: bytes(10), wireLength: 40 }));
  r.push(seg({ frame: 5, seq: ISN_C + 41, payload: bytes(5) }));
  const ev = r.push(seg({ frame: 6, fromClient: false, seq: ISN_S + 1, ack: ISN_C + 46 }));
  assert.deepEqual(ev.map((e) => e.kind === "gap" ? [e.streamOffset, e.missingBytes] : e.kind), [[
    10,
    30,
  ], "data"]);
});

Deno.test("gap: buffer limit declares the first hole", () => {
  const r = new TcpReassembler({ maxBufferedBytes: 25 });
  handshake(r);
  r.push(seg({ frame: 4, seq: ISN_C + 11, payload: bytes(10) }));
  r.push(seg({ frame: 5, seq: ISN_C + 31, payload: bytes(10) }));
  const ev = r.push(seg({ frame: 6, seq: ISN_C + 51, payload: bytes(10) }));
  assert.deepEqual(
    ev.map((e) => e.kind === "gap" ? ["gap", e.streamOffset, e.missingBytes, e.reason] : [e.kind]),
    [
      ["gap", 0, 10, "buffer-limit"],
      ["data"],
    ],
  );
  assert.equal(r.stats.bufferedBytes, 20);
});

Deno.test("gap: total buffer limit sheds the fullest direction", () => {
  const r = new TcpReassembler({ maxTotalBufferedBytes: 30 });
  handshake(r);
  r.push(seg({ frame: 4, seq: ISN_C + 11, payload: bytes(20) }));
  const ev = r.push(seg({ frame: 5, fromClient: false, seq: ISN_S + 11, payload: bytes(15) }));
  assert.deepEqual(ev.map((e) => [e.kind, e.stream.dir]), [["gap", "initiator"], [
    "data",
    "initiator",
  ]]);
});

Deno.test("RST: holes become gaps, both directions end", () => {
  const r = new TcpReassembler();
  handshake(r);
  r.push(seg({ frame: 4, seq: ISN_C + 6, payload: bytes(5) }));
  const ev = r.push(seg({ frame: 5, fromClient: false, seq: ISN_S + 1, flags: { rst: true } }));
  assert.deepEqual(ev.map((e) => [e.kind, e.stream.dir, e.kind === "end" ? e.reason : ""]), [
    ["gap", "initiator", ""],
    ["data", "initiator", ""],
    ["end", "initiator", "rst"],
    ["end", "responder", "rst"],
  ]);
  assert.equal(r.stats.bufferedBytes, 0);
});

Deno.test("flush: capture end declares remaining holes and ends open directions", () => {
  const r = new TcpReassembler();
  handshake(r);
  r.push(seg({ frame: 4, seq: ISN_C + 1, payload: bytes(4) }));
  r.push(seg({ frame: 9, seq: ISN_C + 9, payload: bytes(4) }));
  const ev = r.flush();
  assert.deepEqual(ev.map((e) => [e.kind, e.stream.dir, e.frame.frame]), [
    ["gap", "initiator", 9],
    ["data", "initiator", 9],
    ["end", "initiator", 9],
    ["end", "responder", 9],
  ]);
  assert.equal(r.stats.connections, 0);
});

Deno.test("sequence numbers wrap around 2^32", () => {
  const r = new TcpReassembler();
  const isn = 0xffff_fff0;
  r.push(seg({ frame: 1, seq: isn, flags: { syn: true } }));
  const a = bytes(30);
  const b = bytes(30, 9);
  const ev = [
    ...r.push(seg({ frame: 2, seq: isn + 31, payload: b })), // wraps
    ...r.push(seg({ frame: 3, seq: isn + 1, payload: a })),
  ];
  assert.deepEqual(ev.map((e) => e.kind === "data" && e.streamOffset), [0, 30]);
  assert.deepEqual(streamOf(ev, "initiator").data, concat([a, b]));
});

Deno.test("mid-stream capture: no SYN seen, offset 0 is the first octet captured", () => {
  const r = new TcpReassembler();
  assert.deepEqual(r.push(seg({ frame: 1, seq: 777, ack: 1 })), [], "a bare ACK creates nothing");
  const ev = r.push(seg({ frame: 2, fromClient: false, seq: 123456, payload: bytes(7) }));
  assert.deepEqual(
    ev.map((
      e,
    ) => [
      e.kind,
      e.stream.dir,
      e.kind === "open" ? e.midstream : e.kind === "data" && e.streamOffset,
    ]),
    [
      ["open", "initiator", true],
      ["data", "initiator", 0],
    ],
  );
  assert.equal(ev[0].stream.src, "2001:db8::5");
});

Deno.test("a new SYN on a closed 4-tuple starts a new connection; SYN-ACK first makes the sender the responder", () => {
  const r = new TcpReassembler();
  handshake(r);
  r.push(seg({ frame: 4, seq: ISN_C + 1, ack: ISN_S + 1, flags: { fin: true } }));
  r.push(
    seg({ frame: 5, fromClient: false, seq: ISN_S + 1, ack: ISN_C + 2, flags: { fin: true } }),
  );
  const ev = r.push(seg({ frame: 6, seq: 9000, flags: { syn: true } }));
  assert.deepEqual(ev.map((e) => [e.kind, e.stream.conn]), [["open", 2]]);
  const r2 = new TcpReassembler();
  const ev2 = r2.push(seg({ frame: 1, fromClient: false, seq: 1, ack: 2, flags: { syn: true } }));
  assert.equal(ev2[0].stream.dir, "responder");
  assert.equal(ev2[0].stream.src, "2001:db8::5");
});

Deno.test("connection limit evicts the least recently active connection", () => {
  const r = new TcpReassembler({ maxConnections: 1 });
  r.push(seg({ frame: 1, seq: 10, payload: bytes(3) }));
  const other = seg({ frame: 2, seq: 50, payload: bytes(2) });
  other.sport = 40001;
  const ev = r.push(other);
  assert.deepEqual(ev.map((e) => [e.kind, e.stream.conn, e.kind === "end" ? e.reason : ""]), [
    ["end", 1, "evicted"],
    ["open", 2, ""],
    ["data", 2, ""],
  ]);
  assert.equal(r.stats.connections, 1);
});

/** Cuts `data` into segments at the given cut points. */
function segments(data: Uint8Array, cuts: number[]): { off: number; bytes: Uint8Array }[] {
  const points = [...new Set([0, ...cuts.map((c) => c % (data.length + 1)), data.length])].sort((
    a,
    b,
  ) => a - b);
  const out = [];
  for (let i = 0; i + 1 < points.length; i++) {
    out.push({ off: points[i], bytes: data.subarray(points[i], points[i + 1]) });
  }
  return out;
}

Deno.test("property: any order, duplicates and overlaps reproduce the stream with exact frames", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 300 }),
      fc.array(fc.nat(400), { maxLength: 20 }),
      fc.array(fc.nat(), { maxLength: 40 }),
      fc.array(fc.tuple(fc.nat(400), fc.nat(60)), { maxLength: 5 }),
      fc.nat(0xffff_ffff),
      (data, cuts, order, overlaps, isn) => {
        const segs = segments(data, cuts);
        // Extra overlapping retransmissions with the same data.
        for (const [start, len] of overlaps) {
          const s = start % data.length;
          segs.push({ off: s, bytes: data.subarray(s, Math.min(data.length, s + len + 1)) });
        }
        // Shuffle deterministically from `order`.
        for (let i = segs.length - 1; i > 0; i--) {
          const j = (order[i % Math.max(1, order.length)] ?? 0) % (i + 1);
          [segs[i], segs[j]] = [segs[j], segs[i]];
        }
        const r = new TcpReassembler();
        const events: TcpEvent[] = [...r.push(seg({ frame: 1, seq: isn, flags: { syn: true } }))];
        const firstFrame = new Array<number>(data.length).fill(Infinity);
        segs.forEach((s, k) => {
          const frame = k + 2;
          for (let i = s.off; i < s.off + s.bytes.length; i++) {
            firstFrame[i] = Math.min(firstFrame[i], frame);
          }
          events.push(...r.push(seg({ frame, seq: isn + 1 + s.off, payload: s.bytes })));
        });
        events.push(...r.flush());
        const { data: got, gaps } = streamOf(events, "initiator");
        assert.deepEqual(gaps, []);
        assert.deepEqual(got, data);
        // Every octet's capturedFrame is the first record that carried it, and its frame is
        // the record at which all octets up to it had arrived.
        let readyMax = 0;
        for (const e of events) {
          if (e.kind !== "data") continue;
          for (let i = 0; i < e.bytes.length; i++) {
            const o: number = e.streamOffset + i;
            assert.equal(e.capturedFrame.frame, firstFrame[o]);
            readyMax = Math.max(readyMax, firstFrame[o]);
          }
          assert.equal(e.frame.frame, readyMax);
        }
        assert.equal(r.stats.bufferedBytes, 0);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("property: a lost segment acknowledged by the peer is exactly one gap", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 3, maxLength: 200 }),
      fc.array(fc.nat(300), { minLength: 2, maxLength: 12 }),
      fc.nat(),
      (data, cuts, pick) => {
        const segs = segments(data, cuts);
        fc.pre(segs.length >= 3);
        const lost = 1 + (pick % (segs.length - 2)); // neither first nor last
        const r = new TcpReassembler();
        const events: TcpEvent[] = [...handshake(r)];
        segs.forEach((s, k) => {
          if (k !== lost) {
            events.push(...r.push(seg({ frame: 4 + k, seq: ISN_C + 1 + s.off, payload: s.bytes })));
          }
        });
        events.push(
          ...r.push(
            seg({ frame: 100, fromClient: false, seq: ISN_S + 1, ack: ISN_C + 1 + data.length }),
          ),
        );
        const { data: got, gaps } = streamOf(events, "initiator");
        assert.deepEqual(gaps, [[segs[lost].off, segs[lost].bytes.length]]);
        const expected = data.slice();
        expected.fill(0, segs[lost].off, segs[lost].off + segs[lost].bytes.length);
        assert.deepEqual(got, expected);
      },
    ),
    { numRuns: 200 },
  );
});
