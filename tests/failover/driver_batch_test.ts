/**
 * An UPDREQALL between two drivers with SQLite stores, through a link the test drives (TCP-like
 * segments of random sizes) and commits that happen only when the test lets them: every
 * BNDREPLY reaches the wire only after its binding is committed, the BNDUPDs of one read go
 * into one transaction, and the primary never has more BNDUPDs unanswered than the window
 * the secondary announced (OPTION_F_MAX_UNACKED_BNDUPD).
 */
import assert from "node:assert/strict";
import { FakeClock } from "../../lib/util/clock.ts";
import { SqliteBindingStore } from "../../lib/store/sqlite.ts";
import { BatchCommitter, type BatchTimer } from "../../lib/store/batch.ts";
import { EngineDriver, type Transport } from "../../lib/failover/driver.ts";
import { ManualScheduler } from "../../lib/failover/scheduler.ts";
import { Deframer } from "../../lib/wire/framing.ts";
import { decodeMessage } from "../../lib/wire/decode.ts";
import { encodeMessage } from "../../lib/wire/encode.ts";
import { frameMessage } from "../../lib/wire/framing.ts";
import { failoverMessage } from "../../lib/wire/options.ts";
import { bndupdOptions } from "../../lib/failover/bndupd.ts";
import { toWireTime } from "../../lib/failover/binding.ts";
import type { DhcpOption, FailoverMessage } from "../../lib/wire/types.ts";
import { activeLease, T0 } from "./helpers.ts";

/** Commits happen when the test fires them. */
class HeldTimer implements BatchTimer {
  #next = 1;
  readonly pending = new Map<number, () => void>();
  set(fn: () => void): unknown {
    const h = this.#next++;
    this.pending.set(h, fn);
    return h;
  }
  clear(h: unknown): void {
    this.pending.delete(h as number);
  }
  fire(): number {
    const due = [...this.pending.values()];
    this.pending.clear();
    for (const fn of due) fn();
    return due.length;
  }
}

/** A small deterministic generator (segment sizes). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** One direction of the link: octets written are held until delivered, in random segments. */
class Direction {
  #held: Uint8Array[] = [];
  readonly #deframer = new Deframer();
  readonly #random: () => number;
  /** `onWrite` sees every message as it is written, `onDeliver` as it is delivered. */
  constructor(
    seed: number,
    readonly onWrite: (m: FailoverMessage) => void,
    readonly onDeliver: (m: FailoverMessage) => void,
  ) {
    this.#random = rng(seed);
  }
  transport(): Transport {
    const written = new Deframer();
    return {
      write: (data) => {
        for (const f of written.push(data).frames) {
          this.onWrite(decodeMessage(f.data).message as FailoverMessage);
        }
        this.#held.push(data.slice());
        return Promise.resolve();
      },
      close: () => {},
    };
  }
  /** Delivers what is held, cut at random points; returns the octets delivered. */
  deliver(to: EngineDriver): number {
    const held = this.#held;
    this.#held = [];
    let n = 0;
    for (const data of held) {
      for (let at = 0; at < data.length;) {
        const size = Math.max(1, Math.floor(this.#random() * 3000));
        const seg = data.subarray(at, at + size);
        for (const f of this.#deframer.push(seg).frames) {
          this.onDeliver(decodeMessage(f.data).message as FailoverMessage);
        }
        to.receive(seg);
        at += size;
        n += seg.length;
      }
    }
    return n;
  }
}

/** The address of the (one) IAADDR of a BNDUPD or BNDREPLY. */
function addressOf(m: FailoverMessage): string {
  const cd = m.options.find((o) => o.code === 45) as { options: DhcpOption[] };
  const ia = cd.options.find((o) => o.code === 3) as { options: DhcpOption[] };
  return (ia.options.find((o) => o.code === 5) as { address: string }).address;
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

interface Run {
  bndupds: number;
  bndreplies: number;
  maxUnacked: number;
  transactions: number;
  stored: number;
  upddone: boolean;
}

/** The pair of drivers: a primary in PARTNER-DOWN with `count` bindings, an empty secondary. */
function pair(count: number, window: number) {
  const clock = new FakeClock(T0);
  const base = { relationship: "rel", mclt: 3600, startupTime: 30, keepaliveTime: 60 };
  const pStore = SqliteBindingStore.open(":memory:");
  const sStore = SqliteBindingStore.open(":memory:");
  const leases = Array.from(
    { length: count },
    (_, i) =>
      activeLease(
        `2001:db8::${(2 * i + 1).toString(16)}`,
        `0003000102${i.toString(16).padStart(8, "0")}`,
        T0,
        {
          updatePending: false,
          partnerLifetime: 0,
          ackedPartnerLifetime: T0 + 5400_000,
        },
      ),
  );
  pStore.upsert(leases);
  pStore.apply([{
    type: "endpoint-state",
    record: {
      relationship: "rel",
      state: "PARTNER-DOWN",
      previousState: "COMMUNICATIONS-INTERRUPTED",
      startTimeOfState: T0 - 3600_000,
      partnerState: "COMMUNICATIONS-INTERRUPTED",
      partnerStartTimeOfState: T0 - 7200_000,
      partnerFlags: 1,
      partnerDownTime: 0,
      lastContactTime: T0 - 3600_000,
      lastOperationTime: T0,
      mclt: 3600,
    },
  }]);
  const pTimer = new HeldTimer();
  const sTimer = new HeldTimer();
  const sCommitter = new BatchCommitter(sStore, { windowMs: 0, timer: sTimer });
  const primary = new EngineDriver({
    config: { ...base, role: "primary", maxUnackedBndupd: 10, readBatch: 256 },
    store: pStore,
    clock,
    scheduler: new ManualScheduler(clock),
    committer: new BatchCommitter(pStore, { windowMs: 0, timer: pTimer }),
  });
  const secondary = new EngineDriver({
    config: { ...base, role: "secondary", maxUnackedBndupd: window },
    store: sStore,
    clock,
    scheduler: new ManualScheduler(clock),
    committer: sCommitter,
  });
  const close = async () => {
    await primary.stop();
    await secondary.stop();
    pStore.close();
    sStore.close();
  };
  return { primary, secondary, pStore, sStore, pTimer, sTimer, sCommitter, close };
}

/** Runs the UPDREQALL of `count` bindings with the secondary announcing `window`. */
async function updreqall(count: number, window: number, seed: number): Promise<Run> {
  const { primary, secondary, sStore, pTimer, sTimer, sCommitter, close } = pair(count, window);
  try {
    const run: Run = {
      bndupds: 0,
      bndreplies: 0,
      maxUnacked: 0,
      transactions: 0,
      stored: 0,
      upddone: false,
    };
    let unacked = 0;
    const toSecondary = new Direction(seed, (m) => {
      if (m.msgType === 30) run.upddone = true;
      if (m.msgType !== 24) return;
      run.bndupds++;
      unacked++;
      run.maxUnacked = Math.max(run.maxUnacked, unacked);
    }, () => {});
    const toPrimary = new Direction(seed + 1, (m) => {
      if (m.msgType !== 25) return;
      // Written by the secondary: its binding must already be in the store (committed).
      run.bndreplies++;
      const lease = sStore.get({ kind: "na", address: addressOf(m) });
      assert.ok(lease, `BNDREPLY ${m.transactionId} for ${addressOf(m)} before its commit`);
      assert.equal(lease.status, "ACTIVE");
    }, (m) => {
      if (m.msgType === 25) unacked--; // the primary has its answer once it is delivered
    });
    secondary.start();
    primary.start();
    secondary.attach(toPrimary.transport());
    primary.attach(toSecondary.transport());
    for (let round = 0; round < 100_000 && !run.upddone; round++) {
      await settle();
      const moved = toSecondary.deliver(secondary) + toPrimary.deliver(primary);
      await settle();
      if (moved === 0 && pTimer.fire() + sTimer.fire() === 0) break;
    }
    await secondary.idle();
    run.transactions = sCommitter.stats.transactions;
    run.stored = sStore.count();
    return run;
  } finally {
    await close();
  }
}

Deno.test("UPDREQALL, small window: never more unanswered than announced; BNDREPLY after commit", async () => {
  const r = await updreqall(600, 32, 7);
  assert.ok(r.upddone);
  assert.equal(r.bndupds, 600);
  assert.equal(r.bndreplies, 600);
  assert.equal(r.stored, 600);
  assert.ok(r.maxUnacked <= 32, `${r.maxUnacked} BNDUPDs unanswered, window 32`);
  assert.equal(r.maxUnacked, 32); // and the window is used
});

Deno.test("UPDREQALL, large window: flow control holds and reads are committed in groups", async () => {
  const r = await updreqall(3000, 1500, 11);
  assert.ok(r.upddone);
  assert.equal(r.bndupds, 3000);
  assert.equal(r.bndreplies, 3000);
  assert.equal(r.stored, 3000);
  assert.ok(r.maxUnacked <= 1500, `${r.maxUnacked} BNDUPDs unanswered, window 1500`);
  assert.ok(r.maxUnacked > 1000);
  // Many BNDUPDs to a transaction (one per commit the test let happen, not one per BNDUPD).
  assert.ok(r.transactions < 3000 / 20, `${r.transactions} transactions for 3000 BNDUPDs`);
});

/** Connects the pair and runs it until the secondary has sent UPDREQALL. */
async function untilUpdreqall(p: ReturnType<typeof pair>, seed: number): Promise<void> {
  const { primary, secondary, pTimer, sTimer } = p;
  let requested = false;
  const toSecondary = new Direction(seed, () => {}, () => {});
  const toPrimary = new Direction(seed + 1, (m) => {
    if (m.msgType === 29) requested = true;
  }, () => {});
  secondary.start();
  primary.start();
  secondary.attach(toPrimary.transport());
  primary.attach(toSecondary.transport());
  for (let i = 0; i < 1000 && !requested; i++) {
    await settle();
    const moved = toSecondary.deliver(secondary) + toPrimary.deliver(primary);
    await settle();
    if (moved === 0) pTimer.fire() + sTimer.fire();
  }
  assert.ok(requested, "the secondary sent UPDREQALL");
}

Deno.test("a lease written and not yet committed is what the next read sees", async () => {
  const p = pair(0, 100);
  const { secondary, sStore, sTimer, close } = p;
  try {
    // Up to the secondary's UPDREQALL; nothing from the primary is delivered after it.
    await untilUpdreqall(p, 3);
    // Two BNDUPDs for one lease in two reads, the first not committed when the second
    // arrives: the first carries a PARTNER_RAW_CLT_TIME, the second none; the second keeps
    // the first's client-last-transaction-time only if it sees the first's record.
    const raw = T0 - 60_000;
    const lease = activeLease("2001:db8::77", "00030001020000000077", T0, {
      partnerRawCltTime: raw,
    });
    const frame = (xid: number, l: typeof lease) =>
      frameMessage(encodeMessage(failoverMessage(24, xid, toWireTime(T0), bndupdOptions(l, T0)!)));
    sTimer.fire(); // nothing of the handshake left waiting
    await settle();
    secondary.receive(frame(0x501, lease));
    await settle();
    assert.equal(sStore.get({ kind: "na", address: "2001:db8::77" }), undefined); // held
    secondary.receive(frame(0x502, { ...lease, partnerRawCltTime: 0 }));
    await settle();
    assert.ok(sTimer.fire() > 0);
    await secondary.idle();
    const stored = sStore.get({ kind: "na", address: "2001:db8::77" });
    assert.equal(stored?.cltTime, raw);
  } finally {
    await close();
  }
});

Deno.test("a read of many messages is handled a slice per turn, in order; the end of the connection waits for it", async () => {
  const p = pair(0, 1000);
  const { secondary, sStore, sTimer, close } = p;
  try {
    await untilUpdreqall(p, 5);
    sTimer.fire();
    await settle();
    // 600 BNDUPDs in one read.
    const frames = Array.from({ length: 600 }, (_, i) =>
      frameMessage(
        encodeMessage(
          failoverMessage(
            24,
            0x1000 + i,
            toWireTime(T0),
            bndupdOptions(
              activeLease(
                `2001:db8::1:${(i + 1).toString(16)}`,
                `0003000103${i.toString(16).padStart(8, "0")}`,
                T0,
              ),
              T0,
            )!,
          ),
        ),
      ));
    const read = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    frames.reduce((at, f) => (read.set(f, at), at + f.length), 0);
    const before = secondary.stats.framesIn;
    secondary.receive(read);
    assert.equal(secondary.stats.framesIn - before, 256, "the first slice at once");
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(secondary.stats.framesIn - before, 512, "the next slice a turn later");
    secondary.detach("test: closed");
    assert.equal(secondary.stats.framesIn - before, 600, "the rest before the end");
    assert.equal(secondary.attached, false);
    sTimer.fire();
    await secondary.idle();
    assert.equal(sStore.count(), 600);
  } finally {
    await close();
  }
});
