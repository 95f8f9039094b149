/**
 * The session shell: bad peer input is reported (with the offending octets) and never crashes,
 * the monitors catch broken rules, and the partner's own answers (BNDREPLY, UPDDONE, POOLRESP,
 * STARTTLS refusal, CONTACT) go out as the scenario allows. In-memory network, virtual time.
 */
import assert from "node:assert/strict";
import { type Conn, MemoryNetwork } from "../../lib/partner/net.ts";
import { sleep, VirtualScheduler } from "../../lib/partner/scheduler.ts";
import { Session } from "../../lib/partner/session.ts";
import { leaseTree } from "../../lib/partner/build.ts";
import { DEFAULT_SETTINGS, type Role } from "../../lib/partner/types.ts";
import { decodeMessage } from "../../lib/wire/decode.ts";
import { encodeMessage } from "../../lib/wire/encode.ts";
import { Deframer, frameMessage } from "../../lib/wire/framing.ts";
import { connectOptions, findOption, stateOptions } from "../../lib/wire/options.ts";
import { absoluteTimeFromMs } from "../../lib/wire/time.ts";
import type { DhcpOption, FailoverMessage, Message } from "../../lib/wire/types.ts";

interface Rig {
  sched: VirtualScheduler;
  session: Session;
  peer: Conn;
  lines: string[];
  /** What the session sent, decoded. */
  got: Message[];
  /** Sends a message from the peer (sent-time = now unless given). */
  send(msgType: number, xid: number, options?: DhcpOption[], sentTime?: number): Promise<void>;
  /** Lets `ms` of virtual time pass. */
  pass(ms: number): Promise<void>;
}

async function rig(role: Role, maxUnacked = 10): Promise<Rig> {
  const sched = new VirtualScheduler();
  const net = new MemoryNetwork();
  const l = net.listen({ address: "2001:db8::2", port: 647 });
  const client = await net.connect({ address: "2001:db8::2", port: 647 });
  const server = await l.accept();
  const lines: string[] = [];
  const session = new Session({
    role,
    settings: { ...DEFAULT_SETTINGS, keepalive: 8, maxUnacked },
    scheduler: sched,
    log: (line) => lines.push(line),
  });
  const mine = role === "primary" ? client : server;
  const peer = role === "primary" ? server : client;
  session.attach(mine, role === "primary");
  const got: Message[] = [];
  (async () => {
    const d = new Deframer();
    while (true) {
      const c = await peer.read();
      if (!c) return;
      for (const f of d.push(c).frames) got.push(decodeMessage(f.data).message!);
    }
  })();
  const now = () => absoluteTimeFromMs(sched.now());
  return {
    sched,
    session,
    peer,
    lines,
    got,
    send: (msgType, xid, options = [], sentTime) =>
      peer.write(
        frameMessage(
          encodeMessage(
            {
              kind: "failover",
              msgType,
              transactionId: xid,
              sentTime: sentTime ?? now(),
              options,
            } as FailoverMessage,
          ),
        ),
      ),
    pass: (ms) => sched.run(sleep(sched, ms)),
  };
}

/** Brings a session (as secondary) through CONNECT/CONNECTREPLY/STATE with the peer. */
async function connected(maxUnacked = 10): Promise<Rig> {
  const r = await rig("secondary", maxUnacked);
  await r.send(31, 1, connectOptions({ mclt: 60, keepaliveTime: 8, maxUnackedBndupd: 5 }));
  await r.pass(0);
  await r.session.send({
    kind: "failover",
    msgType: 32,
    transactionId: 1,
    sentTime: r.session.sentTime(),
    options: connectOptions({ mclt: 60, keepaliveTime: 8, maxUnackedBndupd: maxUnacked }),
  });
  await r.send(34, 2, stateOptions({ serverState: 2, flags: 1, startTimeOfState: 1 }));
  await r.pass(0);
  assert.deepEqual(r.session.takeViolations(), []);
  return r;
}

const lease = (n: number) =>
  leaseTree({ client: "000300010203", address: `2001:db8::${n}` }, { now: 762609600, mclt: 60 });

Deno.test("a garbage frame is a framing violation with its octets in hex; the session goes on", async () => {
  const r = await connected();
  await r.peer.write(Uint8Array.from([0, 4, 0xde, 0xad, 0xbe, 0xef]));
  await r.send(35, 3);
  await r.pass(0);
  const v = r.session.takeViolations();
  assert.equal(v.length, 1);
  assert.equal(v[0].monitor, "framing");
  assert.equal(v[0].hex, "deadbeef");
  assert.match(v[0].text, /does not decode|not a failover message/);
  assert.equal(r.session.inbox.at(-1)?.message?.msgType, 35, "the CONTACT after it was read");
  assert.ok(r.lines.some((l) => l.includes("octets: deadbeef")), "the log shows the octets");
});

Deno.test("an option overrun and a truncated header are reported, not thrown", async () => {
  const r = await connected();
  const t = absoluteTimeFromMs(r.sched.now());
  const overrun = [
    35,
    0,
    0,
    9,
    t >>> 24,
    (t >>> 16) & 255,
    (t >>> 8) & 255,
    t & 255,
    0,
    122,
    0,
    64,
    0,
    0,
  ];
  await r.peer.write(frameMessage(Uint8Array.from(overrun)));
  await r.peer.write(frameMessage(Uint8Array.from([35, 0])));
  await r.pass(0);
  const v = r.session.takeViolations();
  assert.equal(v.length, 2);
  assert.ok(v.every((x) => x.monitor === "framing" && x.hex !== undefined));
  assert.match(v[0].text, /option-overrun/);
  assert.equal(v[1].hex, "2300");
});

Deno.test("the stream ending inside a frame is reported", async () => {
  const r = await connected();
  await r.peer.write(Uint8Array.from([0, 40, 35, 0]));
  r.peer.close();
  await r.pass(0);
  assert.equal(r.session.connected, false);
  const v = r.session.takeViolations();
  assert.equal(v.length, 1);
  assert.match(v[0].text, /stream ended inside a frame/);
});

Deno.test("skew over 5 s (plus rounding) on any message is a violation; 6 s is tolerated", async () => {
  const r = await connected();
  const now = absoluteTimeFromMs(r.sched.now());
  await r.send(35, 3, [], now + 6);
  await r.send(35, 4, [], now - 7);
  await r.pass(0);
  const v = r.session.takeViolations();
  assert.equal(v.length, 1);
  assert.equal(v[0].monitor, "skew");
  assert.match(v[0].text, /-7s off our clock/);
});

Deno.test("missing mandatory options: STATE without START_TIME_OF_STATE", async () => {
  const r = await connected();
  await r.send(34, 9, [{ code: 132, serverState: 2 }, { code: 131, flags: 0 }]);
  await r.pass(0);
  const v = r.session.takeViolations();
  assert.equal(v[0].monitor, "options");
  assert.match(v[0].text, /STATE lacks OPTION_F_START_TIME_OF_STATE/);
});

Deno.test("wrong message for the state: BNDUPD before CONNECT, STATE not next after CONNECTREPLY", async () => {
  const r = await rig("secondary");
  await r.send(24, 5, lease(1));
  await r.pass(0);
  const v = r.session.takeViolations();
  assert.ok(
    v.some((x) => x.monitor === "sequence" && /BNDUPD before CONNECT/.test(x.text)),
    JSON.stringify(v),
  );
  const p = await rig("primary");
  await p.session.send({
    kind: "failover",
    msgType: 31,
    transactionId: 1,
    sentTime: p.session.sentTime(),
    options: connectOptions({ mclt: 60, keepaliveTime: 8, maxUnackedBndupd: 5 }),
  });
  await p.send(32, 1, connectOptions({ mclt: 60, keepaliveTime: 8, maxUnackedBndupd: 5 }));
  await p.send(35, 2);
  await p.pass(0);
  const w = p.session.takeViolations();
  assert.equal(w.length, 1);
  assert.match(w[0].text, /CONTACT before STATE/);
});

Deno.test("a reply with a transaction-id we never used is a violation", async () => {
  const r = await connected();
  await r.send(30, 77);
  await r.pass(0);
  assert.match(
    r.session.takeViolations()[0].text,
    /UPDDONE with transaction-id 77 answers no outstanding request/,
  );
});

Deno.test("BNDUPDs are answered with a mirrored BNDREPLY at once, later, or when released", async () => {
  const r = await connected();
  await r.send(24, 10, lease(1));
  await r.pass(0);
  assert.equal(r.got.at(-1)?.msgType, 25);
  assert.equal((r.got.at(-1) as FailoverMessage).transactionId, 10);
  r.session.bndreplyDelayMs = 2000;
  await r.send(24, 11, lease(2));
  await r.pass(1999);
  assert.notEqual((r.got.at(-1) as FailoverMessage).transactionId, 11);
  await r.pass(1);
  assert.equal((r.got.at(-1) as FailoverMessage).transactionId, 11);
  r.session.bndreplyDelayMs = 0;
  r.session.withholdBndreply(true);
  await r.send(24, 12, lease(3));
  await r.send(24, 13, lease(4));
  await r.pass(0);
  assert.equal(r.session.heldCount, 2);
  assert.equal(r.session.unackedFromPeer, 2);
  r.session.withholdBndreply(false);
  await r.pass(0);
  assert.deepEqual(r.got.slice(-2).map((m) => (m as FailoverMessage).transactionId), [12, 13]);
  assert.equal(r.session.unackedFromPeer, 0);
  assert.deepEqual(r.session.takeViolations(), []);
});

Deno.test("flow control: more unanswered BNDUPDs than we announced; a reused BNDUPD xid", async () => {
  const r = await connected(2);
  r.session.withholdBndreply(true);
  await r.send(24, 20, lease(1));
  await r.send(24, 21, lease(2));
  await r.pass(0);
  assert.deepEqual(r.session.takeViolations(), [], "2 unanswered is within the limit");
  await r.send(24, 22, lease(3));
  await r.send(24, 21, lease(4));
  await r.pass(0);
  const v = r.session.takeViolations();
  assert.deepEqual(v.map((x) => x.monitor), ["flowControl", "xid", "flowControl"]);
  assert.match(v[0].text, /3 BNDUPDs unanswered, over the MAX_UNACKED_BNDUPD of 2/);
  assert.match(v[1].text, /reuses transaction-id 21/);
});

Deno.test("UPDREQ, POOLREQ (to a primary) and STARTTLS get their answers", async () => {
  const r = await connected();
  await r.send(28, 40);
  await r.pass(0);
  assert.deepEqual([r.got.at(-1)?.msgType, (r.got.at(-1) as FailoverMessage).transactionId], [
    30,
    40,
  ]);
  await r.peer.write(
    frameMessage(
      encodeMessage({ kind: "client-server", msgType: 23, transactionId: 5, options: [] }),
    ),
  );
  await r.pass(0);
  const reply = r.got.at(-1)!;
  assert.equal(reply.msgType, 7);
  assert.equal(findOption(reply.options, 13)?.statusCode, 15);
  const p = await rig("primary");
  await p.session.send({
    kind: "failover",
    msgType: 31,
    transactionId: 1,
    sentTime: p.session.sentTime(),
    options: connectOptions({ mclt: 60, keepaliveTime: 8, maxUnackedBndupd: 5 }),
  });
  await p.send(32, 1, connectOptions({ mclt: 60, keepaliveTime: 8, maxUnackedBndupd: 5 }));
  await p.send(34, 2, stateOptions({ serverState: 2, flags: 1, startTimeOfState: 1 }));
  await p.send(26, 41);
  await p.pass(0);
  assert.deepEqual([p.got.at(-1)?.msgType, (p.got.at(-1) as FailoverMessage).transactionId], [
    27,
    41,
  ]);
});

Deno.test("UPDREQALL with storage: every stored binding goes back as BNDUPD, UPDDONE after the last BNDREPLY", async () => {
  const r = await connected();
  r.session.auto.store = true;
  for (let i = 1; i <= 3; i++) await r.send(24, 50 + i, lease(i));
  await r.pass(0);
  const before = r.got.length;
  await r.send(29, 60);
  await r.pass(0);
  const sent = r.got.slice(before) as FailoverMessage[];
  // The peer announced MAX_UNACKED_BNDUPD 5: all three go out, UPDDONE waits.
  assert.deepEqual(sent.map((m) => m.msgType), [24, 24, 24]);
  for (const m of sent.slice(0, 2)) await r.send(25, m.transactionId, []);
  await r.pass(0);
  assert.equal(r.got.at(-1)?.msgType, 24, "no UPDDONE before the last BNDREPLY");
  await r.send(25, sent[2].transactionId, []);
  await r.pass(0);
  assert.deepEqual([r.got.at(-1)?.msgType, (r.got.at(-1) as FailoverMessage).transactionId], [
    30,
    60,
  ]);
});

Deno.test("CONTACT goes out after FO_SEND_TIME (peer keepalive ÷ 4) without sending, not before", async () => {
  const r = await connected();
  const n = r.got.length;
  await r.pass(1999);
  assert.equal(r.got.length, n);
  await r.pass(1);
  assert.equal(r.got.at(-1)?.msgType, 35);
  r.session.auto.contact = false;
  await r.pass(10_000);
  assert.equal(r.got.length, n + 1);
});

Deno.test("log lines: time, direction and the decoder's text", async () => {
  const r = await connected();
  assert.ok(
    r.lines.some((l) => /^12:00:00\.000 <- CONNECT \(31\) transactionId=1/.test(l)),
    r.lines.join("\n"),
  );
  assert.ok(r.lines.some((l) => /^12:00:00\.000 -> CONNECTREPLY \(32\)/.test(l)));
  assert.ok(r.lines.some((l) => /\n {18}OPTION_F_MCLT \(122\) length=4: mclt=60s/.test(l)));
});
