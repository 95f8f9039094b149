import assert from "node:assert/strict";
import { FakeClock } from "../../lib/util/clock.ts";
import {
  formatLogLine,
  levelEnabled,
  Logger,
  MemorySink,
  RateLimiter,
} from "../../lib/server/shell/log.ts";

const T = Date.UTC(2026, 0, 2, 3, 4, 5, 6);

Deno.test("text lines: time, level, message, key=value with quoting when needed", () => {
  const line = formatLogLine({
    time: T,
    level: "warn",
    msg: "dropped malformed datagram",
    fields: {
      reason: "option-overrun",
      from: "::1",
      detail: 'says "hi" = x',
      n: 3,
      gone: undefined,
    },
  }, "text");
  assert.equal(
    line,
    "2026-01-02T03:04:05.006Z WARN  dropped malformed datagram reason=option-overrun from=::1 " +
      'detail="says \\"hi\\" = x" n=3',
  );
});

Deno.test("text lines never hold a newline, even when a field or message does", () => {
  const line = formatLogLine(
    { time: T, level: "info", msg: "a\nb", fields: { x: "1\n2" } },
    "text",
  );
  assert.ok(!line.includes("\n"));
  assert.match(line, /x="1\\n2"/);
});

Deno.test("JSON lines: one object, reserved names prefixed, bigint as text", () => {
  const line = formatLogLine({
    time: T,
    level: "error",
    msg: "m",
    fields: { msg: "clash", size: 2n ** 64n, list: ["a", "b"], none: null },
  }, "json");
  assert.deepEqual(JSON.parse(line), {
    time: "2026-01-02T03:04:05.006Z",
    level: "error",
    msg: "m",
    _msg: "clash",
    size: "18446744073709551616",
    list: ["a", "b"],
    none: null,
  });
});

Deno.test("the logger writes only at or above its level and adds child fields", () => {
  const sink = new MemorySink();
  const log = new Logger({ level: "info", format: "json", sink, clock: new FakeClock(T) });
  log.debug("hidden");
  log.info("shown", { a: 1 });
  log.child({ relationship: "r1" }).warn("child", { b: 2 });
  assert.equal(sink.lines.length, 2);
  assert.deepEqual(JSON.parse(sink.lines[1]), {
    time: new Date(T).toISOString(),
    level: "warn",
    msg: "child",
    relationship: "r1",
    b: 2,
  });
  assert.ok(levelEnabled("error", "warn"));
  assert.ok(!levelEnabled("debug", "info"));
});

Deno.test("rate limiter: one line per key per interval, then says how many were held back", () => {
  const clock = new FakeClock(0);
  const rl = new RateLimiter({ burst: 1, intervalMs: 1000, clock });
  assert.deepEqual(rl.take("a"), { allowed: true, suppressed: 0 });
  for (let i = 0; i < 5; i++) assert.equal(rl.take("a").allowed, false);
  assert.deepEqual(rl.take("b"), { allowed: true, suppressed: 0 }, "keys are independent");
  clock.advance(999);
  assert.equal(rl.take("a").allowed, false);
  clock.advance(1);
  assert.deepEqual(rl.take("a"), { allowed: true, suppressed: 6 });
  assert.deepEqual(rl.take("b"), { allowed: true, suppressed: 0 }, "b had nothing held back");
});

Deno.test("rate limiter memory is bounded by maxKeys", () => {
  const rl = new RateLimiter({ maxKeys: 8, clock: new FakeClock(0) });
  for (let i = 0; i < 1000; i++) rl.take(`k${i}`);
  assert.equal(rl.size, 8);
});
