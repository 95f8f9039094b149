import assert from "node:assert/strict";
import { mandatoryOptionProblems, type RuleContext, RULES } from "../../lib/partner/rules.ts";
import { leaseTree } from "../../lib/partner/build.ts";
import { bndreplyFor } from "../../lib/partner/reply.ts";
import { connectOptions, stateOptions, statusCode } from "../../lib/wire/options.ts";
import type { DhcpOption, FailoverMessage, Message } from "../../lib/wire/types.ts";

const fo = (msgType: number, xid: number, options: DhcpOption[]): FailoverMessage => ({
  kind: "failover",
  msgType: msgType as FailoverMessage["msgType"],
  transactionId: xid,
  sentTime: 0,
  options,
});

function ctx(requests: Message[] = [], mclt = 3600): RuleContext {
  return {
    mclt,
    requestFor: (reply, xid) =>
      requests.find((r) =>
        r.kind === "failover" && r.transactionId === xid &&
        ({ 25: [24], 27: [26], 30: [28, 29], 32: [31] } as Record<number, number[]>)[reply]
          ?.includes(r.msgType)
      ),
  };
}

const connect = fo(31, 5, connectOptions({ mclt: 3600, keepaliveTime: 60, maxUnackedBndupd: 10 }));

Deno.test("connect-options: all five present and sane passes; each missing one is named", () => {
  assert.deepEqual(RULES["connect-options"].check(connect, ctx()), []);
  for (const code of [127, 122, 128, 121, 115]) {
    const m = fo(31, 5, connect.options.filter((o) => o.code !== code));
    const p = RULES["connect-options"].check(m, ctx());
    assert.equal(p.length, 1);
    assert.match(p[0], /^CONNECT lacks OPTION_F_/);
  }
  const twice = fo(31, 5, [...connect.options, { code: 122, mclt: 5 }]);
  assert.match(RULES["connect-options"].check(twice, ctx())[0], /OPTION_F_MCLT 2 times/);
  const v2 = fo(
    31,
    5,
    connectOptions({ mclt: 1, keepaliveTime: 1, maxUnackedBndupd: 1, majorVersion: 2 }),
  );
  assert.match(RULES["connect-options"].check(v2, ctx())[0], /protocol version 2\.0/);
});

Deno.test("connectreply-accept: xid echo, no status, same MCLT", () => {
  const ok = fo(32, 5, connectOptions({ mclt: 3600, keepaliveTime: 30, maxUnackedBndupd: 4 }));
  assert.deepEqual(RULES["connectreply-accept"].check(ok, ctx([connect])), []);
  const wrongXid = { ...ok, transactionId: 6 };
  assert.match(
    RULES["connectreply-accept"].check(wrongXid, ctx([connect]))[0],
    /answers no outstanding CONNECT/,
  );
  const mclt = fo(32, 5, connectOptions({ mclt: 60, keepaliveTime: 30, maxUnackedBndupd: 4 }));
  assert.match(RULES["connectreply-accept"].check(mclt, ctx([connect]))[0], /MCLT 60 differs/);
  const rejected = fo(32, 5, [statusCode(22, "skew")]);
  assert.match(
    RULES["connectreply-accept"].check(rejected, ctx([connect]))[0],
    /rejects: status 22 \(ExcessiveTimeSkew\)/,
  );
  assert.deepEqual(RULES["connectreply-reject"].check(rejected, ctx([connect])), []);
  assert.match(RULES["connectreply-reject"].check(ok, ctx([connect]))[0], /it accepts/);
});

Deno.test("state-options: PARTNER_DOWN_TIME iff PARTNER-DOWN, STARTUP never as a state, flags MBZ", () => {
  const st = (o: Parameters<typeof stateOptions>[0]) => fo(34, 1, stateOptions(o));
  assert.deepEqual(
    RULES["state-options"].check(st({ serverState: 2, flags: 1, startTimeOfState: 9 }), ctx()),
    [],
  );
  assert.deepEqual(
    RULES["state-options"].check(
      st({ serverState: 4, flags: 1, startTimeOfState: 9, partnerDownTime: 9 }),
      ctx(),
    ),
    [],
  );
  assert.match(
    RULES["state-options"].check(st({ serverState: 4, flags: 1, startTimeOfState: 9 }), ctx())[0],
    /lacks OPTION_F_PARTNER_DOWN_TIME/,
  );
  assert.match(
    RULES["state-options"].check(
      st({ serverState: 2, flags: 1, startTimeOfState: 9, partnerDownTime: 9 }),
      ctx(),
    )[0],
    /carries OPTION_F_PARTNER_DOWN_TIME/,
  );
  assert.match(
    RULES["state-options"].check(st({ serverState: 1, flags: 2, startTimeOfState: 9 }), ctx())[0],
    /STARTUP travels as a flag/,
  );
  assert.match(
    RULES["state-options"].check(
      st({ serverState: 2, flags: 0x80, startTimeOfState: 9 }),
      ctx(),
    )[0],
    /must-be-zero/,
  );
});

const lc = { now: 1000, mclt: 60 };
const bndupd = fo(24, 9, leaseTree({ client: "000300010203", address: "2001:db8::9" }, lc));

Deno.test("bndupd-shape: the lease shorthand is well formed; each defect is reported", () => {
  assert.deepEqual(RULES["bndupd-shape"].check(bndupd, ctx()), []);
  assert.deepEqual(
    RULES["bndupd-shape"].check(
      fo(24, 1, leaseTree({ prefix: "2001:db8::/48", status: "FREE" }, lc)),
      ctx(),
    ),
    [],
  );
  assert.match(
    RULES["bndupd-shape"].check(fo(24, 1, []), ctx())[0],
    /exactly one OPTION_CLIENT_DATA or one OPTION_IAPREFIX/,
  );
  assert.match(
    RULES["bndupd-shape"].check(fo(24, 1, [...bndupd.options, ...bndupd.options]), ctx())[0],
    /has 2 and 0/,
  );
  const strip = (o: DhcpOption, code: number): DhcpOption =>
    "options" in o && Array.isArray(o.options)
      ? {
        ...o,
        options: o.options.filter((x) => x.code !== code).map((x) => strip(x, code)),
      } as DhcpOption
      : o;
  assert.match(
    RULES["bndupd-shape"].check(fo(24, 1, [strip(bndupd.options[0], 120)]), ctx())[0],
    /but not OPTION_F_EXPIRATION_TIME/,
  );
  assert.match(
    RULES["bndupd-shape"].check(fo(24, 1, [strip(bndupd.options[0], 100)]), ctx())[0],
    /lacks OPTION_LQ_BASE_TIME/,
  );
  const noTimed = [120, 123, 134].reduce((o, c) => strip(o, c), bndupd.options[0]);
  assert.match(RULES["bndupd-shape"].check(fo(24, 1, [noTimed]), ctx())[0], /ACTIVE lacks/);
});

Deno.test("bndreply-mirrors: our own mirror passes; wrong echo, missing lease, extra lease fail", () => {
  const c = ctx([bndupd]);
  const good = bndreplyFor(bndupd, 1000);
  assert.deepEqual(RULES["bndreply-mirrors"].check(good, c), []);
  const json = JSON.stringify(
    good.options,
    (_k, v) => v instanceof Uint8Array ? { u8: [...v] } : v,
  );
  const revive = (s: string) =>
    JSON.parse(s, (_k, v) => v && typeof v === "object" && "u8" in v ? new Uint8Array(v.u8) : v);
  const pl = revive(
    json.replace(
      /"partnerLifetimeSent":(\d+)/,
      (_m, n) => `"partnerLifetimeSent":${Number(n) + 1}`,
    ),
  );
  assert.match(
    RULES["bndreply-mirrors"].check(fo(25, 9, pl), c)[0],
    /is not the PARTNER_LIFETIME .* we sent/,
  );
  const other = revive(json.replace("2001:db8::9", "2001:db8::a"));
  const p = RULES["bndreply-mirrors"].check(fo(25, 9, other), c);
  assert.ok(p.some((x) => /carries .*2001:db8::a, which the BNDUPD did not/.test(x)));
  assert.ok(p.some((x) => /lacks .*2001:db8::9/.test(x)));
  assert.match(
    RULES["bndreply-mirrors"].check({ ...good, transactionId: 10 }, c)[0],
    /answers no BNDUPD we sent/,
  );
  const rejectedTop = bndreplyFor(bndupd, 1000, { code: 19 });
  assert.deepEqual(RULES["bndreply-mirrors"].check(rejectedTop, c), []);
});

Deno.test("mandatoryOptionProblems covers the message types of digest §2.2", () => {
  assert.deepEqual(mandatoryOptionProblems(connect), []);
  assert.deepEqual(
    mandatoryOptionProblems(fo(32, 1, [statusCode(14)])),
    [],
    "a rejecting CONNECTREPLY needs only a status",
  );
  assert.equal(mandatoryOptionProblems(fo(34, 1, [])).length, 3);
  assert.deepEqual(mandatoryOptionProblems(fo(25, 1, [statusCode(18)])), []);
  assert.match(mandatoryOptionProblems(fo(25, 1, []))[0], /BNDREPLY must carry exactly one/);
  assert.deepEqual(mandatoryOptionProblems(fo(35, 1, [])), []);
});
