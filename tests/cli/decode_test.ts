/**
 * `failover6 decode`: output formats, filters, summary, progress bar, and bad input (one
 * stderr line, exit status 2 where nothing could be read). Expected figures come from the
 * oracle files in ../shared/captures, not from our own output.
 */
import assert from "node:assert/strict";
import { type DecodeIo, parseTypeFilter, runDecode } from "../../cli/decode.ts";
import { UsageError } from "../../cli/main.ts";
import { buildUdp6Frame, TcpConversation } from "../../lib/capture/build.ts";
import { LinkType } from "../../lib/capture/linktype.ts";
import { timestampDiffMs, timestampToIso } from "../../lib/capture/messages.ts";
import { PcapngWriter } from "../../lib/capture/writer.ts";
import type { Clock } from "../../lib/util/clock.ts";
import { encodeMessage } from "../../lib/wire/encode.ts";
import { frameMessage } from "../../lib/wire/framing.ts";
import { failoverMessage } from "../../lib/wire/options.ts";

const DIR = new URL("../../../shared/captures/", import.meta.url);
const available = await Deno.stat(DIR).then(() => true, () => false);
if (!available) console.warn(`oracle captures not found at ${DIR.pathname}: those tests skipped`);
const CLI = new URL("../../cli/main.ts", import.meta.url).pathname;

type Json = Record<string, unknown>;
const capture = (name: string) => new URL(name, DIR).pathname;
const oracle = async (name: string): Promise<Json[]> =>
  JSON.parse(await Deno.readTextFile(new URL(`${name}.expect.json`, DIR)));

/** A test IO: collects stdout and stderr; `terminal` says whether stderr is a terminal. */
function testIo(opts: { terminal?: boolean; stdin?: Uint8Array; clock?: Clock } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  let t = 0;
  const io: DecodeIo = {
    write: (s) => {
      out.push(s);
      return Promise.resolve();
    },
    flush: () => Promise.resolve(),
    stderr: (s) => void err.push(s),
    stderrIsTerminal: () => opts.terminal ?? false,
    stdin: () => ReadableStream.from(opts.stdin ? [opts.stdin] : []),
    clock: opts.clock ?? { now: () => (t += 250) },
  };
  return { io, out: () => out.join(""), err: () => err.join("") };
}

async function jsonLines(file: string, extra: Json = {}): Promise<Json[]> {
  const t = testIo();
  await runDecode(file, { json: true, ...extra }, t.io);
  return t.out().trimEnd().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

/** Runs the real CLI in a subprocess. */
async function cli(args: string[], stdin?: Uint8Array) {
  const p = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, "decode", ...args],
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin) {
    const w = p.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const r = await p.output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

async function pcapngOf(frames: Uint8Array[]): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const w = new PcapngWriter({ write: (c) => void chunks.push(c) });
  w.addInterface({ linkType: LinkType.ETHERNET });
  let ms = Date.UTC(2024, 2, 1);
  for (const data of frames) await w.writePacket({ timestampMs: ms++, data });
  await w.close();
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  chunks.reduce((o, c) => (out.set(c, o), o + c.length), 0);
  return out;
}

const tmp = await Deno.makeTempDir({ prefix: "failover6-decode-test-" });
globalThis.addEventListener("unload", () => Deno.removeSync(tmp, { recursive: true }));
async function tmpFile(name: string, bytes: Uint8Array): Promise<string> {
  const path = `${tmp}/${name}`;
  await Deno.writeFile(path, bytes);
  return path;
}

// ---------------------------------------------------------------------------------------
// Bad input (real subprocess: exit status and the one stderr line)
// ---------------------------------------------------------------------------------------

Deno.test("bad input: not a capture, empty, cut header, missing file: one line, exit 2", async () => {
  const text = await tmpFile("notes.txt", new TextEncoder().encode("hello world\n"));
  const empty = await tmpFile("empty.pcap", new Uint8Array(0));
  const pcap = await Deno.readFile(capture("malformed.pcap"));
  const header = await tmpFile("header.pcap", pcap.subarray(0, 10));
  const cases: [string[], RegExp][] = [
    [
      [text],
      /^failover6: decode: .*notes\.txt: not a pcap or pcapng file \(magic 0x68656c6c at offset 0\)$/,
    ],
    [[empty], /^failover6: decode: .*empty\.pcap: empty file, not a pcap or pcapng capture$/],
    [
      [header],
      /^failover6: decode: .*header\.pcap: truncated capture, no record could be read: .*at byte 0$/,
    ],
    [[`${tmp}/missing.pcap`], /^failover6: decode: .*missing\.pcap: no such file$/],
    [[tmp], /^failover6: decode: .*: is a directory, not a capture file$/],
  ];
  for (const [args, line] of cases) {
    const r = await cli(args);
    assert.equal(r.code, 2, `${args}: ${r.err}`);
    assert.equal(r.out, "");
    const lines = r.err.trimEnd().split("\n");
    assert.equal(lines.length, 1, r.err);
    assert.match(lines[0], line);
  }
});

Deno.test("bad input: a capture of other traffic gives one line and exit 2", async () => {
  const dns = buildUdp6Frame({
    src: "2001:db8::1",
    dst: "2001:db8::53",
    sport: 40000,
    dport: 53,
    payload: new Uint8Array(20),
  });
  const file = await tmpFile("dns.pcapng", await pcapngOf([dns, dns, dns]));
  const r = await cli([file]);
  assert.equal(r.code, 2);
  assert.match(
    r.err,
    /^failover6: decode: .*dns\.pcapng: no DHCPv6 or failover messages in 3 records \(looked at UDP 546\/547, TCP 647 and 547\)\n$/,
  );
});

Deno.test({
  name: "truncated tail: what was read is decoded, one stderr line, exit 0; - reads stdin",
  ignore: !available,
  fn: async () => {
    const bytes = await Deno.readFile(capture("failover-session.pcapng"));
    const cut = bytes.subarray(0, Math.floor(bytes.length * 0.6));
    const r = await cli(["--json", "-"], cut);
    assert.equal(r.code, 0, r.err);
    const got = r.out.trimEnd().split("\n").map((l) => JSON.parse(l));
    const expect = await oracle("failover-session.pcapng");
    assert.ok(got.length > 0 && got.length < expect.length);
    got.forEach((g, i) => {
      const e = expect[i];
      assert.deepEqual([g.msgType, g.transactionId], [e.msgType, e.transactionId]);
      if (i < got.length - 1) assert.deepEqual([g.frame, g.errors], [e.frame, e.errors]);
    });
    // The cut went through the last message: it is reported cut, with its captured octets.
    const last = got.at(-1)!;
    assert.deepEqual(last.errors, [{
      kind: "frame-truncated",
      declaredSize: expect[got.length - 1].messageSize,
      availableSize: last.errors[0].availableSize,
    }]);
    assert.ok(last.errors[0].availableSize < last.messageSize);
    const lines = r.err.trimEnd().split("\n");
    assert.equal(lines.length, 1);
    assert.match(
      lines[0],
      /^failover6: decode: -: truncated: .* at byte \d+ .*decoded the \d+ records before it$/,
    );
  },
});

Deno.test("usage errors: unknown --type, bad --port: one line, exit 2", async () => {
  const r = await cli(["--type", "BNDUPD,NOPE", "x.pcap"]);
  assert.equal(r.code, 2);
  assert.equal(r.err, 'failover6: decode: --type: unknown message type "NOPE"\n');
  await assert.rejects(
    () => runDecode("x.pcap", { port: "70000" }, testIo().io),
    (e) =>
      e instanceof UsageError && e.message === 'decode: --port: "70000" is not a port (1-65535)',
  );
  await assert.rejects(
    () => runDecode("x.pcap", { failoverPort: "abc" }, testIo().io),
    (e) => e instanceof UsageError && /--failover-port/.test(e.message),
  );
});

Deno.test("--type accepts names, aliases (BNDACK, CONNECTACK), any case, _ or -, and numbers", () => {
  assert.deepEqual([...parseTypeFilter("BNDUPD, bndack,connectack,34,relay_forw")], [
    24,
    25,
    32,
    34,
    12,
  ]);
  assert.throws(() => parseTypeFilter("300"), UsageError);
  assert.throws(() => parseTypeFilter(" , "), UsageError);
});

// ---------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------

Deno.test({
  name: "text: frame, ISO time, addresses, ports, name, code, transaction-id, tree, rtt",
  ignore: !available,
  fn: async () => {
    const t = testIo();
    await runDecode(capture("failover-session.pcapng"), {}, t.io);
    const blocks = t.out().trimEnd().split("\n\n");
    const expect = await oracle("failover-session.pcapng");
    assert.equal(blocks.length, expect.length);
    blocks.forEach((b, i) => {
      const e = expect[i];
      const [head, body] = b.split("\n");
      assert.ok(
        head.startsWith(`#${e.frame}  ${timestampToIso(e.timestamp as string)}  if 0  tcp `),
        head,
      );
      assert.ok(head.includes(`[${e.src}]:${e.sport} -> [${e.dst}]:${e.dport}`), head);
      assert.ok(head.includes(`offset ${e.tcpStreamOffset} size ${e.messageSize}`), head);
      if (e.firstFrame !== e.frame) assert.ok(head.includes(`(from #${e.firstFrame})`), head);
      const xid = (e.transactionId as number).toString(16).padStart(6, "0");
      assert.ok(
        body.startsWith(`${e.msgName} (${e.msgType}) transactionId=${e.transactionId} (0x${xid})`),
        body,
      );
      if (e.msgType === 25) {
        const upd = expect.slice(0, i).findLast((u) =>
          u.msgType === 24 && u.transactionId === e.transactionId
        )!;
        const ms = timestampDiffMs(upd.timestamp as string, e.timestamp as string);
        assert.ok(head.endsWith(`rtt ${ms}ms (BNDUPD #${upd.frame})`), head);
      }
    });
    assert.match(blocks[0], /\n {2}OPTION_F_MCLT \(122\) length=4: mclt=\d+s\n/);
  },
});

Deno.test({
  name: "text: errors in place (tcp-gap, frame-truncated, option errors), decoding goes on",
  ignore: !available,
  fn: async () => {
    const reorder = testIo();
    await runDecode(capture("failover-reorder.pcap"), {}, reorder.io);
    const gapBlock = reorder.out().split("\n\n").find((b) => b.includes("! tcp-gap"))!;
    assert.match(
      gapBlock,
      /^#14 .* offset 497 size 132 \(from #13\)\nBNDUPD \(24\) transactionId=518 /,
    );
    assert.match(
      gapBlock,
      /\n {2}! tcp-gap: 60 octets missing from the capture at stream offset 517$/,
    );
    assert.match(reorder.out(), /\nDISCONNECT \(33\) transactionId=519 /, "decoding went on");

    const bad = testIo();
    await runDecode(capture("malformed.pcap"), {}, bad.io);
    const out = bad.out();
    const expect = await oracle("malformed.pcap");
    for (const e of expect) {
      for (const x of e.errors as Json[]) {
        assert.match(out, new RegExp(`\\n  ! ${x.kind}: `), `frame ${e.frame} ${x.kind}`);
      }
    }
    assert.match(
      out,
      /BNDUPD \(24\) transactionId=770 .*\n {2}! frame-truncated: stream ended after 30 of 600 octets/,
    );
  },
});

Deno.test({
  name: "--type and --port filter messages (JSON); aliases select the same messages",
  ignore: !available,
  fn: async () => {
    const file = capture("failover-session.pcapng");
    const expect = await oracle("failover-session.pcapng");
    const want = expect.filter((e) => [24, 25, 34].includes(e.msgType as number));
    const got = await jsonLines(file, { type: "BNDUPD,BNDACK,34" });
    assert.deepEqual(
      got.map((g) => [g.frame, g.transactionId]),
      want.map((e) => [e.frame, e.transactionId]),
    );
    const alias = await jsonLines(file, { type: "connectack" });
    assert.deepEqual(alias.map((g) => g.msgType), [32]);

    const mixed = capture("malformed.pcap");
    const all = await oracle("malformed.pcap");
    const p647 = await jsonLines(mixed, { port: "647" });
    assert.deepEqual(
      p647.map((g) => g.frame),
      all.filter((e) => e.sport === 647 || e.dport === 647).map((e) => e.frame),
    );
    const none = testIo();
    await runDecode(mixed, { port: "9" }, none.io);
    assert.equal(none.out(), "", "a filter that selects nothing is not an error");
  },
});

Deno.test({
  name:
    "--summary --json: counts per type, conversations, errors, pairing and RTTs from the oracle",
  ignore: !available,
  fn: async () => {
    for (const name of ["failover-session.pcapng", "failover-reorder.pcap", "malformed.pcap"]) {
      const expect = await oracle(name);
      const [s] = await jsonLines(capture(name), { summary: true });
      assert.equal(s.messages, expect.length);
      const counts = new Map<number, number>();
      for (const e of expect) {
        counts.set(e.msgType as number, (counts.get(e.msgType as number) ?? 0) + 1);
      }
      assert.deepEqual(
        s.byType,
        [...counts].sort((a, b) => a[0] - b[0]).map(([msgType, count]) => ({ msgType, count })),
      );
      const errors: Record<string, number> = {};
      for (const e of expect) {
        for (const x of e.errors as Json[]) {
          errors[x.kind as string] = (errors[x.kind as string] ?? 0) + 1;
        }
      }
      assert.deepEqual(s.errors, errors, name);
      assert.equal(
        s.messagesWithErrors,
        expect.filter((e) => (e.errors as Json[]).length > 0).length,
      );
      const tcp = new Set(
        expect.filter((e) => e.transport === "tcp").map((e) =>
          [e.src, e.sport, e.dst, e.dport].sort().join()
        ),
      );
      assert.equal(
        (s.conversations as Json[]).filter((c) => c.transport === "tcp").length,
        tcp.size,
      );
      const rtts: number[] = [];
      for (const [i, e] of expect.entries()) {
        if (e.msgType !== 25) continue;
        const upd = expect.slice(0, i).findLast((u) =>
          u.msgType === 24 && u.transactionId === e.transactionId
        );
        if (upd) rtts.push(timestampDiffMs(upd.timestamp as string, e.timestamp as string));
      }
      const pairing = s.pairing as { paired: number; bndupd: number; rttMs: Json | null };
      assert.equal(pairing.paired, rtts.length);
      assert.equal(pairing.bndupd, counts.get(24) ?? 0);
      if (rtts.length > 0) {
        rtts.sort((a, b) => a - b);
        assert.equal(pairing.rttMs!.min, rtts[0]);
        assert.equal(pairing.rttMs!.max, rtts.at(-1));
        assert.equal(pairing.rttMs!.p50, rtts[Math.ceil(rtts.length / 2) - 1]);
      } else assert.equal(pairing.rttMs, null);
    }
  },
});

Deno.test({
  name: "--summary text names types, conversations, errors, gaps and RTTs",
  ignore: !available,
  fn: async () => {
    const t = testIo();
    await runDecode(capture("failover-reorder.pcap"), { summary: true }, t.io);
    const out = t.out();
    assert.match(out, /: 19 records \(pcap\), 13 messages, /);
    assert.match(out, /\n {2}BNDUPD \(24\)\s+4\n/);
    assert.match(
      out,
      /\n {2}tcp #1\s+\[2001:db8:f0::1\]:49200 <-> \[2001:db8:f0::2\]:647\s+13 messages/,
    );
    assert.match(out, /\nerrors: 1 messages with errors \(tcp-gap 1\)\n/);
    assert.match(out, /\ngaps: 1 \(60 octets missing\)\n/);
    assert.match(
      out,
      /\nBNDUPD\/BNDREPLY: 4 BNDUPD, 4 paired, 0 unanswered, 0 BNDREPLY without BNDUPD\n {2}rtt ms: min /,
    );
  },
});

Deno.test("text: stream notes and malformed packets are shown in place", async () => {
  const c = new TcpConversation({ address: "2001:db8::1", port: 50000 }, {
    address: "2001:db8::2",
    port: 647,
  });
  const framed = (t: number) =>
    t === 23
      ? frameMessage(
        encodeMessage({ kind: "client-server", msgType: 23, transactionId: 1, options: [] }),
      )
      : t === 7
      ? frameMessage(
        encodeMessage({ kind: "client-server", msgType: 7, transactionId: 1, options: [] }),
      )
      : frameMessage(encodeMessage(failoverMessage(35, 1, 0)));
  const broken = new Uint8Array(30);
  broken.set([0x86, 0xdd], 12); // Ethernet says IPv6, but only 16 octets follow
  const bytes = await pcapngOf([
    ...c.handshake(),
    broken,
    ...c.send("client", framed(23)),
    ...c.send("server", framed(7)),
    ...c.send("client", Uint8Array.of(0x16, 0x03, 0x03, 0, 1, 0)),
  ]);
  const t = testIo({ stdin: bytes });
  await runDecode("-", {}, t.io);
  const out = t.out();
  assert.match(out, /#4 {2}.* {2}malformed packet\n {2}! ip .*: IPv6 header needs 40 octets/);
  assert.match(
    out,
    /\n {2}\* tls: STARTTLS accepted: the rest of connection 1 is TLS and is not decoded\n/,
  );
  const json = testIo({ stdin: bytes });
  await runDecode("-", { json: true }, json.io);
  assert.deepEqual(json.out().trimEnd().split("\n").map((l) => JSON.parse(l).msgType), [23, 7]);
});

Deno.test({
  name: "progress bar: only when stderr is a terminal and the file is large; cleared at the end",
  ignore: !available,
  fn: async () => {
    const file = capture("failover-session.pcapng");
    const small = testIo({ terminal: true });
    await runDecode(file, {}, small.io);
    assert.equal(small.err(), "", "file below 50 MB: no bar");
    const pipe = testIo({ terminal: false });
    await runDecode(file, { progressMinBytes: 0 }, pipe.io);
    assert.equal(pipe.err(), "", "stderr not a terminal: no bar");
    const off = testIo({ terminal: true });
    await runDecode(file, { progressMinBytes: 0, progress: false }, off.io);
    assert.equal(off.err(), "", "--no-progress");
    const tty = testIo({ terminal: true });
    await runDecode(file, { progressMinBytes: 0 }, tty.io);
    assert.ok(tty.err().startsWith("\r["), "the bar starts at the line start");
    assert.match(tty.err().slice(1), /^\[#+\.*\] +\d+% \d+ MB\/\d+ MB \d+ messages/);
    assert.ok(tty.err().includes(" messages\u001b[K"), "each draw clears the rest of the line");
    assert.ok(tty.err().endsWith("\r\x1b[K"), "the bar is cleared");
    assert.ok(!tty.out().includes("\r"), "stdout untouched");
  },
});
