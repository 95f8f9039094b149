/**
 * The fault tests' safety checks (`lib/check.ts`), on a capture made with our own encoder and
 * pcapng writer and decoded by `failover6 decode --json` (the same path as a real run), and on
 * hand-made events for the edge cases. Runs anywhere (no root).
 */
import assert from "node:assert/strict";
import { buildUdp6Frame, TcpConversation } from "../../lib/capture/build.ts";
import { LinkType } from "../../lib/capture/linktype.ts";
import { PcapngWriter } from "../../lib/capture/writer.ts";
import { EPOCH_2000_UNIX_SECONDS } from "../../lib/util/clock.ts";
import { encodeMessage } from "../../lib/wire/encode.ts";
import { frameMessage } from "../../lib/wire/framing.ts";
import {
  clientData,
  clientId,
  failoverMessage,
  iaAddr,
  iaNa,
  leaseOptions,
  stateOptions,
  statusCode,
} from "../../lib/wire/options.ts";
import type { DhcpOption, Message } from "../../lib/wire/types.ts";
import {
  type CheckInput,
  checkRun,
  clientEvents,
  type ClientGrant,
  failoverEvents,
  type HeldLease,
  inPartnerDown,
  lowBitOwner,
  parseDecodeJson,
  reportLine,
  stateAt,
  stateSpans,
} from "./lib/check.ts";
import { MAIN, run } from "./lib/lab.ts";
import { SERVER_DUIDS } from "./lib/pair.ts";

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0); // ms
const S1 = "fd00:f6:f0::1";
const S2 = "fd00:f6:f0::2";

function hex(s: string): Uint8Array {
  return Uint8Array.from(s.replaceAll(":", "").match(/../g)!.map((b) => parseInt(b, 16)));
}

const serverId = (name: "s1" | "s2"): DhcpOption => ({ code: 2, duid: hex(SERVER_DUIDS[name]) });
const clientDuid = (i: number) => Uint8Array.of(0, 3, 0, 1, 2, 0, 0, 0, 0, i);
const clientHex = (i: number) => `000300010200000000${i.toString(16).padStart(2, "0")}`;

function cs(msgType: number, xid: number, options: DhcpOption[]): Message {
  return { kind: "client-server", msgType, transactionId: xid, options };
}

/** failover time (s since 2000) of a test time in seconds after T0. */
const ft = (s: number) => Math.floor(T0 / 1000) + s - EPOCH_2000_UNIX_SECONDS;

/** Writes the scenario capture: see the test for the story. */
async function scenarioCapture(file: string): Promise<void> {
  const f = await Deno.open(file, { write: true, create: true, truncate: true });
  const w = new PcapngWriter(f.writable);
  const lan = w.addInterface({ linkType: LinkType.ETHERNET, name: "br0" });
  const fo = w.addInterface({ linkType: LinkType.ETHERNET, name: "br1" });
  const at = (s: number) => BigInt(T0 + s * 1000) * 1_000_000n;
  const udp = async (s: number, fromClient: boolean, client: number, m: Message) => {
    const c = `fe80::${client}`;
    await w.writePacket({
      interfaceId: lan,
      timestampNs: at(s),
      data: buildUdp6Frame({
        src: fromClient ? c : "fe80::5",
        dst: fromClient ? "ff02::1:2" : c,
        sport: fromClient ? 546 : 547,
        dport: fromClient ? 547 : 546,
        payload: encodeMessage(m),
      }),
    });
  };
  const conv = new TcpConversation({ address: S1, port: 40000 }, { address: S2, port: 647 });
  const tcp = async (s: number, from: "client" | "server", m: Message) => {
    for (const data of conv.send(from, frameMessage(encodeMessage(m)))) {
      await w.writePacket({ interfaceId: fo, timestampNs: at(s), data });
    }
  };
  for (const data of conv.handshake()) {
    await w.writePacket({ interfaceId: fo, timestampNs: at(0), data });
  }
  await tcp(0, "client", failoverMessage(31, 1, ft(0), [{ code: 122, mclt: 30 }]));
  await tcp(
    0.1,
    "server",
    failoverMessage(
      34,
      2,
      ft(0),
      stateOptions({ serverState: 2, flags: 1, startTimeOfState: ft(0) }),
    ),
  );
  // 1 s: client 1 gets fd00:f6::1:1 from s1 for 30 s (nothing acked yet: MCLT).
  const a1 = (valid: number) => iaNa(1, 10, 16, [iaAddr("fd00:f6::1:1", valid, valid)]);
  await udp(1, true, 1, cs(3, 11, [clientId(clientDuid(1)), serverId("s1"), a1(0)]));
  await udp(1.001, false, 1, cs(7, 11, [serverId("s1"), clientId(clientDuid(1)), a1(30)]));
  // 2 s: s1's BNDUPD with partner lifetime now + 630, acked by s2.
  const lease = (extra: DhcpOption[]) =>
    clientData([
      clientId(clientDuid(1)),
      { code: 100, baseTime: ft(2) },
      iaNa(1, 10, 16, [iaAddr("fd00:f6::1:1", 30, 30, extra)]),
    ]);
  await tcp(
    2,
    "client",
    failoverMessage(24, 3, ft(2), [
      lease(
        leaseOptions({
          bindingStatus: 1,
          startTimeOfState: ft(1),
          stateExpirationTime: ft(31),
          partnerLifetime: ft(632),
          expirationTime: ft(31),
        }),
      ),
    ]),
  );
  await tcp(
    2.01,
    "server",
    failoverMessage(25, 3, ft(2), [
      lease([{ code: 114, bindingStatus: 1 }, { code: 124, partnerLifetimeSent: ft(632) }]),
    ]),
  );
  // 10 s: client 1 renews with s1 and gets 600 s (bound: 632 + 30).
  await udp(10, true, 1, cs(5, 12, [clientId(clientDuid(1)), serverId("s1"), a1(0)]));
  await udp(10.001, false, 1, cs(7, 12, [serverId("s1"), clientId(clientDuid(1)), a1(600)]));
  // 20 s: s2 gives client 2 fd00:f6::1:2 for 600 s with nothing acked (only PARTNER-DOWN may).
  const a2 = iaNa(7, 300, 480, [iaAddr("fd00:f6::1:2", 300, 600)]);
  await udp(20, true, 2, cs(3, 21, [clientId(clientDuid(2)), serverId("s2"), iaNa(7, 0, 0)]));
  await udp(20.001, false, 2, cs(7, 21, [serverId("s2"), clientId(clientDuid(2)), a2]));
  // 25 s: s1 gives client 3 the address client 1 holds until 610 s: double-held.
  await udp(25, true, 3, cs(3, 31, [clientId(clientDuid(3)), serverId("s1"), iaNa(2, 0, 0)]));
  await udp(
    25.001,
    false,
    3,
    cs(7, 31, [
      serverId("s1"),
      clientId(clientDuid(3)),
      iaNa(2, 15, 24, [iaAddr("fd00:f6::1:1", 30, 30)]),
    ]),
  );
  // 26 s: a Reply whose IA carries NoAddrsAvail grants nothing.
  await udp(26, true, 4, cs(3, 41, [clientId(clientDuid(4)), serverId("s1"), iaNa(3, 0, 0)]));
  await udp(
    26.001,
    false,
    4,
    cs(7, 41, [serverId("s1"), clientId(clientDuid(4)), iaNa(3, 0, 0, [statusCode(2, "none")])]),
  );
  await w.close();
}

async function decodeScenario(): Promise<ReturnType<typeof parseDecodeJson>> {
  const dir = await Deno.makeTempDir({ prefix: "f6check-" });
  try {
    const file = `${dir}/scenario.pcapng`;
    await scenarioCapture(file);
    const r = await run("deno", ["run", "-A", MAIN, "decode", "--json", file]);
    assert.equal(r.code, 0, r.stderr);
    return parseDecodeJson(r.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const names = new Map(Object.entries(SERVER_DUIDS).map(([n, d]) => [d.replaceAll(":", ""), n]));
const addrs = new Map([[S1, "s1"], [S2, "s2"]]);

Deno.test("check: a decoded capture gives the grants, acks and states the run had", async () => {
  const messages = await decodeScenario();
  const c = clientEvents(messages, names);
  assert.equal(c.replies, 5);
  assert.deepEqual(
    c.grants.map((
      g,
    ) => [Math.round((g.at - T0) / 1000), g.server, g.lease, g.valid, g.answers, g.iaid]),
    [
      [1, "s1", "fd00:f6::1:1", 30, "REQUEST", 1],
      [10, "s1", "fd00:f6::1:1", 600, "RENEW", 1],
      [20, "s2", "fd00:f6::1:2", 600, "REQUEST", 7],
      [25, "s1", "fd00:f6::1:1", 30, "REQUEST", 2],
    ],
  );
  assert.equal(c.grants[0].clientDuid, "00030001020000000001");
  const f = failoverEvents(messages, addrs);
  assert.equal(f.mclt, 30);
  assert.equal(f.bndupd, 1);
  assert.equal(f.bndreply, 1);
  assert.deepEqual(f.acks.map((a) => [a.server, a.lease, a.partnerLifetime]), [
    ["s1", "fd00:f6::1:1", Math.floor(T0 / 1000) + 632],
  ]);
  assert.deepEqual(f.states.map((s) => [s.server, s.state, s.since]), [["s2", "NORMAL", T0]]);
});

Deno.test("check: the MCLT rule holds only outside PARTNER-DOWN; acks raise the bound", async () => {
  const messages = await decodeScenario();
  const c = clientEvents(messages, names);
  const f = failoverEvents(messages, addrs);
  const base: CheckInput = {
    grants: c.grants,
    ends: c.ends,
    acks: f.acks,
    spans: {
      s1: [{ from: T0, to: Infinity, state: "NORMAL" }],
      s2: [{ from: T0, to: T0 + 15_000, state: "NORMAL" }, {
        from: T0 + 15_000,
        to: Infinity,
        state: "COMMUNICATIONS-INTERRUPTED",
      }],
    },
    mclt: 30,
    held: {},
    checkAt: T0 + 60_000,
  };
  const strict = checkRun(base);
  assert.equal(strict.mcltChecked, 4);
  assert.equal(strict.mcltViolations, 1, strict.examples.join("\n"));
  assert.ok(strict.examples.some((e) => e.startsWith("mclt: s2 gave fd00:f6::1:2")));
  assert.ok(Math.abs(strict.mcltWorstExcess - 570) < 0.01);

  const pd = checkRun({
    ...base,
    spans: { ...base.spans, s2: [{ from: T0 + 15_000, to: Infinity, state: "PARTNER-DOWN" }] },
  });
  assert.equal(pd.mcltViolations, 0);
  assert.equal(pd.partnerDownGrants, 1);

  // Without the ack, s1's 600 s renewal breaks the rule too.
  const noAck = checkRun({ ...base, acks: [] });
  assert.equal(noAck.mcltViolations, 2);
});

Deno.test("check: double-held on the wire, lost and differing bindings at the end", async () => {
  const messages = await decodeScenario();
  const c = clientEvents(messages, names);
  const held = (entries: [string, string, number][]): HeldLease[] =>
    entries.map(([lease, duid, iaid]) => ({
      kind: "na",
      lease,
      status: "ACTIVE",
      clientDuid: duid,
      iaid,
    }));
  const input: CheckInput = {
    grants: c.grants,
    ends: c.ends,
    acks: [],
    spans: {},
    mclt: 30,
    held: {
      s1: held([["fd00:f6::1:1", clientHex(1), 1]]),
      s2: held([["fd00:f6::1:1", clientHex(3), 2], ["fd00:f6::1:2", clientHex(2), 7]]),
    },
    checkAt: T0 + 60_000,
  };
  const r = checkRun(input);
  assert.equal(r.doubleHeldOnWire, 1, r.examples.join("\n"));
  // Unexpired at 60 s: client 1's renewal (610 s) and client 2's (620 s); client 3's 30 s lapsed.
  assert.equal(r.unexpired, 2);
  assert.deepEqual(r.lost, { s1: 1, s2: 1 }); // s1 lacks ::1:2, s2 has ::1:1 for client 3
  assert.equal(r.doubleHeldAtEnd, 1);
  // ::1:2 differs; ::1:1 ends (client 3's grant) within 5 s of the check: left out.
  assert.equal(r.bindingsDiffer, 1);
  assert.equal(r.settling, 1);
  // The example names each server's record and what the wire showed of the lease.
  const differ = r.examples.find((e) => e.startsWith("differ: fd00:f6::1:2"));
  assert.match(differ ?? "", /records \(times from their reading\): s1 none; s2 ACTIVE /);
  assert.match(differ ?? "", /on the wire: .*s[12] \(REQUEST\) to [0-9a-f]+\/7 until /);
  assert.equal(checkRun({ ...input, settleSeconds: 0 }).bindingsDiffer, 2);
  assert.deepEqual(r.activeAtEnd, { s1: 1, s2: 2 });
  assert.match(reportLine("scenario", r), /lost \{s1=1 s2=1\}, double-held wire 1 end 1/);
});

Deno.test("check: a Reply to a Release ends the grant, so the address may go to another client", () => {
  const g = (at: number, client: string, valid: number): ClientGrant => ({
    at,
    server: "s1",
    clientDuid: client,
    iaid: 1,
    kind: "na",
    lease: "fd00:f6::1:9",
    valid,
    answers: "REQUEST",
  });
  const base = { acks: [], spans: {}, mclt: 30, held: {}, checkAt: T0 + 100_000 };
  const reused = [g(T0, "aa", 60), g(T0 + 10_000, "bb", 60)];
  assert.equal(checkRun({ ...base, grants: reused, ends: [] }).doubleHeldOnWire, 1);
  const released = checkRun({
    ...base,
    grants: reused,
    ends: [{ at: T0 + 5_000, clientDuid: "aa", lease: "fd00:f6::1:9" }],
  });
  assert.equal(released.doubleHeldOnWire, 0);
  // Expired before the other client's grant: not double-held either.
  assert.equal(
    checkRun({ ...base, grants: [g(T0, "aa", 5), g(T0 + 10_000, "bb", 60)], ends: [] })
      .doubleHeldOnWire,
    0,
  );
});

Deno.test("check: a lease that expires while its server's list is read is not lost; a later one is", () => {
  // Fault (b) once reported 1-14 "lost" prefixes: leases of 30 s (MCLT) whose lifetime ended
  // seconds after `checkAt`, while the second page of the primary's list (the prefixes, after
  // 10,000 rows) was still being read; the primary had rightly expired them by then.
  const g = (lease: string, client: string, at: number): ClientGrant => ({
    at,
    server: "s1",
    clientDuid: client,
    iaid: 1,
    kind: "pd",
    lease,
    valid: 30,
    answers: "REQUEST",
  });
  const checkAt = T0 + 100_000;
  const grants = [
    g("fd00:f6:100:1f19::/64", "aa", checkAt - 30_000 + 4_000), // ends 4 s after checkAt
    g("fd00:f6:100:1f1a::/64", "bb", checkAt - 30_000 + 20_000), // ends 20 s after checkAt
  ];
  const expired: HeldLease = {
    kind: "pd",
    lease: "fd00:f6:100:1f19::/64",
    status: "EXPIRED",
    clientDuid: "aa",
    iaid: 1,
  };
  const base = { acks: [], ends: [], spans: {}, mclt: 30, grants, checkAt };
  // s1's list was done 7 s after checkAt, s2's at once (it still had the first ACTIVE).
  const s2: HeldLease[] = [{ ...expired, status: "ACTIVE" }, {
    ...expired,
    lease: "fd00:f6:100:1f1a::/64",
    status: "ACTIVE",
    clientDuid: "bb",
  }];
  const r = checkRun({
    ...base,
    held: { s1: [expired], s2 },
    heldReadEnd: { s1: checkAt + 7_000, s2: checkAt + 100 },
  });
  // The second lease outlives every read: its absence on s1 is a loss.
  assert.deepEqual(r.lost, { s1: 1, s2: 0 });
  assert.deepEqual(r.expiredWhileRead, { s1: 1, s2: 0 });
  assert.equal(r.unexpired, 2);
  assert.match(r.examples.join("\n"), /lost: s1 does not hold fd00:f6:100:1f1a::\/64 for bb/);
  // The first one ends inside the read window: not compared between the servers either.
  assert.equal(r.bindingsDiffer, 1);
  assert.equal(r.settling, 1);
  // Without the read times (everything read at checkAt) the expired one counts as lost.
  const old = checkRun({ ...base, held: { s1: [expired], s2 } });
  assert.deepEqual(old.lost, { s1: 2, s2: 0 });
  assert.deepEqual(old.expiredWhileRead, { s1: 0, s2: 0 });
});

Deno.test("check: new leases from the partner's half are counted, renewals are not", () => {
  const g = (at: number, server: string, client: string, lease: string): ClientGrant => ({
    at,
    server,
    clientDuid: client,
    iaid: 1,
    kind: "na",
    lease,
    valid: 30,
    answers: "REQUEST",
  });
  assert.equal(lowBitOwner("na", "fd00:f6::1:3"), "s1");
  assert.equal(lowBitOwner("na", "fd00:f6::1:a"), "s2");
  assert.equal(lowBitOwner("na", "fd00:f6::"), "s2");
  assert.equal(lowBitOwner("pd", "fd00:f6:100:1::/64"), undefined);
  const r = checkRun({
    grants: [
      g(T0, "s1", "aa", "fd00:f6::1:3"), // own half
      g(T0 + 1000, "s2", "aa", "fd00:f6::1:3"), // s2 renews aa's lease: allowed
      g(T0 + 2000, "s2", "bb", "fd00:f6::1:5"), // s2 hands out s1's address: counted
    ],
    ends: [],
    acks: [],
    spans: {},
    mclt: 30,
    held: {},
    checkAt: T0,
    owner: lowBitOwner,
  });
  assert.equal(r.partnerHalfNew, 1);
  assert.ok(r.examples.some((e) => e.includes("fd00:f6::1:5 (s1's half)")), r.examples.join("\n"));
});

Deno.test("check: state spans start at the state's own start time; PARTNER-DOWN grace", () => {
  const spans = stateSpans([
    { at: T0 + 1000, state: "NORMAL", since: T0 },
    { at: T0 + 1200, state: "NORMAL", since: T0 },
    { at: T0 + 5200, state: "COMMUNICATIONS-INTERRUPTED", since: T0 + 5050 },
    { at: T0 + 9000, state: "PARTNER-DOWN", since: T0 + 8900 },
    { at: T0 + 20000, state: "NORMAL" },
  ]);
  assert.deepEqual(spans.map((s) => [s.from - T0, s.to - T0, s.state]), [
    [0, 5050, "NORMAL"],
    [5050, 8900, "COMMUNICATIONS-INTERRUPTED"],
    [8900, 20000, "PARTNER-DOWN"],
    [20000, Infinity, "NORMAL"],
  ]);
  assert.equal(stateAt(spans, T0 + 6000), "COMMUNICATIONS-INTERRUPTED");
  assert.equal(stateAt(spans, T0 - 1), undefined);
  assert.equal(inPartnerDown(spans, T0 + 8000, 1000), false);
  assert.equal(inPartnerDown(spans, T0 + 9000, 1000), true);
  // A Reply captured just after PARTNER-DOWN ended was decided in it.
  assert.equal(inPartnerDown(spans, T0 + 20500, 1000), true);
  assert.equal(inPartnerDown(spans, T0 + 21500, 1000), false);
});

Deno.test("check: rejected BNDUPDs acknowledge nothing", () => {
  const cd = (rejected: boolean) => ({
    code: 45,
    options: [
      { code: 1, duid: { hex: "0001" } },
      {
        code: 3,
        iaid: 1,
        options: [{
          code: 5,
          address: "fd00:f6::1:5",
          options: [
            { code: 124, partnerLifetimeSent: 1000 },
            ...(rejected ? [{ code: 13, statusCode: 19 }] : []),
          ],
        }],
      },
    ],
  });
  const msg = (frame: number, status: boolean) => ({
    frame,
    timestamp: "1767268800.000000",
    transport: "tcp",
    src: S2,
    dst: S1,
    sport: 647,
    dport: 40000,
    msgName: "BNDREPLY",
    transactionId: frame,
    options: [cd(status)],
  });
  const f = failoverEvents([msg(1, false), msg(2, true)], addrs);
  assert.equal(f.bndreply, 2);
  assert.equal(f.acks.length, 1);
  assert.equal(f.acks[0].server, "s1");
  assert.equal(f.acks[0].partnerLifetime, 1000 + EPOCH_2000_UNIX_SECONDS);
});

Deno.test("check: parseDecodeJson refuses lines that are not messages", () => {
  assert.throws(() => parseDecodeJson('{"frame":1,"options":[]}\nnot json\n'), /line 2: not JSON/);
  assert.throws(() => parseDecodeJson("[1,2]\n"), /line 1: not a message object/);
  assert.equal(parseDecodeJson('\n{"frame":1,"options":[]}\n').length, 1);
});
