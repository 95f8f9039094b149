/**
 * Self-check against the independent oracle in ../shared/captures: the raw payloads come
 * from `X.tshark.json` (`udp.payload`, `tcp.payload`), the expected decode from
 * `X.expect.json`. Only in-order TCP sessions are used here (reassembly is the capture
 * layer's job).
 */
import assert from "node:assert/strict";
import { decodeMessage } from "../../lib/wire/decode.ts";
import { encodeMessage } from "../../lib/wire/encode.ts";
import { errorToJson } from "../../lib/wire/errors.ts";
import { Deframer } from "../../lib/wire/framing.ts";
import { messageToJson } from "../../lib/wire/render.ts";

const DIR = new URL("../../../shared/captures/", import.meta.url);

function exists(url: URL): boolean {
  try {
    Deno.statSync(url);
    return true;
  } catch {
    return false;
  }
}

const available = exists(new URL("dhcpv6-4way.pcapng.expect.json", DIR));
if (!available) {
  console.warn(`oracle_test: SKIPPED, oracle captures not found at ${DIR.pathname}`);
}

type Json = Record<string, unknown>;
// deno-lint-ignore no-explicit-any
type Layers = Record<string, any>;

function load(name: string): { packets: Layers[]; expect: Json[] } {
  const tshark = JSON.parse(Deno.readTextFileSync(new URL(`${name}.tshark.json`, DIR)));
  const expect = JSON.parse(Deno.readTextFileSync(new URL(`${name}.expect.json`, DIR)));
  return { packets: tshark.map((p: Layers) => p._source.layers), expect };
}

function octets(colonHex: string): Uint8Array {
  return Uint8Array.from(colonHex.split(":"), (h) => parseInt(h, 16));
}

/** Our JSON for the keys the oracle entry has that belong to the message. */
function ours(bytes: Uint8Array, opts = {}): { json: Json; errors: Json[] } {
  const r = decodeMessage(bytes, opts);
  assert.ok(r.message);
  return { json: messageToJson(r.message), errors: r.errors.map((e) => errorToJson(e)) };
}

function pick(entry: Json, keys: string[]): Json {
  return Object.fromEntries(keys.map((k) => [k, entry[k]]));
}

const UDP_FILES = [
  "dhcpv6-4way.pcapng",
  "dhcpv6-relayed.pcap",
  "mixed-links.pcapng",
  "malformed.pcap",
];

Deno.test({
  name: "oracle: every UDP message decodes to the expect.json shape and re-encodes exactly",
  ignore: !available,
  fn() {
    let checked = 0;
    for (const file of UDP_FILES) {
      const { packets, expect } = load(file);
      for (const L of packets) {
        const payload = L.udp?.["udp.payload"];
        if (!payload) continue;
        const frame = Number(L.frame["frame.number"]);
        const entry = expect.find((e) => e.frame === frame);
        assert.ok(entry, `${file} frame ${frame} has no expectation`);
        const bytes = octets(payload);
        const capLen = Number(L.frame["frame.cap_len"]);
        const origLen = Number(L.frame["frame.len"]);
        const cut = capLen < origLen;
        const opts = cut
          ? { captureTruncated: { capturedLength: capLen, originalLength: origLen } }
          : {};
        const deep = (entry.errors as Json[]).some((e) => e.kind === "relay-nesting-too-deep");
        // The oracle holds the full 40-level relay tree: compare it with the limit lifted,
        // and the error with the default limit.
        const { json } = ours(bytes, deep ? { ...opts, hopCountLimit: 64, maxDepth: 128 } : opts);
        const { errors } = ours(bytes, opts);
        assert.deepStrictEqual(json, pick(entry, Object.keys(json)), `${file} frame ${frame}`);
        assert.deepStrictEqual(errors, entry.errors, `${file} frame ${frame} errors`);
        if (!cut) {
          assert.deepStrictEqual(encodeMessage(decodeMessage(bytes).message!), bytes);
        }
        checked++;
      }
    }
    assert.equal(checked, 30);
  },
});

Deno.test({
  name: "oracle: failover session deframed from TCP payloads matches all 33 messages",
  ignore: !available,
  fn() {
    const { packets, expect } = load("failover-session.pcapng");
    const streams = new Map<string, Deframer>();
    let checked = 0;
    for (const L of packets) {
      const payload = L.tcp?.["tcp.payload"];
      if (!payload) continue;
      const key = `${L.ipv6["ipv6.src"]}/${L.tcp["tcp.srcport"]}`;
      if (!streams.has(key)) streams.set(key, new Deframer());
      const r = streams.get(key)!.push(octets(payload));
      assert.equal(r.error, undefined);
      for (const f of r.frames) {
        const entry = expect.find((e) =>
          `${e.src}/${e.sport}` === key && e.tcpStreamOffset === f.offset
        );
        assert.ok(entry, `${key} offset ${f.offset} has no expectation`);
        assert.equal(f.size, entry.messageSize);
        const { json, errors } = ours(f.data);
        assert.deepStrictEqual(json, pick(entry, Object.keys(json)));
        assert.deepStrictEqual(errors, entry.errors);
        assert.deepStrictEqual(encodeMessage(decodeMessage(f.data).message!), f.data);
        checked++;
      }
    }
    for (const d of streams.values()) assert.equal(d.finish(), undefined);
    assert.equal(checked, expect.length);
    assert.equal(checked, 33);
  },
});

Deno.test({
  name: "oracle: the failover frame cut before FIN gives the expected frame-truncated error",
  ignore: !available,
  fn() {
    const { packets, expect } = load("malformed.pcap");
    const streams = new Map<string, Deframer>();
    for (const L of packets) {
      const payload = L.tcp?.["tcp.payload"];
      if (!payload) continue;
      const key = `${L.ipv6["ipv6.src"]}/${L.tcp["tcp.srcport"]}`;
      if (!streams.has(key)) streams.set(key, new Deframer());
      streams.get(key)!.push(octets(payload));
    }
    const entry = expect.find((e) =>
      (e.errors as Json[]).some((x) => x.kind === "frame-truncated")
    )!;
    const d = streams.get(`${entry.src}/${entry.sport}`)!;
    const err = d.finish()!;
    assert.deepStrictEqual(errorToJson(err), (entry.errors as Json[])[0]);
    assert.equal(err.offset, entry.tcpStreamOffset);
  },
});
