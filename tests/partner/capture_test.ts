/**
 * `--pcap`: the session written as pcapng reads back through the capture decoder that
 * `failover6 decode` uses, with the same messages, directions and endpoints.
 */
import assert from "node:assert/strict";
import { PcapngRecorder } from "../../lib/partner/capture.ts";
import { MemoryNetwork } from "../../lib/partner/net.ts";
import { runScenarios } from "../../lib/partner/runner.ts";
import { VirtualScheduler } from "../../lib/partner/scheduler.ts";
import { parseScenarios } from "../../lib/partner/scenario.ts";
import { decodeCapture, type MessageEvent } from "../../lib/capture/messages.ts";
import { encodeMessage } from "../../lib/wire/encode.ts";
import { frameMessage } from "../../lib/wire/framing.ts";
import { TestPeer } from "./double.ts";

function sink(): { chunks: Uint8Array[]; write(c: Uint8Array): void; bytes(): Uint8Array } {
  const chunks: Uint8Array[] = [];
  return {
    chunks,
    write: (c) => void chunks.push(c),
    bytes: () => {
      const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let o = 0;
      for (const c of chunks) {
        out.set(c, o);
        o += c.length;
      }
      return out;
    },
  };
}

async function messages(bytes: Uint8Array, failoverPort = 647): Promise<MessageEvent[]> {
  const out: MessageEvent[] = [];
  for await (const ev of decodeCapture(bytes, { failoverPort })) {
    if (ev.kind === "message") out.push(ev);
  }
  return out;
}

Deno.test("a scenario run (two connections) reads back message for message", async () => {
  const sched = new VirtualScheduler();
  const net = new MemoryNetwork("2001:db8::1");
  const double = new TestPeer({
    role: "secondary",
    network: net,
    scheduler: sched,
    listen: { address: "2001:db8::2", port: 647 },
    mclt: 3600,
    keepalive: 30,
    maxUnacked: 10,
  });
  double.start();
  const out = sink();
  const rec = new PcapngRecorder(out);
  const sent: string[] = [];
  const report = await sched.run(runScenarios(
    parseScenarios(`
name: cap
steps:
  - handshake:
  - send: BNDUPD
    lease: {client: "000300010203", address: "2001:db8::9"}
  - expect: BNDREPLY
  - cut:
  - reconnect:
  - handshake:
`),
    {
      role: "primary",
      settings: { keepalive: 30 },
      network: net,
      peer: double.local,
      scheduler: sched,
      recorder: rec,
      log: (l) => {
        const m = /^\S+ (->|<-) ([A-Z-]+) \(\d+\) transactionId=(\d+)/.exec(l);
        if (m) sent.push(`${m[1]} ${m[2]} ${m[3]}`);
      },
    },
  ));
  double.stop();
  await rec.finish();
  assert.equal(report.passed, 1);
  const got = await messages(out.bytes());
  const seen = got.map((e) => {
    const dir = e.src === "2001:db8::1" ? "->" : "<-";
    const m = e.message!;
    return `${dir} ${
      ({
        24: "BNDUPD",
        25: "BNDREPLY",
        31: "CONNECT",
        32: "CONNECTREPLY",
        34: "STATE",
        35: "CONTACT",
      } as Record<number, string>)[m.msgType]
    } ${m.kind === "relay" ? "" : m.transactionId}`;
  });
  assert.deepEqual(seen, sent);
  assert.ok(got.every((e) => e.errors.length === 0));
  assert.deepEqual(new Set(got.map((e) => e.conn)), new Set([1, 2]));
  const first = got[0];
  assert.deepEqual([first.src, first.dst, first.dport], ["2001:db8::1", "2001:db8::2", 647]);
  assert.equal(first.sport, 40000);
  assert.equal(first.timestamp, "1709294400.000000");
});

Deno.test("IPv4 endpoints become ::ffff:a.b.c.d; the secondary side is the TCP server", async () => {
  const out = sink();
  const rec = new PcapngRecorder(out);
  const contact = frameMessage(
    encodeMessage({ kind: "failover", msgType: 35, transactionId: 3, sentTime: 0, options: [] }),
  );
  rec.open(
    { address: "127.0.0.1", port: 16647 },
    { address: "127.0.0.1", port: 50000 },
    false,
    1000,
  );
  rec.data(false, contact, 1001);
  rec.data(true, contact.subarray(0, 3), 1002);
  rec.data(true, contact.subarray(3), 1003);
  rec.close(false, 1004);
  await rec.finish();
  const got = await messages(out.bytes(), 16647);
  assert.equal(got.length, 2);
  assert.deepEqual([got[0].src, got[0].sport, got[0].dport], ["::ffff:127.0.0.1", 50000, 16647]);
  assert.deepEqual([got[1].src, got[1].sport, got[1].firstFrame !== got[1].frame], [
    "::ffff:127.0.0.1",
    16647,
    true,
  ]);
  assert.ok(rec.packets >= 8, "handshake, data, FINs");
});
