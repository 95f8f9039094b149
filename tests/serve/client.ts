/**
 * A DHCPv6 client for the serve tests, written here (not a production client): one UDP socket
 * shared by many simulated clients (each with its own DUID), replies matched by
 * transaction-id, retransmission on a short timer. Builds Solicit, Request, Renew, Rebind,
 * Release, Decline, Confirm and Information-request with IA_NA and IA_PD, and reads the
 * leases and status codes out of replies.
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
  findOptions,
  iaAddr,
  iaNa,
  iaPd,
  iaPrefix,
  type Message,
  MessageType,
  OptionCode,
  StatusCode,
} from "../../lib/wire/mod.ts";

/** A lease read from a reply. */
export interface GotLease {
  /** `na` or `pd`. */
  kind: "na" | "pd";
  /** IAID of the IA it came in. */
  iaid: number;
  /** Address or prefix. */
  address: string;
  /** 128 for an address. */
  prefixLength: number;
  /** Seconds. */
  preferred: number;
  /** Seconds. */
  valid: number;
}

/** An IA read from a reply, with its status. */
export interface GotIa {
  /** `na` or `pd`. */
  kind: "na" | "pd";
  /** IAID. */
  iaid: number;
  /** T1, seconds. */
  t1: number;
  /** T2, seconds. */
  t2: number;
  /** Status code inside the IA (0 when absent). */
  status: number;
  /** Its leases. */
  leases: GotLease[];
}

/** A decoded reply and what the tests look at. */
export interface Answer {
  /** The decoded message. */
  message: ClientServerMessage;
  /** Message-level status code (0 when absent). */
  status: number;
  /** IAs. */
  ias: GotIa[];
  /** Leases with a valid lifetime above 0, over every IA. */
  leases: GotLease[];
  /** Server DUID octets. */
  serverId?: Uint8Array;
}

/** Reads IAs, leases and status codes out of a client-level message. */
export function readAnswer(message: ClientServerMessage): Answer {
  const ias: GotIa[] = [];
  for (const o of message.options) {
    if (o.code !== OptionCode.IA_NA && o.code !== OptionCode.IA_PD) continue;
    if (!("iaid" in o)) continue;
    const kind = o.code === OptionCode.IA_NA ? "na" : "pd";
    const inner = o.options as DhcpOption[];
    const leases: GotLease[] = [];
    for (const a of inner) {
      if (a.code === OptionCode.IAADDR && "address" in a) {
        leases.push({
          kind,
          iaid: o.iaid,
          address: a.address,
          prefixLength: 128,
          preferred: a.preferredLifetime,
          valid: a.validLifetime,
        });
      } else if (a.code === OptionCode.IAPREFIX && "prefix" in a) {
        leases.push({
          kind,
          iaid: o.iaid,
          address: a.prefix,
          prefixLength: a.prefixLength,
          preferred: a.preferredLifetime,
          valid: a.validLifetime,
        });
      }
    }
    const st = findOption(inner, OptionCode.STATUS_CODE);
    ias.push({
      kind,
      iaid: o.iaid,
      t1: (o as { t1: number }).t1,
      t2: (o as { t2: number }).t2,
      status: st?.statusCode ?? 0,
      leases,
    });
  }
  const st = findOption(message.options, OptionCode.STATUS_CODE);
  return {
    message,
    status: st?.statusCode ?? StatusCode.Success,
    ias,
    leases: ias.flatMap((i) => i.leases.filter((l) => l.valid > 0)),
    serverId: findOption(message.options, OptionCode.SERVERID)?.duid,
  };
}

/** A DUID-LL (type 3, hardware type 1) from a number: distinct numbers, distinct DUIDs. */
export function testDuid(n: number): Uint8Array {
  const d = new Uint8Array(10);
  d.set([0, 3, 0, 1, 0x02, 0xf6]);
  new DataView(d.buffer).setUint32(6, n >>> 0);
  return d;
}

/** Lower-case hex of octets. */
export function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Options of {@linkcode ClientSocket.exchange}. */
export interface ExchangeOptions {
  /** Wait per attempt, ms (default 500). */
  timeoutMs?: number;
  /** Attempts (default 4). */
  attempts?: number;
}

interface Waiter {
  resolve: (m: Message) => void;
}

/** One UDP socket on [::1] (or any address) shared by simulated clients. */
export class ClientSocket {
  readonly #socket: dgram.Socket;
  readonly #server: { address: string; port: number };
  readonly #waiting = new Map<number, Waiter>();
  #nextXid = Math.floor(Math.random() * 0xffffff);
  /** Replies that matched no waiting transaction (late duplicates). */
  stray = 0;
  /** Datagrams sent. */
  sent = 0;

  private constructor(socket: dgram.Socket, server: { address: string; port: number }) {
    this.#socket = socket;
    this.#server = server;
    socket.on("message", (msg: Buffer) => {
      const r = decodeMessage(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength));
      if (r.message === undefined || r.message.kind !== "client-server") return;
      const w = this.#waiting.get(r.message.transactionId);
      if (w === undefined) {
        this.stray++;
        return;
      }
      this.#waiting.delete(r.message.transactionId);
      w.resolve(r.message);
    });
  }

  /** Opens a socket that talks to `server`. */
  static open(
    server: { address: string; port: number },
    bindAddress = "::1",
  ): Promise<ClientSocket> {
    const socket = dgram.createSocket("udp6");
    return new Promise((resolve, reject) => {
      socket.once("error", reject);
      socket.bind({ address: bindAddress, port: 0 }, () => {
        socket.off("error", reject);
        socket.on("error", () => {});
        resolve(new ClientSocket(socket, server));
      });
    });
  }

  /** A fresh 24-bit transaction-id not in use. */
  xid(): number {
    do this.#nextXid = (this.#nextXid + 1) & 0xffffff; while (this.#waiting.has(this.#nextXid));
    return this.#nextXid;
  }

  /** Sends raw octets to the server (no answer expected). */
  sendRaw(bytes: Uint8Array): Promise<void> {
    this.sent++;
    return new Promise((resolve) => {
      this.#socket.send(bytes, this.#server.port, this.#server.address, () => resolve());
    });
  }

  /**
   * Sends a message and waits for the answer with its transaction-id, resending the same
   * octets after each timeout. `undefined` when no answer came.
   */
  async exchange(message: Message, opts: ExchangeOptions = {}): Promise<Message | undefined> {
    const bytes = encodeMessage(message);
    const xid = "transactionId" in message ? message.transactionId : -1;
    const timeoutMs = opts.timeoutMs ?? 500;
    const attempts = opts.attempts ?? 4;
    const got = new Promise<Message>((resolve) => this.#waiting.set(xid, { resolve }));
    try {
      for (let i = 0; i < attempts; i++) {
        await this.sendRaw(bytes);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const r = await Promise.race([
          got,
          new Promise<undefined>((resolve) =>
            timer = setTimeout(() => resolve(undefined), timeoutMs)
          ),
        ]);
        clearTimeout(timer);
        if (r !== undefined) return r;
      }
      return undefined;
    } finally {
      this.#waiting.delete(xid);
    }
  }

  /** Closes the socket. */
  close(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}

/** What a client asks for. */
export interface Want {
  /** IAIDs of IA_NA options. */
  na?: number[];
  /** IAIDs of IA_PD options. */
  pd?: number[];
  /** Put Rapid Commit in the Solicit. */
  rapidCommit?: boolean;
  /** ORO codes. */
  oro?: number[];
}

/** One simulated client (a DUID) over a shared {@linkcode ClientSocket}. */
export class TestClient {
  /** Client DUID octets. */
  readonly duid: Uint8Array;
  /** Server DUID learned from the last Advertise/Reply. */
  serverId?: Uint8Array;
  /** Leases of the last Reply that granted any. */
  leases: GotLease[] = [];
  readonly #socket: ClientSocket;
  readonly #opts: ExchangeOptions;

  /** @param socket shared socket @param duid client DUID @param opts retransmission */
  constructor(socket: ClientSocket, duid: Uint8Array, opts: ExchangeOptions = {}) {
    this.#socket = socket;
    this.duid = duid;
    this.#opts = opts;
  }

  /** Client DUID as lower-case hex. */
  get duidHex(): string {
    return hex(this.duid);
  }

  /** Builds a client message of `msgType` with Client ID, Elapsed Time and `options`. */
  build(msgType: number, options: DhcpOption[], withServerId = false): ClientServerMessage {
    const base: DhcpOption[] = [{ code: 1, duid: this.duid }, { code: 8, elapsedTime: 0 }];
    if (withServerId && this.serverId) base.push({ code: 2, duid: this.serverId });
    return {
      kind: "client-server",
      msgType,
      transactionId: this.#socket.xid(),
      options: [...base, ...options],
    };
  }

  /** IA options asking for `want` (empty IAs, or the given leases as hints). */
  static ias(want: Want, leases: GotLease[] = []): DhcpOption[] {
    const out: DhcpOption[] = [];
    for (const id of want.na ?? []) {
      out.push(iaNa(
        id,
        0,
        0,
        leases.filter((l) => l.kind === "na" && l.iaid === id).map((l) => iaAddr(l.address, 0, 0)),
      ));
    }
    for (const id of want.pd ?? []) {
      out.push(iaPd(
        id,
        0,
        0,
        leases.filter((l) => l.kind === "pd" && l.iaid === id).map((l) =>
          iaPrefix(l.address, l.prefixLength, 0, 0)
        ),
      ));
    }
    return out;
  }

  /** IA options that carry exactly `leases`, grouped by kind and IAID. */
  static iasOf(leases: GotLease[]): DhcpOption[] {
    const na = [...new Set(leases.filter((l) => l.kind === "na").map((l) => l.iaid))];
    const pd = [...new Set(leases.filter((l) => l.kind === "pd").map((l) => l.iaid))];
    return TestClient.ias({ na, pd }, leases);
  }

  /** Sends and reads the answer (undefined: none came). */
  async send(message: ClientServerMessage): Promise<Answer | undefined> {
    const m = await this.#socket.exchange(message, this.#opts);
    if (m === undefined || m.kind !== "client-server") return undefined;
    const a = readAnswer(m);
    if (a.serverId) this.serverId = a.serverId;
    if (m.msgType === MessageType.REPLY && a.leases.length > 0) this.leases = a.leases;
    return a;
  }

  /** Solicit. */
  solicit(want: Want): Promise<Answer | undefined> {
    const extra: DhcpOption[] = [];
    if (want.rapidCommit) extra.push({ code: 14 });
    if (want.oro) extra.push({ code: 6, requestedOptions: want.oro });
    return this.send(this.build(MessageType.SOLICIT, [...TestClient.ias(want), ...extra]));
  }

  /** Request for what an Advertise offered (or for `want` with no hints). */
  request(want: Want, offered: GotLease[] = []): Promise<Answer | undefined> {
    const extra: DhcpOption[] = want.oro ? [{ code: 6, requestedOptions: want.oro }] : [];
    return this.send(
      this.build(MessageType.REQUEST, [...TestClient.ias(want, offered), ...extra], true),
    );
  }

  /** Solicit then Request: the 4-message exchange. Returns the Reply. */
  async obtain(want: Want): Promise<Answer | undefined> {
    const adv = await this.solicit(want);
    if (adv === undefined) return undefined;
    return this.request(want, adv.leases);
  }

  /** Renew the leases held (or `leases`). */
  renew(leases: GotLease[] = this.leases): Promise<Answer | undefined> {
    return this.send(this.build(MessageType.RENEW, TestClient.iasOf(leases), true));
  }

  /** Rebind the leases held. */
  rebind(leases: GotLease[] = this.leases): Promise<Answer | undefined> {
    return this.send(this.build(MessageType.REBIND, TestClient.iasOf(leases)));
  }

  /** Release the leases held. */
  release(leases: GotLease[] = this.leases): Promise<Answer | undefined> {
    return this.send(this.build(MessageType.RELEASE, TestClient.iasOf(leases), true));
  }

  /** Decline addresses. */
  decline(leases: GotLease[]): Promise<Answer | undefined> {
    return this.send(this.build(MessageType.DECLINE, TestClient.iasOf(leases), true));
  }

  /** Confirm addresses. */
  confirm(leases: GotLease[] = this.leases): Promise<Answer | undefined> {
    return this.send(this.build(MessageType.CONFIRM, TestClient.iasOf(leases)));
  }

  /** Information-request. */
  informationRequest(oro: number[] = []): Promise<Answer | undefined> {
    const opts: DhcpOption[] = oro.length ? [{ code: 6, requestedOptions: oro }] : [];
    return this.send(this.build(MessageType.INFORMATION_REQUEST, opts));
  }
}

/** Every option of `code` at message level. */
export function optionsOf(message: ClientServerMessage, code: number): DhcpOption[] {
  return message.options.filter((o) => o.code === code);
}

export { findOption, findOptions };
