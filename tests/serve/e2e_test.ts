/**
 * End-to-end over real UDP on [::1]: the server shell in-process on ephemeral ports, a DHCPv6
 * client written in tests/serve/client.ts, the lease database read back after each step.
 */
import assert from "node:assert/strict";
import dgram from "node:dgram";
import type { Buffer } from "node:buffer";
import {
  type ClientServerMessage,
  decodeMessage,
  encodeMessage,
  type Message,
  MessageType,
  OptionCode,
  StatusCode,
} from "../../lib/wire/mod.ts";
import { FakeClock } from "../../lib/util/clock.ts";
import { SqliteBindingStore } from "../../lib/store/sqlite.ts";
import { ClientSocket, hex, readAnswer, TestClient, testDuid } from "./client.ts";
import { startTestServer, until } from "./helpers.ts";

for (const worker of [true, false]) {
  Deno.test(`4-message exchange with IA_NA and IA_PD; the Reply's leases are already durable (commits ${worker ? "in a writer thread" : "on the main thread"})`, async () => {
    const t = await startTestServer({ extra: { commitInWorker: worker } });
    assert.equal(t.server.commitMode, worker ? "worker" : "in-thread");
    const sock = await ClientSocket.open(t.udp);
    try {
      const c = new TestClient(sock, testDuid(1));
      const adv = await c.solicit({ na: [1], pd: [2] });
      assert.ok(adv, "no Advertise");
      assert.equal(adv.message.msgType, MessageType.ADVERTISE);
      assert.equal(adv.leases.length, 2);
      assert.deepEqual(adv.serverId, t.server.core.serverDuid);
      // An Advertise commits nothing.
      assert.equal(t.server.store.count(), 0);

      const rep = await c.request({ na: [1], pd: [2] }, adv.leases);
      assert.ok(rep, "no Reply");
      assert.equal(rep.message.msgType, MessageType.REPLY);
      const na = rep.leases.find((l) => l.kind === "na");
      const pd = rep.leases.find((l) => l.kind === "pd");
      assert.ok(na && pd);
      assert.equal(pd.prefixLength, 64);
      assert.ok(na.address.startsWith("fd00:f6::"));
      assert.ok(pd.address.startsWith("fd00:f6:0:1"));
      // Offered and granted are the same.
      assert.deepEqual(
        rep.leases.map((l) => `${l.address}/${l.prefixLength}`).sort(),
        adv.leases.map((l) => `${l.address}/${l.prefixLength}`).sort(),
      );
      // Durable the moment the Reply arrived: read through a second connection to the file.
      const other = SqliteBindingStore.open(`${t.dir}/leases.db`);
      try {
        const stored = other.get({ kind: "na", address: na.address });
        assert.equal(stored?.status, "ACTIVE");
        assert.equal(stored?.clientDuid, hex(c.duid));
        assert.equal(
          other.get({ kind: "pd", address: pd.address, prefixLength: 64 })?.status,
          "ACTIVE",
        );
      } finally {
        other.close();
      }
      // T1/T2 the same across IAs.
      const t1s = new Set(rep.ias.map((i) => i.t1));
      assert.equal(t1s.size, 1);
      assert.equal(t.server.commits, 1);
    } finally {
      await sock.close();
      await t.close();
    }
  });
}

Deno.test("Renew and Rebind extend the same leases; Release frees them", async () => {
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const t = await startTestServer({ clock });
  const sock = await ClientSocket.open(t.udp);
  try {
    const c = new TestClient(sock, testDuid(2));
    const first = await c.obtain({ na: [7], pd: [8] });
    assert.ok(first && first.leases.length === 2);
    const granted = first.leases.map((l) => l.address).sort();
    const exp0 = t.server.store.get({ kind: "na", address: c.leases[0].address })!.expirationTime;

    clock.advance(1800_000);
    const renewed = await c.renew();
    assert.ok(renewed);
    assert.equal(renewed.message.msgType, MessageType.REPLY);
    assert.deepEqual(renewed.leases.map((l) => l.address).sort(), granted);
    const na = renewed.leases.find((l) => l.kind === "na")!;
    const exp1 = t.server.store.get({ kind: "na", address: na.address })!.expirationTime;
    assert.equal(
      exp1 - exp0,
      1800_000,
      "the Renew moved the expiration time on by the time passed",
    );

    clock.advance(1800_000);
    const rebound = await c.rebind();
    assert.ok(rebound);
    assert.deepEqual(rebound.leases.map((l) => l.address).sort(), granted);

    const released = await c.release();
    assert.ok(released);
    assert.equal(released.status, StatusCode.Success);
    for (const l of rebound.leases) {
      const s = t.server.store.get({
        kind: l.kind,
        address: l.address,
        prefixLength: l.prefixLength,
      });
      assert.equal(s?.status, "RELEASED");
    }
    // Release of something not bound: NoBinding in the IA.
    const again = await c.release();
    assert.ok(again);
    assert.ok(again.ias.every((i) => i.status === StatusCode.NoBinding));
  } finally {
    await sock.close();
    await t.close();
  }
});

Deno.test("Rapid Commit, several IAs, Decline, Confirm and Information-request", async () => {
  const t = await startTestServer({
    edit: (c) => {
      c.subnets[0].rapidCommit = true;
      c.subnets[0].options.dnsServers = ["fd00:f6::53"];
    },
  });
  const sock = await ClientSocket.open(t.udp);
  try {
    const c = new TestClient(sock, testDuid(3));
    const rep = await c.solicit({ na: [1, 2], pd: [3, 4], rapidCommit: true, oro: [23] });
    assert.ok(rep);
    assert.equal(rep.message.msgType, MessageType.REPLY, "Rapid Commit answers with a Reply");
    assert.ok(rep.message.options.some((o) => o.code === OptionCode.RAPID_COMMIT));
    assert.equal(rep.leases.length, 4);
    assert.equal(new Set(rep.leases.map((l) => l.address)).size, 4);
    const dns = rep.message.options.find((o) => o.code === OptionCode.DNS_SERVERS);
    assert.ok(dns, "DNS servers asked for in ORO");
    for (const l of rep.leases) {
      assert.equal(
        t.server.store.get({ kind: l.kind, address: l.address, prefixLength: l.prefixLength })
          ?.status,
        "ACTIVE",
      );
    }

    const conf = await c.confirm(rep.leases.filter((l) => l.kind === "na"));
    assert.ok(conf);
    assert.equal(conf.status, StatusCode.Success);
    const offLink = await c.confirm([{
      kind: "na",
      iaid: 1,
      address: "2001:db8::1",
      prefixLength: 128,
      preferred: 0,
      valid: 0,
    }]);
    assert.ok(offLink);
    assert.equal(offLink.status, StatusCode.NotOnLink);

    const declined = rep.leases.find((l) => l.kind === "na")!;
    const dec = await c.decline([declined]);
    assert.ok(dec);
    assert.equal(dec.status, StatusCode.Success);
    assert.equal(
      t.server.store.get({ kind: "na", address: declined.address })?.status,
      "ABANDONED",
    );

    const info = await c.informationRequest([23]);
    assert.ok(info);
    assert.equal(info.message.msgType, MessageType.REPLY);
    assert.equal(info.ias.length, 0);
    assert.ok(info.message.options.some((o) => o.code === OptionCode.DNS_SERVERS));
  } finally {
    await sock.close();
    await t.close();
  }
});

Deno.test("bad and foreign datagrams are counted and dropped; the server keeps answering", async () => {
  const t = await startTestServer();
  const sock = await ClientSocket.open(t.udp);
  try {
    const commits = t.server.commits;
    await sock.sendRaw(new Uint8Array([1, 0, 0])); // shorter than a header
    await sock.sendRaw(new Uint8Array([1, 0, 0, 1, 0, 1, 0, 40, 1, 2])); // option overrun
    // A Request for another server: no answer.
    const c = new TestClient(sock, testDuid(4), { attempts: 1, timeoutMs: 300 });
    c.serverId = new Uint8Array([0, 2, 0, 0, 0, 9, 1]);
    const none = await c.request({ na: [1] });
    assert.equal(none, undefined);
    // An Advertise sent to the server: dropped.
    await sock.sendRaw(
      encodeMessage({ kind: "client-server", msgType: 2, transactionId: 5, options: [] }),
    );
    // Still serving.
    const ok = await new TestClient(sock, testDuid(5)).obtain({ na: [1] });
    assert.ok(ok && ok.leases.length === 1);
    const m = t.server.metrics;
    assert.equal(m.drops.get({ reason: "malformed:message-too-short" }), 1);
    assert.equal(m.drops.get({ reason: "malformed:option-overrun" }), 1);
    assert.equal(m.drops.get({ reason: "wrong-server-id" }), 1);
    assert.equal(m.drops.get({ reason: "not-for-server" }), 1);
    assert.equal(m.replies.get({ type: "REPLY", request: "REQUEST" }), 1);
    // Only the good client touched the database: one commit.
    assert.equal(t.server.commits - commits, 1);
    const text = m.render();
    assert.match(text, /failover6_packets_dropped_total\{reason="malformed:option-overrun"\} 1/);
    // One rate-limited log line per malformed reason.
    const lines = t.logs.lines.filter((l) => l.includes("dropped malformed datagram"));
    assert.equal(lines.length, 2);
  } finally {
    await sock.close();
    await t.close();
  }
});

/** Sends a message from a socket that plays a relay agent and returns the decoded answer. */
async function viaRelay(
  port: number,
  relayed: Message,
): Promise<Message | undefined> {
  const s = dgram.createSocket("udp6");
  await new Promise<void>((r) => s.bind({ address: "::1", port: 0 }, () => r()));
  try {
    const got = new Promise<Message | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 2000);
      s.on("message", (msg: Buffer) => {
        clearTimeout(timer);
        resolve(decodeMessage(new Uint8Array(msg)).message);
      });
    });
    s.send(encodeMessage(relayed), port, "::1");
    return await got;
  } finally {
    s.close();
  }
}

Deno.test("relayed Solicit through two relays: nested Relay-repl, interface-id echoed, link by link-address", async () => {
  const t = await startTestServer({
    edit: (c) => {
      // A second subnet so that the link must be chosen by the relay's link-address.
      c.subnets.push({
        ...c.subnets[0],
        name: "other",
        prefix: { address: 0xfd00_00f7n << 96n, length: 64 },
        pools: [{
          name: "other-addresses",
          start: (0xfd00_00f7n << 96n) + 0x1000n,
          end: (0xfd00_00f7n << 96n) + 0x1fffn,
          size: 0x1000n,
          allocation: null,
        }],
        prefixes: [],
        reservations: [],
      });
    },
  });
  try {
    const solicit: ClientServerMessage = {
      kind: "client-server",
      msgType: MessageType.SOLICIT,
      transactionId: 0x1234,
      options: [{ code: 1, duid: testDuid(6) }, { code: 3, iaid: 1, t1: 0, t2: 0, options: [] }],
    };
    const inner: Message = {
      kind: "relay",
      msgType: 12,
      hopCount: 0,
      linkAddress: "fd00:f7::1",
      peerAddress: "fe80::1",
      options: [
        { code: 18, interfaceId: new TextEncoder().encode("port-7") },
        { code: 9, message: solicit },
      ],
    };
    const outer: Message = {
      kind: "relay",
      msgType: 12,
      hopCount: 1,
      linkAddress: "::",
      peerAddress: "fe80::2",
      options: [
        { code: 18, interfaceId: new TextEncoder().encode("uplink") },
        { code: 9, message: inner },
      ],
    };
    const answer = await viaRelay(t.udp.port, outer);
    assert.ok(answer, "no Relay-repl: " + t.logs.lines.slice(-3).join("\n"));
    assert.equal(answer.kind, "relay");
    assert.equal(answer.msgType, MessageType.RELAY_REPL);
    const outerIf = answer.options.find((o) => o.code === 18);
    assert.deepEqual(
      outerIf && "interfaceId" in outerIf ? outerIf.interfaceId : undefined,
      new TextEncoder().encode("uplink"),
    );
    const in1 = answer.options.find((o) => o.code === 9);
    assert.ok(in1 && "message" in in1 && in1.message.kind === "relay");
    const innerRepl = in1.message;
    assert.equal(innerRepl.msgType, MessageType.RELAY_REPL);
    const innerIf = innerRepl.options.find((o) => o.code === 18);
    assert.deepEqual(
      innerIf && "interfaceId" in innerIf ? innerIf.interfaceId : undefined,
      new TextEncoder().encode("port-7"),
    );
    const in2 = innerRepl.options.find((o) => o.code === 9);
    assert.ok(in2 && "message" in in2 && in2.message.kind === "client-server");
    const adv = readAnswer(in2.message);
    assert.equal(in2.message.msgType, MessageType.ADVERTISE);
    assert.equal(in2.message.transactionId, 0x1234);
    assert.equal(adv.leases.length, 1);
    assert.ok(adv.leases[0].address.startsWith("fd00:f7::"), adv.leases[0].address);
    assert.equal(t.server.metrics.packets.get({ type: "SOLICIT" }), 1);
  } finally {
    await t.close();
  }
});

Deno.test("restart on the same database: same server DUID, leases kept, same address on Renew", async () => {
  const dir = await Deno.makeTempDir({ prefix: "f6serve-" });
  try {
    const a = await startTestServer({ dir, keepDir: true });
    const sock1 = await ClientSocket.open(a.udp);
    const c = new TestClient(sock1, testDuid(9));
    const got = await c.obtain({ na: [1], pd: [1] });
    assert.ok(got && got.leases.length === 2);
    const duid = hex(a.server.core.serverDuid);
    await sock1.close();
    await a.close();

    const b = await startTestServer({ dir, keepDir: true });
    try {
      assert.equal(hex(b.server.core.serverDuid), duid);
      assert.equal(b.server.serverDuid.source, "stored");
      assert.equal(b.server.core.leases.size, 2);
      const sock2 = await ClientSocket.open(b.udp);
      const c2 = new TestClient(sock2, testDuid(9));
      c2.serverId = c.serverId;
      const renewed = await c2.renew(got.leases);
      assert.ok(renewed);
      assert.deepEqual(
        renewed.leases.map((l) => l.address).sort(),
        got.leases.map((l) => l.address).sort(),
      );
      // A fresh Solicit of the same client gets the same leases back.
      const again = await c2.solicit({ na: [1], pd: [1] });
      assert.deepEqual(
        again?.leases.map((l) => l.address).sort(),
        got.leases.map((l) => l.address).sort(),
      );
      await sock2.close();
    } finally {
      await b.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("expiry moves leases from ACTIVE to EXPIRED when their valid lifetime ends", async () => {
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const t = await startTestServer({ clock });
  const sock = await ClientSocket.open(t.udp);
  try {
    const c = new TestClient(sock, testDuid(10));
    const got = await c.obtain({ na: [1], pd: [1] });
    assert.ok(got && got.leases.length === 2);
    assert.equal(await t.server.runExpiry(), 0, "nothing is due yet");
    clock.advance(got.leases[0].valid * 1000 + 1);
    assert.equal(await t.server.runExpiry(), 2);
    for (const l of got.leases) {
      assert.equal(
        t.server.store.get({ kind: l.kind, address: l.address, prefixLength: l.prefixLength })
          ?.status,
        "EXPIRED",
      );
    }
    assert.equal(t.server.metrics.expired.get({ status: "EXPIRED" }), 2);
  } finally {
    await sock.close();
    await t.close();
  }
});

Deno.test("stop drains: a Request in flight still gets its committed Reply", async () => {
  const t = await startTestServer({ extra: { commitWindowMs: 50 } });
  const sock = await ClientSocket.open(t.udp);
  try {
    const c = new TestClient(sock, testDuid(11), { attempts: 1, timeoutMs: 2000 });
    const adv = await c.solicit({ na: [1] });
    assert.ok(adv);
    const pending = c.request({ na: [1] }, adv.leases);
    // Wait until the Request is in the commit window, then stop.
    while (t.server.inflight === 0) await new Promise((r) => setTimeout(r, 1));
    const stopped = t.server.stop("test");
    const rep = await pending;
    await stopped;
    assert.ok(rep, "the in-flight Request got no Reply");
    assert.equal(rep.leases.length, 1);
    const store = SqliteBindingStore.open(`${t.dir}/leases.db`);
    try {
      assert.equal(store.get({ kind: "na", address: rep.leases[0].address })?.status, "ACTIVE");
    } finally {
      store.close();
    }
  } finally {
    await sock.close();
    await t.close();
  }
});

Deno.test("the expiry timer fires on its own when a lease's valid lifetime ends", async () => {
  const t = await startTestServer({
    edit: (c) => {
      c.subnets[0].lifetimes = { ...c.subnets[0].lifetimes, preferred: 1, valid: 1 };
    },
  });
  const sock = await ClientSocket.open(t.udp);
  try {
    const got = await new TestClient(sock, testDuid(12)).obtain({ na: [1] });
    assert.ok(got && got.leases.length === 1);
    assert.equal(got.leases[0].valid, 1);
    const key = { kind: "na" as const, address: got.leases[0].address };
    assert.equal(t.server.store.get(key)?.status, "ACTIVE");
    await until(() => t.server.metrics.expired.get({ status: "EXPIRED" }) === 1, 10_000);
    assert.equal(t.server.store.get(key)?.status, "EXPIRED");
  } finally {
    await sock.close();
    await t.close();
  }
});
