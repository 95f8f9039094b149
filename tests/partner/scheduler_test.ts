import assert from "node:assert/strict";
import {
  DeadlockError,
  realScheduler,
  sleep,
  VirtualScheduler,
} from "../../lib/partner/scheduler.ts";

Deno.test("VirtualScheduler: timers fire in time order (ties in set order), clock jumps to each", async () => {
  const s = new VirtualScheduler(1000);
  const seen: string[] = [];
  s.setTimer(50, () => seen.push(`b@${s.now()}`));
  s.setTimer(10, () => seen.push(`a@${s.now()}`));
  s.setTimer(50, () => seen.push(`c@${s.now()}`));
  const id = s.setTimer(20, () => seen.push("cancelled"));
  s.clearTimer(id);
  await s.run(sleep(s, 60));
  assert.deepEqual(seen, ["a@1010", "b@1050", "c@1050"]);
  assert.equal(s.now(), 1060);
});

Deno.test("VirtualScheduler.run: promise work between timers runs before time moves", async () => {
  const s = new VirtualScheduler(0);
  const log: number[] = [];
  const work = (async () => {
    for (let i = 0; i < 3; i++) {
      await Promise.resolve();
      log.push(s.now());
      await sleep(s, 1000);
    }
    return "done";
  })();
  assert.equal(await s.run(work), "done");
  assert.deepEqual(log, [0, 1000, 2000]);
});

Deno.test("VirtualScheduler.run: waiting on nothing is a deadlock, not a hang", async () => {
  const s = new VirtualScheduler(0);
  await assert.rejects(() => s.run(new Promise(() => {})), DeadlockError);
});

Deno.test("realScheduler: a timer fires and can be cancelled", async () => {
  let fired = false;
  const id = realScheduler.setTimer(1, () => fired = true);
  realScheduler.clearTimer(id);
  await sleep(realScheduler, 5);
  assert.equal(fired, false);
  assert.ok(Math.abs(realScheduler.now() - Date.now()) < 1000);
});
