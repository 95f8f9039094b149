/**
 * Interop (issue 6 "done when"): `failover6 partner --suite conformance` passes against
 * `failover6 serve` in each role, both run as child processes on loopback.
 */
import assert from "node:assert/strict";
import { freeTcpPort, freeUdpPort, MAIN } from "../serve/helpers.ts";
import { pairYaml } from "./config.ts";

const CONFIG = new URL("../../deno.json", import.meta.url).pathname;
const CWD = new URL("../..", import.meta.url).pathname;
const opts = { sanitizeOps: false, sanitizeResources: false };
/** Upper bound of one suite run (the secondary's suite takes about 20 s, the primary's 15 s). */
const SUITE_LIMIT_MS = 150_000;

/** A TCP port free on [::1] right now. */
function freeTcp6Port(): number {
  const l = Deno.listen({ hostname: "::1", port: 0 });
  const p = (l.addr as Deno.NetAddr).port;
  l.close();
  return p;
}

function deno(args: string[], signal?: AbortSignal): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", CONFIG, MAIN, ...args],
    cwd: CWD,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal,
  });
}

async function serveConfig(
  role: "primary" | "secondary",
  dir: string,
  failoverPort: number,
): Promise<string> {
  const file = `${dir}/${role}.yaml`;
  await Deno.writeTextFile(
    file,
    pairYaml({
      role,
      dir,
      udpPort: await freeUdpPort(),
      controlPort: freeTcpPort(),
      failoverPort,
      mclt: 60,
      keepalive: 10,
      // The suite's addresses (SUITE_VARS): the relationship must own them (§7.5.3).
      subnet: "2001:db8:0:1",
      delegable: "2001:db8:ff00::/56",
    }),
  );
  return file;
}

async function stopChild(child: Deno.ChildProcess): Promise<string> {
  try {
    child.kill("SIGTERM");
  } catch { /* gone */ }
  const out = await child.output();
  return new TextDecoder().decode(out.stderr);
}

function tail(text: string, lines = 30): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Waits until something accepts TCP connections on [::1]:port. */
async function accepting(port: number, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const c = await Deno.connect({ hostname: "::1", port });
      c.close();
      return;
    } catch {
      if (Date.now() > end) throw new Error(`nothing listens on [::1]:${port}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

Deno.test({
  name:
    "conformance: failover6 partner --suite conformance passes against failover6 serve as secondary",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "f6conf-s-" });
    const port = freeTcp6Port();
    const serve = deno(["serve", "--config", await serveConfig("secondary", dir, port)]).spawn();
    try {
      await accepting(port);
      // The probe connection above is dropped by the secondary; give it a moment to settle.
      await new Promise((r) => setTimeout(r, 200));
      const out = await deno([
        "partner",
        "--role",
        "primary",
        "--connect",
        `[::1]:${port}`,
        "--suite",
        "conformance",
        "--relationship",
        "test-pair",
        "--keepalive",
        "10s",
        "--timeout",
        "20s",
        "-q",
      ], AbortSignal.timeout(SUITE_LIMIT_MS)).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 0, `partner suite failed:\n${tail(text)}`);
      assert.match(text, /15 passed, 0 failed/);
    } finally {
      const log = await stopChild(serve);
      if (Deno.env.get("PAIR_DEBUG")) console.log(tail(log, 80));
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "conformance: failover6 partner --suite conformance passes against failover6 serve as primary",
  ...opts,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "f6conf-p-" });
    const port = freeTcp6Port();
    const partner = deno([
      "partner",
      "--role",
      "secondary",
      "--listen",
      `[::1]:${port}`,
      "--suite",
      "conformance",
      "--relationship",
      "test-pair",
      "--keepalive",
      "10s",
      "--timeout",
      "30s",
      "-q",
    ], AbortSignal.timeout(SUITE_LIMIT_MS)).spawn();
    let serve: Deno.ChildProcess | undefined;
    const errors = new Response(partner.stderr).text();
    try {
      // Start the primary once the partner listens (it reports that on its first line).
      const reader = partner.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (!text.includes("listening on")) {
        const r = await reader.read();
        if (r.done) break;
        text += r.value;
      }
      serve = deno(["serve", "--config", await serveConfig("primary", dir, port)]).spawn();
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        text += r.value;
      }
      const status = await partner.status;
      assert.equal(
        status.code,
        0,
        `partner suite failed:\n${tail(text)}\n${tail(await errors, 5)}`,
      );
      assert.match(text, /4 passed, 0 failed/);
    } finally {
      if (serve) {
        const log = await stopChild(serve);
        if (Deno.env.get("PAIR_DEBUG")) console.log(tail(log, 80));
      }
      try {
        partner.kill("SIGTERM");
      } catch { /* exited */ }
      await errors.catch(() => "");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
