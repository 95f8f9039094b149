/**
 * BNDUPD and BNDREPLY trees (digest §3.4, §3.5) through the real codec: shapes A and B, the
 * options that appear iff the status has a timeout, the pre-checks, and mirrored replies with
 * the status at the rejecting level.
 */
import assert from "node:assert/strict";
import {
  bindingKeysOf,
  bndreplyOptions,
  bndupdOptions,
  parseBndreply,
  parseBndupd,
  type ReceivedLease,
} from "../../lib/failover/bndupd.ts";
import { encodeMessage } from "../../lib/wire/encode.ts";
import { decodeMessage } from "../../lib/wire/decode.ts";
import { failoverMessage, findOption } from "../../lib/wire/options.ts";
import type { DhcpOption, FailoverMessage } from "../../lib/wire/types.ts";
import { emptyLease } from "../../lib/store/lease.ts";
import { toWireTime } from "../../lib/failover/binding.ts";
import { activeLease, T0 } from "./helpers.ts";

const W0 = toWireTime(T0);

function roundTrip(options: DhcpOption[], type: 24 | 25 = 24, xid = 77): FailoverMessage {
  const bytes = encodeMessage(failoverMessage(type, xid, W0, options));
  const { message, errors } = decodeMessage(bytes);
  assert.deepEqual(errors, []);
  assert.ok(message && message.kind === "failover");
  return message;
}

function leaseOpts(m: FailoverMessage): DhcpOption[] {
  const cd = m.options[0] as { options: DhcpOption[] };
  const ia = cd.options.find((o) => o.code === 3 || o.code === 25) as { options: DhcpOption[] };
  return (ia.options[0] as { options: DhcpOption[] }).options;
}

Deno.test("shape A: ACTIVE lease → CLIENT_DATA{CLIENTID, LQ_BASE_TIME, IA_NA{IAADDR{…}}} with the * options", () => {
  const lease = activeLease("2001:db8::7", "00010203", T0, {
    cltTime: T0 - 30_000,
    partnerRawCltTime: T0 - 40_000,
  });
  const m = roundTrip(bndupdOptions(lease, T0)!);
  assert.equal(m.options.length, 1);
  const cd = m.options[0] as { code: number; options: DhcpOption[] };
  assert.equal(cd.code, 45);
  assert.deepEqual(cd.options.map((o) => o.code), [1, 100, 3]);
  assert.equal(findOption(cd.options, 100)!.baseTime, W0);
  const ia = findOption(cd.options, 3)!;
  assert.deepEqual([ia.iaid, ia.t1, ia.t2], [1, 900, 1440]);
  const o = leaseOpts(m);
  assert.deepEqual(o.map((x) => x.code), [114, 133, 134, 46, 123, 126, 120]);
  assert.equal(findOption(o, 46)!.cltTime, 30); // relative to LQ_BASE_TIME
  assert.equal(findOption(o, 123)!.partnerLifetime, toWireTime(T0 + 5400_000));
  assert.equal(findOption(o, 134)!.stateExpirationTime, toWireTime(T0 + 3600_000));
});

Deno.test("shape A without a timeout: EXPIRED carries none of the * options (§7.4)", () => {
  const lease = activeLease("2001:db8::7", "00010203", T0, { status: "EXPIRED" });
  const o = leaseOpts(roundTrip(bndupdOptions(lease, T0)!));
  assert.deepEqual(o.map((x) => x.code).filter((c) => c === 120 || c === 123 || c === 134), []);
});

Deno.test("shape B: a free delegable prefix travels as one standalone IAPREFIX", () => {
  const lease = {
    ...emptyLease({ kind: "pd", address: "2001:db8:1::", prefixLength: 48 }, "FREE-BACKUP"),
    startTimeOfState: T0,
  };
  const m = roundTrip(bndupdOptions(lease, T0)!);
  assert.equal(m.options.length, 1);
  const p = m.options[0] as {
    code: number;
    prefix: string;
    prefixLength: number;
    options: DhcpOption[];
  };
  assert.deepEqual([p.code, p.prefix, p.prefixLength], [26, "2001:db8:1::", 48]);
  assert.deepEqual(p.options.map((o) => o.code), [100, 114, 133]);
  const parsed = parseBndupd(m);
  assert.equal(parsed.shape, "prefix");
  // An address with no client cannot be expressed.
  assert.equal(bndupdOptions(emptyLease({ kind: "na", address: "2001:db8::1" }), T0), undefined);
});

Deno.test("parse: what was built reads back (key, status, times)", () => {
  const lease = activeLease("2001:db8::7", "00010203", T0, { cltTime: T0 - 30_000 });
  const p = parseBndupd(roundTrip(bndupdOptions(lease, T0)!));
  assert.equal(p.shape, "client");
  if (p.shape !== "client") return;
  assert.equal(p.clientDuid, "00010203");
  const l = p.ias[0].leases[0];
  assert.deepEqual(l.key, { kind: "na", address: "2001:db8::7", prefixLength: 128 });
  assert.equal(l.status, "ACTIVE");
  assert.equal(l.error, undefined);
  assert.equal(l.cltTime, T0 - 30_000);
  assert.equal(l.partnerLifetime, T0 + 5400_000);
});

Deno.test("pre-checks: two CLIENT_DATA, no CLIENTID, VSS, IA_TA, bad prefix bits", () => {
  const good = bndupdOptions(activeLease("2001:db8::7", "00010203", T0), T0)!;
  assert.equal(parseBndupd(roundTrip([...good, ...good])).shape, "none");
  const cd = good[0] as { code: 45; options: DhcpOption[] };
  const noId = parseBndupd(roundTrip([{ code: 45, options: cd.options.slice(1) }]));
  assert.ok(noId.shape === "client" && noId.error?.code === 18);
  const vss = parseBndupd(
    roundTrip([{
      code: 45,
      options: [...cd.options, { code: 68, vssType: 0, vssInfo: new TextEncoder().encode("vpn1") }],
    }]),
  );
  assert.ok(vss.shape === "client" && vss.error?.code === 17);
  const ta = parseBndupd(
    roundTrip([{
      code: 45,
      options: [cd.options[0], cd.options[1], { code: 4, iaid: 1, options: [] }],
    }]),
  );
  assert.ok(ta.shape === "client" && ta.ias[0].error?.code === 17);
  const bits = roundTrip([{
    code: 26,
    preferredLifetime: 0,
    validLifetime: 0,
    prefixLength: 32,
    prefix: "2001:db8:1::",
    options: [{ code: 100, baseTime: W0 }, { code: 114, bindingStatus: 5 }, {
      code: 133,
      startTimeOfState: W0,
    }],
  }]);
  const pb = parseBndupd(bits);
  assert.ok(pb.shape === "prefix" && pb.lease.error?.code === 17);
  assert.deepEqual(bindingKeysOf(bits), []); // not a valid key, not looked up
});

Deno.test("BNDREPLY mirrors the BNDUPD: status at lease, IA or CLIENT_DATA level", () => {
  const lease = activeLease("2001:db8::7", "00010203", T0);
  const upd = roundTrip(bndupdOptions(lease, T0)!);
  const p = parseBndupd(upd);
  assert.equal(p.shape, "client");
  if (p.shape !== "client") return;
  // Success: no status code anywhere; PARTNER_LIFETIME_SENT = the received PARTNER_LIFETIME.
  const ok = roundTrip(bndreplyOptions(p), 25);
  const okLease = parseBndreply(ok).leases[0];
  assert.equal(okLease.status.code, 0);
  assert.equal(okLease.partnerLifetimeSent, T0 + 5400_000);
  const o = leaseOpts(ok);
  assert.deepEqual(o.map((x) => x.code), [114, 134, 124]);
  // A lease-level rejection.
  const l = p.ias[0].leases[0] as ReceivedLease;
  const rej = parseBndreply(
    roundTrip(bndreplyOptions(p, new Map([[l, { code: 19, message: "old" }]])), 25),
  );
  assert.equal(rej.leases[0].status.code, 19);
  assert.equal(
    leaseOpts(roundTrip(bndreplyOptions(p, new Map([[l, { code: 19, message: "old" }]])), 25))[0]
      .code,
    13,
  );
  // A CLIENT_DATA-level rejection covers every lease beneath it.
  const top = parseBndreply(
    roundTrip(bndreplyOptions({ ...p, error: { code: 17, message: "vpn" } }), 25),
  );
  assert.equal(top.leases[0].status.code, 17);
  // No lease at all: message-level status.
  const none = roundTrip(bndreplyOptions({ shape: "none", error: { code: 18, message: "x" } }), 25);
  assert.equal(parseBndreply(none).messageStatus?.code, 18);
});

Deno.test("bindingKeysOf: the addresses and prefixes a BNDUPD/BNDREPLY names", () => {
  const a = roundTrip(bndupdOptions(activeLease("2001:db8::7", "00010203", T0), T0)!);
  assert.deepEqual(bindingKeysOf(a), [{ kind: "na", address: "2001:db8::7", prefixLength: 128 }]);
  const pd = { ...emptyLease({ kind: "pd", address: "2001:db8:1::", prefixLength: 48 }, "FREE") };
  assert.deepEqual(bindingKeysOf(roundTrip(bndupdOptions(pd, T0)!)), [{
    kind: "pd",
    address: "2001:db8:1::",
    prefixLength: 48,
  }]);
  assert.deepEqual(bindingKeysOf(failoverMessage(35, 1, W0)), []);
});
