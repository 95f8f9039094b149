/**
 * `storeIsCurrent` of {@linkcode EngineDriver}: with it the driver reads its store alone, without
 * laying its own uncommitted writes over the answer (the serve shell's store is the lease index,
 * which holds those writes and newer changes from other writers: a client's renewal, an expiry).
 * Without it the driver's uncommitted write wins over the store.
 *
 * One primary driver talks to the test, which plays the secondary with raw frames. The
 * primary's commits happen only when the test lets them, so a write of the primary stays
 * uncommitted while the test puts a newer version of the same lease straight into the store.
 */
import assert from "node:assert/strict";
import { FakeClock } from "../../lib/util/clock.ts";
import { MemoryBindingStore } from "../../lib/store/memory.ts";
import type { Lease, StoreWrite } from "../../lib/store/types.ts";
import { EngineDriver, type WriteCommitter } from "../../lib/failover/driver.ts";
import { ManualScheduler } from "../../lib/failover/scheduler.ts";
import { bndupdOptions, parseBndreply, parseBndupd } from "../../lib/failover/bndupd.ts";
import { Deframer, frameMessage } from "../../lib/wire/framing.ts";
import { decodeMessage } from "../../lib/wire/decode.ts";
import { encodeMessage } from "../../lib/wire/encode.ts";
import type { FailoverMessage } from "../../lib/wire/types.ts";
import { activeLease, connectMsg, fo, stateMsg, T0 } from "./helpers.ts";

/** Commits to the store at once, or, while held, only when the test releases them. */
class HeldCommitter implements WriteCommitter {
  held = false;
  readonly #queue: { writes: readonly StoreWrite[]; resolve: () => void }[] = [];
  constructor(readonly store: MemoryBindingStore) {}
  write(writes: readonly StoreWrite[]): Promise<void> {
    if (!this.held) {
      this.store.apply(writes);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#queue.push({ writes, resolve }));
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  /** Commits what is held, in order, and stops holding; returns how many writers waited. */
  release(): number {
    this.held = false;
    const due = this.#queue.splice(0);
    for (const { writes, resolve } of due) {
      this.store.apply(writes);
      resolve();
    }
    return due.length;
  }
}

/** Lets the microtasks of a step run (no `idle()` while a commit is held: it would wait). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

const L = "2001:db8::11";
const CLIENT = "00030001020000000001";

/**
 * A primary on a fake clock at T0 with an empty store, connected to the test (CONNECT answered,
 * the partner's STATE NORMAL received). Everything the primary writes on the wire is decoded
 * into `wire`; every lease it persists goes into `persisted`.
 */
async function primary(storeIsCurrent: boolean) {
  const clock = new FakeClock(T0);
  const store = new MemoryBindingStore();
  const committer = new HeldCommitter(store);
  const wire: FailoverMessage[] = [];
  const persisted: Lease[] = [];
  const driver = new EngineDriver({
    config: { role: "primary", relationship: "rel", mclt: 3600 },
    store,
    clock,
    scheduler: new ManualScheduler(clock),
    committer,
    storeIsCurrent,
    hooks: {
      onAction: (a) => {
        if (a.type !== "persist") return;
        for (const w of a.writes) if (w.type === "lease") persisted.push(w.lease);
      },
    },
  });
  const deframer = new Deframer();
  driver.start();
  driver.attach({
    write: (data) => {
      for (const f of deframer.push(data).frames) {
        wire.push(decodeMessage(f.data).message as FailoverMessage);
      }
      return Promise.resolve();
    },
    close: () => {},
  });
  const send = (m: FailoverMessage) => driver.receive(frameMessage(encodeMessage(m)));
  send(connectMsg(32));
  send(stateMsg("NORMAL"));
  await driver.idle();
  assert.equal(driver.state.comms.phase, "ok", "the primary talks to the test");
  return { clock, store, committer, driver, wire, persisted, send };
}

/** A BNDUPD from the secondary for `lease`, sent at `now`. */
function bndupd(xid: number, lease: Lease, now: number): FailoverMessage {
  return fo(24, bndupdOptions(lease, now)!, xid, now);
}

/** The BNDREPLY the primary sent for transaction `xid`. */
function replyTo(wire: readonly FailoverMessage[], xid: number): FailoverMessage {
  const r = wire.find((m) => m.msgType === 25 && m.transactionId === xid);
  assert.ok(r, `no BNDREPLY for transaction ${xid.toString(16)}`);
  return r;
}

/**
 * Steps 1 and 2 of every test. 1: the secondary tells the primary that L is ACTIVE for the
 * client since T0 (BNDUPD 0x501); the primary accepts it and writes that version (A), whose
 * commit the test holds. 2: at T0 + 60 s the client renews L at the primary: the store gets
 * that newer version (B: client-last-transaction-time T0 + 60 s, update pending), as the
 * server's lease index would have it, while A is still uncommitted.
 */
async function acceptedThenRenewed(storeIsCurrent: boolean) {
  const p = await primary(storeIsCurrent);
  p.committer.held = true;
  p.send(bndupd(0x501, activeLease(L, CLIENT, T0, { owner: "secondary" }), T0));
  await settle();
  const a = p.persisted.at(-1);
  assert.equal(a?.address, L);
  assert.equal(a?.status, "ACTIVE");
  assert.equal(a?.cltTime, 0, "A: no client transaction seen by the primary");
  assert.equal(p.store.get({ kind: "na", address: L }), undefined, "A is not committed");

  p.clock.advance(60_000);
  p.store.upsert([activeLease(L, CLIENT, T0 + 60_000, { startTimeOfState: T0 })]);
  p.persisted.length = 0;
  return p;
}

/**
 * Step 3 of the BNDUPD tests: the secondary reports that the client released L at T0 + 30 s
 * (BNDUPD 0x502). Against A (ACTIVE since T0, no time of its own) the release is later and
 * is accepted; against B (renewed at T0 + 60 s) it is older: OutdatedBindingInformation (19).
 * Returns the status code of the BNDREPLY (read once the held commits are let through) and
 * the statuses the primary wrote for L on receiving the BNDUPD.
 */
async function releaseReported(p: Awaited<ReturnType<typeof acceptedThenRenewed>>) {
  const released: Lease = {
    ...activeLease(L, CLIENT, T0 + 30_000, { owner: "secondary" }),
    status: "RELEASED",
  };
  p.send(bndupd(0x502, released, T0 + 60_000));
  await settle();
  const written = p.persisted.filter((l) => l.address === L).map((l) => l.status);
  assert.ok(p.committer.release() > 0, "A's commit was held until now");
  await p.driver.idle();
  assert.equal(parseBndreply(replyTo(p.wire, 0x501)).leases[0]?.status.code, 0);
  const acked = parseBndreply(replyTo(p.wire, 0x502)).leases;
  assert.equal(acked.length, 1);
  assert.equal(acked[0].key.address, L);
  await p.driver.stop();
  return { code: acked[0].status.code, written };
}

Deno.test("driver: with storeIsCurrent, a BNDUPD is decided against the store's newest binding, not an uncommitted write", async () => {
  const p = await acceptedThenRenewed(true);
  const r = await releaseReported(p);
  assert.equal(r.code, 19, "the renewal in the store is newer than the reported release");
  assert.deepEqual(r.written, [], "the renewed lease is left as it is");
});

Deno.test("driver: without storeIsCurrent, a BNDUPD is decided against the driver's uncommitted write", async () => {
  const p = await acceptedThenRenewed(false);
  const r = await releaseReported(p);
  assert.equal(r.code, 0, "the release is later than the uncommitted ACTIVE");
  assert.deepEqual(r.written, ["RELEASED"]);
});

/**
 * Step 3 of the UPDREQ tests: the secondary asks for the bindings pending an update (UPDREQ
 * 0x503). The store names L (B is pending); the primary answers with a BNDUPD for L. Returns
 * the times that BNDUPD carries (B: the primary's own client-last-transaction-time; A: only the
 * secondary's, echoed as PARTNER_RAW_CLT_TIME), once the held commits are let through.
 */
async function updreqAnswered(p: Awaited<ReturnType<typeof acceptedThenRenewed>>) {
  p.send(fo(28, [], 0x503, T0 + 60_000));
  await settle();
  assert.ok(p.committer.release() > 0, "A's commit was held until now");
  await p.driver.idle();
  const sent = p.wire.filter((m) => m.msgType === 24);
  assert.equal(sent.length, 1, "one BNDUPD in answer to UPDREQ");
  const parsed = parseBndupd(sent[0]);
  assert.equal(parsed.shape, "client");
  const lease = parsed.shape === "client" ? parsed.ias[0]?.leases[0] : undefined;
  assert.equal(lease?.key.address, L);
  assert.equal(lease?.status, "ACTIVE");
  await p.driver.stop();
  return { cltTime: lease?.cltTime, partnerRawCltTime: lease?.partnerRawCltTime };
}

Deno.test("driver: with storeIsCurrent, an UPDREQ is answered with the store's newest binding, not an uncommitted write", async () => {
  const p = await acceptedThenRenewed(true);
  assert.deepEqual(await updreqAnswered(p), {
    cltTime: T0 + 60_000, // the renewal
    partnerRawCltTime: undefined,
  });
});

Deno.test("driver: without storeIsCurrent, an UPDREQ is answered with the driver's uncommitted write", async () => {
  const p = await acceptedThenRenewed(false);
  assert.deepEqual(await updreqAnswered(p), {
    cltTime: undefined, // A: no client transaction at the primary
    partnerRawCltTime: T0, // the secondary's time, from BNDUPD 0x501
  });
});
