import assert from "node:assert/strict";
import { MemoryBindingStore } from "../../lib/store/memory.ts";
import { findMalformed, validateMessage } from "../../lib/server/validate.ts";
import { MessageType as T, StatusCode } from "../../lib/wire/types.ts";
import {
  assertDrop,
  cid,
  innerOf,
  msg,
  na,
  OTHER_SERVER_DUID,
  pd,
  run,
  SERVER_DUID,
  settings,
  sid,
  statusIn,
} from "./helpers.ts";

const ctx = { serverDuid: SERVER_DUID, unicast: false, unicastAllowed: false };

function reason(m: ReturnType<typeof msg>, over: Partial<typeof ctx> = {}): string {
  const v = validateMessage(m, { ...ctx, ...over });
  return v.kind === "drop" ? v.reason : v.kind;
}

Deno.test("validate: a well-formed message of each served type is valid", () => {
  assert.equal(reason(msg(T.SOLICIT, [cid(1), na(1)])), "valid");
  assert.equal(reason(msg(T.REQUEST, [cid(1), sid(), na(1)])), "valid");
  assert.equal(reason(msg(T.RENEW, [cid(1), sid(), na(1)])), "valid");
  assert.equal(reason(msg(T.RELEASE, [cid(1), sid(), na(1)])), "valid");
  assert.equal(reason(msg(T.DECLINE, [cid(1), sid(), na(1)])), "valid");
  assert.equal(reason(msg(T.CONFIRM, [cid(1), na(1)])), "valid");
  assert.equal(reason(msg(T.REBIND, [cid(1), na(1)])), "valid");
  assert.equal(reason(msg(T.INFORMATION_REQUEST, [])), "valid");
  assert.equal(reason(msg(T.INFORMATION_REQUEST, [cid(1), sid()])), "valid");
});

Deno.test("validate: Solicit needs a Client Identifier and no Server Identifier (§16.2)", () => {
  assert.equal(reason(msg(T.SOLICIT, [na(1)])), "missing-client-id");
  assert.equal(reason(msg(T.SOLICIT, [cid(1), sid()])), "unexpected-server-id");
});

for (
  const [name, t] of [["Request", T.REQUEST], ["Renew", T.RENEW], ["Release", T.RELEASE], [
    "Decline",
    T.DECLINE,
  ]] as const
) {
  Deno.test(`validate: ${name} needs our Server Identifier and a Client Identifier (§16)`, () => {
    assert.equal(reason(msg(t, [cid(1)])), "missing-server-id");
    assert.equal(reason(msg(t, [cid(1), sid(OTHER_SERVER_DUID)])), "wrong-server-id");
    assert.equal(reason(msg(t, [sid()])), "missing-client-id");
  });
}

for (const [name, t] of [["Confirm", T.CONFIRM], ["Rebind", T.REBIND]] as const) {
  Deno.test(`validate: ${name} needs a Client Identifier and no Server Identifier (§16)`, () => {
    assert.equal(reason(msg(t, [na(1)])), "missing-client-id");
    assert.equal(reason(msg(t, [cid(1), sid()])), "unexpected-server-id");
  });
}

Deno.test("validate: Information-request: Server Identifier must be ours; no IA option (§16.12)", () => {
  assert.equal(reason(msg(T.INFORMATION_REQUEST, [sid(OTHER_SERVER_DUID)])), "wrong-server-id");
  assert.equal(reason(msg(T.INFORMATION_REQUEST, [cid(1), na(1)])), "ia-in-information-request");
  assert.equal(reason(msg(T.INFORMATION_REQUEST, [cid(1), pd(1)])), "ia-in-information-request");
  assert.equal(
    reason(msg(T.INFORMATION_REQUEST, [cid(1), { code: 4, iaid: 1, options: [] }])),
    "ia-in-information-request",
  );
});

Deno.test("validate: Advertise, Reply and Reconfigure are not for a server; others unsupported", () => {
  for (const t of [T.ADVERTISE, T.REPLY, T.RECONFIGURE]) {
    assert.equal(reason(msg(t, [cid(1), sid()])), "not-for-server");
  }
  for (const t of [T.LEASEQUERY, T.DHCPV4_QUERY, 200]) {
    assert.equal(reason(msg(t, [cid(1)])), "unsupported-type");
  }
});

Deno.test("validate: malformed options anywhere, duplicate identifiers and bad DUIDs drop", () => {
  const bad = { code: 8, malformed: true as const, length: 1, data: new Uint8Array([1]) };
  assert.equal(reason(msg(T.SOLICIT, [cid(1), bad])), "malformed");
  const badInIa = {
    ...na(1),
    options: [{ code: 5, malformed: true as const, length: 3, data: new Uint8Array(3) }],
  };
  assert.equal(reason(msg(T.SOLICIT, [cid(1), badInIa])), "malformed");
  assert.match(
    findMalformed([cid(1), badInIa]) ?? "",
    /option\[1\]\(code 3\)\.option\[0\]\(code 5\)/,
  );
  assert.equal(reason(msg(T.SOLICIT, [cid(1), cid(2)])), "malformed");
  assert.equal(reason(msg(T.REQUEST, [cid(1), sid(), sid()])), "malformed");
  assert.equal(
    reason(msg(T.SOLICIT, [{ code: 1, duid: new Uint8Array([0, 1]) }])),
    "bad-client-id",
  );
  assert.equal(reason(msg(T.SOLICIT, [{ code: 1, duid: new Uint8Array(131) }])), "bad-client-id");
  // A malformed Client Identifier counts as missing, and the option makes the message malformed.
  assert.equal(
    reason(msg(T.SOLICIT, [{ code: 1, malformed: true, length: 0, data: new Uint8Array() }])),
    "malformed",
  );
});

Deno.test("validate: unicast Solicit, Confirm and Rebind are dropped (§18.4)", () => {
  for (const t of [T.SOLICIT, T.CONFIRM, T.REBIND]) {
    assert.equal(reason(msg(t, [cid(1), na(1)]), { unicast: true }), "unicast-not-allowed");
    assert.equal(
      reason(msg(t, [cid(1), na(1)]), { unicast: true, unicastAllowed: true }),
      "unicast-not-allowed",
    );
  }
});

Deno.test("validate: other unicast messages get UseMulticast unless Server Unicast is configured", () => {
  for (const t of [T.REQUEST, T.RENEW, T.RELEASE, T.DECLINE]) {
    assert.equal(reason(msg(t, [cid(1), sid(), na(1)]), { unicast: true }), "use-multicast");
    assert.equal(
      reason(msg(t, [cid(1), sid(), na(1)]), { unicast: true, unicastAllowed: true }),
      "valid",
    );
  }
  assert.equal(reason(msg(T.INFORMATION_REQUEST, []), { unicast: true }), "use-multicast");
  // A message not for us is dropped before the unicast rule.
  assert.equal(
    reason(msg(T.REQUEST, [cid(1), sid(OTHER_SERVER_DUID)]), { unicast: true }),
    "wrong-server-id",
  );
});

Deno.test("handle: UseMulticast reply carries only ServerID, ClientID and the status", () => {
  const r = run(settings(), new MemoryBindingStore(), msg(T.REQUEST, [cid(7), sid(), na(1)]), 0, {
    unicast: true,
  });
  const m = innerOf(r);
  assert.equal(m.msgType, T.REPLY);
  assert.deepEqual(m.options.map((o) => o.code), [2, 1, 13]);
  assert.equal(statusIn(m.options), StatusCode.UseMulticast);
  assert.deepEqual((r as { changes: unknown[] }).changes, []);
});

Deno.test("handle: with a Server Unicast address, unicast Request is served and the option sent", () => {
  const s = settings(undefined, { serverUnicast: "2001:db8:1::53" });
  const r = run(s, new MemoryBindingStore(), msg(T.REQUEST, [cid(7), sid(), na(1)]), 0, {
    unicast: true,
  });
  const m = innerOf(r);
  assert.equal(statusIn(m.options), undefined);
  assert.equal(
    m.options.find((o) =>
      o.code === 12 && "serverAddress" in o && o.serverAddress === "2001:db8:1::53"
    )?.code,
    12,
  );
});

Deno.test("handle: every validation drop reaches the caller with its reason and request type", () => {
  const s = settings();
  const v = new MemoryBindingStore();
  const r = run(s, v, msg(T.RENEW, [cid(1), sid(OTHER_SERVER_DUID), na(1)]));
  assertDrop(r, "wrong-server-id");
  assert.equal(r.kind === "drop" && r.requestType, T.RENEW);
  assertDrop(run(s, v, msg(T.SOLICIT, [na(1)])), "missing-client-id");
  assertDrop(run(s, v, msg(T.REPLY, [cid(1), sid()])), "not-for-server");
  assertDrop(
    run(s, v, msg(T.SOLICIT, [cid(1), na(1)]), 0, { unicast: true }),
    "unicast-not-allowed",
  );
});
