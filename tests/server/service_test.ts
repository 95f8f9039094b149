import assert from "node:assert/strict";
import { defaultConfig } from "../../lib/config/default.ts";
import { BatchCommitter } from "../../lib/store/batch.ts";
import { MemoryBindingStore } from "../../lib/store/memory.ts";
import { StoreError } from "../../lib/store/types.ts";
import { leaseWrites, ServerCore } from "../../lib/server/service.ts";
import { compileSettings, renewTimes, SettingsError } from "../../lib/server/settings.ts";
import { decodeMessage } from "../../lib/wire/decode.ts";
import { encodeMessage } from "../../lib/wire/encode.ts";
import { findOption } from "../../lib/wire/options.ts";
import { type ClientServerMessage, MessageType as T } from "../../lib/wire/types.ts";
import {
  addrs,
  cid,
  iaNas,
  iaPds,
  msg,
  na,
  oro,
  pd,
  prefixes,
  SERVER_DUID,
  settings,
  sid,
  subnet,
} from "./helpers.ts";

const NOW = 1_700_000_000_000;
const META = { sourceAddress: "::1", sourcePort: 40000, unicast: false };

/** Sends `m` as bytes; returns the decoded answer (or undefined on a drop). */
function exchange(core: ServerCore, m: ClientServerMessage, now = NOW) {
  const r = core.receive(encodeMessage(m), META, now);
  if (r.kind !== "reply") return { r, answer: undefined };
  const d = decodeMessage(encodeMessage(r.message));
  assert.deepEqual(d.errors, []);
  return { r, answer: d.message as ClientServerMessage };
}

Deno.test("service: the embedded default configuration serves a 4-message exchange over bytes", async () => {
  const store = new MemoryBindingStore();
  const committer = new BatchCommitter(store, { windowMs: 0 });
  const core = new ServerCore({
    settings: compileSettings(defaultConfig()),
    serverDuid: SERVER_DUID,
  });
  const adv = exchange(core, msg(T.SOLICIT, [cid(1), na(1), pd(2), oro(23)]));
  assert.equal(adv.answer?.msgType, T.ADVERTISE);
  const a = addrs(iaNas(adv.answer!)[0])[0].address;
  const p = prefixes(iaPds(adv.answer!)[0])[0];
  assert.match(a, /^fd00:f6::1[0-9a-f]{3}$/);
  assert.equal(p.prefixLength, 64);
  assert.match(p.prefix, /^fd00:f6:0:1[0-9a-f]{2}::$/);
  const req = exchange(core, msg(T.REQUEST, [cid(1), sid(), na(1, a), pd(2, `${p.prefix}/64`)]));
  assert.equal(req.answer?.msgType, T.REPLY);
  assert.equal(addrs(iaNas(req.answer!)[0])[0].address, a);
  assert.equal(prefixes(iaPds(req.answer!)[0])[0].prefix, p.prefix);
  assert.equal(req.r.kind === "reply" && req.r.changes.length, 2);
  // Commit before "sending".
  if (req.r.kind === "reply") await committer.write(leaseWrites(req.r.changes));
  await committer.close();
  assert.equal(store.get({ kind: "na", address: a })?.status, "ACTIVE");
  assert.equal(store.get({ kind: "pd", address: p.prefix, prefixLength: 64 })?.status, "ACTIVE");
});

Deno.test("service: after a restart from the store, the same client gets the same leases", () => {
  const store = new MemoryBindingStore();
  const s = settings();
  const first = new ServerCore({ settings: s, serverDuid: SERVER_DUID });
  const r = first.handle({ ...META, message: msg(T.REQUEST, [cid(4), sid(), na(1), pd(2)]) }, NOW);
  assert.equal(r.kind, "reply");
  if (r.kind === "reply") store.apply(leaseWrites(r.changes));
  const second = new ServerCore({ settings: s, serverDuid: SERVER_DUID, leases: store.all() });
  const again = second.handle(
    { ...META, message: msg(T.REQUEST, [cid(4), sid(), na(1), pd(2)]) },
    NOW + 1000,
  );
  assert.equal(again.kind, "reply");
  if (again.kind === "reply" && r.kind === "reply") {
    assert.deepEqual(
      again.changes.map((c) => c.after.address),
      r.changes.map((c) => c.after.address),
    );
    assert.ok(again.changes.every((c) => c.before !== undefined));
  }
});

Deno.test("service: a failed commit is reverted so the address is free again", async () => {
  const store = new MemoryBindingStore();
  const committer = new BatchCommitter(store, { windowMs: 0 });
  const core = new ServerCore({ settings: settings(), serverDuid: SERVER_DUID });
  const r = core.handle({ ...META, message: msg(T.REQUEST, [cid(1), sid(), na(1)]) }, NOW);
  assert.equal(r.kind, "reply");
  if (r.kind !== "reply") return;
  store.close(); // every commit now fails
  await assert.rejects(committer.write(leaseWrites(r.changes)), StoreError);
  core.revert(r.changes);
  assert.equal(core.leases.size, 0);
});

Deno.test("service: malformed and truncated datagrams are dropped as malformed", () => {
  const core = new ServerCore({ settings: settings(), serverDuid: SERVER_DUID });
  for (
    const bytes of [
      new Uint8Array(),
      new Uint8Array([1, 0, 0]),
      new Uint8Array([1, 0, 0, 1, 0, 1, 0, 9, 1]),
    ]
  ) {
    const r = core.receive(bytes, META, NOW);
    assert.equal(r.kind, "drop");
    assert.equal(r.kind === "drop" && r.reason, "malformed");
  }
  assert.equal(core.leases.size, 0);
});

Deno.test("service: random bytes never throw and never touch the leases unless a reply says so", () => {
  const core = new ServerCore({ settings: settings(), serverDuid: SERVER_DUID });
  let seed = 12345;
  const keys = new Set<string>();
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
  for (let i = 0; i < 3000; i++) {
    const len = rnd() % 120;
    const b = new Uint8Array(len);
    for (let j = 0; j < len; j++) b[j] = rnd();
    if (len > 0) b[0] = [1, 3, 5, 6, 8, 9, 11, 12][rnd() % 8];
    const r = core.receive(b, META, NOW);
    if (r.kind === "reply") {
      encodeMessage(r.message);
      for (const c of r.changes) {
        keys.add(`${c.after.kind} ${c.after.address}/${c.after.prefixLength}`);
      }
    }
  }
  assert.equal(core.leases.size, keys.size);
});

Deno.test("settings: raw options are checked; configured options reach the reply in wire form", () => {
  assert.throws(
    () =>
      settings([
        subnet({ options: { dnsServers: [], domainSearch: [], raw: [{ code: 3, hex: "00" }] } }),
      ]),
    SettingsError,
  );
  assert.throws(
    () =>
      settings([
        subnet({ options: { dnsServers: [], domainSearch: [], raw: [{ code: 99, hex: "abc" }] } }),
      ]),
    /raw\[0\]/,
  );
  const s = settings([
    subnet({ options: { dnsServers: [], domainSearch: [], raw: [{ code: 99, hex: "c0ffee" }] } }),
  ]);
  const core = new ServerCore({ settings: s, serverDuid: SERVER_DUID });
  const { answer } = exchange(core, msg(T.INFORMATION_REQUEST, [oro(99)]));
  const raw = answer!.options.find((o) => o.code === 99);
  assert.ok(raw && "data" in raw);
  assert.deepEqual([...(raw as { data: Uint8Array }).data], [0xc0, 0xff, 0xee]);
  assert.equal(findOption(answer!.options, 2)?.duid.length, SERVER_DUID.length);
});

Deno.test("settings: renewTimes follows fractions and fixed values, infinity stays infinity", () => {
  const f = {
    t1: { kind: "fraction" as const, value: 0.5 },
    t2: { kind: "fraction" as const, value: 0.8 },
  };
  assert.deepEqual(renewTimes(f, 1000), { t1: 500, t2: 800 });
  assert.deepEqual(renewTimes(f, undefined), { t1: 0, t2: 0 });
  assert.deepEqual(renewTimes(f, 0xffffffff), { t1: 0xffffffff, t2: 0xffffffff });
  assert.deepEqual(
    renewTimes({ t1: { kind: "seconds", value: 300 }, t2: { kind: "seconds", value: 600 } }, 1000),
    { t1: 300, t2: 600 },
  );
});

Deno.test("settings: every example configuration in fixtures/ compiles for the server core", async () => {
  const { loadConfig } = await import("../../lib/config/load.ts");
  const dir = new URL("../../fixtures/", import.meta.url);
  let n = 0;
  for await (const e of Deno.readDir(dir)) {
    if (!e.name.endsWith(".yaml") || e.name.includes("bad")) continue;
    const r = loadConfig(await Deno.readTextFile(new URL(e.name, dir)), e.name);
    if (!r.ok) continue; // the config tests own the fixtures' validity
    const s = compileSettings(r.config);
    assert.equal(s.subnets.length, r.config.subnets.length, e.name);
    n++;
  }
  assert.ok(n > 0, "at least one fixture");
});
