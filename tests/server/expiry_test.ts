import assert from "node:assert/strict";
import { emptyLease } from "../../lib/store/lease.ts";
import type { Lease } from "../../lib/store/types.ts";
import { expireLeases, isDue } from "../../lib/server/expiry.ts";
import { standalonePolicy } from "../../lib/server/policy.ts";
import { MessageType as T } from "../../lib/wire/types.ts";
import { FakeClock } from "../../lib/util/clock.ts";
import { cid, clientHex, core, inbound, msg, na, onlyAddress, settings, sid } from "./helpers.ts";

const NOW = 1_700_000_000_000;

function active(address: string, expirationTime: number): Lease {
  return {
    ...emptyLease({ kind: "na", address }, "ACTIVE"),
    clientDuid: clientHex(1),
    expirationTime,
    startTimeOfState: NOW - 1000,
  };
}

Deno.test("expiry: ACTIVE becomes EXPIRED when its valid lifetime ends, not before", () => {
  const l = active("2001:db8:1::5", NOW + 10_000);
  assert.equal(isDue(l, NOW + 9_999), false);
  assert.deepEqual(expireLeases([l], NOW + 9_999), []);
  const [c] = expireLeases([l], NOW + 10_000);
  assert.equal(c.before, l);
  assert.equal(c.after.status, "EXPIRED");
  assert.equal(c.after.startTimeOfState, NOW + 10_000);
  assert.equal(c.after.clientDuid, clientHex(1), "kept: the same client may get it back");
});

Deno.test("expiry: an infinite lease (expirationTime 0) never comes due", () => {
  assert.deepEqual(expireLeases([active("2001:db8:1::5", 0)], Number.MAX_SAFE_INTEGER), []);
});

Deno.test("expiry: ABANDONED becomes RESET (client forgotten) after its hold; other timers clear", () => {
  const ab: Lease = {
    ...active("2001:db8:1::6", 0),
    status: "ABANDONED",
    stateExpirationTime: NOW + 5,
  };
  const [c] = expireLeases([ab], NOW + 5);
  assert.equal(c.after.status, "RESET");
  assert.equal(c.after.clientDuid, "");
  assert.equal(c.after.stateExpirationTime, 0);
  const rel: Lease = { ...ab, status: "RELEASED" };
  const [r] = expireLeases([rel], NOW + 5);
  assert.equal(r.after.status, "RELEASED");
  assert.equal(r.after.stateExpirationTime, 0);
  assert.equal(standalonePolicy.expire({ ...rel, stateExpirationTime: 0 }, NOW), undefined);
});

Deno.test("expiry: ServerCore.expire moves due leases on time, and the client gets its address back", () => {
  const clock = new FakeClock(NOW);
  const c = core(settings());
  const r = c.handle(inbound(msg(T.REQUEST, [cid(1), sid(), na(1)])), clock.now());
  const a = onlyAddress(r);
  assert.equal(c.nextExpiry(), NOW + 7200_000);
  clock.advance(7199_999);
  assert.deepEqual(c.expire(clock.now()), []);
  clock.advance(1);
  const changes = c.expire(clock.now());
  assert.equal(changes.length, 1);
  assert.equal(changes[0].after.status, "EXPIRED");
  assert.equal(c.leases.get({ kind: "na", address: a })?.status, "EXPIRED");
  assert.equal(c.nextExpiry(), undefined);
  assert.deepEqual(c.expire(clock.now() + 1e9), [], "nothing twice");
  const again = c.handle(inbound(msg(T.SOLICIT, [cid(1), na(7)])), clock.now());
  assert.equal(onlyAddress(again), a);
});

Deno.test("expiry: a renewal pushes the due time out", () => {
  const c = core(settings());
  const a = onlyAddress(c.handle(inbound(msg(T.REQUEST, [cid(1), sid(), na(1)])), NOW));
  c.handle(inbound(msg(T.RENEW, [cid(1), sid(), na(1, a)])), NOW + 3600_000);
  assert.deepEqual(c.expire(NOW + 7200_000), []);
  assert.equal(c.nextExpiry(), NOW + 3600_000 + 7200_000);
  assert.equal(c.expire(NOW + 3600_000 + 7200_000).length, 1);
});

Deno.test("expiry: a failed commit of expiry changes is reverted and retried", () => {
  const c = core(settings());
  c.handle(inbound(msg(T.REQUEST, [cid(1), sid(), na(1)])), NOW);
  const ch = c.expire(NOW + 7200_000);
  assert.equal(ch.length, 1);
  c.revert(ch);
  assert.equal(c.leases.get({ kind: "na", address: ch[0].after.address })?.status, "ACTIVE");
  assert.equal(c.expire(NOW + 7200_000).length, 1);
});
