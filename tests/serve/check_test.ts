/**
 * `failover6 serve --check FILE` and start-up refusals, in-process; then one child process
 * that runs `failover6 serve` with exactly the permissions of the deno.json task, answers a
 * client, and drains on SIGTERM with exit status 0; and the embedded default.
 */
import assert from "node:assert/strict";
import {
  childConfigYaml,
  freeTcpPort,
  freeUdpPort,
  MAIN,
  runCli,
  SERVE_PERMISSIONS,
  until,
} from "./helpers.ts";
import { ClientSocket, TestClient, testDuid } from "./client.ts";
import dgram from "node:dgram";
import { lineReader, spawnWatched } from "../_helpers/lines.ts";

const FIXTURES = new URL("../../fixtures/", import.meta.url).pathname;

Deno.test("serve --check: every serve fixture is valid (exit 0)", async () => {
  const files = [...Deno.readDirSync(FIXTURES)]
    .filter((e) => e.isFile && /^serve-.*\.ya?ml$/.test(e.name))
    .map((e) => `${FIXTURES}${e.name}`);
  assert.ok(files.length > 0, "no serve fixtures");
  for (const f of files) {
    const r = await runCli(["serve", "--check", f]);
    assert.equal(r.code, 0, `${f}: ${r.stderr}`);
    assert.match(r.stdout, /: valid \(/);
  }
});

Deno.test("serve --check: errors name the file, the line and the path; exit 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "f6check-" });
  try {
    const bad = `${dir}/bad.yaml`;
    await Deno.writeTextFile(
      bad,
      `listen:
  - address: "::1"
    port: 70000
subnets:
  - prefix: fd00:f6::/64
    pools:
      - range: fd00:f6::2000 - fd00:f6::1000
`,
    );
    const r = await runCli(["serve", "--check", bad]);
    assert.equal(r.code, 2);
    const lines = r.stderr.split("\n");
    assert.ok(lines.every((l) => l.startsWith(`failover6: ${bad}:`)), r.stderr);
    assert.ok(lines.some((l) => /:3: listen\[0\]\.port: /.test(l)), r.stderr);
    assert.ok(lines.some((l) => /:7: subnets\[0\]\.pools\[0\]\.range: /.test(l)), r.stderr);
    assert.ok(!/\bat .*\.ts:\d+/.test(r.stderr), "no stack trace");

    const syntax = `${dir}/syntax.yaml`;
    await Deno.writeTextFile(syntax, "listen: [\n");
    const s = await runCli(["serve", "--check", syntax]);
    assert.equal(s.code, 2);
    assert.match(s.stderr, /^failover6: .*syntax\.yaml:\d+: /);

    const missing = await runCli(["serve", "--check", `${dir}/none.yaml`]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^failover6: cannot read .*none\.yaml/);

    // The same file refuses to start.
    const start = await runCli(["serve", "--config", bad]);
    assert.equal(start.code, 2);
    assert.match(start.stderr, /not starting$/);

    const both = await runCli(["serve", "--check", bad, "--config", bad]);
    assert.equal(both.code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve refuses a lease database that is not one (exit 2, one line)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "f6check-" });
  try {
    await Deno.writeTextFile(`${dir}/leases.db`, "this is not SQLite\n".repeat(10));
    const cfg = `${dir}/c.yaml`;
    await Deno.writeTextFile(cfg, childConfigYaml(dir, await freeUdpPort(), freeTcpPort()));
    const r = await runCli(["serve", "--config", cfg]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^failover6: lease database .* is not an SQLite database/);
    assert.equal(r.stderr.split("\n").length, 1);
    assert.equal(
      await Deno.readTextFile(`${dir}/leases.db`),
      "this is not SQLite\n".repeat(10),
      "the file is left as it was",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve as a child process with the task's permissions: answers, then SIGTERM drains and exits 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "f6child-" });
  const udpPort = await freeUdpPort();
  const cfg = `${dir}/c.yaml`;
  await Deno.writeTextFile(cfg, childConfigYaml(dir, udpPort, freeTcpPort()));
  const serve = spawnWatched(["run", ...SERVE_PERMISSIONS, MAIN, "serve", "--config", cfg]);
  const { child, err } = serve;
  const sock = await ClientSocket.open({ address: "::1", port: udpPort });
  try {
    await until(() => {
      if (serve.exited) throw new Error(`serve exited early: ${err.lines.join("\n")}`);
      return err.lines.some((l) => l.includes('"control API listening"'));
    }, 30_000);
    const c = new TestClient(sock, testDuid(1));
    const rep = await c.obtain({ na: [1], pd: [1] });
    assert.ok(rep && rep.leases.length === 2);
    child.kill("SIGTERM");
    const status = await child.status;
    await err.done;
    assert.equal(status.code, 0, err.lines.join("\n"));
    const msgs = err.lines.map((l) => JSON.parse(l).msg);
    assert.deepEqual(msgs.slice(-2), ["draining", "stopped"]);
    assert.ok(!err.lines.some((l) => JSON.parse(l).level === "error"), err.lines.join("\n"));
  } finally {
    await sock.close();
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await Deno.remove(dir, { recursive: true });
  }
});

/** True when the embedded default's ports are free here. */
async function defaultPortsFree(): Promise<boolean> {
  try {
    Deno.listen({ hostname: "127.0.0.1", port: 10548 }).close();
  } catch {
    return false;
  }
  return await new Promise((resolve) => {
    const s = dgram.createSocket("udp6");
    s.once("error", () => resolve(false));
    s.bind({ address: "::1", port: 10547 }, () => s.close(() => resolve(true)));
  });
}

const portsFree = await defaultPortsFree();
if (!portsFree) {
  console.warn("SKIPPING embedded-default test: [::1]:10547 or 127.0.0.1:10548 is in use here");
}

Deno.test({
  name: "serve with no file runs the embedded default and says so",
  ignore: !portsFree,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "f6default-" });
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...SERVE_PERMISSIONS, MAIN, "serve"],
      cwd: dir,
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const err = lineReader(child.stderr);
    try {
      await until(() => err.lines.some((l) => l.includes("control API listening")), 30_000);
      assert.match(err.lines[0], /starting on the embedded default configuration/);
      assert.ok(
        err.lines.some((l) => /listening .*address=::1 port=10547/.test(l)),
        err.lines.join("\n"),
      );
      const token = (await Deno.readTextFile(`${dir}/failover6-control.token`)).trim();
      const st = await runCli([
        "ctl",
        "--url",
        "http://127.0.0.1:10548",
        "--token",
        token,
        "status",
      ]);
      assert.equal(st.code, 0, st.stderr);
      assert.match(st.stdout, /config +<embedded default>/);
      assert.ok((await Deno.stat(`${dir}/failover6-leases.db`)).isFile);
      child.kill("SIGINT");
      assert.equal((await child.status).code, 0);
      await err.done;
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await Deno.remove(dir, { recursive: true });
    }
  },
});
