/**
 * Fault (c), root only: the secondary is killed, its lease database deleted, and it restarts
 * with empty storage; it recovers everything with UPDREQALL (RECOVER, RECOVER-WAIT for the
 * MCLT, RECOVER-DONE) while the primary serves perfdhcp load; both end in NORMAL holding the
 * same bindings. Checked from the capture and both servers' leases.
 */
import assert from "node:assert/strict";
import { announceSkip, pause } from "./lib/lab.ts";
import { faultSkipReason, runFault } from "./lib/scenario.ts";
import { assertSafe } from "./lib/assert_safe.ts";

const TEST = "fault (c): the secondary's database deleted, recovery by UPDREQALL";

Deno.test({
  name: TEST,
  ignore: announceSkip(TEST, faultSkipReason()),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    let leasesBefore = 0;
    const r = await runFault(TEST, { tag: "db" }, async ({ pair, note }) => {
      leasesBefore = (await pair.s2.leases()).filter((l) => l.status === "ACTIVE").length;
      const killed = Date.now();
      await pair.s2.kill9();
      await pair.s2.deleteDatabase();
      note(`secondary killed, its database deleted (${leasesBefore} ACTIVE leases in it)`);
      await pair.s1.waitState(["COMMUNICATIONS-INTERRUPTED"], 30_000, killed);
      note("primary in COMMUNICATIONS-INTERRUPTED");
      await pause(3000);
      await pair.s2.start();
      note("secondary restarted with empty storage");
    });
    assert.ok(leasesBefore > 0, "the secondary held nothing before the loss");
    assert.ok((r.events.sent["s2 UPDREQALL"] ?? 0) >= 1, "no UPDREQALL from the secondary");
    assert.ok(
      r.samples.s2.some((x) => x.state === "RECOVER"),
      "the secondary never showed RECOVER",
    );
    assertSafe(r.report, 100);
  },
});
