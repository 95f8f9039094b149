/**
 * Fault (a), root only: `kill -9` of the primary under perfdhcp load. The secondary goes
 * COMMUNICATIONS-INTERRUPTED and, with auto-partner-down (5 s), PARTNER-DOWN and serves; the
 * primary restarts and the pair recovers to NORMAL. Checked from the capture of the run
 * (`failover6 decode --json`) and both servers' leases: see `lib/check.ts`.
 */
import assert from "node:assert/strict";
import { announceSkip, pause } from "./lib/lab.ts";
import { faultSkipReason, runFault } from "./lib/scenario.ts";
import { assertSafe } from "./lib/assert_safe.ts";

const TEST = "fault (a): kill -9 of the primary under load, PARTNER-DOWN, restart, NORMAL";

Deno.test({
  name: TEST,
  ignore: announceSkip(TEST, faultSkipReason()),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const r = await runFault(TEST, {
      tag: "ka",
      settings: { autoPartnerDownSecondary: 5 },
    }, async ({ pair, note }) => {
      const killed = Date.now();
      await pair.s1.kill9();
      note("primary killed (SIGKILL)");
      await pair.s2.waitState(["COMMUNICATIONS-INTERRUPTED", "PARTNER-DOWN"], 30_000, killed);
      note(`secondary in ${pair.s2.endpoint()?.state}`);
      await pair.s2.waitState(["PARTNER-DOWN"], 30_000, killed);
      note("secondary in PARTNER-DOWN");
      await pause(6000);
      await pair.s1.start();
      note("primary restarted");
    });
    const path = r.samples.s2.map((s) => s.state);
    const ci = path.indexOf("COMMUNICATIONS-INTERRUPTED");
    assert.ok(ci >= 0, "the secondary never showed COMMUNICATIONS-INTERRUPTED");
    assert.ok(path.indexOf("PARTNER-DOWN", ci) > ci, "no PARTNER-DOWN after it");
    assert.ok(r.report.partnerDownGrants > 0, "the secondary served nobody in PARTNER-DOWN");
    assertSafe(r.report, 100);
  },
});
