import assert from "node:assert/strict";
import { MemoryBindingStore } from "../../lib/store/memory.ts";
import { selectSubnet, unwrapRelay, wrapRelayReply } from "../../lib/server/relay.ts";
import { decodeMessage } from "../../lib/wire/decode.ts";
import { encodeMessage } from "../../lib/wire/encode.ts";
import { findOption } from "../../lib/wire/options.ts";
import { type Message, MessageType as T, type RelayMessage } from "../../lib/wire/types.ts";
import {
  assertDrop,
  cid,
  innerOf,
  msg,
  na,
  onlyAddress,
  pfx,
  replyOf,
  run,
  settings,
  subnet,
} from "./helpers.ts";

function forw(
  inner: Message,
  link: string,
  peer: string,
  hop: number,
  ifid?: string,
): RelayMessage {
  return {
    kind: "relay",
    msgType: 12,
    hopCount: hop,
    linkAddress: link,
    peerAddress: peer,
    options: [
      ...(ifid ? [{ code: 18 as const, interfaceId: new TextEncoder().encode(ifid) }] : []),
      { code: 9, message: inner },
    ],
  };
}

const SOLICIT = msg(T.SOLICIT, [cid(1), na(1)]);
const TWO = settings([
  subnet(),
  subnet({
    name: "far",
    prefix: pfx("2001:db8:2::/64"),
    pools: [{
      name: "far-pool",
      start: pfx("2001:db8:2::100/128").address,
      end: pfx("2001:db8:2::1ff/128").address,
      size: 256n,
      allocation: null,
    }],
    prefixes: [],
  }),
]);

Deno.test("relay: a direct message unwraps to itself with no hops", () => {
  const u = unwrapRelay(SOLICIT);
  assert.ok(u.ok);
  assert.equal(u.hops.length, 0);
  assert.equal(u.message, SOLICIT);
});

Deno.test("relay: two nested Relay-forw unwrap outermost first, interface-ids kept", () => {
  const m = forw(
    forw(SOLICIT, "2001:db8:2::1", "fe80::c", 0, "eth7"),
    "::",
    "2001:db8:9::1",
    1,
    "up0",
  );
  const u = unwrapRelay(m);
  assert.ok(u.ok);
  assert.deepEqual(u.hops.map((h) => [h.hopCount, h.linkAddress, h.peerAddress]), [
    [1, "::", "2001:db8:9::1"],
    [0, "2001:db8:2::1", "fe80::c"],
  ]);
  assert.equal(new TextDecoder().decode(u.hops[0].interfaceId), "up0");
  assert.equal(new TextDecoder().decode(u.hops[1].interfaceId), "eth7");
});

Deno.test("relay: a two-hop Solicit is answered through both relays, interface-ids echoed", () => {
  const m = forw(
    forw(SOLICIT, "2001:db8:2::1", "fe80::c", 0, "eth7"),
    "::",
    "2001:db8:9::1",
    1,
    "up0",
  );
  const r = replyOf(
    run(TWO, new MemoryBindingStore(), m, 0, { sourceAddress: "2001:db8:9::1", sourcePort: 547 }),
  );
  assert.equal(r.subnet, "far", "the innermost relay's link-address selects the subnet");
  assert.deepEqual(r.to, { address: "2001:db8:9::1", port: 547 });
  const outer = r.message as RelayMessage;
  assert.equal(outer.msgType, T.RELAY_REPL);
  assert.deepEqual([outer.hopCount, outer.linkAddress, outer.peerAddress], [
    1,
    "::",
    "2001:db8:9::1",
  ]);
  assert.equal(new TextDecoder().decode(findOption(outer.options, 18)!.interfaceId), "up0");
  const inner = findOption(outer.options, 9)!.message as RelayMessage;
  assert.equal(inner.msgType, T.RELAY_REPL);
  assert.deepEqual([inner.hopCount, inner.linkAddress, inner.peerAddress], [
    0,
    "2001:db8:2::1",
    "fe80::c",
  ]);
  assert.equal(new TextDecoder().decode(findOption(inner.options, 18)!.interfaceId), "eth7");
  assert.equal(innerOf(r).msgType, T.ADVERTISE);
  assert.match(onlyAddress(r), /^2001:db8:2::1[0-9a-f]{2}$/);
});

Deno.test("relay: the wrapped reply survives encode and decode byte for byte", () => {
  const m = forw(forw(SOLICIT, "2001:db8:2::1", "fe80::c", 0, "eth7"), "::", "2001:db8:9::1", 1);
  const bytesIn = encodeMessage(m);
  const d = decodeMessage(bytesIn);
  assert.deepEqual(d.errors, []);
  const r = replyOf(run(TWO, new MemoryBindingStore(), d.message!));
  const out = encodeMessage(r.message);
  const back = decodeMessage(out);
  assert.deepEqual(back.errors, []);
  assert.deepEqual(encodeMessage(back.message!), out);
  assert.equal(out[0], T.RELAY_REPL);
});

Deno.test("relay: wrapRelayReply with no hops returns the reply itself", () => {
  assert.equal(wrapRelayReply([], SOLICIT), SOLICIT);
});

Deno.test("relay: Relay-repl, a Relay-forw without Relay Message, and malformed relay options drop", () => {
  const v = new MemoryBindingStore();
  const repl: RelayMessage = { ...forw(SOLICIT, "2001:db8:1::1", "fe80::1", 0), msgType: 13 };
  assertDrop(run(TWO, v, repl), "not-for-server");
  const empty: RelayMessage = { ...forw(SOLICIT, "2001:db8:1::1", "fe80::1", 0), options: [] };
  assertDrop(run(TWO, v, empty), "relay-no-message");
  const bad: RelayMessage = {
    ...forw(SOLICIT, "2001:db8:1::1", "fe80::1", 0),
    options: [{ code: 18, malformed: true, length: 0, data: new Uint8Array() }, {
      code: 9,
      message: SOLICIT,
    }],
  };
  assertDrop(run(TWO, v, bad), "malformed");
  const relayedReply = forw(msg(T.REPLY, [cid(1)]), "2001:db8:1::1", "fe80::1", 0);
  assertDrop(run(TWO, v, relayedReply), "not-for-server");
});

Deno.test("relay: link selection by interface-id wins over the link-address", () => {
  const s = settings([
    subnet(),
    subnet({
      name: "by-ifid",
      prefix: pfx("2001:db8:3::/64"),
      link: { linkAddresses: [], interfaces: [], interfaceIds: ["65746837"] },
    }),
  ]);
  const u = unwrapRelay(forw(SOLICIT, "2001:db8:1::1", "fe80::c", 0, "eth7"));
  assert.ok(u.ok);
  assert.equal(selectSubnet(s, { hops: u.hops, sourceAddress: "2001:db8:9::1" })?.name, "by-ifid");
});

Deno.test("relay: link selection by a configured link-address outside the subnet prefix", () => {
  const s = settings([
    subnet(),
    subnet({
      name: "listed",
      prefix: pfx("2001:db8:4::/64"),
      link: { linkAddresses: ["2001:db8:aaaa::1"], interfaces: [], interfaceIds: [] },
    }),
  ]);
  const u = unwrapRelay(forw(SOLICIT, "2001:db8:aaaa:0::1", "fe80::c", 0));
  assert.ok(u.ok);
  assert.equal(selectSubnet(s, { hops: u.hops, sourceAddress: "2001:db8:9::1" })?.name, "listed");
});

Deno.test("relay: an unspecified or link-local inner link-address falls back to outer relays", () => {
  const inner = forw(SOLICIT, "fe80::1", "fe80::c", 0);
  const outer = forw(inner, "2001:db8:2::99", "2001:db8:7::1", 1);
  const u = unwrapRelay(outer);
  assert.ok(u.ok);
  assert.equal(selectSubnet(TWO, { hops: u.hops, sourceAddress: "2001:db8:7::1" })?.name, "far");
  const none = unwrapRelay(forw(forw(SOLICIT, "::", "fe80::c", 0), "::", "2001:db8:7::1", 1));
  assert.ok(none.ok);
  assert.equal(selectSubnet(TWO, { hops: none.hops, sourceAddress: "2001:db8:7::1" }), undefined);
  assertDrop(run(TWO, new MemoryBindingStore(), forw(SOLICIT, "::", "fe80::c", 0)), "no-subnet");
});

Deno.test("relay: a relayed message is never subject to the unicast rules", () => {
  const r = run(TWO, new MemoryBindingStore(), forw(SOLICIT, "2001:db8:1::1", "fe80::c", 0), 0, {
    unicast: true,
  });
  assert.equal(innerOf(r).msgType, T.ADVERTISE);
});

Deno.test("relay: direct link selection: one subnet without interfaces serves everything", () => {
  const one = settings();
  assert.equal(selectSubnet(one, { hops: [], sourceAddress: "::1" })?.name, "lan");
  const named = settings([
    subnet({ link: { interfaces: ["eth0"], linkAddresses: [], interfaceIds: [] } }),
  ]);
  assert.equal(
    selectSubnet(named, { hops: [], sourceAddress: "fe80::1", interfaceName: "eth0" })?.name,
    "lan",
  );
  assert.equal(
    selectSubnet(named, { hops: [], sourceAddress: "fe80::1", interfaceName: "eth9" }),
    undefined,
  );
});

Deno.test("relay: a %zone on a link-local source names the interface for direct traffic", () => {
  const s = settings([
    subnet(),
    subnet({
      name: "z",
      prefix: pfx("2001:db8:5::/64"),
      link: { interfaces: ["veth1"], linkAddresses: [], interfaceIds: [] },
    }),
  ]);
  const r = replyOf(
    run(s, new MemoryBindingStore(), SOLICIT, 0, { sourceAddress: "fe80::1%veth1" }),
  );
  assert.equal(r.subnet, "z");
  assert.deepEqual(r.to, { address: "fe80::1%veth1", port: 546 });
});
