/**
 * Crash test: a child writes leases through the BatchCommitter and prints each address once
 * its commit resolves; we SIGKILL it at a random point, reopen the database and check that
 * every printed lease is there. Several rounds on the same file.
 */
import assert from "node:assert/strict";
import { SqliteBindingStore } from "../../lib/store/sqlite.ts";
import { tempDir } from "./helpers.ts";

const ROUNDS = 6;
const child = new URL("./crash_child.ts", import.meta.url).pathname;

/** Reads lines from the child's stdout until `want` have arrived or the stream ends. */
async function readLines(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  into: string[],
  want: number,
  state: { rest: string },
): Promise<void> {
  const dec = new TextDecoder();
  while (into.length < want) {
    const { value, done } = await reader.read();
    if (done) return;
    state.rest += dec.decode(value, { stream: true });
    const parts = state.rest.split("\n");
    state.rest = parts.pop()!;
    into.push(...parts);
  }
}

Deno.test({
  name: "crash: every lease whose commit resolved survives SIGKILL",
  sanitizeResources: false,
  async fn() {
    const t = tempDir();
    const path = `${t.dir}/crash.db`;
    const everyone: string[] = [];
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const killAfter = 200 + Math.floor(Math.random() * 4000);
        const proc = new Deno.Command(Deno.execPath(), {
          args: ["run", "--quiet", "--allow-read", "--allow-write", child, path, String(round)],
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const reader = proc.stdout.getReader();
        const printed: string[] = [];
        const state = { rest: "" };
        await readLines(reader, printed, killAfter, state);
        proc.kill("SIGKILL");
        // whatever was already in the pipe was also printed after a commit: read to EOF
        await readLines(reader, printed, Number.POSITIVE_INFINITY, state);
        const status = await proc.status;
        const err = new TextDecoder().decode(await new Response(proc.stderr).arrayBuffer());
        assert.equal(status.signal, "SIGKILL", `child ended on its own: ${status.code} ${err}`);
        assert.ok(printed.length >= killAfter, `child printed only ${printed.length}: ${err}`);
        everyone.push(...printed);

        const store = SqliteBindingStore.open(path); // also runs quick_check
        try {
          const missing = everyone.filter((a) =>
            store.get({ kind: "na", address: a }) === undefined
          );
          assert.deepEqual(missing.slice(0, 5), [], `${missing.length} acknowledged leases lost`);
          assert.ok(store.count() >= everyone.length);
        } finally {
          store.close();
        }
      }
    } finally {
      t.remove();
    }
  },
});
