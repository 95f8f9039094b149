/**
 * Simulated DHCPv6 clients for `deno task demo`: one UDP socket, many clients (each its own
 * DUID). Every message goes to every server given, the way a client's multicast reaches both
 * partners of a failover pair on one link; the first answer wins. A client solicits and
 * requests one address, renews it from the server that granted it, and rebinds when that
 * server does not answer (RFC 8415 §18.2.4, §18.2.5). Not a production client.
 *
 * @module
 */

import dgram from "node:dgram";
import type { Buffer } from "node:buffer";
import {
  type ClientServerMessage,
  decodeMessage,
  type DhcpOption,
  encodeMessage,
  findOption,
  iaAddr,
  iaNa,
  MessageType,
} from "../lib/wire/mod.ts";

/** A server's UDP address. */
export interface ServerAddress {
  address: string;
  port: number;
}

/** What one client holds. */
export interface ClientLease {
  address: string;
  preferred: number;
  valid: number;
  t1: number;
  /** The server DUID (hex) that answered last. */
  server: string;
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** The shared socket: sends to every server, matches answers by transaction-id. */
export class DemoNetwork {
  readonly #socket: dgram.Socket;
  readonly #servers: ServerAddress[];
  readonly #waiting = new Map<number, (m: ClientServerMessage) => void>();
  #xid = Math.floor(Math.random() * 0xffffff);

  private constructor(socket: dgram.Socket, servers: ServerAddress[]) {
    this.#socket = socket;
    this.#servers = servers;
    socket.on("message", (msg: Buffer) => {
      const r = decodeMessage(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength));
      if (r.message?.kind !== "client-server") return;
      const w = this.#waiting.get(r.message.transactionId);
      if (!w) return; // a late or second answer
      this.#waiting.delete(r.message.transactionId);
      w(r.message);
    });
  }

  /** Opens the socket on [::1]. */
  static open(servers: ServerAddress[]): Promise<DemoNetwork> {
    const s = dgram.createSocket("udp6");
    return new Promise((resolve, reject) => {
      s.once("error", reject);
      s.bind({ address: "::1", port: 0 }, () => {
        s.off("error", reject);
        s.on("error", () => {});
        resolve(new DemoNetwork(s, servers));
      });
    });
  }

  /** A fresh transaction-id. */
  xid(): number {
    this.#xid = (this.#xid + 1) & 0xffffff;
    return this.#xid;
  }

  /** Sends to every server, retransmits, and returns the first answer (or undefined). */
  async exchange(
    m: ClientServerMessage,
    attempts = 3,
    timeoutMs = 400,
  ): Promise<ClientServerMessage | undefined> {
    const bytes = encodeMessage(m);
    const got = new Promise<ClientServerMessage>((r) => this.#waiting.set(m.transactionId, r));
    try {
      for (let i = 0; i < attempts; i++) {
        for (const s of this.#servers) this.#socket.send(bytes, s.port, s.address);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const r = await Promise.race([
          got,
          new Promise<undefined>((res) => timer = setTimeout(() => res(undefined), timeoutMs)),
        ]);
        clearTimeout(timer);
        if (r) return r;
      }
      return undefined;
    } finally {
      this.#waiting.delete(m.transactionId);
    }
  }

  /** Closes the socket. */
  close(): Promise<void> {
    return new Promise((r) => this.#socket.close(() => r()));
  }
}

/** One simulated client with one IA_NA. */
export class DemoClient {
  /** Client DUID (DUID-LL). */
  readonly duid: Uint8Array;
  /** What it holds, if anything. */
  lease?: ClientLease;
  #serverId?: Uint8Array;
  readonly #net: DemoNetwork;

  /** Client number `n` on `net`. */
  constructor(net: DemoNetwork, n: number) {
    this.#net = net;
    this.duid = new Uint8Array([0, 3, 0, 1, 0x02, 0xde, 0x30, 0, (n >> 8) & 255, n & 255]);
  }

  /** Hex DUID. */
  get duidHex(): string {
    return hex(this.duid);
  }

  #build(type: number, withServer: boolean): ClientServerMessage {
    const ia = iaNa(1, 0, 0, this.lease ? [iaAddr(this.lease.address, 0, 0)] : []);
    const options: DhcpOption[] = [{ code: 1, duid: this.duid }, { code: 8, elapsedTime: 0 }, ia];
    if (withServer && this.#serverId) options.splice(1, 0, { code: 2, duid: this.#serverId });
    return { kind: "client-server", msgType: type, transactionId: this.#net.xid(), options };
  }

  #read(m: ClientServerMessage | undefined): ClientLease | undefined {
    if (!m) return undefined;
    const sid = findOption(m.options, 2);
    const ia = findOption(m.options, 3);
    const a = ia ? findOption(ia.options, 5) : undefined;
    if (!sid || !ia || !a || a.validLifetime === 0) return undefined;
    this.#serverId = sid.duid;
    return {
      address: a.address,
      preferred: a.preferredLifetime,
      valid: a.validLifetime,
      t1: ia.t1,
      server: hex(sid.duid),
    };
  }

  /** Solicit then Request; resolves to the lease or undefined. */
  async obtain(): Promise<ClientLease | undefined> {
    this.lease = undefined;
    const adv = await this.#net.exchange(this.#build(MessageType.SOLICIT, false));
    const offered = this.#read(adv);
    if (!offered) return undefined;
    this.lease = offered;
    const got = this.#read(await this.#net.exchange(this.#build(MessageType.REQUEST, true)));
    this.lease = got;
    return got;
  }

  /** Renew with the server that granted the lease, else Rebind with any server. */
  async extend(): Promise<{ lease?: ClientLease; how: "renew" | "rebind" }> {
    const renewed = this.#read(await this.#net.exchange(this.#build(MessageType.RENEW, true), 2));
    if (renewed) {
      this.lease = renewed;
      return { lease: renewed, how: "renew" };
    }
    const rebound = this.#read(await this.#net.exchange(this.#build(MessageType.REBIND, false)));
    if (rebound) this.lease = rebound;
    return { lease: rebound, how: "rebind" };
  }
}
