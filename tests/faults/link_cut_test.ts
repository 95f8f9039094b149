/**
 * Fault (b), root only: the partner link (the secondary's veth on the partner bridge) is cut
 * for longer than the MCLT while perfdhcp clients keep coming; both servers go
 * COMMUNICATIONS-INTERRUPTED and serve from their own halves under the MCLT rule; the link is
 * healed and the pair returns to NORMAL. Checked from the capture and both servers' leases.
 */
import assert from "node:assert/strict";
import { announceSkip, pause } from "./lib/lab.ts";
import { DEFAULT_SETTINGS } from "./lib/pair.ts";
import { faultSkipReason, runFault } from "./lib/scenario.ts";
import { assertSafe } from "./lib/assert_safe.ts";

const TEST = "fault (b): partner link cut for longer than the MCLT under load, then healed";

Deno.test({
  name: TEST,
  ignore: announceSkip(TEST, faultSkipReason()),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const cutSeconds = DEFAULT_SETTINGS.mclt + 10;
    let reconnectSeconds = NaN;
    const r = await runFault(TEST, { tag: "lc" }, async ({ lab, pair, note }) => {
      const cut = Date.now();
      await lab.link("p-f2", false);
      note("partner link cut (p-f2 down)");
      await Promise.all([
        pair.s1.waitState(["COMMUNICATIONS-INTERRUPTED"], 30_000, cut),
        pair.s2.waitState(["COMMUNICATIONS-INTERRUPTED"], 30_000, cut),
      ]);
      note("both servers in COMMUNICATIONS-INTERRUPTED");
      await pause(Math.max(0, cut + cutSeconds * 1000 - Date.now()));
      await lab.link("p-f2", true);
      const healed = Date.now();
      note(`partner link healed after ${((healed - cut) / 1000).toFixed(1)}s`);
      // Reported, not asserted (time): the primary retries on its backoff schedule, each
      // attempt bounded by its connect timeout, so it is back well before a SYN the kernel
      // retransmits on its own schedule would get through.
      const back = await pair.s1.waitState(["NORMAL"], 120_000, healed);
      const at = Number.isNaN(back.since) ? Date.now() : Math.max(healed, back.since);
      reconnectSeconds = (at - healed) / 1000;
      note(`primary reconnected, in NORMAL ${reconnectSeconds.toFixed(1)}s after the heal`);
    });
    console.log(`  reconnect: primary in NORMAL ${reconnectSeconds.toFixed(1)}s after the heal`);
    for (const s of ["s1", "s2"] as const) {
      assert.ok(
        r.samples[s].some((x) => x.state === "COMMUNICATIONS-INTERRUPTED"),
        `${s} never showed COMMUNICATIONS-INTERRUPTED`,
      );
      assert.ok(!r.samples[s].some((x) => x.state === "PARTNER-DOWN"), `${s} went PARTNER-DOWN`);
    }
    assert.ok((r.report.byServer.s2 ?? 0) > 0, "the secondary served nobody during the cut");
    assertSafe(r.report, 100);
  },
});
