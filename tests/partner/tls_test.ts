/**
 * The partner in secure mode (RFC 8156 §10 → RFC 7653 §8.2, §9.1) against our engine over
 * loopback TCP: STARTTLS with certificates made at test time by `openssl` (the tests skip,
 * saying why, when it is missing), verified both ways. Scenario steps run unchanged over TLS,
 * a handshake failure is one failed step, `--auto` runs the engine's shell with TLS, and the
 * pcapng of a TLS session holds the plaintext messages and decodes.
 */
import assert from "node:assert/strict";
import { runPrimary, runSecondary } from "../../lib/failover/connection.ts";
import { nodeListener, startTlsAcceptor, startTlsConnector } from "../../lib/failover/tls.ts";
import { decodeCapture } from "../../lib/capture/messages.ts";
import { tcpNetwork } from "../../lib/partner/net.ts";
import { Acceptor } from "../../lib/partner/runner.ts";
import { realScheduler } from "../../lib/partner/scheduler.ts";
import { conformanceFor, SUITE_VARS } from "../../lib/partner/suite.ts";
import { EnginePeer } from "../../lib/partner/engine_peer.ts";
import { PcapngRecorder } from "../../lib/partner/capture.ts";
import { listenTls, loadTlsFiles, TlsFileError, tlsNetwork } from "../../lib/partner/tls.ts";
import type { RunReport } from "../../lib/partner/types.ts";
import { haveOpenssl, makeTestPki, type TlsFiles } from "../_helpers/pki.ts";
import { partnerArgs, partnerCli as cli } from "../_helpers/cli.ts";
import {
  engineDriver as engine,
  freeTcpPort as freePort,
  runLive,
  tcpDouble,
  why,
} from "./helpers.ts";

const OPENSSL = haveOpenssl();
if (!OPENSSL) {
  console.log("tests/partner/tls_test.ts: openssl is not installed: the TLS tests are skipped");
}

/** The partner's and the engine's files (CA "ca"), and a certificate and CA nobody else trusts. */
const pki = OPENSSL
  ? (() => {
    const p = makeTestPki("failover6-partner-tls-");
    return {
      dir: p.dir,
      partner: p.files("partner"),
      engine: p.files("engine"),
      rogue: p.files("rogue", "rogue-ca"),
    };
  })()
  : undefined;

const tls = loadTlsFiles;
const secure = { ignore: !OPENSSL, sanitizeOps: false, sanitizeResources: false };

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

/** Runs `fn` against our engine as a secure-mode secondary, the way `serve` runs it. */
async function withSecureSecondary(
  files: TlsFiles,
  fn: (port: number, log: string[]) => Promise<void>,
): Promise<void> {
  const log: string[] = [];
  const handle = runSecondary({
    drivers: [engine("secondary")],
    listener: await nodeListener("::1", 0),
    accept: startTlsAcceptor(await tls(files), (l) => log.push(l)),
    log: (l) => log.push(l),
  });
  try {
    await fn(handle.addr.port, log);
  } finally {
    await handle.stop();
  }
}

/**
 * Runs `fn` while our engine as a primary connects to `port`, secure when `files` are given;
 * `fn` gets the primary's log.
 */
async function withEnginePrimary(
  port: number,
  files: TlsFiles | undefined,
  fn: (log: string[]) => Promise<void>,
): Promise<void> {
  const log: string[] = [];
  const primary = runPrimary({
    driver: engine("primary"),
    hostname: "::1",
    port,
    backoff: { initialMs: 50, maxMs: 200, rejectedMs: 200 },
    connect: files ? startTlsConnector(await tls(files)) : undefined,
    log: (l) => log.push(l),
  });
  try {
    await fn(log);
  } finally {
    await primary.stop();
  }
}

/** A partner listening with TLS on [::1] (the partner as secondary). */
async function tlsAcceptor(files: TlsFiles): Promise<Acceptor> {
  return new Acceptor(await listenTls({ address: "::1", port: 0 }, await tls(files)));
}

const tlsArgs = (f: TlsFiles) => ["--tls-cert", f.cert, "--tls-key", f.key, "--tls-ca", f.ca];

/** `failover6 partner --auto` as `role` on [::1]:`port` for 1.5 s, relationship "conformance". */
const autoArgs = (role: "primary" | "secondary", port: number, ...extra: string[]) => [
  "--auto",
  ...partnerArgs(role, port, "--relationship", "conformance", ...extra),
  "--duration",
  "1500ms",
  ...tlsArgs(pki!.partner),
];

Deno.test({
  name:
    "TLS: partner as primary vs engine secondary, mutual certificates: the primary suite passes",
  ...secure,
  fn: async () => {
    const file = `${pki!.dir}/primary.pcapng`;
    const recorder = new PcapngRecorder(
      (await Deno.open(file, { write: true, create: true })).writable,
    );
    let port = 0;
    try {
      await withSecureSecondary(pki!.engine, async (p, log) => {
        port = p;
        const scenarios = conformanceFor("primary");
        const report = await runLive(scenarios, {
          role: "primary",
          network: tlsNetwork(await tls(pki!.partner)),
          peer: { address: "::1", port },
          recorder,
          vars: { ...SUITE_VARS },
        });
        assert.equal(report.passed, scenarios.length, `${why(report)}\n${log.join("\n")}`);
      });
    } finally {
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
  ...secure,
  fn: async () => {
    const acceptor = await tlsAcceptor(pki!.partner);
    try {
      await withEnginePrimary(acceptor.listener.local.port, pki!.engine, async (plog) => {
        const scenarios = conformanceFor("secondary");
        const report = await runLive(scenarios, {
          role: "secondary",
          acceptor,
          vars: { ...SUITE_VARS },
          acceptTimeoutMs: 10_000,
        });
        assert.equal(report.passed, scenarios.length, `${why(report)}\n${plog.join("\n")}`);
      });
    } finally {
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
  ...secure,
  fn: async () => {
    await withSecureSecondary(pki!.engine, async (port) => {
      // The partner trusts only the rogue CA: the engine's certificate is refused here.
      const report = await runLive(conformanceFor("primary", ["connect-accept"]), {
        role: "primary",
        network: tlsNetwork(await tls(pki!.rogue)),
        peer: { address: "::1", port },
        connectTimeoutMs: 60_000,
      });
      const line = failedFirstStep(report);
      assert.match(line, /^STARTTLS with \[::1\]:\d+ failed: .*certificate/);
    });
  },
});

Deno.test({
  name: "TLS: partner as secondary, primary's certificate from another CA: accept fails, one line",
  ...secure,
  fn: async () => {
    const acceptor = await tlsAcceptor(pki!.partner);
    // The engine trusts our CA but presents a certificate our CA did not sign.
    const rogue = { ...pki!.rogue, ca: pki!.partner.ca };
    try {
      await withEnginePrimary(acceptor.listener.local.port, rogue, async () => {
        const report = await runLive(conformanceFor("secondary", ["connect-as-secondary"]), {
          role: "secondary",
          acceptor,
          acceptTimeoutMs: 10_000,
        });
        const line = failedFirstStep(report);
        assert.match(line, /^STARTTLS from \[::1\]:\d+ failed: /);
      });
    } finally {
      acceptor.close();
    }
  },
});

Deno.test({
  name: "TLS: a peer that does not speak TLS (insecure mode, or a plain engine): connect fails",
  ...secure,
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
        runLive(conformanceFor("primary", ["connect-accept"]), {
          role: "primary",
          network: tlsNetwork({ ...partnerTls, timeoutMs: 2000 }),
          peer: { address: "::1", port },
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
  ...secure,
  fn: async () => {
    await withSecureSecondary(pki!.engine, async (port, log) => {
      const report = await runLive(conformanceFor("primary", ["connect-accept"]), {
        role: "primary",
        peer: { address: "::1", port },
        defaultWithinMs: 2000,
      });
      assert.equal(report.failed, 1);
      assert.ok(log.some((l) => /did not start with STARTTLS/.test(l)), log.join("\n"));
    });
  },
});

Deno.test({
  name: "TLS: EnginePeer (the --auto engine) as secure secondary, the partner connects over TLS",
  ...secure,
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
      const report = await runLive(
        conformanceFor("primary", ["connect-accept", "bndupd-bndreply"]),
        {
          role: "primary",
          network: tlsNetwork(await tls(pki!.partner)),
          peer: peer.local,
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
  ...secure,
  fn: async () => {
    for (const breaks of [[], ["bndreply-pl-not-echoed"] as const]) {
      const double = tcpDouble({
        role: "secondary",
        listener: await nodeListener("::1", 0),
        tls: await tls(pki!.engine),
        breaks: [...breaks],
      });
      try {
        const report = await runLive(conformanceFor("primary", ["bndupd-bndreply"]), {
          role: "primary",
          network: tlsNetwork(await tls(pki!.partner)),
          peer: double.local,
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
  ...secure,
  fn: async () => {
    const pcap = `${pki!.dir}/auto.pcapng`;
    let port = 0;
    await withSecureSecondary(pki!.engine, async (p) => {
      port = p;
      const r = await cli(autoArgs("primary", port, "--keepalive", "4", "--pcap", pcap));
      assert.equal(r.code, 0, r.err.join("\n"));
      const text = r.out.join("\n");
      assert.match(text, / -> CONNECT \(31\)/);
      assert.match(text, / <- CONNECTREPLY \(32\)/);
      assert.match(text, / <- STATE \(34\)/);
    });
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
  ...secure,
  fn: async () => {
    const port = freePort();
    await withEnginePrimary(port, pki!.engine, async (plog) => {
      const r = await cli(autoArgs("secondary", port));
      assert.equal(r.code, 0, r.err.join("\n"));
      const text = r.out.join("\n");
      assert.match(text, /listening on \[::1\]:\d+ \(secure mode: STARTTLS required\)/);
      assert.match(text, / <- CONNECT \(31\)/, `${text}\n${plog.join("\n")}`);
      assert.match(text, / -> CONNECTREPLY \(32\)/);
    });
  },
});

Deno.test({
  name: "TLS CLI: a scenario as secondary over TLS passes; a wrong CA is exit 1 with one FAIL line",
  ...secure,
  fn: async () => {
    const only = (name: string) => ["--suite", "conformance", "--only", name];
    const port = freePort();
    await withEnginePrimary(port, pki!.engine, async () => {
      const r = await cli(partnerArgs(
        "secondary",
        port,
        ...only("connect-as-secondary"),
        ...["--relationship", "conformance", "-q"],
        ...tlsArgs(pki!.partner),
      ));
      assert.equal(r.code, 0, r.out.join("\n"));
    });
    await withSecureSecondary(pki!.engine, async (p2) => {
      const r = await cli(
        partnerArgs("primary", p2, ...only("connect-accept"), "-q", ...tlsArgs(pki!.rogue)),
      );
      assert.equal(r.code, 1);
      const fails = r.out.filter((l) => /^\s+FAIL /.test(l));
      assert.equal(fails.length, 1, r.out.join("\n"));
      assert.match(fails[0], /FAIL \[0\] connect: STARTTLS with \[::1\]:\d+ failed: /);
    });
  },
});

Deno.test({
  name: "TLS CLI: incomplete or unusable --tls-* files are exit 2 with one line",
  ...secure,
  fn: async () => {
    const base = partnerArgs("primary", 1, "--suite", "conformance");
    const partner = pki!.partner;
    const cases: [string[], RegExp][] = [
      [["--tls-cert", partner.cert], /needs all of --tls-cert, --tls-key, --tls-ca/],
      [tlsArgs({ ...partner, ca: "/nonexist" }), /^failover6: --tls-ca: cannot read \/nonexist/],
      [
        tlsArgs({ ...partner, ca: pki!.rogue.key }),
        /^failover6: --tls-ca: .* holds no PEM certificate$/,
      ],
      [
        tlsArgs({ ...partner, key: pki!.rogue.key }),
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
  ...secure,
  fn: async () => {
    const port = freePort();
    await withEnginePrimary(port, pki!.engine, async (plog) => {
      const r = await cli(["--auto", ...partnerArgs("secondary", port, "--duration", "1s")]);
      assert.equal(r.code, 0, r.err.join("\n"));
      assert.ok(
        plog.some((l) => l.includes("refused TLS (TLSConnectionRefused)")),
        plog.join("\n"),
      );
      assert.match(r.out.join("\n"), /insecure mode: STARTTLS refused/);
    });
  },
});
