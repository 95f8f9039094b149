import assert from "node:assert/strict";
import { duidUuid, resolveServerDuid } from "../../lib/server/duid.ts";
import { SettingsError } from "../../lib/server/settings.ts";
import { MemoryBindingStore } from "../../lib/store/memory.ts";
import { parseDuid } from "../../lib/wire/duid.ts";

const NOW = Date.UTC(2024, 0, 1);

Deno.test("server DUID: generated once as DUID-LLT from a MAC, then kept by the store", () => {
  const store = new MemoryBindingStore();
  const first = resolveServerDuid({
    stored: store.getServerDuid(),
    now: NOW,
    linkLayerAddress: new Uint8Array([2, 0, 0, 0, 0, 1]),
  });
  assert.equal(first.source, "generated");
  const d = parseDuid(first.duid);
  assert.equal(d.type, 1);
  assert.equal("time" in d && d.time, 757382400, "seconds since 2000-01-01");
  assert.ok(first.write);
  store.apply([first.write]);
  const second = resolveServerDuid({ stored: store.getServerDuid(), now: NOW + 1e9 });
  assert.equal(second.source, "stored");
  assert.equal(second.hex, first.hex);
  assert.equal(second.write, undefined);
});

Deno.test("server DUID: without a MAC a DUID-UUID (version 4) is generated", () => {
  const r = resolveServerDuid({ now: NOW, random: (n) => new Uint8Array(n).fill(0xff) });
  const d = parseDuid(r.duid);
  assert.equal(d.type, 4);
  assert.equal("uuid" in d && d.uuid, "ffffffff-ffff-4fff-bfff-ffffffffffff");
  const a = duidUuid((n) => crypto.getRandomValues(new Uint8Array(n)));
  const b = duidUuid((n) => crypto.getRandomValues(new Uint8Array(n)));
  assert.notDeepEqual(a, b);
});

Deno.test("server DUID: a configured DUID wins and is written when the store differs", () => {
  const r = resolveServerDuid({
    configured: "00:02:00:00:00:09:01:02",
    stored: "0003000102000000000a",
    now: NOW,
  });
  assert.equal(r.source, "configured");
  assert.equal(r.hex, "0002000000090102");
  assert.deepEqual(r.write, { type: "server-duid", duid: "0002000000090102" });
  const same = resolveServerDuid({
    configured: "0002000000090102",
    stored: "0002000000090102",
    now: NOW,
  });
  assert.equal(same.write, undefined);
});

Deno.test("server DUID: a DUID that is not 3-130 octets of hex is refused", () => {
  assert.throws(() => resolveServerDuid({ configured: "0001", now: NOW }), SettingsError);
  assert.throws(() => resolveServerDuid({ configured: "zz0102", now: NOW }), SettingsError);
  assert.throws(() => resolveServerDuid({ stored: "01", now: NOW }), /stored server DUID/);
});
