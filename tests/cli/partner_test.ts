/**
 * `failover6 partner` end to end, in process: usage errors (exit 2, one line), the suite and a
 * scenario file against the test double over loopback TCP (exit 0 / 1), the report files,
 * `--auto`, and `--list`.
 */
import assert from "node:assert/strict";
import { decodeCapture } from "../../lib/capture/messages.ts";
import type { Break, TestPeer } from "../partner/double.ts";
import { tcpDouble } from "../partner/helpers.ts";
import { partnerArgs, partnerCli as cli } from "../_helpers/cli.ts";

function secondaryDouble(breaks: Break[] = []): TestPeer {
  return tcpDouble({ role: "secondary", listen: { address: "::1", port: 0 }, breaks });
}

/** A primary against host "h" port 1 running the suite: the usage cases add one bad option. */
const h1 = ["--role", "primary", "--connect", "h:1", "--suite", "conformance"];

const usage: [string[], RegExp][] = [
  [
    ["--role", "primary", "--connect", "[::1]:1"],
    /give exactly one of --scenario FILE, --suite conformance, --auto/,
  ],
  [
    ["--role", "primary", "--connect", "[::1]:1", "--auto", "--suite", "conformance"],
    /exactly one/,
  ],
  [["--suite", "conformance"], /--role primary or --role secondary is required/],
  [["--suite", "other", "--role", "primary"], /unknown suite "other"/],
  [["--role", "secondary", "--connect", "[::1]:1", "--auto"], /--connect goes with --role primary/],
  [["--role", "primary", "--listen", "[::1]:1", "--auto"], /--listen goes with --role secondary/],
  [["--role", "primary", "--suite", "conformance"], /--role primary needs --connect/],
  [
    ["--role", "primary", "--connect", "[::1", "--suite", "conformance"],
    /--connect: "\[::1": missing "\]"/,
  ],
  [[...h1, "--mclt", "soon"], /--mclt: "soon" is not a duration/],
  [[...h1, "--keepalive", "0"], /--keepalive: must be at least 1s/],
  [[...h1, "--max-unacked", "-1"], /--max-unacked/],
  [[...h1, "--state", "SLEEPY"], /--state: "SLEEPY"/],
  [[...h1, "--only", "nope"], /--only: no conformance scenario "nope"/],
  [[...h1, "--only", "poolreq"], /needs --role secondary/],
  [
    ["--role", "primary", "--connect", "h:1", "--scenario", "/nonexistent.yaml"],
    /\/nonexistent\.yaml: cannot read: no such file/,
  ],
  [
    ["--role", "primary", "--connect", "h:1", "--scenario", "x.yaml", "--only", "a"],
    /--only and --list go with --suite/,
  ],
  [[...h1, "--var", "oops"], /--var: "oops" is not NAME=VALUE/],
  [[...h1, "--duration", "1s"], /--duration goes with --auto/],
];

for (const [args, re] of usage) {
  Deno.test(`usage error: ${args.join(" ")}`, async () => {
    const r = await cli(args);
    assert.equal(r.code, 2);
    assert.equal(r.err.length, 1, r.err.join("\n"));
    assert.match(r.err[0], /^failover6: /);
    assert.match(r.err[0], re);
  });
}

Deno.test("a bad scenario file is exit 2 with file:line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/bad.yaml`, "name: x\nsteps:\n  - send: BOGUS\n");
    const r = await cli(partnerArgs("primary", 1, "--scenario", `${dir}/bad.yaml`));
    assert.equal(r.code, 2);
    assert.match(
      r.err[0],
      /^failover6: .*bad\.yaml:3: steps\[0\]\.send: unknown message type "BOGUS"$/,
    );
    await Deno.writeTextFile(`${dir}/sec.yaml`, "name: x\nrole: secondary\nsteps:\n  - wait: 1\n");
    const s = await cli(partnerArgs("primary", 1, "--scenario", `${dir}/sec.yaml`));
    assert.equal(s.code, 2);
    assert.match(s.err[0], /scenario "x" is for --role secondary/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--suite conformance --list names every scenario with its role", async () => {
  const r = await cli(["--suite", "conformance", "--list"]);
  assert.equal(r.code, 0);
  assert.ok(r.out.some((l) => /^connect-accept\s+primary\s+CONNECT is answered/.test(l)));
  assert.ok(r.out.some((l) => /^poolreq\s+secondary/.test(l)));
  const p = await cli(["--suite", "conformance", "--list", "--role", "secondary"]);
  assert.ok(!p.out.some((l) => /^connect-accept/.test(l)));
});

Deno.test("suite against the double over TCP: exit 0, messages and verdicts printed, JSON/JUnit/pcap written", async () => {
  const d = secondaryDouble();
  const dir = await Deno.makeTempDir();
  try {
    const port = d.local!.port;
    const r = await cli(partnerArgs(
      "primary",
      port,
      "--suite",
      "conformance",
      "--only",
      "connect-accept,bndupd-bndreply",
      "--keepalive",
      "8",
      "--relationship",
      "x",
      "--json",
      `${dir}/r.json`,
      "--junit",
      `${dir}/r.xml`,
      "--pcap",
      `${dir}/s.pcapng`,
    ));
    assert.equal(r.code, 0, [...r.out, ...r.err].join("\n"));
    assert.ok(r.out.some((l) => /^\d\d:\d\d:\d\d\.\d{3} -> CONNECT \(31\) transactionId=/.test(l)));
    assert.ok(r.out.some((l) => /^\d\d:\d\d:\d\d\.\d{3} <- BNDREPLY \(25\)/.test(l)));
    assert.ok(r.out.some((l) => /^ {3}ok {3}\[2\] expect CONNECTREPLY/.test(l)));
    assert.ok(r.out.some((l) => /^== 2 passed, 0 failed, 0 in error, of 2 scenarios/.test(l)));
    const json = JSON.parse(await Deno.readTextFile(`${dir}/r.json`));
    assert.deepEqual(json.scenarios.map((s: { name: string }) => s.name), [
      "connect-accept",
      "bndupd-bndreply",
    ]);
    const xml = await Deno.readTextFile(`${dir}/r.xml`);
    assert.match(
      xml,
      /<testsuites name="failover6 partner conformance" tests="2" failures="0" errors="0"/,
    );
    const types: number[] = [];
    for await (
      const ev of decodeCapture(await Deno.readFile(`${dir}/s.pcapng`), { failoverPort: port })
    ) {
      if (ev.kind === "message") {
        assert.deepEqual(ev.errors, []);
        types.push(ev.msgType!);
      }
    }
    assert.deepEqual(types.slice(0, 3), [31, 32, 34]);
    assert.equal(types.filter((t) => t === 24).length, 2);
  } finally {
    d.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a failed check is exit 1 (double that does not echo PARTNER_LIFETIME)", async () => {
  const d = secondaryDouble(["bndreply-pl-not-echoed"]);
  try {
    const r = await cli(
      partnerArgs(
        "primary",
        d.local!.port,
        "--suite",
        "conformance",
        "--only",
        "bndupd-bndreply",
        "-q",
      ),
    );
    assert.equal(r.code, 1);
    assert.ok(!r.out.some((l) => / -> CONNECT/.test(l)), "--quiet leaves the messages out");
    assert.ok(
      r.out.some((l) => /FAIL \[3\] expect BNDREPLY: .*is not the PARTNER_LIFETIME/.test(l)),
      r.out.join("\n"),
    );
  } finally {
    d.stop();
  }
});

Deno.test("--scenario with a fixture file", async () => {
  const d = secondaryDouble();
  try {
    const file = new URL("../../fixtures/scenarios/bndupd-echo.yaml", import.meta.url).pathname;
    const r = await cli(partnerArgs("primary", d.local!.port, "--scenario", file, "-q"));
    assert.equal(r.code, 0, r.out.join("\n"));
    assert.ok(r.out.some((l) => /^== bndupd-echo: PASS/.test(l)));
  } finally {
    d.stop();
  }
});

Deno.test("--auto as primary: our engine connects, exchanges CONNECT and STATE, stops after --duration", async () => {
  const d = secondaryDouble();
  const dir = await Deno.makeTempDir();
  try {
    const r = await cli([
      "--auto",
      ...partnerArgs("primary", d.local!.port),
      "--relationship",
      "x",
      "--mclt",
      "3600",
      "--keepalive",
      "4",
      "--duration",
      "1500ms",
      "--pcap",
      `${dir}/a.pcapng`,
    ]);
    assert.equal(r.code, 0, r.err.join("\n"));
    const text = r.out.join("\n");
    assert.match(text, / -> CONNECT \(31\)/);
    assert.match(text, / <- CONNECTREPLY \(32\)/);
    assert.match(text, / <- STATE \(34\)/);
    assert.match(text, /\*\* state STARTUP -> /);
    let n = 0;
    for await (
      const ev of decodeCapture(await Deno.readFile(`${dir}/a.pcapng`), {
        failoverPort: d.local!.port,
      })
    ) {
      if (ev.kind === "message") n++;
    }
    assert.ok(n >= 3, `${n} messages in the capture`);
  } finally {
    d.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
