/**
 * The partner in secure mode (RFC 8156 §10 → RFC 7653 §8.2, §9.1) against our engine over
 * loopback TCP: STARTTLS with certificates made at test time by `openssl` (the tests skip,
 * saying why, when it is missing), verified both ways. Scenario steps run unchanged over TLS,
 * a handshake failure is one failed step, `--auto` runs the engine's shell with TLS, and the
 * pcapng of a TLS session holds the plaintext messages and decodes.
 */
import assert from "node:assert/strict";
import { EngineDriver } from "../../lib/failover/driver.ts";
import { runPrimary, runSecondary } from "../../lib/failover/connection.ts";
import {
  nodeListener,
  startTlsAcceptor,
  startTlsConnector,
  type TlsOptions,
} from "../../lib/failover/tls.ts";
import type { EngineConfig } from "../../lib/failover/engine.ts";
import { MemoryBindingStore } from "../../lib/store/memory.ts";
import { systemClock } from "../../lib/util/clock.ts";
import { decodeCapture } from "../../lib/capture/messages.ts";
import { tcpNetwork } from "../../lib/partner/net.ts";
import { Acceptor, runScenarios } from "../../lib/partner/runner.ts";
import { realScheduler } from "../../lib/partner/scheduler.ts";
import { conformanceFor, SUITE_VARS } from "../../lib/partner/suite.ts";
import { EnginePeer } from "../../lib/partner/engine_peer.ts";
import { PcapngRecorder } from "../../lib/partner/capture.ts";
import { listenTls, loadTlsFiles, TlsFileError, tlsNetwork } from "../../lib/partner/tls.ts";
import type { Role, RunReport } from "../../lib/partner/types.ts";
import { main } from "../../cli/main.ts";
import { haveOpenssl, issueCert, makeCa } from "../_helpers/pki.ts";
import { PARTNER_SETTINGS } from "./helpers.ts";
import { TestPeer } from "./double.ts";

const OPENSSL = haveOpenssl();
if (!OPENSSL) {
  console.log("tests/partner/tls_test.ts: openssl is not installed: the TLS tests are skipped");
}

interface Files {
  cert: string;
  key: string;
  ca: string;
}

interface Pki {
  dir: string;
  /** The partner's files (CA "ca"). */
  partner: Files;
  /** The engine's files (CA "ca"). */
  engine: Files;
  /** A certificate and CA nobody else trusts. */
  rogue: Files;
}

function makePki(): Pki {
  const dir = Deno.makeTempDirSync({ prefix: "failover6-partner-tls-" });
  makeCa(dir, "ca");
  makeCa(dir, "rogue-ca");
  const files = (name: string, ca: string): Files => ({
    ...issueCert(dir, name, ca),
    ca: `${dir}/${ca}.crt`,
  });
  return {
    dir,
    partner: files("partner", "ca"),
    engine: files("engine", "ca"),
    rogue: files("rogue", "rogue-ca"),
  };
}

const pki = OPENSSL ? makePki() : undefined;
globalThis.addEventListener("unload", () => {
  if (pki) Deno.removeSync(pki.dir, { recursive: true });
});

const tls = (f: Files): Promise<TlsOptions> => loadTlsFiles(f);
const sanitize = { sanitizeOps: false, sanitizeResources: false };

function engine(role: Role): EngineDriver {
  const config: EngineConfig = {
    role,
    relationship: "conformance",
    mclt: 3600,
    keepaliveTime: 3,
    maxUnackedBndupd: 10,
    startupTime: 1,
  };
  const d = new EngineDriver({ config, store: new MemoryBindingStore(), clock: systemClock });
  d.start();
  return d;
}

function why(r: RunReport): string {
  return r.scenarios.filter((s) => s.verdict !== "pass").map((s) =>
    `${s.name}: ${s.steps.find((x) => x.verdict === "fail" || x.verdict === "error")?.message}`
  ).join("\n");
}

/**
 * The failover message types in a pcapng; with `clean`, checks that each decodes without error
 * (the suite sends corrupt frames on purpose, so not for a whole-suite capture).
 */
async function typesIn(bytes: Uint8Array, port: number, clean = true): Promise<number[]> {
  const types: number[] = [];
  for await (const ev of decodeCapture(bytes, { failoverPort: port })) {
    if (ev.kind === "message") {
      if (clean) assert.deepEqual(ev.errors, []);
      if (typeof ev.msgType === "number") types.push(ev.msgType);
    }
  }
  return types;
}

/** Our engine as a secure-mode secondary, the way `serve` runs it. */
async function secureSecondary(files: Files, log: string[] = []) {
  const listener = await nodeListener("::1", 0);
  const handle = runSecondary({
    drivers: [engine("secondary")],
    listener,
    accept: startTlsAcceptor(await tls(files), (l) => log.push(l)),
    log: (l) => log.push(l),
  });
  return { handle, port: handle.addr.port, log };
}

/** Our engine as a primary connecting to `port`, secure when `files` are given. */
async function enginePrimary(port: number, files?: Files, log: string[] = []) {
  return runPrimary({
    driver: engine("primary"),
    hostname: "::1",
    port,
    backoff: { initialMs: 50, maxMs: 200, rejectedMs: 200 },
    connect: files ? startTlsConnector(await tls(files)) : undefined,
    log: (l) => log.push(l),
  });
}

async function cli(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...a: unknown[]) => out.push(a.map(String).join(" "));
  console.error = (...a: unknown[]) => err.push(a.map(String).join(" "));
  try {
    const code = await main(["partner", ...args]);
    return { code, out, err };
  } finally {
    console.log = log;
    console.error = error;
    Deno.exitCode = 0;
  }
}

const tlsArgs = (f: Files) => ["--tls-cert", f.cert, "--tls-key", f.key, "--tls-ca", f.ca];

/** A port that was free a moment ago. */
function freePort(): number {
  const l = Deno.listen({ hostname: "::1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test({
  name:
    "TLS: partner as primary vs engine secondary, mutual certificates: the primary suite passes",
  ignore: !OPENSSL,
  ...sanitize,
  fn: async () => {
    const { handle, port, log } = await secureSecondary(pki!.engine);
    const file = `${pki!.dir}/primary.pcapng`;
    const recorder = new PcapngRecorder(
      (await Deno.open(file, { write: true, create: true }))
        .writable,
    );
    try {
      const scenarios = conformanceFor("primary");
      const report = await runScenarios(scenarios, {
        role: "primary",
        settings: PARTNER_SETTINGS,
        network: tlsNetwork(await tls(pki!.partner)),
        peer: { address: "::1", port },
        scheduler: realScheduler,
        recorder,
        vars: { ...SUITE_VARS },
      });
      assert.equal(report.passed, scenarios.length, `${why(report)}\n${log.join("\n")}`);
    } finally {
      await handle.stop();
      await recorder.finish();
    }
    // The capture holds the plaintext messages after the upgrade: CONNECT first, no STARTTLS.
    const types = await typesIn(await Deno.readFile(file), port, false);
    assert.deepEqual(types.slice(0, 3), [31, 32, 34]);
    assert.ok(types.includes(24) && types.includes(25), "BNDUPD and BNDREPLY recorded");
    assert.ok(!types.includes(23), "STARTTLS is not in the capture");
  },
});

Deno.test({
  name:
    "TLS: partner as secondary vs engine primary, mutual certificates: the secondary suite passes",
  ignore: !OPENSSL,
  ...sanitize,
  fn: async () => {
    const acceptor = new Acceptor(
      await listenTls({ address: "::1", port: 0 }, await tls(pki!.partner)),
    );
    const plog: string[] = [];
    const primary = await enginePrimary(acceptor.listener.local.port, pki!.engine, plog);
    try {
      const scenarios = conformanceFor("secondary");
      const report = await runScenarios(scenarios, {
        role: "secondary",
        settings: PARTNER_SETTINGS,
        network: tcpNetwork,
        acceptor,
        scheduler: realScheduler,
        vars: { ...SUITE_VARS },
        acceptTimeoutMs: 10_000,
      });
      assert.equal(report.passed, scenarios.length, `${why(report)}\n${plog.join("\n")}`);
    } finally {
      await primary.stop();
      acceptor.close();
    }
  },
});

/** The connect/accept step of a one-scenario run that must fail: its one-line message. */
function failedFirstStep(report: RunReport): string {
  const s = report.scenarios[0];
  assert.equal(s.verdict, "fail", JSON.stringify(s.steps));
  const first = s.steps[0];
  assert.equal(first.verdict, "fail");
  assert.ok(s.steps.slice(1).every((x) => x.verdict === "skip"), "the other steps are skipped");
  assert.ok(!first.message!.includes("\n"), `one line: ${first.message}`);
  assert.equal(first.detail, undefined);
  return first.message!;
}

Deno.test({
  name: "TLS: partner as primary with a certificate from another CA: connect fails, one line",
  ignore: !OPENSSL,
  ...sanitize,
  fn: async () => {
    const { handle, port } = await secureSecondary(pki!.engine);
    try {
      // The partner trusts only the rogue CA: the engine's certificate is refused here.
      const report = await runScenarios(conformanceFor("primary", ["connect-accept"]), {
        role: "primary",
        settings: PARTNER_SETTINGS,
        network: tlsNetwork(await tls(pki!.rogue)),
        peer: { address: "::1", port },
        scheduler: realScheduler,
        connectTimeoutMs: 60_000,
      });
      const line = failedFirstStep(report);
      assert.match(line, /^STARTTLS with \[::1\]:\d+ failed: .*certificate/);
    } finally {
      await handle.stop();
    }
  },
});

Deno.test({
  name: "TLS: partner as secondary, primary's certificate from another CA: accept fails, one line",
  ignore: !OPENSSL,
  ...sanitize,
  fn: async () => {
    const acceptor = new Acceptor(
      await listenTls({ address: "::1", port: 0 }, await tls(pki!.partner)),
    );
    // The engine trusts our CA but presents a certificate our CA did not sign.
    const rogue = { ...pki!.rogue, ca: pki!.partner.ca };
    const primary = await enginePrimary(acceptor.listener.local.port, rogue);
    try {
      const report = await runScenarios(conformanceFor("secondary", ["connect-as-secondary"]), {
        role: "secondary",
        settings: PARTNER_SETTINGS,
        network: tcpNetwork,
        acceptor,
        scheduler: realScheduler,
        acceptTimeoutMs: 10_000,
      });
      const line = failedFirstStep(report);
      assert.match(line, /^STARTTLS from \[::1\]:\d+ failed: /);
    } finally {
      await primary.stop();
      acceptor.close();
    }
  },
});

Deno.test({
  name: "TLS: a peer that does not speak TLS (insecure mode, or a plain engine): connect fails",
  ignore: !OPENSSL,
  ...sanitize,
  fn: async () => {
    const partnerTls = await tls(pki!.partner);
    // Insecure-mode secondary: REPLY with TLSConnectionRefused.
    const insecure = runSecondary({
      drivers: [engine("secondary")],
      listener: await nodeListener("::1", 0),
      accept: startTlsAcceptor(undefined),
    });
    // A secondary with no STARTTLS handling at all.
    const plain = runSecondary({ drivers: [engine("secondary")], hostname: "::1", port: 0 });
    try {
      const run = (port: number) =>
        runScenarios(conformanceFor("primary", ["connect-accept"]), {
          role: "primary",
          settings: PARTNER_SETTINGS,
          network: tlsNetwork({ ...partnerTls, timeoutMs: 2000 }),
          peer: { address: "::1", port },
          scheduler: realScheduler,
          connectTimeoutMs: 60_000,
        });
      assert.match(
        failedFirstStep(await run(insecure.addr.port)),
        /^STARTTLS with \[::1\]:\d+ failed: the secondary refused TLS \(TLSConnectionRefused\)$/,
      );
      assert.match(
        failedFirstStep(await run(plain.addr.port)),
        /^STARTTLS with \[::1\]:\d+ failed/,
      );
    } finally {
      await insecure.stop();
      await plain.stop();
    }
  },
});

Deno.test({
  name: "TLS: a plain partner against a secure-mode engine secondary: the connection is closed",
  ignore: !OPENSSL,
  ...sanitize,
  fn: async () => {
    const { handle, port, log } = await secureSecondary(pki!.engine);
    try {
      const report = await runScenarios(conformanceFor("primary", ["connect-accept"]), {
        role: "primary",
        settings: PARTNER_SETTINGS,
        network: tcpNetwork,
        peer: { address: "::1", port },
        scheduler: realScheduler,
        defaultWithinMs: 2000,
      });
      assert.equal(report.failed, 1);
      assert.ok(log.some((l) => /did not start with STARTTLS/.test(l)), log.join("\n"));
    } finally {
      await handle.stop();
    }
  },
});

Deno.test({
  name: "TLS: EnginePeer (the --auto engine) as secure secondary, the partner connects over TLS",
  ignore: !OPENSSL,
  ...sanitize,
  fn: async () => {
    const peer = new EnginePeer({
      config: {
        role: "secondary",
        relationship: "conformance",
        mclt: 3600,
        keepaliveTime: 3,
        startupTime: 1,
      },
      network: tcpNetwork,
      scheduler: realScheduler,
      listen: { address: "::1", port: 0 },
      tls: await tls(pki!.engine),
    });
    await peer.start();
    try {
      const report = await runScenarios(
        conformanceFor("primary", ["connect-accept", "bndupd-bndreply"]),
        {
          role: "primary",
          settings: PARTNER_SETTINGS,
          network: tlsNetwork(await tls(pki!.partner)),
          peer: peer.local,
          scheduler: realScheduler,
          vars: { ...SUITE_VARS },
        },
      );
      assert.equal(report.passed, 2, why(report));
      assert.equal(peer.connections, 2);
    } finally {
      await peer.stop();
    }
  },
});

Deno.test({
  name: "TLS: the test double over STARTTLS (same shell): a scenario passes, a broken rule fails",
  ignore: !OPENSSL,
  ...sanitize,
  fn: async () => {
    for (const breaks of [[], ["bndreply-pl-not-echoed"] as const]) {
      const double = new TestPeer({
        role: "secondary",
        network: tcpNetwork,
        scheduler: realScheduler,
        listener: await nodeListener("::1", 0),
        tls: await tls(pki!.engine),
        mclt: 3600,
        keepalive: 5,
        maxUnacked: 10,
        breaks: [...breaks],
      });
      double.start();
      try {
        const report = await runScenarios(conformanceFor("primary", ["bndupd-bndreply"]), {
          role: "primary",
          settings: PARTNER_SETTINGS,
          network: tlsNetwork(await tls(pki!.partner)),
          peer: double.local,
          scheduler: realScheduler,
          vars: { ...SUITE_VARS },
        });
        assert.equal(report.passed, breaks.length === 0 ? 1 : 0, why(report));
      } finally {
        double.stop();
      }
    }
  },
});

Deno.test({
  name: "TLS CLI: --auto as primary over STARTTLS; the --pcap of the session decodes",
  ignore: !OPENSSL,
  ...sanitize,
  fn: async () => {
    const { handle, port } = await secureSecondary(pki!.engine);
    const pcap = `${pki!.dir}/auto.pcapng`;
    try {
      const r = await cli([
        "--auto",
        "--role",
        "primary",
        "--connect",
        `[::1]:${port}`,
        "--relationship",
        "conformance",
        "--keepalive",
        "4",
        "--duration",
        "1500ms",
        "--pcap",
        pcap,
        ...tlsArgs(pki!.partner),
      ]);
      assert.equal(r.code, 0, r.err.join("\n"));
      const text = r.out.join("\n");
      assert.match(text, / -> CONNECT \(31\)/);
      assert.match(text, / <- CONNECTREPLY \(32\)/);
      assert.match(text, / <- STATE \(34\)/);
    } finally {
      await handle.stop();
    }
    const types = await typesIn(await Deno.readFile(pcap), port);
    assert.deepEqual(types.slice(0, 3), [31, 32, 34]);
    // And `failover6 decode` reads it back.
    const decode = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../../cli/main.ts", import.meta.url).pathname,
        "decode",
        pcap,
        "--failover-port",
        String(port),
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(decode.stdout);
    assert.equal(decode.code, 0, new TextDecoder().decode(decode.stderr));
    assert.match(text, /CONNECT \(31\)[\s\S]*CONNECTREPLY \(32\)[\s\S]*STATE \(34\)/);
  },
});

Deno.test({
  name: "TLS CLI: --auto as secondary over STARTTLS: our engine primary connects through TLS",
  ignore: !OPENSSL,
  ...sanitize,
  fn: async () => {
    const port = freePort();
    const plog: string[] = [];
    const primary = await enginePrimary(port, pki!.engine, plog);
    try {
      const r = await cli([
        "--auto",
        "--role",
        "secondary",
        "--listen",
        `[::1]:${port}`,
        "--relationship",
        "conformance",
        "--duration",
        "1500ms",
        ...tlsArgs(pki!.partner),
      ]);
      assert.equal(r.code, 0, r.err.join("\n"));
      const text = r.out.join("\n");
      assert.match(text, /listening on \[::1\]:\d+ \(secure mode: STARTTLS required\)/);
      assert.match(text, / <- CONNECT \(31\)/, `${text}\n${plog.join("\n")}`);
      assert.match(text, / -> CONNECTREPLY \(32\)/);
    } finally {
      await primary.stop();
    }
  },
});

Deno.test({
  name: "TLS CLI: a scenario as secondary over TLS passes; a wrong CA is exit 1 with one FAIL line",
  ignore: !OPENSSL,
  ...sanitize,
  fn: async () => {
    const port = freePort();
    const primary = await enginePrimary(port, pki!.engine);
    try {
      const r = await cli([
        "--role",
        "secondary",
        "--listen",
        `[::1]:${port}`,
        "--suite",
        "conformance",
        "--only",
        "connect-as-secondary",
        "--relationship",
        "conformance",
        "-q",
        ...tlsArgs(pki!.partner),
      ]);
      assert.equal(r.code, 0, r.out.join("\n"));
    } finally {
      await primary.stop();
    }
    const { handle, port: p2 } = await secureSecondary(pki!.engine);
    try {
      const r = await cli([
        "--role",
        "primary",
        "--connect",
        `[::1]:${p2}`,
        "--suite",
        "conformance",
        "--only",
        "connect-accept",
        "-q",
        ...tlsArgs(pki!.rogue),
      ]);
      assert.equal(r.code, 1);
      const fails = r.out.filter((l) => /^\s+FAIL /.test(l));
      assert.equal(fails.length, 1, r.out.join("\n"));
      assert.match(fails[0], /FAIL \[0\] connect: STARTTLS with \[::1\]:\d+ failed: /);
    } finally {
      await handle.stop();
    }
  },
});

Deno.test({
  name: "TLS CLI: incomplete or unusable --tls-* files are exit 2 with one line",
  ignore: !OPENSSL,
  ...sanitize,
  fn: async () => {
    const base = ["--role", "primary", "--connect", "[::1]:1", "--suite", "conformance"];
    const cases: [string[], RegExp][] = [
      [["--tls-cert", pki!.partner.cert], /needs all of --tls-cert, --tls-key, --tls-ca/],
      [
        ["--tls-cert", pki!.partner.cert, "--tls-key", pki!.partner.key, "--tls-ca", "/nonexist"],
        /^failover6: --tls-ca: cannot read \/nonexist/,
      ],
      [
        [
          "--tls-cert",
          pki!.partner.cert,
          "--tls-key",
          pki!.partner.key,
          "--tls-ca",
          pki!.rogue.key,
        ],
        /^failover6: --tls-ca: .* holds no PEM certificate$/,
      ],
      [
        ["--tls-cert", pki!.partner.cert, "--tls-key", pki!.rogue.key, "--tls-ca", pki!.partner.ca],
        /^failover6: --tls-key: .* is not the key of the certificate /,
      ],
    ];
    for (const [args, re] of cases) {
      const r = await cli([...base, ...args]);
      assert.equal(r.code, 2, args.join(" "));
      assert.equal(r.err.length, 1, r.err.join("\n"));
      assert.match(r.err[0], re);
    }
  },
});

Deno.test("loadTlsFiles: errors name the file's role", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/x.pem`, "not pem");
    await assert.rejects(
      loadTlsFiles({ cert: `${dir}/x.pem`, key: `${dir}/x.pem`, ca: `${dir}/x.pem` }),
      (e) =>
        e instanceof TlsFileError && e.which === "cert" && /no PEM certificate/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "TLS CLI: --auto as secondary without --tls-* refuses STARTTLS (TLSConnectionRefused)",
  ignore: !OPENSSL,
  ...sanitize,
  fn: async () => {
    const port = freePort();
    const plog: string[] = [];
    const primary = await enginePrimary(port, pki!.engine, plog);
    try {
      const r = await cli([
        "--auto",
        "--role",
        "secondary",
        "--listen",
        `[::1]:${port}`,
        "--duration",
        "1s",
      ]);
      assert.equal(r.code, 0, r.err.join("\n"));
      assert.ok(
        plog.some((l) => l.includes("refused TLS (TLSConnectionRefused)")),
        plog.join("\n"),
      );
      assert.match(r.out.join("\n"), /insecure mode: STARTTLS refused/);
    } finally {
      await primary.stop();
    }
  },
});
