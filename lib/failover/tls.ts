/**
 * Secure mode for the failover connection (RFC 8156 §10 → RFC 7653 §8.2, §9.1): the primary
 * (requestor) sends STARTTLS as the first message; the secondary answers REPLY with no status
 * and both sides run TLS with certificates verified both ways, or, in insecure mode, answers
 * REPLY with TLSConnectionRefused. A secure-mode secondary closes any connection that does not
 * start with STARTTLS or whose certificate is not acceptable.
 *
 * Deno's own `startTls` cannot present a client certificate, so both sides use `node:net` and
 * `node:tls`. Deno's `node:tls` server does not check client certificates itself, so the
 * secondary verifies the primary's certificate here: issued and signed by one of the configured
 * CAs, within its validity period, and (optionally) carrying an allowed name (§10: limit
 * incoming connections by certificate).
 *
 * @module
 */

import net from "node:net";
import tls from "node:tls";
import { X509Certificate } from "node:crypto";
import { encodeMessage } from "../wire/encode.ts";
import { decodeMessage } from "../wire/decode.ts";
import { frameMessage } from "../wire/framing.ts";
import { findOption, statusCode } from "../wire/options.ts";
import type { Acceptor, ByteStream, Connector, ConnListener } from "./connection.ts";

/** Certificates and keys of one side (PEM). */
export interface TlsOptions {
  /** CA certificate(s) that sign the partner's certificate. */
  caCerts: string[];
  /** This server's certificate (chain). */
  cert: string;
  /** Its private key. */
  key: string;
  /** Primary: the name the secondary's certificate must carry (default: the host connected to). */
  serverName?: string;
  /**
   * Names (subject CN or subjectAltName DNS/IP) the partner's certificate must carry; absent =
   * any certificate the CAs signed.
   */
  allowedPeerNames?: string[];
  /** How long to wait for the REPLY to STARTTLS and for the handshake, ms (default 10000). */
  timeoutMs?: number;
}

/** Why a secure connection could not be made. */
export class TlsSetupError extends Error {
  override name = "TlsSetupError";
}

const STARTTLS = 23;
const REPLY = 7;
const TLS_CONNECTION_REFUSED = 15;

/** A Node stream as a {@linkcode ByteStream}. */
export class NodeByteStream implements ByteStream {
  readonly socket: net.Socket | tls.TLSSocket;
  #chunks: Uint8Array[] = [];
  #ended = false;
  #error: Error | undefined;
  #waiter: (() => void) | undefined;
  readonly remoteAddr: Deno.NetAddr;
  /** Our end of the connection. */
  readonly localAddr: Deno.NetAddr;

  /** Wraps `socket`; data already received can be handed back with `pending`. */
  constructor(socket: net.Socket | tls.TLSSocket, pending?: Uint8Array) {
    this.socket = socket;
    if (pending && pending.length > 0) this.#chunks.push(pending);
    this.remoteAddr = {
      transport: "tcp",
      hostname: socket.remoteAddress ?? "",
      port: socket.remotePort ?? 0,
    };
    this.localAddr = {
      transport: "tcp",
      hostname: socket.localAddress ?? "",
      port: socket.localPort ?? 0,
    };
    socket.on("data", (d: Uint8Array) => {
      this.#chunks.push(new Uint8Array(d));
      this.#wake();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on("error", (e: Error) => {
      this.#error = e;
      this.#wake();
    });
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.();
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((r) => (this.#waiter = r));
    }
    const c = this.#chunks[0];
    const n = Math.min(p.length, c.length);
    p.set(c.subarray(0, n));
    if (n === c.length) this.#chunks.shift();
    else this.#chunks[0] = c.subarray(n);
    return n;
  }

  write(p: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      this.socket.write(p, (e?: Error | null) => (e ? reject(e) : resolve(p.length)));
    });
  }

  close(): void {
    this.socket.destroy();
  }

  /** Detaches the data listener and returns what was buffered (before a TLS upgrade). */
  drain(): Uint8Array {
    this.socket.removeAllListeners("data");
    this.socket.removeAllListeners("end");
    this.socket.removeAllListeners("close");
    this.socket.removeAllListeners("error");
    const size = this.#chunks.reduce((n, c) => n + c.length, 0);
    const out = new Uint8Array(size);
    let off = 0;
    for (const c of this.#chunks) {
      out.set(c, off);
      off += c.length;
    }
    this.#chunks = [];
    return out;
  }
}

function startTlsFrame(xid: number): Uint8Array {
  return frameMessage(
    encodeMessage({ kind: "client-server", msgType: STARTTLS, transactionId: xid, options: [] }),
  );
}

function replyFrame(xid: number, refused: boolean): Uint8Array {
  return frameMessage(
    encodeMessage({
      kind: "client-server",
      msgType: REPLY,
      transactionId: xid,
      options: refused ? [statusCode(TLS_CONNECTION_REFUSED, "TLS is not offered here")] : [],
    }),
  );
}

/** Reads one framed message from a stream, with a deadline. */
async function readFrame(s: NodeByteStream, timeoutMs: number): Promise<Uint8Array> {
  const buf: number[] = [];
  const one = new Uint8Array(1);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TlsSetupError("no answer in time")), timeoutMs);
  });
  try {
    const read = async () => {
      while (buf.length < 2 || buf.length < 2 + ((buf[0] << 8) | buf[1])) {
        const n = await s.read(one);
        if (n === null) throw new TlsSetupError("connection closed");
        buf.push(one[0]);
      }
      return Uint8Array.from(buf.slice(2));
    };
    return await Promise.race([read(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function names(x: X509Certificate): string[] {
  const out: string[] = [];
  const cn = /(?:^|\n|,\s*)CN=([^\n,]+)/.exec(x.subject);
  if (cn) out.push(cn[1]);
  for (const part of (x.subjectAltName ?? "").split(/,\s*/)) {
    const m = /^(?:DNS|IP Address):(.+)$/.exec(part);
    if (m) out.push(m[1]);
  }
  return out;
}

/**
 * Checks the partner's certificate (DER) against the CAs: issued by one of them, its signature
 * verifies, valid now, and carrying an allowed name when names are configured. Returns the
 * problem, or undefined when acceptable.
 */
export function checkPeerCertificate(
  der: Uint8Array | undefined,
  options: Pick<TlsOptions, "caCerts" | "allowedPeerNames">,
  now = Date.now(),
): string | undefined {
  if (!der || der.length === 0) return "no certificate";
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch {
    return "unreadable certificate";
  }
  const issuer = options.caCerts.map((p) => new X509Certificate(p)).find((ca) =>
    cert.checkIssued(ca) && cert.verify(ca.publicKey)
  );
  if (!issuer) {
    return `certificate of ${cert.subject.replace(/\n/g, ", ")} is not signed by a configured CA`;
  }
  if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo)) {
    return "certificate is outside its validity period";
  }
  if (options.allowedPeerNames && !names(cert).some((n) => options.allowedPeerNames!.includes(n))) {
    return `certificate names ${names(cert).join(", ")} are not allowed`;
  }
  return undefined;
}

/**
 * The primary's connector in secure mode (RFC 7653 §8.2): TCP, STARTTLS, REPLY without a status,
 * then TLS verifying the secondary's certificate against `caCerts` and `serverName`, presenting
 * `cert`. Any other outcome (no answer, closed, TLSConnectionRefused, bad certificate) closes the
 * connection and rejects with a {@linkcode TlsSetupError}.
 */
export function startTlsConnector(options: TlsOptions): Connector {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return async (hostname, port) => {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: hostname, port }, () => resolve(s));
      s.once("error", reject);
    });
    socket.setNoDelay(true);
    const plain = new NodeByteStream(socket);
    try {
      const xid = Math.floor(Math.random() * 0xff_ffff) + 1;
      await plain.write(startTlsFrame(xid));
      const reply = decodeMessage(await readFrame(plain, timeoutMs)).message;
      if (!reply || reply.msgType !== REPLY) {
        throw new TlsSetupError("answer to STARTTLS is not REPLY");
      }
      const st = findOption(reply.options, 13);
      if (st && st.statusCode !== 0) {
        throw new TlsSetupError(
          st.statusCode === TLS_CONNECTION_REFUSED
            ? "the secondary refused TLS (TLSConnectionRefused)"
            : `STARTTLS answered with status ${st.statusCode}`,
        );
      }
      const rest = plain.drain();
      const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
        const t = tls.connect({
          socket,
          ca: options.caCerts,
          cert: options.cert,
          key: options.key,
          // SNI carries names only (Deno's node:tls refuses an IP there, RFC 6066 §3): for a
          // partner configured by address, check its certificate's IP subjectAltName instead.
          ...(options.serverName === undefined && net.isIP(hostname) !== 0
            ? {
              checkServerIdentity: (_host: string, cert: tls.PeerCertificate) =>
                tls.checkServerIdentity(hostname, cert),
            }
            : { servername: options.serverName ?? hostname }),
          rejectUnauthorized: true,
        }, () => resolve(t));
        t.once("error", reject);
        setTimeout(() => reject(new TlsSetupError("TLS handshake timed out")), timeoutMs);
      });
      if (!secure.authorized) {
        throw new TlsSetupError(`secondary certificate: ${secure.authorizationError}`);
      }
      // Checked here as well, whatever the TLS layer did (see the module notes).
      const der = (secure.getPeerCertificate(true) as { raw?: Uint8Array })?.raw;
      const problem = checkPeerCertificate(der, options);
      if (problem) throw new TlsSetupError(`secondary ${problem}`);
      return new NodeByteStream(secure, rest.length ? rest : undefined);
    } catch (e) {
      socket.destroy();
      throw e instanceof TlsSetupError ? e : new TlsSetupError((e as Error)?.message ?? String(e));
    }
  };
}

/** A `node:net` listener for {@linkcode runSecondary} (needed for the TLS upgrade). */
export function nodeListener(hostname: string, port: number): Promise<ConnListener> {
  return new Promise((resolve, reject) => {
    const queue: NodeByteStream[] = [];
    const waiting: ((s: NodeByteStream) => void)[] = [];
    // A waiter woken with undefined means the listener closed.
    let closed = false;
    const server = net.createServer((socket) => {
      socket.setNoDelay(true);
      const s = new NodeByteStream(socket);
      const w = waiting.shift();
      if (w) w(s);
      else queue.push(s);
    });
    server.once("error", reject);
    server.listen(port, hostname, () => {
      const a = server.address() as net.AddressInfo;
      resolve({
        addr: { transport: "tcp", hostname: a.address, port: a.port },
        accept() {
          if (closed) return Promise.reject(new Error("listener closed"));
          const s = queue.shift();
          if (s) return Promise.resolve(s);
          return new Promise((resolve, reject) =>
            waiting.push((x) => (x ? resolve(x) : reject(new Error("listener closed"))))
          );
        },
        close() {
          closed = true;
          server.close();
          for (const s of queue.splice(0)) s.close();
          for (const w of waiting.splice(0)) w(undefined as unknown as NodeByteStream);
        },
      });
    });
  });
}

/**
 * The secondary's acceptor (RFC 7653 §9.1). With `options` (secure mode) the first message must
 * be STARTTLS: REPLY with no status, TLS with the primary's certificate required and checked
 * ({@linkcode checkPeerCertificate}); anything else closes the connection. Without `options`
 * (insecure mode, an explicit choice) a STARTTLS is answered with REPLY + TLSConnectionRefused
 * and closed, and a connection starting with CONNECT goes on in the clear. Works on
 * {@linkcode nodeListener} connections.
 */
export function startTlsAcceptor(
  options: TlsOptions | undefined,
  log: (line: string) => void = () => {},
): Acceptor {
  const timeoutMs = options?.timeoutMs ?? 10_000;
  return async (conn) => {
    if (!(conn instanceof NodeByteStream)) throw new Error("startTlsAcceptor needs nodeListener");
    let first: Uint8Array;
    try {
      first = await readFrame(conn, timeoutMs);
    } catch (e) {
      log(`no first message: ${(e as Error).message}`);
      conn.close();
      return undefined;
    }
    const m = decodeMessage(first).message;
    const framed = frameMessage(first);
    if (m?.msgType !== STARTTLS) {
      if (options) {
        log("secure mode: closing a connection that did not start with STARTTLS");
        conn.close();
        return undefined;
      }
      return { stream: conn, first: framed };
    }
    if (!options) {
      await conn.write(replyFrame(m.transactionId, true));
      log("insecure mode: STARTTLS refused (TLSConnectionRefused)");
      conn.close();
      return undefined;
    }
    await conn.write(replyFrame(m.transactionId, false));
    const rest = conn.drain();
    const socket = conn.socket as net.Socket;
    if (rest.length > 0) socket.unshift(rest);
    try {
      const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
        const t = new tls.TLSSocket(socket, {
          isServer: true,
          requestCert: true,
          rejectUnauthorized: true,
          ca: options.caCerts,
          cert: options.cert,
          key: options.key,
        });
        t.once("secure", () => resolve(t));
        t.once("error", reject);
        setTimeout(() => reject(new TlsSetupError("TLS handshake timed out")), timeoutMs);
      });
      const der = (secure.getPeerCertificate(true) as { raw?: Uint8Array })?.raw;
      const problem = checkPeerCertificate(der, options);
      if (problem) {
        log(`secure mode: closing: primary ${problem}`);
        secure.destroy();
        return undefined;
      }
      return { stream: new NodeByteStream(secure) };
    } catch (e) {
      log(`TLS handshake failed: ${(e as Error).message}`);
      socket.destroy();
      return undefined;
    }
  };
}
