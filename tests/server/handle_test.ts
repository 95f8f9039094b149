import assert from "node:assert/strict";
import { MemoryBindingStore } from "../../lib/store/memory.ts";
import { findOption, findOptions } from "../../lib/wire/options.ts";
import { MessageType as T, StatusCode } from "../../lib/wire/types.ts";
import type { ServerCore } from "../../lib/server/service.ts";
import {
  addrs,
  assertDrop,
  cid,
  clientHex,
  core,
  iaNas,
  iaPds,
  inbound,
  innerOf,
  LIFETIMES,
  msg,
  na,
  onlyAddress,
  oro,
  pd,
  pool,
  prefixes,
  replyOf,
  run,
  settings,
  sid,
  statusIn,
  subnet,
} from "./helpers.ts";

const NOW = 1_700_000_000_000;

function send(c: ServerCore, m: ReturnType<typeof msg>, now = NOW) {
  return c.handle(inbound(m), now);
}

/** Solicit + Request for client n; returns the Reply result. */
function lease(c: ServerCore, n: number, ...ias: ReturnType<typeof na | typeof pd>[]) {
  return send(c, msg(T.REQUEST, [cid(n), sid(), ...(ias.length ? ias : [na(1)])]));
}

Deno.test("Solicit: Advertise with ServerID, ClientID, an offered address, and no commit", () => {
  const r = run(settings(), new MemoryBindingStore(), msg(T.SOLICIT, [cid(1), na(5)]));
  const rep = replyOf(r);
  const m = innerOf(r);
  assert.equal(m.msgType, T.ADVERTISE);
  assert.equal(rep.replyType, T.ADVERTISE);
  assert.equal(rep.requestType, T.SOLICIT);
  assert.equal(m.transactionId, 0x0a0b0c);
  assert.deepEqual(m.options.slice(0, 2).map((o) => o.code), [2, 1]);
  assert.deepEqual(rep.changes, []);
  const ia = iaNas(m)[0];
  assert.equal(ia.iaid, 5);
  const a = addrs(ia)[0];
  assert.match(a.address, /^2001:db8:1::1[0-9a-f]{2}$/);
  assert.equal(a.preferredLifetime, 3600);
  assert.equal(a.validLifetime, 7200);
  assert.equal(ia.t1, 1800);
  assert.equal(ia.t2, 2880);
  assert.deepEqual(rep.to, { address: "fe80::1", port: 546 });
  assert.equal(rep.subnet, "lan");
  assert.equal(rep.clientDuid, clientHex(1));
});

Deno.test("Solicit + Request: the Request gets the address the Advertise offered, committed", () => {
  const c = core();
  const adv = send(c, msg(T.SOLICIT, [cid(1), na(1)]));
  const offered = onlyAddress(adv);
  assert.equal(c.leases.size, 0, "an Advertise commits nothing");
  const rep = replyOf(send(c, msg(T.REQUEST, [cid(1), sid(), na(1, offered)])));
  assert.equal(onlyAddress(rep), offered);
  assert.equal(rep.changes.length, 1);
  const l = rep.changes[0].after;
  assert.equal(l.status, "ACTIVE");
  assert.equal(l.clientDuid, clientHex(1));
  assert.equal(l.iaid, 1);
  assert.equal(l.expirationTime, NOW + 7200_000);
  assert.equal(l.pool, "lan-pool");
  assert.equal(c.leases.get({ kind: "na", address: offered })?.status, "ACTIVE");
});

Deno.test("Solicit with Rapid Commit: Reply with Rapid Commit and committed leases", () => {
  const c = core();
  const r = replyOf(send(c, msg(T.SOLICIT, [cid(1), na(1), pd(2), { code: 14 }])));
  const m = innerOf(r);
  assert.equal(m.msgType, T.REPLY);
  assert.ok(findOption(m.options, 14), "Rapid Commit echoed");
  assert.equal(r.changes.length, 2);
  assert.equal(c.leases.size, 2);
});

Deno.test("Solicit with Rapid Commit on a subnet that does not allow it: Advertise", () => {
  const s = settings([subnet({ rapidCommit: false })]);
  const r = run(s, new MemoryBindingStore(), msg(T.SOLICIT, [cid(1), na(1), { code: 14 }]));
  assert.equal(innerOf(r).msgType, T.ADVERTISE);
  assert.equal(findOption(innerOf(r).options, 14), undefined);
  assert.deepEqual(replyOf(r).changes, []);
});

Deno.test("Solicit with nothing assignable: message-level NoAddrsAvail, no IA, nothing committed", () => {
  const s = settings([subnet({ pools: [], prefixes: [] })]);
  for (const extra of [[], [{ code: 14 as const }]]) {
    const r = run(s, new MemoryBindingStore(), msg(T.SOLICIT, [cid(1), na(1), pd(2), ...extra]));
    const m = innerOf(r);
    assert.equal(m.msgType, T.ADVERTISE);
    assert.equal(statusIn(m.options), StatusCode.NoAddrsAvail);
    assert.deepEqual(m.options.map((o) => o.code), [2, 1, 13]);
    assert.deepEqual(replyOf(r).changes, []);
  }
});

Deno.test("Solicit with some IAs servable: the others carry NoPrefixAvail at IA level", () => {
  const s = settings([subnet({ prefixes: [] })]);
  const m = innerOf(run(s, new MemoryBindingStore(), msg(T.SOLICIT, [cid(1), na(1), pd(2)])));
  assert.equal(statusIn(m.options), undefined, "no message-level status");
  assert.equal(addrs(iaNas(m)[0]).length, 1);
  const p = iaPds(m)[0];
  assert.equal(statusIn(p.options), StatusCode.NoPrefixAvail);
  assert.equal(prefixes(p).length, 0);
  assert.equal(p.t1, 0);
});

Deno.test("Solicit without IAs: Advertise with configuration only", () => {
  const m = innerOf(run(settings(), new MemoryBindingStore(), msg(T.SOLICIT, [cid(1), oro(23)])));
  assert.equal(m.msgType, T.ADVERTISE);
  assert.equal(statusIn(m.options), undefined);
  assert.deepEqual(findOption(m.options, 23)?.dnsServers, ["2001:db8::53"]);
});

Deno.test("Solicit: preference is sent in Advertise when configured", () => {
  const s = settings(undefined, { preference: 255 });
  const m = innerOf(run(s, new MemoryBindingStore(), msg(T.SOLICIT, [cid(1), na(1)])));
  assert.equal(findOption(m.options, 7)?.preference, 255);
});

Deno.test("Request: several IA_NA and IA_PD get distinct leases and the same T1/T2", () => {
  const c = core();
  const r = replyOf(lease(c, 3, na(1), na(2), pd(3), pd(4)));
  const m = innerOf(r);
  const nas = iaNas(m), pds = iaPds(m);
  assert.equal(nas.length, 2);
  assert.equal(pds.length, 2);
  const got = [...nas.map((i) => addrs(i)[0].address), ...pds.map((i) => prefixes(i)[0].prefix)];
  assert.equal(new Set(got).size, 4);
  for (const p of pds) assert.equal(prefixes(p)[0].prefixLength, 56);
  for (const ia of [...nas, ...pds]) assert.deepEqual([ia.t1, ia.t2], [1800, 2880]);
  assert.equal(r.changes.length, 4);
  assert.deepEqual(r.changes.map((ch) => ch.after.iaid).sort(), [1, 2, 3, 4]);
});

Deno.test("Request: T1/T2 come from the shortest preferred lifetime (0.5 / 0.8)", () => {
  const c = core(settings([subnet({ lifetimes: { ...LIFETIMES, preferred: 1000, valid: 2000 } })]));
  const ia = iaNas(innerOf(lease(c, 1)))[0];
  assert.deepEqual([ia.t1, ia.t2], [500, 800]);
  const fixed = core(settings([subnet({
    lifetimes: {
      ...LIFETIMES,
      t1: { kind: "seconds", value: 100 },
      t2: { kind: "seconds", value: 50 },
    },
  })]));
  const ia2 = iaNas(innerOf(lease(fixed, 1)))[0];
  assert.deepEqual([ia2.t1, ia2.t2], [50, 50], "T1 never after T2");
});

Deno.test("Request: an off-link address in an IA_NA gets NotOnLink in that IA", () => {
  const c = core();
  const m = innerOf(lease(c, 1, na(1, "2001:db8:99::5"), na(2)));
  const [bad, good] = iaNas(m);
  assert.equal(statusIn(bad.options), StatusCode.NotOnLink);
  assert.equal(addrs(bad).length, 0);
  assert.equal(addrs(good).length, 1);
  assert.equal(c.leases.size, 1);
});

Deno.test("Request: an IA with nothing available gets NoAddrsAvail / NoPrefixAvail in the IA", () => {
  const c = core(
    settings([subnet({ pools: [pool("one", "2001:db8:1::10", "2001:db8:1::10")], prefixes: [] })]),
  );
  assert.equal(onlyAddress(lease(c, 1)), "2001:db8:1::10");
  const m = innerOf(lease(c, 2, na(1), pd(2)));
  assert.equal(m.msgType, T.REPLY);
  assert.equal(statusIn(m.options), undefined, "IA level, not message level");
  assert.equal(statusIn(iaNas(m)[0].options), StatusCode.NoAddrsAvail);
  assert.equal(statusIn(iaPds(m)[0].options), StatusCode.NoPrefixAvail);
});

Deno.test("Request: an existing binding is returned as it is, with fresh lifetimes", () => {
  const c = core();
  const first = onlyAddress(lease(c, 1));
  const again = replyOf(send(c, msg(T.REQUEST, [cid(1), sid(), na(1)]), NOW + 60_000));
  assert.equal(onlyAddress(again), first);
  assert.equal(again.changes.length, 1);
  assert.equal(again.changes[0].after.expirationTime, NOW + 60_000 + 7200_000);
  assert.equal(again.changes[0].after.startTimeOfState, NOW, "still the same ACTIVE state");
});

Deno.test("Request: IA_TA is not served (NoAddrsAvail); more IAs than the limit get NoAddrsAvail", () => {
  const c = core(settings(undefined, { maxIasPerType: 2 }));
  const m = innerOf(
    send(
      c,
      msg(T.REQUEST, [cid(1), sid(), na(1), na(2), na(3), { code: 4, iaid: 9, options: [] }]),
    ),
  );
  const nas = iaNas(m);
  assert.equal(addrs(nas[0]).length, 1);
  assert.equal(addrs(nas[1]).length, 1);
  assert.equal(statusIn(nas[2].options), StatusCode.NoAddrsAvail);
  const ta = findOptions(m.options, 4)[0];
  assert.equal(statusIn(ta.options), StatusCode.NoAddrsAvail);
  assert.equal(c.leases.size, 2);
});

Deno.test("Request: a duplicated IAID is served once", () => {
  const m = innerOf(lease(core(), 1, na(1), na(1)));
  assert.equal(iaNas(m).length, 1);
});

Deno.test("Renew: a known binding gets new lifetimes and T1/T2", () => {
  const c = core();
  const a = onlyAddress(lease(c, 1));
  const r = replyOf(send(c, msg(T.RENEW, [cid(1), sid(), na(1, a)]), NOW + 1800_000));
  assert.equal(onlyAddress(r), a);
  assert.equal(r.changes[0].after.expirationTime, NOW + 1800_000 + 7200_000);
  assert.equal(iaNas(innerOf(r))[0].t1, 1800);
});

Deno.test("Renew: an unknown IA gets NoBinding when Renew may not create", () => {
  const c = core(settings(undefined, { renewCreates: false }));
  const m = innerOf(send(c, msg(T.RENEW, [cid(1), sid(), na(1, "2001:db8:1::150")])));
  assert.equal(m.msgType, T.REPLY);
  assert.equal(statusIn(iaNas(m)[0].options), StatusCode.NoBinding);
  assert.equal(c.leases.size, 0);
});

Deno.test("Renew: an unknown IA naming a free pool address gets it back when Renew may create", () => {
  const c = core();
  const r = replyOf(send(c, msg(T.RENEW, [cid(1), sid(), na(1, "2001:db8:1::150")])));
  assert.equal(onlyAddress(r), "2001:db8:1::150");
  assert.equal(c.leases.get({ kind: "na", address: "2001:db8:1::150" })?.clientDuid, clientHex(1));
});

Deno.test("Renew: an address not appropriate to the link comes back with lifetimes 0", () => {
  const c = core();
  const a = onlyAddress(lease(c, 1));
  const m = innerOf(send(c, msg(T.RENEW, [cid(1), sid(), na(1, a, "2001:db8:77::1")])));
  const list = addrs(iaNas(m)[0]);
  assert.equal(list.length, 2);
  const off = list.find((x) => x.address === "2001:db8:77::1")!;
  assert.deepEqual([off.preferredLifetime, off.validLifetime], [0, 0]);
  assert.equal(list.find((x) => x.address === a)!.validLifetime, 7200);
});

Deno.test("Renew: someone else's address named by the client comes back with lifetimes 0", () => {
  const c = core();
  const theirs = onlyAddress(lease(c, 1));
  const m = innerOf(send(c, msg(T.RENEW, [cid(2), sid(), na(1, theirs)])));
  const list = addrs(iaNas(m)[0]);
  const named = list.find((x) => x.address === theirs)!;
  assert.equal(named.validLifetime, 0);
  assert.equal(list.filter((x) => x.validLifetime > 0).length, 1, "a new address instead");
  assert.equal(c.leases.get({ kind: "na", address: theirs })?.clientDuid, clientHex(1));
});

Deno.test("Renew: a binding no longer appropriate to the link (pool removed) is withdrawn", () => {
  const c = core();
  const a = onlyAddress(lease(c, 1));
  c.settings = settings([subnet({ pools: [pool("new", "2001:db8:1::900", "2001:db8:1::9ff")] })]);
  const r = replyOf(send(c, msg(T.RENEW, [cid(1), sid(), na(1, a)])));
  const list = addrs(iaNas(innerOf(r))[0]);
  assert.equal(list.find((x) => x.address === a)?.validLifetime, 0);
  assert.ok(list.some((x) => x.validLifetime > 0 && x.address.startsWith("2001:db8:1::9")));
  assert.equal(c.leases.get({ kind: "na", address: a })?.status, "EXPIRED");
});

Deno.test("Rebind: a known binding is extended without a Server Identifier", () => {
  const c = core();
  const a = onlyAddress(lease(c, 1));
  const r = replyOf(send(c, msg(T.REBIND, [cid(1), na(1, a)]), NOW + 5000_000));
  assert.equal(onlyAddress(r), a);
  assert.equal(r.changes[0].after.expirationTime, NOW + 5000_000 + 7200_000);
});

Deno.test("Rebind: bindings the server does not know and may not create get no reply", () => {
  const s = settings([subnet({ rapidCommit: false })]);
  assertDrop(
    run(s, new MemoryBindingStore(), msg(T.REBIND, [cid(1), na(1, "2001:db8:1::150")])),
    "rebind-no-binding",
  );
  assertDrop(run(s, new MemoryBindingStore(), msg(T.REBIND, [cid(1), na(1)])), "rebind-no-binding");
});

Deno.test("Rebind: an address not appropriate to the link comes back with lifetimes 0", () => {
  const s = settings([subnet({ rapidCommit: false })]);
  const m = innerOf(
    run(s, new MemoryBindingStore(), msg(T.REBIND, [cid(1), na(1, "2001:db8:55::1")])),
  );
  const a = addrs(iaNas(m)[0])[0];
  assert.deepEqual([a.address, a.validLifetime], ["2001:db8:55::1", 0]);
});

Deno.test("Rebind: with Rapid Commit allowed an unknown IA is re-created", () => {
  const c = core();
  const r = replyOf(send(c, msg(T.REBIND, [cid(1), na(1, "2001:db8:1::160")])));
  assert.equal(onlyAddress(r), "2001:db8:1::160");
  assert.equal(r.changes.length, 1);
});

Deno.test("Release: leases become RELEASED; Success; NoBinding for an IA without binding", () => {
  const c = core();
  const m0 = innerOf(lease(c, 1, na(1), pd(2)));
  const a = addrs(iaNas(m0)[0])[0].address;
  const p = prefixes(iaPds(m0)[0])[0];
  const r = replyOf(
    send(
      c,
      msg(T.RELEASE, [cid(1), sid(), na(1, a), pd(2, `${p.prefix}/56`), na(9, "2001:db8:1::1")]),
    ),
  );
  const m = innerOf(r);
  assert.equal(m.msgType, T.REPLY);
  assert.equal(statusIn(m.options), StatusCode.Success);
  const nas = iaNas(m);
  assert.equal(nas.length, 1, "only the unknown IA is listed");
  assert.equal(nas[0].iaid, 9);
  assert.equal(statusIn(nas[0].options), StatusCode.NoBinding);
  assert.equal(r.changes.length, 2);
  assert.equal(c.leases.get({ kind: "na", address: a })?.status, "RELEASED");
  assert.equal(
    c.leases.get({ kind: "pd", address: p.prefix, prefixLength: 56 })?.status,
    "RELEASED",
  );
  // Someone else cannot release it.
  const other = replyOf(send(c, msg(T.RELEASE, [cid(2), sid(), na(1, a)])));
  assert.equal(other.changes.length, 0);
});

Deno.test("Decline: the address becomes ABANDONED and is held; NoBinding for unknown IAs", () => {
  const c = core(settings(undefined, { abandonedHoldSeconds: 600 }));
  const a = onlyAddress(lease(c, 1));
  const r = replyOf(send(c, msg(T.DECLINE, [cid(1), sid(), na(1, a), na(4, a)])));
  assert.equal(statusIn(innerOf(r).options), StatusCode.Success);
  assert.equal(statusIn(iaNas(innerOf(r))[0].options), StatusCode.NoBinding);
  const l = c.leases.get({ kind: "na", address: a })!;
  assert.equal(l.status, "ABANDONED");
  assert.equal(l.stateExpirationTime, NOW + 600_000);
  // The next Request of the same client gets another address.
  const again = onlyAddress(lease(c, 1));
  assert.notEqual(again, a);
});

Deno.test("Confirm: Success when all addresses are on the link, NotOnLink otherwise", () => {
  const s = settings();
  const v = new MemoryBindingStore();
  const ok = innerOf(
    run(s, v, msg(T.CONFIRM, [cid(1), na(1, "2001:db8:1::5"), na(2, "2001:db8:1::abcd")])),
  );
  assert.equal(ok.msgType, T.REPLY);
  assert.equal(statusIn(ok.options), StatusCode.Success);
  assert.deepEqual(ok.options.map((o) => o.code), [2, 1, 13]);
  const bad = innerOf(
    run(s, v, msg(T.CONFIRM, [cid(1), na(1, "2001:db8:1::5"), na(2, "2001:db8:2::1")])),
  );
  assert.equal(statusIn(bad.options), StatusCode.NotOnLink);
});

Deno.test("Confirm: no reply without addresses or for an unknown link", () => {
  const v = new MemoryBindingStore();
  assertDrop(run(settings(), v, msg(T.CONFIRM, [cid(1), na(1)])), "confirm-undecidable");
  const two = settings([
    subnet(),
    subnet({ name: "other", prefix: { address: 0x2001_0db8_0002n << 80n, length: 64 } }),
  ]);
  assertDrop(run(two, v, msg(T.CONFIRM, [cid(1), na(1, "2001:db8:1::5")])), "confirm-undecidable");
});

Deno.test("Information-request: Reply with ServerID, ClientID and the options asked for", () => {
  const s = settings(undefined, { alwaysSend: [32] });
  const withRaw = settings(
    [subnet({
      options: {
        dnsServers: ["2001:db8::53"],
        domainSearch: ["example.com"],
        raw: [{ code: 32, hex: "00000e10" }],
      },
    })],
    { alwaysSend: [32] },
  );
  const v = new MemoryBindingStore();
  const m = innerOf(run(s, v, msg(T.INFORMATION_REQUEST, [cid(1), oro(24, 23)])));
  assert.equal(m.msgType, T.REPLY);
  assert.deepEqual(m.options.map((o) => o.code), [2, 1, 24, 23]);
  assert.deepEqual(findOption(m.options, 24)?.domains, ["example.com"]);
  const noOro = innerOf(run(s, v, msg(T.INFORMATION_REQUEST, [cid(1)])));
  assert.deepEqual(noOro.options.map((o) => o.code), [2, 1]);
  const always = innerOf(run(withRaw, v, msg(T.INFORMATION_REQUEST, [])));
  assert.deepEqual(always.options.map((o) => o.code), [2, 32], "no ClientID when none was sent");
});

Deno.test("Information-request from an unknown link: the global options", () => {
  const two = settings([
    subnet(),
    subnet({ name: "b", prefix: { address: 0x2001_0db8_0002n << 80n, length: 64 } }),
  ]);
  const m = innerOf(run(two, new MemoryBindingStore(), msg(T.INFORMATION_REQUEST, [oro(23)])));
  assert.deepEqual(findOption(m.options, 23)?.dnsServers, ["2001:db8::35"]);
});

Deno.test("Solicit/Request/Renew/Rebind from an unknown link are dropped (no-subnet)", () => {
  const two = settings([
    subnet(),
    subnet({ name: "b", prefix: { address: 0x2001_0db8_0002n << 80n, length: 64 } }),
  ]);
  const v = new MemoryBindingStore();
  assertDrop(run(two, v, msg(T.SOLICIT, [cid(1), na(1)])), "no-subnet");
  assertDrop(run(two, v, msg(T.REQUEST, [cid(1), sid(), na(1)])), "no-subnet");
  assertDrop(run(two, v, msg(T.RENEW, [cid(1), sid(), na(1)])), "no-subnet");
  assertDrop(run(two, v, msg(T.REBIND, [cid(1), na(1)])), "no-subnet");
  // The source address selects the subnet when it is on one.
  assert.equal(
    replyOf(run(two, v, msg(T.SOLICIT, [cid(1), na(1)]), NOW, { sourceAddress: "2001:db8:2::77" }))
      .subnet,
    "b",
  );
  // So does the interface.
  const ifs = settings([
    subnet(),
    subnet({ name: "c", link: { interfaces: ["eth1"], linkAddresses: [], interfaceIds: [] } }),
  ]);
  assert.equal(
    replyOf(run(ifs, v, msg(T.SOLICIT, [cid(1), na(1)]), NOW, { interfaceName: "eth1" })).subnet,
    "c",
  );
});

Deno.test("Handler: a failover policy that does not admit gets a drop", () => {
  const policy = {
    name: "test-unresponsive",
    admits: () => false,
    mayAllocate: () => true,
    lifetimes: (q: { preferred: number; valid: number }) => q,
    stamp: (l: never) => l,
    expire: () => undefined,
  };
  assertDrop(
    run(settings(), new MemoryBindingStore(), msg(T.SOLICIT, [cid(1), na(1)]), NOW, {}, policy),
    "failover-unresponsive",
  );
});

Deno.test("Handler: the failover policy caps lifetimes and stamps leases", () => {
  const policy = {
    name: "capped",
    admits: () => true,
    mayAllocate: () => true,
    lifetimes: () => ({ preferred: 100, valid: 300 }),
    stamp: (l: import("../../lib/store/types.ts").Lease) => ({
      ...l,
      updatePending: true,
      owner: "primary" as const,
    }),
    expire: () => undefined,
  };
  const r = replyOf(
    run(
      settings(),
      new MemoryBindingStore(),
      msg(T.REQUEST, [cid(1), sid(), na(1)]),
      NOW,
      {},
      policy,
    ),
  );
  const a = addrs(iaNas(innerOf(r))[0])[0];
  assert.deepEqual([a.preferredLifetime, a.validLifetime], [100, 300]);
  assert.equal(iaNas(innerOf(r))[0].t1, 50);
  assert.equal(r.changes[0].after.updatePending, true);
  assert.equal(r.changes[0].after.owner, "primary");
  assert.equal(r.changes[0].after.expirationTime, NOW + 300_000);
});

Deno.test("Renew: naming extra free addresses does not grab more leases", () => {
  const c = core();
  const a = onlyAddress(lease(c, 1));
  const m = innerOf(
    send(c, msg(T.RENEW, [cid(1), sid(), na(1, a, "2001:db8:1::1a0", "2001:db8:1::1a1")])),
  );
  const list = addrs(iaNas(m)[0]);
  assert.deepEqual(list.filter((x) => x.validLifetime > 0).map((x) => x.address), [a]);
  assert.equal(list.length, 3);
  assert.equal(c.leases.size, 1);
});
