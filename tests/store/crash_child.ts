/**
 * Child process of crash_test.ts: writes leases through a BatchCommitter as fast as it can
 * and prints each lease's address on stdout only after its commit has resolved. The parent
 * kills it with SIGKILL at a random moment. Usage: crash_child.ts DB_PATH ROUND
 */
import { BatchCommitter } from "../../lib/store/batch.ts";
import { SqliteBindingStore } from "../../lib/store/sqlite.ts";
import { formatIPv6, parseIPv6 } from "../../lib/util/ipv6.ts";
import { naLease } from "./helpers.ts";

const [path, roundText] = Deno.args;
const round = BigInt(Number(roundText));
const store = SqliteBindingStore.open(path, { integrityCheck: "none" });
const committer = new BatchCommitter(store, { windowMs: 2 });
const out = new TextEncoder();
const base = parseIPv6("2001:db8:c000::")! + (round << 64n);
const WORKERS = 32;
const PER_WORKER = 100_000; // far more than the parent lets it write

function println(s: string): void {
  const bytes = out.encode(s + "\n");
  let n = 0;
  while (n < bytes.length) n += Deno.stdout.writeSync(bytes.subarray(n));
}

async function worker(w: number): Promise<void> {
  for (let i = 0; i < PER_WORKER; i++) {
    const address = formatIPv6(base + (BigInt(w) << 32n) + BigInt(i));
    await committer.write([{ type: "lease", lease: naLease(i, { address, iaid: w }) }]);
    println(address);
  }
}

await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
