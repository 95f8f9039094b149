/**
 * Byte-stream connections for the test partner: a small {@linkcode Network} interface with a TCP
 * implementation over `Deno.connect`/`Deno.listen` and an in-memory one for tests (promise-driven,
 * so it runs under the `VirtualScheduler`). Also `HOST[:PORT]` parsing with bracketed IPv6, and
 * the bridges between these connections and the failover connection shell's byte streams.
 *
 * @module
 */

import { FAILOVER_PORT } from "../wire/types.ts";
import type { ByteStream, Connector, ConnListener } from "../failover/connection.ts";

/** One end of a connection, as text address and port. */
export interface Endpoint {
  /** IPv4 or IPv6 text (no brackets). */
  address: string;
  /** TCP port. */
  port: number;
}

/** A bidirectional byte stream. */
export interface Conn {
  /** Our end. */
  readonly local: Endpoint;
  /** The other end. */
  readonly remote: Endpoint;
  /** The next chunk, or null at end of stream (peer closed, reset, or we closed). */
  read(): Promise<Uint8Array | null>;
  /** Writes all of `bytes`; rejects if the connection is closed. */
  write(bytes: Uint8Array): Promise<void>;
  /** Closes both directions; idempotent. */
  close(): void;
}

/** A listening socket. */
export interface Listener {
  /** Where it listens (the real port if 0 was asked). */
  readonly local: Endpoint;
  /** The next incoming connection; rejects once closed. */
  accept(): Promise<Conn>;
  /** Stops listening; idempotent. */
  close(): void;
}

/** Something that can open and accept connections. */
export interface Network {
  /** Opens a connection to `to`. */
  connect(to: Endpoint): Promise<Conn>;
  /** Listens on `on` (port 0: any free port). */
  listen(on: Endpoint): Listener;
}

/** Why `parseHostPort` refused a text. */
export class EndpointSyntaxError extends Error {
  override name = "EndpointSyntaxError";
}

/**
 * Parses `HOST`, `HOST:PORT`, `[IPV6]`, `[IPV6]:PORT` or a bare IPv6 literal (no port). The port
 * defaults to `defaultPort` (647). Throws {@linkcode EndpointSyntaxError} with a one-line reason.
 */
export function parseHostPort(text: string, defaultPort: number = FAILOVER_PORT): Endpoint {
  const t = text.trim();
  if (t === "") throw new EndpointSyntaxError("empty address");
  let host: string;
  let portText: string | undefined;
  if (t.startsWith("[")) {
    const close = t.indexOf("]");
    if (close < 0) throw new EndpointSyntaxError(`"${text}": missing "]"`);
    host = t.slice(1, close);
    const rest = t.slice(close + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) {
        throw new EndpointSyntaxError(`"${text}": expected ":PORT" after "]"`);
      }
      portText = rest.slice(1);
    }
    if (!host.includes(":")) {
      throw new EndpointSyntaxError(`"${text}": brackets are only for IPv6 addresses`);
    }
  } else {
    const colons = t.split(":").length - 1;
    if (colons === 0) host = t;
    else if (colons === 1) [host, portText] = t.split(":");
    else host = t; // bare IPv6 literal, no port
  }
  if (host === "") throw new EndpointSyntaxError(`"${text}": missing host`);
  if (host.includes(":") && !/^[0-9a-fA-F:.]+(%[\w.-]+)?$/.test(host)) {
    throw new EndpointSyntaxError(`"${text}": "${host}" is not an IPv6 address`);
  }
  let port = defaultPort;
  if (portText !== undefined) {
    if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65535) {
      throw new EndpointSyntaxError(`"${text}": port "${portText}" is not 0-65535`);
    }
    port = Number(portText);
  }
  return { address: host, port };
}

/** `addr:port`, with brackets around IPv6 addresses. */
export function formatEndpoint(e: Endpoint): string {
  return e.address.includes(":") ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

// ---------------------------------------------------------------------------------------------
// TCP
// ---------------------------------------------------------------------------------------------

function endpointOf(addr: Deno.Addr): Endpoint {
  if (addr.transport === "tcp" || addr.transport === "udp") {
    return { address: addr.hostname, port: addr.port };
  }
  return { address: "::", port: 0 };
}

class TcpConn implements Conn {
  readonly local: Endpoint;
  readonly remote: Endpoint;
  #conn: Deno.TcpConn;
  #closed = false;
  #buf = new Uint8Array(64 * 1024);

  constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.local = endpointOf(conn.localAddr);
    this.remote = endpointOf(conn.remoteAddr);
    try {
      conn.setNoDelay(true);
    } catch { /* not fatal */ }
  }

  async read(): Promise<Uint8Array | null> {
    if (this.#closed) return null;
    try {
      const n = await this.#conn.read(this.#buf);
      if (n === null) return null;
      return this.#buf.slice(0, n);
    } catch {
      return null; // reset, or closed by us
    }
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.#closed) throw new Error("connection is closed");
    let off = 0;
    while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }
}

/** TCP over `Deno.connect` / `Deno.listen`. */
export const tcpNetwork: Network = {
  async connect(to: Endpoint): Promise<Conn> {
    const conn = await Deno.connect({ hostname: to.address, port: to.port, transport: "tcp" });
    return new TcpConn(conn);
  },
  listen(on: Endpoint): Listener {
    const l = Deno.listen({ hostname: on.address, port: on.port, transport: "tcp" });
    let closed = false;
    return {
      local: endpointOf(l.addr),
      async accept() {
        return new TcpConn(await l.accept());
      },
      close() {
        if (closed) return;
        closed = true;
        try {
          l.close();
        } catch { /* already closed */ }
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------
// In memory
// ---------------------------------------------------------------------------------------------

/** One direction of an in-memory connection. */
class Pipe {
  #chunks: Uint8Array[] = [];
  #ended = false;
  #waiter: ((v: Uint8Array | null) => void) | null = null;

  push(b: Uint8Array): void {
    if (this.#ended) return;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      w(b);
    } else this.#chunks.push(b);
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      w(this.#chunks.shift() ?? null);
    }
  }

  read(): Promise<Uint8Array | null> {
    const c = this.#chunks.shift();
    if (c) return Promise.resolve(c);
    if (this.#ended) return Promise.resolve(null);
    return new Promise((resolve) => this.#waiter = resolve);
  }
}

class MemoryConn implements Conn {
  readonly local: Endpoint;
  readonly remote: Endpoint;
  #in: Pipe;
  #out: Pipe;
  #closed = false;
  peer: MemoryConn | undefined;

  constructor(local: Endpoint, remote: Endpoint, inbound: Pipe, outbound: Pipe) {
    this.local = local;
    this.remote = remote;
    this.#in = inbound;
    this.#out = outbound;
  }

  read(): Promise<Uint8Array | null> {
    if (this.#closed) return Promise.resolve(null);
    return this.#in.read();
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("connection is closed"));
    this.#out.push(bytes.slice());
    return Promise.resolve();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#out.end();
    this.#in.end();
  }
}

class MemoryListener implements Listener {
  readonly local: Endpoint;
  #queue: Conn[] = [];
  #waiter: { resolve: (c: Conn) => void; reject: (e: Error) => void } | null = null;
  #closed = false;
  #onClose: () => void;

  constructor(local: Endpoint, onClose: () => void) {
    this.local = local;
    this.#onClose = onClose;
  }

  get closed(): boolean {
    return this.#closed;
  }

  deliver(c: Conn): void {
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      w.resolve(c);
    } else this.#queue.push(c);
  }

  accept(): Promise<Conn> {
    if (this.#closed) return Promise.reject(new Error("listener is closed"));
    const c = this.#queue.shift();
    if (c) return Promise.resolve(c);
    return new Promise((resolve, reject) => this.#waiter = { resolve, reject });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose();
    for (const c of this.#queue) c.close();
    this.#queue = [];
    if (this.#waiter) {
      this.#waiter.reject(new Error("listener is closed"));
      this.#waiter = null;
    }
  }
}

/**
 * An in-memory network: `listen` registers an endpoint, `connect` pairs two pipes. Connecting
 * to an endpoint nobody listens on is refused. Client ports are handed out from 40000 up.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryNetwork } from "@failover6/failover6";
 *
 * const net = new MemoryNetwork("2001:db8::1");
 * const listener = net.listen({ address: "2001:db8::2", port: 647 });
 * const client = await net.connect({ address: "2001:db8::2", port: 647 });
 * const server = await listener.accept();
 * await client.write(new Uint8Array([1, 2, 3]));
 * assert.deepEqual(await server.read(), new Uint8Array([1, 2, 3]));
 * assert.deepEqual(server.remote, { address: "2001:db8::1", port: 40000 });
 * client.close();
 * assert.equal(await server.read(), null);
 * listener.close();
 * await assert.rejects(net.connect({ address: "2001:db8::2", port: 647 })); // refused
 * ```
 */
export class MemoryNetwork implements Network {
  #listeners = new Map<string, MemoryListener>();
  #nextPort = 40000;
  /** Address given to connecting ends. */
  readonly clientAddress: string;

  /** Creates an empty network; connecting ends get `clientAddress` (default `2001:db8::1`). */
  constructor(clientAddress = "2001:db8::1") {
    this.clientAddress = clientAddress;
  }

  connect(to: Endpoint): Promise<Conn> {
    const l = this.#listeners.get(formatEndpoint(to));
    if (!l || l.closed) {
      return Promise.reject(new Error(`connection refused: ${formatEndpoint(to)}`));
    }
    const a = new Pipe();
    const b = new Pipe();
    const clientEnd = { address: this.clientAddress, port: this.#nextPort++ };
    const client = new MemoryConn(clientEnd, to, a, b);
    const server = new MemoryConn(to, clientEnd, b, a);
    l.deliver(server);
    return Promise.resolve(client);
  }

  listen(on: Endpoint): Listener {
    const port = on.port === 0 ? this.#nextPort++ : on.port;
    const local = { address: on.address, port };
    const key = formatEndpoint(local);
    if (this.#listeners.get(key)?.closed === false) {
      throw new Error(`address in use: ${key}`);
    }
    const l = new MemoryListener(local, () => this.#listeners.delete(key));
    this.#listeners.set(key, l);
    return l;
  }
}

// ---------------------------------------------------------------------------------------------
// Bridges to the connection shell (lib/failover/connection.ts)
// ---------------------------------------------------------------------------------------------

/** A partner {@linkcode Conn} seen as a connection-shell `ByteStream`; `conn` is the original. */
export interface ConnStream extends ByteStream {
  /** The wrapped connection. */
  readonly conn: Conn;
  /** The other end. */
  readonly remoteAddr: Deno.NetAddr;
  /** Our end. */
  readonly localAddr: Deno.NetAddr;
}

function netAddr(e: Endpoint): Deno.NetAddr {
  return { transport: "tcp", hostname: e.address, port: e.port };
}

/**
 * Wraps a partner connection as a `ByteStream` for `runPrimary`/`runSecondary` (reads hand
 * back what does not fit in the caller's buffer on the next read).
 */
export function streamOfConn(conn: Conn): ConnStream {
  let rest: Uint8Array = new Uint8Array(0);
  return {
    conn,
    remoteAddr: netAddr(conn.remote),
    localAddr: netAddr(conn.local),
    async read(p: Uint8Array): Promise<number | null> {
      if (rest.length === 0) {
        const chunk = await conn.read();
        if (chunk === null) return null;
        rest = chunk;
      }
      const n = Math.min(p.length, rest.length);
      p.set(rest.subarray(0, n));
      rest = rest.subarray(n);
      return n;
    },
    async write(p: Uint8Array): Promise<number> {
      await conn.write(p);
      return p.length;
    },
    close: () => conn.close(),
  };
}

function endpointOfAddr(a: unknown): Endpoint {
  const x = a as Partial<Deno.NetAddr> | undefined;
  return { address: x?.hostname ?? "::", port: x?.port ?? 0 };
}

/**
 * The partner {@linkcode Conn} of a connection-shell stream: a {@linkcode streamOfConn} gives
 * back its original; any other stream (e.g. a TLS connection from `lib/failover/tls.ts`) is
 * wrapped, with its ends taken from its `localAddr`/`remoteAddr` when it has them.
 */
export function connOfStream(stream: ByteStream): Conn {
  const own = (stream as Partial<ConnStream>).conn;
  if (own) return own;
  const s = stream as ByteStream & { localAddr?: unknown; remoteAddr?: unknown };
  const buf = new Uint8Array(64 * 1024);
  let closed = false;
  return {
    local: endpointOfAddr(s.localAddr),
    remote: endpointOfAddr(s.remoteAddr),
    async read(): Promise<Uint8Array | null> {
      if (closed) return null;
      try {
        const n = await stream.read(buf);
        return n === null ? null : buf.slice(0, n);
      } catch {
        return null; // reset, or closed by us
      }
    },
    async write(bytes: Uint8Array): Promise<void> {
      if (closed) throw new Error("connection is closed");
      let off = 0;
      while (off < bytes.length) off += await stream.write(bytes.subarray(off));
    },
    close(): void {
      if (closed) return;
      closed = true;
      try {
        stream.close();
      } catch { /* already closed */ }
    },
  };
}

/** A connection-shell `Connector` that dials through a partner {@linkcode Network}. */
export function networkConnector(network: Network): Connector {
  return async (hostname, port) => streamOfConn(await network.connect({ address: hostname, port }));
}

/** A partner {@linkcode Listener} as a connection-shell `ConnListener`. */
export function shellListener(listener: Listener): ConnListener {
  return {
    addr: netAddr(listener.local),
    accept: async () => streamOfConn(await listener.accept()),
    close: () => listener.close(),
  };
}
