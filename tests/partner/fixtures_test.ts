/**
 * The example scenario files in fixtures/scenarios pass against our own engine (in memory,
 * virtual time: the recovery flow's hour of RECOVER-WAIT takes well under a second).
 */
import assert from "node:assert/strict";
import { loadScenarioFile } from "../../lib/partner/scenario.ts";
import { runAgainstEngine } from "./helpers.ts";

const dir = new URL("../../fixtures/scenarios/", import.meta.url).pathname;

for (const file of ["bndupd-echo.yaml", "bad-input.yaml", "recovery.yaml"]) {
  Deno.test(`fixtures/scenarios/${file} passes against our engine`, async () => {
    const scenarios = await loadScenarioFile(dir + file);
    const { report } = await runAgainstEngine("primary", scenarios);
    const bad = report.scenarios.filter((s) => s.verdict !== "pass").map((s) =>
      `${s.name}: ${s.steps.find((x) => x.verdict === "fail" || x.verdict === "error")?.message}`
    );
    assert.deepEqual(bad, []);
    assert.equal(report.passed, scenarios.length);
  });
}
