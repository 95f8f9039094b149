/**
 * The public API in `mod.ts`: the documented exports resolve, the clashes it settles are
 * harmless (one `EndpointStateName`, two binding-status vocabularies that agree), and the
 * main paths work end to end through the package entry only.
 */
import assert from "node:assert/strict";
import * as api from "../mod.ts";
import {
  bndupdOptions,
  decodeMessage,
  Deframer,
  emptyLease,
  encodeMessage,
  type EndpointStateName,
  failoverMessage,
  type Lease,
  messageToJson,
  MessageType,
  parseBndupd,
  simulateSchedule,
  unixToFailoverTime,
} from "../mod.ts";
import type { EndpointStateName as McltEndpointStateName } from "../lib/failover/mclt.ts";
import { BINDING_STATUS_CODE, BINDING_STATUSES } from "../lib/store/types.ts";
import { ENDPOINT_STATE_NAMES } from "../lib/failover/endpoint.ts";

/** The value exports the module documentation promises (README / the brief's list). */
const VALUES = [
  // wire
  "decodeMessage",
  "encodeMessage",
  "Deframer",
  "frameMessage",
  "messageToJson",
  "renderMessage",
  "findOption",
  "clientId",
  "iaNa",
  "iaAddr",
  "iaPd",
  "iaPrefix",
  "statusCode",
  "clientData",
  "bindingStatus",
  "failoverMessage",
  "connectOptions",
  "stateOptions",
  "leaseOptions",
  "MessageType",
  "OptionCode",
  "StatusCode",
  "FailoverState",
  "BindingStatus",
  "DuidType",
  // capture
  "readCapture",
  "dissect",
  "TcpReassembler",
  "readTransport",
  "PcapngWriter",
  "buildUdp6Frame",
  "buildTcp6Frame",
  "CaptureError",
  "CaptureDecoder",
  "decodeCapture",
  // MCLT rules
  "clientValidLifetime",
  "partnerLifetimeToSend",
  "reuseTime",
  "recoverWaitEnd",
  "simulateSchedule",
  "scheduleSvg",
  // engine
  "createEngine",
  "step",
  "EngineDriver",
  "runPrimary",
  "runSecondary",
  "resolveConflict",
  "TRANSITIONS",
  "bndupdOptions",
  "parseBndupd",
  // partner
  "parseScenarios",
  "runScenarios",
  "conformanceFor",
  "CONFORMANCE",
  // store
  "SqliteBindingStore",
  "MemoryBindingStore",
  "BatchCommitter",
  // config
  "loadConfig",
  "defaultConfig",
  "formatConfigError",
  // server
  "ServerCore",
  "handle",
  "compileSettings",
  // util
  "FakeClock",
  "systemClock",
  "parseDuration",
  "formatDuration",
  "parseIPv6",
  "formatIPv6",
  "parsePrefix",
  "parseIPv6Bytes",
  "parseIPv6Into",
  "formatIPv6Bytes",
  "planReload",
  "formatChange",
  "pairPolicy",
  "responsiveness",
  "allocatesIn",
  "DhcpServer",
  "loadTlsFiles",
  "TlsFileError",
] as const;

Deno.test("mod.ts exports every value its documentation promises", () => {
  const exported = api as Record<string, unknown>;
  const absent = VALUES.filter((name) => exported[name] === undefined);
  assert.deepEqual(absent, []);
  for (const name of VALUES) {
    const kind = typeof exported[name];
    assert.ok(kind === "function" || kind === "object", `${name} is a ${kind}`);
  }
});

/** True when A and B are the same type (not merely assignable one way). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true
  : false;

Deno.test("the one exported EndpointStateName is the union mclt.ts declares too", () => {
  // Compile-time: fails `deno check` if the two unions ever differ.
  const same: Equal<EndpointStateName, McltEndpointStateName> = true;
  assert.equal(same, true);
  // And the engine's list of states is exactly that union, once each.
  assert.equal(new Set(ENDPOINT_STATE_NAMES).size, 10);
});

Deno.test("the wire BindingStatus codes agree with the store's binding-status names", () => {
  const wire = api.BindingStatus as Record<string, number>;
  for (const name of BINDING_STATUSES) {
    assert.equal(wire[name.replace("-", "_")], BINDING_STATUS_CODE[name], name);
  }
  assert.equal(Object.keys(wire).length, BINDING_STATUSES.length);
});

Deno.test("a BNDUPD built from a lease survives encode, framing, decode and parse", () => {
  const now = Date.UTC(2024, 2, 1, 12); // ms, the engine's unit
  const lease: Lease = {
    ...emptyLease({ kind: "na", address: "2001:db8::10" }, "ACTIVE"),
    clientDuid: "00030001020000000001",
    iaid: 7,
    preferredLifetime: 3600,
    validLifetime: 7200,
    startTimeOfState: now - 60_000,
    cltTime: now - 60_000,
    expirationTime: now + 7_140_000,
    stateExpirationTime: now + 7_140_000,
    partnerLifetime: now + 261_000_000,
  };
  const options = bndupdOptions(lease, now);
  assert.ok(options, "an ACTIVE lease with a client can be sent");
  const sent = failoverMessage(
    MessageType.BNDUPD,
    0x00abcd,
    unixToFailoverTime(now / 1000),
    options,
  );

  // Over a stream cut in two arbitrary places.
  const framed = api.frameMessage(encodeMessage(sent));
  const deframer = new Deframer();
  const frames = [
    ...deframer.push(framed.subarray(0, 1)).frames,
    ...deframer.push(framed.subarray(1, 40)).frames,
    ...deframer.push(framed.subarray(40)).frames,
  ];
  assert.equal(frames.length, 1);
  assert.equal(deframer.finish(), undefined);

  const { message, errors } = decodeMessage(frames[0].data);
  assert.deepEqual(errors, []);
  assert.deepEqual(message, sent);
  assert.equal(messageToJson(message!).msgName, "BNDUPD");

  assert.equal(message?.kind, "failover");
  const parsed = parseBndupd(message as api.FailoverMessage);
  assert.equal(parsed.shape, "client");
  if (parsed.shape !== "client") return;
  assert.equal(parsed.error, undefined);
  assert.equal(parsed.clientDuid, lease.clientDuid);
  const ia = parsed.ias[0];
  assert.deepEqual([ia.code, ia.iaid], [3, lease.iaid]);
  const got = ia.leases[0];
  assert.deepEqual(got.key, { kind: "na", address: lease.address, prefixLength: 128 });
  assert.equal(got.status, "ACTIVE");
  assert.equal(got.error, undefined);
  // Times travel in whole seconds since 2000 and come back as ms since 1970.
  assert.equal(got.startTimeOfState, lease.startTimeOfState);
  assert.equal(got.cltTime, lease.cltTime);
  assert.equal(got.partnerLifetime, lease.partnerLifetime);
  assert.equal(got.expirationTime, lease.expirationTime);
});

Deno.test("a cut BNDUPD decodes to typed errors, not an exception", () => {
  const bytes = encodeMessage(failoverMessage(MessageType.CONTACT, 1, 800000000));
  const cut = decodeMessage(bytes.subarray(0, 6));
  assert.equal(cut.message, undefined);
  assert.equal(cut.errors[0].kind, "message-too-short");
});

Deno.test("simulateSchedule reproduces the §4.4.1 worked example through mod.ts", () => {
  // Digest §7.3: desired 3 days, MCLT 1 hour, T1 at half the lifetime, t0 = 600000000.
  const t0 = 600000000;
  const rows = simulateSchedule({
    start: t0,
    desired: 259200,
    mclt: 3600,
    t1Fraction: 0.5,
    renewals: 2,
  });
  const grants = rows.filter((r) => r.event === "request" || r.event === "renew");
  assert.equal(grants[0].clientLifetime, 3600); // step 1: nothing acked yet, one MCLT
  assert.equal(grants[0].clientExpiry, 600003600);
  const firstBndupd = rows.find((r) => r.event === "bndupd");
  assert.equal(firstBndupd?.partnerLifetimeSent, 600261000); // step 2
  assert.equal(grants[1].time, 600001800); // step 4: renew at T1 ...
  assert.equal(grants[1].clientLifetime, 259200); // ... gets the full 3 days
  assert.equal(grants[2].time, 600131400); // step 6
  assert.equal(grants[2].clientLifetime, 259200);
});
