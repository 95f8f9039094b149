/**
 * Makes a large, deterministic pcapng capture for the decode benchmark with our own encoder
 * (`lib/wire`) and pcapng writer (`lib/capture`): failover TCP sessions on port 647 (CONNECT,
 * CONNECTREPLY, STATE both ways, bursts of BNDUPDs answered by BNDREPLYs, several messages
 * per segment and messages split across segments, CONTACT, DISCONNECT, FIN) interleaved with
 * DHCPv6 UDP exchanges (SOLICIT/ADVERTISE/REQUEST/REPLY). The same seed gives the same
 * traffic, so a smaller capture is a prefix of a larger one (the benchmark's tshark slice).
 *
 *   deno run -A bench/make_capture.ts OUT.pcapng [--size-mb 100]
 *
 * @module
 */
import { buildUdp6Frame, TcpConversation } from "../lib/capture/build.ts";
import { LinkType } from "../lib/capture/linktype.ts";
import { PcapngWriter } from "../lib/capture/writer.ts";
import { encodeMessage } from "../lib/wire/encode.ts";
import { frameMessage } from "../lib/wire/framing.ts";
import {
  clientData,
  clientId,
  connectOptions,
  failoverMessage,
  iaAddr,
  iaNa,
  leaseOptions,
  stateOptions,
} from "../lib/wire/options.ts";
import type { DhcpOption, Message } from "../lib/wire/types.ts";

/** What `makeCapture` wrote. */
export interface MadeCapture {
  /** Octets written. */
  bytes: number;
  /** Packet records. */
  records: number;
  /** DHCPv6 and failover messages in the capture. */
  messages: number;
  /** BNDUPD messages (each answered by one BNDREPLY). */
  bndupd: number;
}

/** Options of `makeCapture`. */
export interface MakeCaptureOptions {
  /** Stop once at least this many octets are written. */
  sizeBytes: number;
  /** BNDUPD/BNDREPLY rounds per failover session (default 5000). */
  roundsPerSession?: number;
}

const EPOCH_2000_MS = Date.UTC(2000, 0, 1);
const START_MS = Date.UTC(2024, 2, 1, 12, 0, 0);

function duid(i: number): Uint8Array {
  return Uint8Array.of(
    0,
    1,
    0,
    1,
    0x29,
    0xb9,
    0x2e,
    0xd0,
    0,
    0x11,
    (i >> 16) & 0xff,
    (i >> 8) & 0xff,
    i & 0xff,
    1,
  );
}

function address(i: number): string {
  return `2001:db8:${(i >> 16) & 0xffff}::${(i & 0xffff).toString(16)}`;
}

/** A BNDUPD for lease `i` (RFC 8156 §7.4 layout) and its BNDREPLY. */
function bndupd(xid: number, sent: number, i: number): Message {
  const lease = leaseOptions({
    bindingStatus: 1,
    startTimeOfState: sent - 30,
    stateExpirationTime: sent + 7200,
    cltTime: 12,
    partnerLifetime: sent + 9000,
    partnerRawCltTime: sent - 12,
    expirationTime: sent + 7200,
  });
  return failoverMessage(24, xid, sent, [
    clientData([
      clientId(duid(i)),
      { code: 100, baseTime: sent },
      iaNa(1, 1800, 2880, [iaAddr(address(i), 3600, 7200, lease)]),
    ]),
  ]);
}

function bndreply(xid: number, sent: number, i: number): Message {
  const lease: DhcpOption[] = [
    { code: 114, bindingStatus: 1 },
    { code: 124, partnerLifetimeSent: sent + 9000 },
  ];
  return failoverMessage(25, xid, sent, [
    clientData([
      clientId(duid(i)),
      { code: 100, baseTime: sent },
      iaNa(1, 1800, 2880, [iaAddr(address(i), 3600, 7200, lease)]),
    ]),
  ]);
}

function udpExchange(i: number): { from: "client" | "server"; message: Message }[] {
  const xid = (i * 7919) & 0xffffff;
  const cid = clientId(duid(0x800000 + i));
  const sid: DhcpOption = { code: 2, duid: Uint8Array.of(0, 2, 0, 0, 0x7e, 0xd9, 1, 2, 3, 4) };
  const ia = iaNa(1, 1800, 2880, [iaAddr(address(0x10000 + i), 3600, 7200)]);
  const cs = (msgType: number, options: DhcpOption[]): Message => ({
    kind: "client-server",
    msgType,
    transactionId: xid,
    options,
  });
  return [
    {
      from: "client",
      message: cs(1, [
        cid,
        { code: 8, elapsedTime: 0 },
        { code: 6, requestedOptions: [23, 24] },
        iaNa(1, 0, 0),
      ]),
    },
    { from: "server", message: cs(2, [sid, cid, ia, { code: 23, dnsServers: ["2001:db8::53"] }]) },
    { from: "client", message: cs(3, [cid, sid, { code: 8, elapsedTime: 100 }, ia]) },
    { from: "server", message: cs(7, [sid, cid, ia, { code: 23, dnsServers: ["2001:db8::53"] }]) },
  ];
}

/**
 * Writes the capture to `sink` until `sizeBytes` are written (whole exchanges, so a little
 * more). Deterministic.
 */
export async function makeCapture(
  sink: WritableStream<Uint8Array>,
  options: MakeCaptureOptions,
): Promise<MadeCapture> {
  const w = new PcapngWriter(sink, { bufferBytes: 1 << 20 });
  const eth = w.addInterface({ linkType: LinkType.ETHERNET, name: "bench0" });
  const rounds = options.roundsPerSession ?? 5000;
  let us = START_MS * 1000;
  let records = 0;
  let messages = 0;
  let bndupds = 0;
  let lease = 0;
  let udp = 0;
  const put = async (frames: Uint8Array[], stepUs = 200) => {
    for (const data of frames) {
      us += stepUs;
      await w.writePacket({ interfaceId: eth, timestampNs: BigInt(us) * 1000n, data });
      records++;
    }
  };
  const written = () => w.bytesWritten;
  for (let session = 0; written() < options.sizeBytes; session++) {
    const c = new TcpConversation(
      { address: `2001:db8:f0::${(session % 250) + 1}`, port: 49152 + (session % 10000) },
      { address: "2001:db8:f0::ffff", port: 647 },
      { mss: 1440 },
    );
    const sent = () => Math.floor((us / 1000 - EPOCH_2000_MS) / 1000);
    const send = async (from: "client" | "server", msgs: Message[]) => {
      const parts = msgs.map((m) => frameMessage(encodeMessage(m)));
      const total = parts.reduce((n, p) => n + p.length, 0);
      const stream = new Uint8Array(total);
      parts.reduce((o, p) => (stream.set(p, o), o + p.length), 0);
      messages += msgs.length;
      await put(c.send(from, stream));
    };
    await put(c.handshake());
    let xid = 1;
    const mclt = { mclt: 3600, keepaliveTime: 60, maxUnackedBndupd: 16 };
    await send("client", [
      failoverMessage(31, xid, sent(), connectOptions({ ...mclt, relationshipName: "bench" })),
    ]);
    await send("server", [
      failoverMessage(32, xid++, sent(), connectOptions(mclt)),
      failoverMessage(
        34,
        0x800000 + xid,
        sent(),
        stateOptions({ serverState: 2, flags: 1, startTimeOfState: sent() }),
      ),
    ]);
    await send("client", [
      failoverMessage(
        34,
        xid++,
        sent(),
        stateOptions({ serverState: 2, flags: 1, startTimeOfState: sent() }),
      ),
    ]);
    for (let r = 0; r < rounds && written() < options.sizeBytes; r++) {
      // 1..12 BNDUPDs per burst: several per segment, and bursts longer than one segment.
      const k = 1 + ((r * 5) % 12);
      const ids: [number, number][] = [];
      for (let j = 0; j < k; j++) ids.push([(xid++) & 0xffffff, lease++]);
      await send("client", ids.map(([x, i]) => bndupd(x, sent(), i)));
      bndupds += k;
      await send("server", ids.map(([x, i]) => bndreply(x, sent(), i)));
      await put([c.ack("client")]);
      if (r % 50 === 49) {
        await send("client", [failoverMessage(35, (xid++) & 0xffffff, sent())]);
        await send("server", [failoverMessage(35, 0x800000 + (r & 0x7fff), sent())]);
      }
      if (r % 4 === 3) {
        const client = `fe80::211:22ff:fe${((udp >> 8) & 0xff).toString(16)}:${
          (udp & 0xff).toString(16)
        }`;
        for (const { from, message } of udpExchange(udp++)) {
          const frame = buildUdp6Frame({
            src: from === "client" ? client : "fe80::2aa:bbff:fecc:dd01",
            dst: from === "client" ? "ff02::1:2" : client,
            sport: from === "client" ? 546 : 547,
            dport: from === "client" ? 547 : 546,
            payload: encodeMessage(message),
          });
          messages++;
          await put([frame]);
        }
      }
    }
    await send("client", [
      failoverMessage(33, (xid++) & 0xffffff, sent(), [{
        code: 13,
        statusCode: 20,
        statusMessage: "",
      }]),
    ]);
    await put([c.close("client"), c.close("server"), c.ack("client")]);
  }
  await w.close();
  return { bytes: written(), records, messages, bndupd: bndupds };
}

if (import.meta.main) {
  const out = Deno.args[0];
  const i = Deno.args.indexOf("--size-mb");
  const sizeMb = i >= 0 ? Number(Deno.args[i + 1]) : 100;
  if (!out || !(sizeMb > 0)) {
    console.error("usage: deno run -A bench/make_capture.ts OUT.pcapng [--size-mb 100]");
    Deno.exit(2);
  }
  const file = await Deno.open(out, { write: true, create: true, truncate: true });
  const t = performance.now();
  const made = await makeCapture(file.writable, { sizeBytes: sizeMb * 1048576 });
  console.log(
    `${out}: ${(made.bytes / 1048576).toFixed(1)} MB, ${made.records} records, ` +
      `${made.messages} messages (${made.bndupd} BNDUPD) in ${
        ((performance.now() - t) / 1000).toFixed(1)
      } s`,
  );
}
