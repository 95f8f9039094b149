/**
 * STARTTLS (RFC 7653 §8.2, §9.1) between two engines over loopback: certificates made at test
 * time with `openssl` (the tests skip, saying why, when it is missing), verified both ways.
 */
import assert from "node:assert/strict";
import { FakeClock } from "../../lib/util/clock.ts";
import { MemoryBindingStore } from "../../lib/store/memory.ts";
import { EngineDriver } from "../../lib/failover/driver.ts";
import { ManualScheduler } from "../../lib/failover/scheduler.ts";
import { runPrimary, runSecondary } from "../../lib/failover/connection.ts";
import {
  checkPeerCertificate,
  nodeListener,
  startTlsAcceptor,
  startTlsConnector,
  type TlsOptions,
} from "../../lib/failover/tls.ts";
import { T0 } from "./helpers.ts";
import { haveOpenssl, issueCert, makeCa } from "../_helpers/pki.ts";

const OPENSSL = haveOpenssl();
if (!OPENSSL) console.log("tls_test: openssl is not installed: the STARTTLS tests are skipped");

interface Pki {
  ca: string;
  rogueCa: string;
  primary: { cert: string; key: string };
  secondary: { cert: string; key: string };
  rogue: { cert: string; key: string };
}

function makePki(): Pki {
  const dir = Deno.makeTempDirSync({ prefix: "failover6-tls-" });
  makeCa(dir, "ca");
  makeCa(dir, "rogue-ca");
  const read = (p: { cert: string; key: string }) => ({
    cert: Deno.readTextFileSync(p.cert),
    key: Deno.readTextFileSync(p.key),
  });
  const pki = {
    ca: Deno.readTextFileSync(`${dir}/ca.crt`),
    rogueCa: Deno.readTextFileSync(`${dir}/rogue-ca.crt`),
    primary: read(issueCert(dir, "primary", "ca")),
    secondary: read(issueCert(dir, "secondary", "ca")),
    rogue: read(issueCert(dir, "rogue", "rogue-ca")),
  };
  Deno.removeSync(dir, { recursive: true });
  return pki;
}

const pki = OPENSSL ? makePki() : undefined;

function tlsFor(who: { cert: string; key: string }, over: Partial<TlsOptions> = {}): TlsOptions {
  return {
    caCerts: [pki!.ca],
    cert: who.cert,
    key: who.key,
    serverName: "localhost",
    timeoutMs: 3000,
    ...over,
  };
}

async function session(
  opts: { primary?: TlsOptions; secondary?: TlsOptions; plainPrimary?: boolean },
) {
  const clock = new FakeClock(T0);
  const make = (role: "primary" | "secondary") =>
    new EngineDriver({
      config: { role, relationship: "rel", mclt: 3600 },
      store: new MemoryBindingStore(),
      clock,
      scheduler: new ManualScheduler(clock),
    });
  const p = make("primary"), s = make("secondary");
  p.start();
  s.start();
  const slog: string[] = [], plog: string[] = [];
  const listener = runSecondary({
    drivers: [s],
    listener: await nodeListener("::1", 0),
    accept: startTlsAcceptor(opts.secondary, (l) => slog.push(l)),
    log: (l) => slog.push(l),
  });
  const primary = runPrimary({
    driver: p,
    hostname: "::1",
    port: listener.addr.port,
    backoff: { initialMs: 50, maxMs: 50, rejectedMs: 50 },
    connect: opts.plainPrimary ? undefined : startTlsConnector(opts.primary!),
    log: (l) => plog.push(l),
  });
  // Wait (bounded) for the CONNECT exchange, or for at least one refused attempt.
  for (let i = 0; i < 300; i++) {
    if (p.state.comms.phase === "ok" && s.state.comms.phase === "ok") break;
    if (
      slog.some((l) => l.startsWith("secure mode") || l.startsWith("insecure")) && plog.length >= 2
    ) break;
    if (plog.filter((l) => l.includes("failed")).length >= 2) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const result = { ok: p.state.comms.phase === "ok" && s.state.comms.phase === "ok", slog, plog };
  if (Deno.env.get("TLS_DEBUG")) console.log(result, p.state.comms.phase, s.state.comms.phase);
  await primary.stop();
  await listener.stop();
  return result;
}

const sanitize = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "STARTTLS: both certificates valid → CONNECT, STATE inside TLS",
  ignore: !OPENSSL,
  ...sanitize,
  fn: async () => {
    const r = await session({ primary: tlsFor(pki!.primary), secondary: tlsFor(pki!.secondary) });
    assert.ok(r.ok, `connected (${r.plog.join("; ")} | ${r.slog.join("; ")})`);
  },
});

Deno.test({
  name: "STARTTLS: a primary certificate from another CA is refused by the secondary",
  ignore: !OPENSSL,
  ...sanitize,
  fn: async () => {
    const r = await session({
      primary: tlsFor(pki!.rogue, { caCerts: [pki!.ca] }),
      secondary: tlsFor(pki!.secondary),
    });
    assert.equal(r.ok, false);
    assert.ok(
      r.slog.some((l) => /not signed by a configured CA|handshake failed/.test(l)),
      r.slog.join("; "),
    );
  },
});

Deno.test({
  name: "STARTTLS: a secondary certificate from another CA is refused by the primary",
  ignore: !OPENSSL,
  ...sanitize,
  fn: async () => {
    const r = await session({
      primary: tlsFor(pki!.primary),
      secondary: tlsFor(pki!.rogue, { caCerts: [pki!.ca] }),
    });
    assert.equal(r.ok, false);
    assert.ok(r.plog.some((l) => /connect to .* failed/.test(l)), r.plog.join("; "));
  },
});

Deno.test({
  name: "STARTTLS to an insecure-mode secondary → REPLY TLSConnectionRefused, no connection",
  ignore: !OPENSSL,
  ...sanitize,
  fn: async () => {
    const r = await session({ primary: tlsFor(pki!.primary), secondary: undefined });
    assert.equal(r.ok, false);
    assert.ok(
      r.plog.some((l) => l.includes("refused TLS (TLSConnectionRefused)")),
      r.plog.join("; "),
    );
    assert.ok(r.slog.some((l) => l.startsWith("insecure mode: STARTTLS refused")));
  },
});

Deno.test({
  name: "secure-mode secondary closes a connection that starts with CONNECT in the clear",
  ignore: !OPENSSL,
  ...sanitize,
  fn: async () => {
    const r = await session({ plainPrimary: true, secondary: tlsFor(pki!.secondary) });
    assert.equal(r.ok, false);
    assert.ok(r.slog.some((l) => l.includes("did not start with STARTTLS")), r.slog.join("; "));
  },
});

Deno.test({
  name: "checkPeerCertificate: CA, names, no certificate",
  ignore: !OPENSSL,
  fn: () => {
    const der = (pem: string) =>
      Uint8Array.from(atob(pem.replace(/-----[^-]+-----|\s/g, "")), (c) => c.charCodeAt(0));
    assert.equal(checkPeerCertificate(der(pki!.primary.cert), { caCerts: [pki!.ca] }), undefined);
    assert.match(checkPeerCertificate(der(pki!.rogue.cert), { caCerts: [pki!.ca] })!, /not signed/);
    assert.equal(
      checkPeerCertificate(der(pki!.primary.cert), {
        caCerts: [pki!.ca],
        allowedPeerNames: ["primary"],
      }),
      undefined,
    );
    assert.match(
      checkPeerCertificate(der(pki!.primary.cert), {
        caCerts: [pki!.ca],
        allowedPeerNames: ["other"],
      })!,
      /not allowed/,
    );
    assert.equal(checkPeerCertificate(undefined, { caCerts: [pki!.ca] }), "no certificate");
  },
});
