/** The manual scheduler on a fake clock. */
import assert from "node:assert/strict";
import { FakeClock } from "../../lib/util/clock.ts";
import { ManualScheduler } from "../../lib/failover/scheduler.ts";

Deno.test("ManualScheduler fires in time order at each timer's own time; replaces by name", () => {
  const clock = new FakeClock(1000);
  const s = new ManualScheduler(clock);
  const fired: string[] = [];
  s.set("b", 3000, () => fired.push(`b@${clock.now()}`));
  s.set("a", 2000, () => {
    fired.push(`a@${clock.now()}`);
    s.set("c", 2500, () => fired.push(`c@${clock.now()}`));
  });
  s.set("d", 9000, () => fired.push("d"));
  s.set("d", 10_000, () => fired.push(`d2@${clock.now()}`));
  s.cancel("nothing");
  s.advance(2000);
  assert.deepEqual(fired, ["a@2000", "c@2500", "b@3000"]);
  assert.equal(clock.now(), 3000);
  assert.deepEqual(s.pending(), [{ name: "d", at: 10_000 }]);
  s.advance(7000);
  assert.deepEqual(fired.at(-1), "d2@10000");
  s.set("e", 1, () => fired.push("e"));
  s.cancelAll();
  assert.equal(s.runDue(), 0);
});
