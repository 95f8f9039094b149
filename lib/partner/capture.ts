/**
 * Records a partner session as pcapng (`--pcap FILE`): every connection becomes a synthesized
 * Ethernet/IPv6/TCP conversation between the real endpoints (IPv4 ones as `::ffff:a.b.c.d`),
 * with handshake, each chunk of octets as it went over the wire, and FINs, written through the
 * pcapng writer of `lib/capture`. `failover6 decode` reads it back (with `--failover-port` when
 * the secondary did not listen on 647).
 *
 * @module
 */

import { TcpConversation } from "../capture/build.ts";
import { LinkType } from "../capture/linktype.ts";
import { type PcapngSink, PcapngWriter } from "../capture/writer.ts";
import type { Endpoint } from "./net.ts";
import type { SessionRecorder } from "./session.ts";

function v6(address: string): string {
  const a = address.replace(/%.*$/, "");
  if (/^\d+\.\d+\.\d+\.\d+$/.test(a)) return `::ffff:${a}`;
  return a;
}

/** A `SessionRecorder` writing pcapng. */
export class PcapngRecorder implements SessionRecorder {
  #writer: PcapngWriter;
  #iface: number;
  #chain: Promise<void> = Promise.resolve();
  #conv: TcpConversation | undefined;
  #weAreClient = true;
  #error: unknown;
  /** Packets written. */
  packets = 0;

  /** Writes to `sink` (a file's `writable`, or any `PcapngSink`). */
  constructor(sink: PcapngSink | WritableStream<Uint8Array>) {
    this.#writer = new PcapngWriter(sink, { application: "failover6 partner" });
    this.#iface = this.#writer.addInterface({
      linkType: LinkType.ETHERNET,
      name: "failover6-partner",
    });
  }

  #emit(frames: Uint8Array[], atMs: number): void {
    for (const data of frames) {
      this.packets++;
      this.#chain = this.#chain.then(() =>
        this.#writer.writePacket({ interfaceId: this.#iface, timestampMs: atMs, data })
      ).catch((e) => {
        this.#error ??= e;
      });
    }
  }

  open(local: Endpoint, remote: Endpoint, weConnected: boolean, atMs: number): void {
    this.#weAreClient = weConnected;
    const us = { address: v6(local.address), port: local.port };
    const them = { address: v6(remote.address), port: remote.port };
    this.#conv = weConnected ? new TcpConversation(us, them) : new TcpConversation(them, us);
    this.#emit(this.#conv.handshake(), atMs);
  }

  data(fromUs: boolean, bytes: Uint8Array, atMs: number): void {
    if (!this.#conv) return;
    const side = fromUs === this.#weAreClient ? "client" : "server";
    this.#emit(this.#conv.send(side, bytes), atMs);
  }

  close(byUs: boolean, atMs: number): void {
    if (!this.#conv) return;
    const first = byUs === this.#weAreClient ? "client" : "server";
    const second = first === "client" ? "server" : "client";
    this.#emit([this.#conv.close(first), this.#conv.close(second), this.#conv.ack(first)], atMs);
    this.#conv = undefined;
  }

  /** Writes everything and closes the sink; rethrows the first write error. */
  async finish(): Promise<void> {
    await this.#chain;
    await this.#writer.close();
    if (this.#error) throw this.#error;
  }
}
