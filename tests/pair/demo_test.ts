/**
 * `deno task demo` (tools/demo.ts) end to end, as a child process: it must end with the pair
 * back in NORMAL and equal bindings (exit 0), having shown the takeover on the way. It uses
 * the fixed ports of fixtures/demo/*.yaml; the test is skipped, saying why, when they are taken.
 */
import assert from "node:assert/strict";

const DEMO = new URL("../../tools/demo.ts", import.meta.url).pathname;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

function portsFree(): boolean {
  try {
    for (const port of [11548, 11558]) Deno.listen({ hostname: "127.0.0.1", port }).close();
    Deno.listen({ hostname: "::1", port: 11647 }).close();
    return true;
  } catch {
    return false;
  }
}

const free = portsFree();
if (!free) console.log("demo_test: the demo's ports (11548, 11558, 11647) are taken: skipped");

Deno.test({
  name: "demo: the pair takes over and recovers to NORMAL with equal bindings",
  ignore: !free,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "--config", CONFIG, DEMO],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    const why = `${text}\n${new TextDecoder().decode(out.stderr)}`;
    assert.equal(out.code, 0, why);
    assert.match(text, /secondary COMMUNICATIONS-INTERRUPTED/);
    assert.match(text, /secondary PARTNER-DOWN/);
    assert.match(text, /primary\s+NORMAL .*\n.*secondary NORMAL/);
    assert.match(text, /new\s+\S+\s+valid\s+30s/, "a new lease capped at the MCLT");
    assert.match(text, /ACTIVE bindings: primary \d+, secondary \d+, equal/);
    assert.match(text, /done: the pair is back in NORMAL with equal bindings/);
  },
});
