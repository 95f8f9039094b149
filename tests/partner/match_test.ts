import assert from "node:assert/strict";
import { checkMatcher, matchAll, resolvePath } from "../../lib/partner/match.ts";
import { messageToJson } from "../../lib/wire/render.ts";
import { stateOptions } from "../../lib/wire/options.ts";
import type { FailoverMessage } from "../../lib/wire/types.ts";

const bndreply: FailoverMessage = {
  kind: "failover",
  msgType: 25,
  transactionId: 7,
  sentTime: 100,
  options: [{
    code: 45,
    options: [
      { code: 1, duid: new Uint8Array([0, 3, 0, 1, 1, 2, 3, 4, 5, 6]) },
      {
        code: 3,
        iaid: 1,
        t1: 0,
        t2: 0,
        options: [
          {
            code: 5,
            address: "2001:db8::1",
            preferredLifetime: 0,
            validLifetime: 0,
            options: [{ code: 114, bindingStatus: 1 }],
          },
          {
            code: 5,
            address: "2001:db8::2",
            preferredLifetime: 0,
            validLifetime: 0,
            options: [{ code: 13, statusCode: 19, statusMessage: "old" }, {
              code: 124,
              partnerLifetimeSent: 999,
            }],
          },
        ],
      },
    ],
  }],
};
const json = messageToJson(bndreply);

Deno.test("resolvePath: header fields, option names with and without OPTION_ and options.", () => {
  assert.deepEqual(resolvePath(json, "transactionId"), { found: true, value: 7 });
  assert.deepEqual(resolvePath(json, "msgName"), { found: true, value: "BNDREPLY" });
  const a = resolvePath(json, "options.OPTION_CLIENT_DATA.OPTION_IA_NA.OPTION_IAADDR.address");
  const b = resolvePath(json, "CLIENT_DATA.IA_NA.IAADDR.address");
  const c = resolvePath(json, "client-data.ia-na.iaaddr.address");
  assert.deepEqual(a, { found: true, value: "2001:db8::1" });
  assert.deepEqual(b, a);
  assert.deepEqual(c, a);
});

Deno.test("resolvePath: [n] picks the n-th option of a name, and plain list indexes", () => {
  assert.deepEqual(resolvePath(json, "CLIENT_DATA.IA_NA.IAADDR[1].address"), {
    found: true,
    value: "2001:db8::2",
  });
  assert.deepEqual(resolvePath(json, "CLIENT_DATA.IA_NA.IAADDR[1].STATUS_CODE.statusName"), {
    found: true,
    value: "OutdatedBindingInformation",
  });
  assert.deepEqual(resolvePath(json, "options[0].name"), {
    found: true,
    value: "OPTION_CLIENT_DATA",
  });
  assert.equal(resolvePath(json, "CLIENT_DATA.IA_NA.IAADDR[2]").found, false);
});

Deno.test("resolvePath: a missing part says where the path ran out", () => {
  const r = resolvePath(json, "CLIENT_DATA.IA_PD.IAPREFIX.prefix");
  assert.deepEqual(r, { found: false, at: "CLIENT_DATA.IA_PD" });
});

Deno.test("checkMatcher: equality, names loosely, numbers against numeric text, null = absent", () => {
  const f = (value: unknown) => ({ found: true as const, value });
  assert.equal(checkMatcher(f(5), 5), undefined);
  assert.equal(checkMatcher(f(5), "5"), undefined);
  assert.equal(checkMatcher(f("PARTNER-DOWN"), "partner_down"), undefined);
  assert.match(checkMatcher(f(5), 6)!, /is 5, expected 6/);
  assert.equal(checkMatcher({ found: false, at: "x" }, null), undefined);
  assert.match(checkMatcher(f(1), null)!, /expected absent/);
  assert.match(checkMatcher({ found: false, at: "a.b" }, 1)!, /absent \(nothing at a.b\)/);
});

Deno.test("checkMatcher: operators", () => {
  const f = (value: unknown) => ({ found: true as const, value });
  assert.equal(checkMatcher(f(10), { gt: 5, le: 10 }), undefined);
  assert.match(checkMatcher(f(10), { lt: 10 })!, /expected lt 10/);
  assert.equal(checkMatcher(f("NORMAL"), { in: ["RECOVER", "NORMAL"] }), undefined);
  assert.match(checkMatcher(f("NORMAL"), { notIn: ["NORMAL"] })!, /notIn/);
  assert.equal(checkMatcher(f("abc123"), { matches: "^abc\\d+$" }), undefined);
  assert.match(checkMatcher(f("abc"), { matches: "(" })!, /bad regular expression/);
  assert.equal(checkMatcher(f(1003), { near: 1000 }), undefined);
  assert.match(checkMatcher(f(1010), { near: 1000, tolerance: 2 })!, /± 2/);
  assert.equal(checkMatcher({ found: false, at: "x" }, { present: false }), undefined);
  assert.match(checkMatcher({ found: false, at: "x" }, { present: true })!, /absent/);
  assert.equal(checkMatcher(f(3), { ne: 4 }), undefined);
  assert.match(checkMatcher(f("x"), { gt: 1 })!, /not comparable/);
});

Deno.test("matchAll reports one line per failing path", () => {
  const st = messageToJson({
    kind: "failover",
    msgType: 34,
    transactionId: 1,
    sentTime: 0,
    options: stateOptions({ serverState: 2, flags: 1, startTimeOfState: 5 }),
  });
  assert.deepEqual(
    matchAll(st, { "F_SERVER_STATE.serverStateName": "NORMAL", "F_SERVER_FLAGS.startup": false }),
    [],
  );
  const bad = matchAll(st, {
    "F_SERVER_STATE.serverStateName": "RECOVER",
    "F_PARTNER_DOWN_TIME": { present: true },
  });
  assert.equal(bad.length, 2);
  assert.match(bad[0], /^F_SERVER_STATE.serverStateName is "NORMAL", expected "RECOVER"/);
});
