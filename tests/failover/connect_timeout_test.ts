/**
 * The primary's connect timeout (`runPrimary`'s `connectTimeoutMs`): an attempt that hangs (a
 * SYN to an unreachable partner) is given up after the timeout and retried on the backoff
 * schedule; a connection that completes after its attempt was given up is closed.
 */
import assert from "node:assert/strict";
import {
  type ByteStream,
  CONNECT_TIMEOUT_MS,
  type ConnectionDriver,
  runPrimary,
  type ShellTimers,
} from "../../lib/failover/connection.ts";

/** Timers that fire only when the test says so. */
class ManualTimers implements ShellTimers {
  #next = 1;
  readonly pending = new Map<number, { delayMs: number; callback: () => void }>();
  setTimer(delayMs: number, callback: () => void): number {
    const id = this.#next++;
    this.pending.set(id, { delayMs, callback });
    return id;
  }
  clearTimer(id: number): void {
    this.pending.delete(id);
  }
  /** Fires the one pending timer (asserting its delay). */
  fire(delayMs: number): void {
    assert.equal(this.pending.size, 1, "one timer pending");
    const [id, t] = [...this.pending][0];
    assert.equal(t.delayMs, delayMs);
    this.pending.delete(id);
    t.callback();
  }
}

const idleDriver: ConnectionDriver = {
  relationship: "r",
  attach() {},
  receive() {},
  detach() {},
  stop: () => Promise.resolve(),
};

/** Lets promise callbacks run. */
const settle = () => new Promise((r) => setTimeout(r, 0));

Deno.test("runPrimary: a hanging connect is given up after the timeout and retried on the backoff", async () => {
  const timers = new ManualTimers();
  const attempts: ((c: ByteStream) => void)[] = [];
  const lines: string[] = [];
  let closedLate = 0;
  const handle = runPrimary({
    driver: idleDriver,
    hostname: "fd00:f6:f0::2",
    port: 647,
    backoff: { initialMs: 1000, maxMs: 4000 },
    connectTimeoutMs: 3000,
    timers,
    log: (l) => lines.push(l),
    connect: () => new Promise((resolve) => attempts.push(resolve)),
  });
  await settle();
  assert.equal(attempts.length, 1);
  timers.fire(3000); // the attempt is given up
  await settle();
  assert.match(lines.at(-1)!, /failed: no connection within 3000 ms/);
  timers.fire(1000); // backoff
  await settle();
  assert.equal(attempts.length, 2, "retried");
  timers.fire(3000);
  await settle();
  timers.fire(2000); // doubled
  await settle();
  assert.equal(attempts.length, 3);
  // The first attempt completes after all: closed at once, never attached.
  attempts[0]({
    read: () => Promise.resolve(null),
    write: (d: Uint8Array) => Promise.resolve(d.length),
    close: () => closedLate++,
  } as unknown as ByteStream);
  await settle();
  assert.equal(closedLate, 1);
  const stopped = handle.stop();
  timers.fire(3000); // the third attempt ends the loop once stopped
  await stopped;
  assert.equal(CONNECT_TIMEOUT_MS, 5000, "the documented default");
});
