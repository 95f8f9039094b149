/** The whole pipeline: records → dissection → reassembly, including a file cut short. */

import assert from "node:assert/strict";
import { TcpConversation } from "../../lib/capture/build.ts";
import { CaptureError } from "../../lib/capture/errors.ts";
import { readTransport, type TransportEvent } from "../../lib/capture/transport.ts";
import { pcapFile } from "./_helpers.ts";

function session(port: number) {
  const conv = new TcpConversation({ address: "2001:db8::1", port: 40000 }, {
    address: "2001:db8::2",
    port,
  });
  return [
    ...conv.handshake(),
    ...conv.send("client", Uint8Array.of(0, 3, 1, 2, 3)),
    ...conv.send("client", Uint8Array.of(0, 9, 1, 2)), // the rest never comes
  ];
}

Deno.test("a file cut inside a record: streams are flushed, then the CaptureError is thrown", async () => {
  const frames = session(647);
  const file = pcapFile(
    { le: true, linkType: 1 },
    frames.map((data, i) => ({ sec: 100 + i, frac: 0, data })),
  );
  const cut = file.subarray(0, file.length - 3);
  const events: TransportEvent[] = [];
  let error: unknown;
  try {
    for await (const e of readTransport(cut)) events.push(e);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof CaptureError);
  assert.equal(error.kind, "truncated");
  assert.equal(error.frame, 5);
  assert.deepEqual(
    events.map((e) => e.kind === "end" ? `end:${e.reason}@${e.streamOffset}` : e.kind),
    [
      "open",
      "open",
      "data",
      "end:capture-end@5",
      "end:capture-end@0",
    ],
  );
});

Deno.test("tcpFilter keeps only the wanted connections", async () => {
  const frames = [...session(647), ...session(80)];
  const file = pcapFile(
    { le: false, linkType: 1 },
    frames.map((data, i) => ({ sec: i, frac: 0, data })),
  );
  const events: TransportEvent[] = [];
  for await (
    const e of readTransport(file, { tcpFilter: (s) => s.sport === 647 || s.dport === 647 })
  ) events.push(e);
  const conns = new Set(
    events.flatMap((e) =>
      "stream" in e ? [`${e.stream.conn}:${e.stream.sport}:${e.stream.dport}`] : []
    ),
  );
  assert.deepEqual([...conns].sort(), ["1:40000:647", "1:647:40000"]);
  const data = events.filter((e) => e.kind === "data");
  assert.equal(data.length, 2, "both segments of the filtered session delivered");
});
