/**
 * The single-file bundle (`deno task bundle`) runs the same CLI as `cli/main.ts`.
 */
import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url).pathname;
const captures = new URL("../../../shared/captures/", import.meta.url).pathname;

async function run(cmd: string, args: string[], cwd = root) {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("bundle: one JS file that runs every subcommand", async () => {
  const dir = await Deno.makeTempDir({ prefix: "failover6-bundle-" });
  try {
    const file = `${dir}/failover6.js`;
    const built = await run(Deno.execPath(), [
      "bundle",
      "--platform",
      "deno",
      "--output",
      file,
      "cli/main.ts",
    ]);
    assert.equal(built.code, 0, built.stderr);
    const help = await run(Deno.execPath(), ["run", "-A", file, "--help"]);
    assert.equal(help.code, 0, help.stderr);
    for (const sub of ["decode", "mclt"]) assert.match(help.stdout, new RegExp(`\\b${sub}\\b`));

    const mclt = await run(Deno.execPath(), [
      "run",
      "-A",
      file,
      "mclt",
      "--valid",
      "3d",
      "--mclt",
      "1h",
      "--renewals",
      "1",
      "--json",
    ]);
    assert.equal(mclt.code, 0, mclt.stderr);
    const rows = JSON.parse(mclt.stdout) as { event: string; clientLifetime: number | null }[];
    assert.equal(rows[0].event, "request");
    assert.equal(rows[0].clientLifetime, 3600);

    const bad = await run(Deno.execPath(), ["run", "-A", file, "mclt", "--mclt", "0"]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.trim().split("\n").length, 1, bad.stderr);

    let haveCaptures = true;
    try {
      await Deno.stat(captures);
    } catch {
      haveCaptures = false;
    }
    if (haveCaptures) {
      const dec = await run(Deno.execPath(), [
        "run",
        "-A",
        file,
        "decode",
        "--json",
        `${captures}failover-session.pcapng`,
      ]);
      assert.equal(dec.code, 0, dec.stderr);
      const lines = dec.stdout.trim().split("\n").map((l) => JSON.parse(l));
      assert.equal(lines.length, 33);
      assert.equal(lines[0].msgName, "CONNECT");
    } else {
      console.warn("bundle test: ../shared/captures missing, skipping the decode part");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
