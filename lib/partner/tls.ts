/**
 * Secure mode for the test partner (RFC 8156 §10 → RFC 7653 §8.2, §9.1), on the engine's own
 * STARTTLS implementation (`lib/failover/tls.ts`): as primary, a {@linkcode Network} whose
 * `connect` sends STARTTLS, expects REPLY without a status and upgrades, verifying the
 * secondary's certificate; as secondary, a {@linkcode Listener} ({@linkcode listenTls}) that
 * answers STARTTLS, upgrades, and requires and verifies the primary's certificate. Scenario
 * steps then run unchanged over the secured connection, and what the session records (pcapng)
 * is the plaintext failover messages after the upgrade.
 *
 * A connection that fails to become secure is a {@linkcode TlsSetupError} with one line saying
 * why: the runner turns it into a failed connect or accept step.
 *
 * @module
 */

import { createPrivateKey, X509Certificate } from "node:crypto";
import {
  nodeListener,
  startTlsAcceptor,
  startTlsConnector,
  type TlsOptions,
  TlsSetupError,
} from "../failover/tls.ts";
import { connOfStream, type Endpoint, formatEndpoint, type Listener, type Network } from "./net.ts";

export { TlsSetupError };
export type { TlsOptions };

/** The three PEM files of `--tls-cert`, `--tls-key` and `--tls-ca`. */
export interface TlsFiles {
  /** Our certificate (chain), PEM. */
  cert: string;
  /** Its private key, PEM. */
  key: string;
  /** The CA certificate(s) that sign the partner's certificate, PEM. */
  ca: string;
}

/**
 * A TLS file (`--tls-cert`, `--tls-key`, `--tls-ca`) that cannot be read or used.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TlsFileError } from "@failover6/failover6";
 *
 * const e = new TlsFileError("ca", "cannot read ca.crt: not found");
 * assert.equal(e.which, "ca");
 * ```
 */
export class TlsFileError extends Error {
  override name = "TlsFileError";
  /** Which file: `cert`, `key` or `ca`. */
  readonly which: keyof TlsFiles;
  /** Creates the error. */
  constructor(which: keyof TlsFiles, message: string) {
    super(message);
    this.which = which;
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

async function readPem(which: keyof TlsFiles, path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    throw new TlsFileError(which, `cannot read ${path}: ${e instanceof Error ? e.message : e}`);
  }
}

function certificates(which: keyof TlsFiles, path: string, text: string): X509Certificate[] {
  const blocks = text.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new TlsFileError(which, `${path} holds no PEM certificate`);
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch {
      throw new TlsFileError(which, `${path}: certificate ${i + 1} does not parse`);
    }
  });
}

/**
 * Reads and checks the PEM files: the certificate and CA parse, the key parses and belongs to
 * the certificate. Throws {@linkcode TlsFileError} naming the file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadTlsFiles, TlsFileError } from "@failover6/failover6";
 *
 * await assert.rejects(
 *   loadTlsFiles({ cert: "no-such.crt", key: "no-such.key", ca: "no-such-ca.crt" }),
 *   (e) => e instanceof TlsFileError && e.which === "cert",
 * );
 * ```
 */
export async function loadTlsFiles(files: TlsFiles): Promise<TlsOptions> {
  const cert = await readPem("cert", files.cert);
  const key = await readPem("key", files.key);
  const ca = await readPem("ca", files.ca);
  const [own] = certificates("cert", files.cert, cert);
  const cas = certificates("ca", files.ca, ca);
  let keyObject;
  try {
    keyObject = createPrivateKey(key);
  } catch {
    throw new TlsFileError("key", `${files.key} holds no readable PEM private key`);
  }
  if (!own.checkPrivateKey(keyObject)) {
    throw new TlsFileError("key", `${files.key} is not the key of the certificate ${files.cert}`);
  }
  return { cert, key, caCerts: cas.map((c) => c.toString()) };
}

/**
 * The primary's secure network: `connect` is TCP + STARTTLS + TLS (see `startTlsConnector`),
 * rejecting with a {@linkcode TlsSetupError} that names the secondary when the connection
 * cannot be secured, and with the plain error when TCP itself fails (refused, unreachable).
 * `listen` is not offered (a secure listener is opened with {@linkcode listenTls}).
 */
export function tlsNetwork(tls: TlsOptions): Network {
  const connector = startTlsConnector(tls);
  return {
    async connect(to: Endpoint) {
      try {
        return connOfStream(await connector(to.address, to.port));
      } catch (e) {
        if (!(e instanceof TlsSetupError)) throw e;
        if (/ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|connection refused/i.test(e.message)) {
          throw new Error(e.message); // TCP did not connect: retried like a plain connect
        }
        const untrusted = !/^secondary /.test(e.message) &&
          /self[- ]signed|unable to (get|verify)|certificate has expired|not yet valid|does not match|altnames/i
            .test(e.message);
        throw new TlsSetupError(
          `STARTTLS with ${formatEndpoint(to)} failed: ${
            untrusted ? "the secondary's certificate is not accepted: " : ""
          }${e.message}`,
        );
      }
    },
    listen(): Listener {
      throw new Error("a secure listener is opened with listenTls");
    },
  };
}

/**
 * The secondary's secure listener on `on` (port 0: any free port): each accepted connection must
 * start with STARTTLS, is answered with REPLY, and upgraded with the primary's certificate
 * required and checked against the CAs. `accept` resolves with the secured connection, or
 * rejects with a {@linkcode TlsSetupError} saying why that one connection failed (the listener
 * goes on); after `close` it rejects with a plain `Error`.
 */
export async function listenTls(on: Endpoint, tls: TlsOptions): Promise<Listener> {
  const l = await nodeListener(on.address, on.port);
  let why = "";
  const prepare = startTlsAcceptor(tls, (line) => why = line);
  const addr = l.addr as Deno.NetAddr;
  return {
    local: { address: addr.hostname, port: addr.port },
    async accept() {
      const raw = await l.accept();
      const from = formatEndpoint({
        address: (raw.remoteAddr as Deno.NetAddr).hostname,
        port: (raw.remoteAddr as Deno.NetAddr).port,
      });
      why = "";
      const ready = await prepare(raw);
      if (!ready) {
        throw new TlsSetupError(`STARTTLS from ${from} failed: ${why || "connection closed"}`);
      }
      return connOfStream(ready.stream);
    },
    close: () => l.close(),
  };
}
