import assert from "node:assert/strict";
import {
  BuildError,
  buildOption,
  buildOptions,
  checkOptions,
  leaseTree,
  serverFlagsValue,
  statusValue,
} from "../../lib/partner/build.ts";
import { decodeMessage } from "../../lib/wire/decode.ts";
import { encodeMessage } from "../../lib/wire/encode.ts";
import { findOption } from "../../lib/wire/options.ts";
import type { DhcpOption, FailoverMessage } from "../../lib/wire/types.ts";

function roundTrip(options: DhcpOption[]): FailoverMessage {
  const m: FailoverMessage = {
    kind: "failover",
    msgType: 24,
    transactionId: 1,
    sentTime: 0,
    options,
  };
  const d = decodeMessage(encodeMessage(m));
  assert.deepEqual(d.errors, []);
  return d.message as FailoverMessage;
}

Deno.test("typed options by name, short name and number; single-field shorthand", () => {
  assert.deepEqual(buildOption({ OPTION_F_MCLT: { mclt: 60 } }, "o"), { code: 122, mclt: 60 });
  assert.deepEqual(buildOption({ F_MCLT: 60 }, "o"), { code: 122, mclt: 60 });
  assert.deepEqual(buildOption({ "f-mclt": "0x3c" }, "o"), { code: 122, mclt: 60 });
  assert.deepEqual(buildOption({ 122: 60 }, "o"), { code: 122, mclt: 60 });
  assert.deepEqual(buildOption({ F_PROTOCOL_VERSION: { majorVersion: 1, minorVersion: 0 } }, "o"), {
    code: 127,
    majorVersion: 1,
    minorVersion: 0,
  });
});

Deno.test("enumerations by name, flags by named booleans, octets as hex", () => {
  assert.deepEqual(buildOption({ F_SERVER_STATE: "partner-down" }, "o"), {
    code: 132,
    serverState: 4,
  });
  assert.deepEqual(buildOption({ F_BINDING_STATUS: "FREE_BACKUP" }, "o"), {
    code: 114,
    bindingStatus: 6,
  });
  assert.deepEqual(buildOption({ STATUS_CODE: { statusCode: "ExcessiveTimeSkew" } }, "o"), {
    code: 13,
    statusCode: 22,
    statusMessage: "",
  });
  assert.deepEqual(buildOption({ F_SERVER_FLAGS: { startup: true, communicated: true } }, "o"), {
    code: 131,
    flags: 3,
  });
  assert.deepEqual(buildOption({ CLIENTID: "00:03:00:01:02" }, "o"), {
    code: 1,
    duid: new Uint8Array([0, 3, 0, 1, 2]),
  });
});

Deno.test("containers nest; IAPREFIX takes prefix/len", () => {
  const [o] = buildOptions([{
    CLIENT_DATA: {
      options: [
        { CLIENTID: "000300010203" },
        {
          IA_PD: {
            iaid: 1,
            t1: 0,
            t2: 0,
            options: [{
              IAPREFIX: { prefix: "2001:db8:1::/48", preferredLifetime: 0, validLifetime: 0 },
            }],
          },
        },
      ],
    },
  }]);
  const m = roundTrip([o]);
  const pd = (m.options[0] as { options: DhcpOption[] }).options[1] as { options: DhcpOption[] };
  assert.deepEqual(pd.options[0], {
    code: 26,
    preferredLifetime: 0,
    validLifetime: 0,
    prefixLength: 48,
    prefix: "2001:db8:1::",
    options: [],
  });
});

Deno.test("raw and malformed options", () => {
  assert.deepEqual(buildOption({ code: 999, data: "abcd" }, "o"), {
    code: 999,
    raw: true,
    data: new Uint8Array([0xab, 0xcd]),
  });
  assert.deepEqual(buildOption({ code: "F_MCLT", data: "0001", length: 4 }, "o"), {
    code: 122,
    malformed: true,
    length: 4,
    data: new Uint8Array([0, 1]),
  });
});

Deno.test("a mapping of options keeps its order", () => {
  const opts = buildOptions({ F_MCLT: 1, F_KEEPALIVE_TIME: 2 });
  assert.deepEqual(opts.map((o) => o.code), [122, 128]);
});

Deno.test("errors name the field path", () => {
  const err = (f: () => unknown, re: RegExp) =>
    assert.throws(f, (e: Error) => e instanceof BuildError && re.test(e.message));
  err(
    () => buildOptions([{ F_MCLT: -1 }]),
    /^options\[0\]\.OPTION_F_MCLT\.mclt: expected an integer 0-4294967295/,
  );
  err(() => buildOptions([{ NOPE: 1 }]), /^options\[0\]: unknown option "NOPE"/);
  err(
    () => buildOptions([{ F_MCLT: { mcl: 5 } }]),
    /OPTION_F_MCLT\.mcl: unknown field of OPTION_F_MCLT \(mclt\)/,
  );
  err(() => buildOptions([{ IAADDR: { address: "zz" } }]), /IAADDR\.address: not an IPv6 address/);
  err(
    () => buildOptions([{ IAADDR: { address: "::1" } }]),
    /IAADDR\.preferredLifetime: missing field/,
  );
  err(() => buildOptions([{ F_SERVER_STATE: "SLEEPY" }]), /unknown failover state "SLEEPY"/);
  err(() => buildOptions([{ CLIENTID: "xyz" }]), /expected hex octets/);
  err(() => buildOptions([{ F_MCLT: 1, F_KEEPALIVE_TIME: 2 }]), /one key/);
  err(() => buildOptions([{ RELAY_MSG: {} }]), /no typed form here/);
  err(() => buildOptions("x"), /expected a list/);
});

Deno.test("checkOptions lets ${} values through but checks names and fields", () => {
  checkOptions([{ F_MCLT: "${mclt}" }, {
    IAADDR: { address: "${a}", preferredLifetime: 1, validLifetime: 2 },
  }]);
  assert.throws(() => checkOptions([{ F_MCLTX: "${mclt}" }]), /unknown option/);
  assert.throws(() => checkOptions([{ F_MCLT: { x: "${mclt}" } }]), /unknown field/);
});

Deno.test("leaseTree: CLIENT_DATA shape with the RFC 8156 §7.4 options and ACTIVE defaults", () => {
  const now = 1_000_000;
  const tree = leaseTree({ client: "00030001aabbccddeeff", address: "2001:db8::5" }, {
    now,
    mclt: 600,
  });
  const m = roundTrip(tree);
  const cd = findOption(m.options, 45)!;
  assert.deepEqual(findOption(cd.options, 100), { code: 100, baseTime: now });
  const ia = findOption(cd.options, 3)!;
  assert.deepEqual([ia.iaid, ia.t1, ia.t2], [1, 1800, 2880]);
  const leaf = findOption(ia.options, 5)!;
  assert.equal(leaf.address, "2001:db8::5");
  assert.deepEqual(leaf.options.map((o) => o.code), [114, 133, 134, 46, 123, 120]);
  assert.equal(findOption(leaf.options, 123)!.partnerLifetime, now + 3600 + 600);
  assert.equal(findOption(leaf.options, 134)!.stateExpirationTime, now + 3600);
});

Deno.test("leaseTree: non-ACTIVE statuses leave the timed options out; null removes a default", () => {
  const free = roundTrip(
    leaseTree({ client: "0003000101", address: "::5", status: "RELEASED" }, { now: 10, mclt: 1 }),
  );
  const leaf = findOption(findOption(findOption(free.options, 45)!.options, 3)!.options, 5)!;
  assert.deepEqual(leaf.options.map((o) => o.code), [114, 133]);
  const noPl = leaseTree({ client: "0003000101", address: "::5", partnerLifetime: null }, {
    now: 10,
    mclt: 1,
  });
  assert.ok(!JSON.stringify(noPl).includes('"code":123'));
});

Deno.test("leaseTree: standalone IAPREFIX with LQ_BASE_TIME inside; several leases of one client group by IA", () => {
  const [p] = leaseTree({ prefix: "2001:db8:ff00::/56", status: "FREE-BACKUP" }, {
    now: 5,
    mclt: 1,
  });
  assert.equal(p.code, 26);
  assert.deepEqual((p as { options: DhcpOption[] }).options.map((o) => o.code), [100, 114, 133]);
  const two = leaseTree([
    { client: "0003000101", address: "::1" },
    { client: "0003000101", address: "::2" },
    { client: "0003000101", prefix: "2001:db8::/64" },
  ], { now: 5, mclt: 1 });
  const cd = two[0] as { options: DhcpOption[] };
  assert.deepEqual(cd.options.map((o) => o.code), [1, 100, 3, 25]);
});

Deno.test("leaseTree: reply form carries status, binding status, state-expiration and PARTNER_LIFETIME_SENT only", () => {
  const [cd] = leaseTree({
    client: "0003000101",
    address: "::1",
    partnerLifetimeSent: 77,
    stateExpirationTime: 9,
    statusCode: 19,
  }, {
    now: 5,
    mclt: 1,
  }, true);
  const leaf = findOption(findOption((cd as { options: DhcpOption[] }).options, 3)!.options, 5)!;
  assert.deepEqual(leaf.options.map((o) => o.code), [13, 114, 134, 124]);
});

Deno.test("leaseTree: errors", () => {
  const lc = { now: 1, mclt: 1 };
  assert.throws(() => leaseTree({ address: "::1" }, lc), /needs a client/);
  assert.throws(
    () => leaseTree({ client: "00", address: "::1", prefix: "::/64" }, lc),
    /exactly one of address or prefix/,
  );
  assert.throws(() => leaseTree({ client: "00", prefix: "2001:db8::" }, lc), /needs a length/);
  assert.throws(
    () => leaseTree({ client: "00", address: "::1", ia: "pd" }, lc),
    /IA_PD carries prefixes/,
  );
  assert.throws(
    () => leaseTree({ client: "00", address: "::1", colour: 1 }, lc),
    /unknown lease key/,
  );
  assert.throws(
    () => leaseTree([{ client: "01", address: "::1" }, { client: "02", address: "::2" }], lc),
    /one client/,
  );
  assert.throws(
    () => leaseTree([{ prefix: "::/64" }, { prefix: "1::/64" }], lc),
    /one standalone IAPREFIX/,
  );
});

Deno.test("status and flag shorthands", () => {
  assert.deepEqual(statusValue("NotSupported", "s"), { code: 14, message: "" });
  assert.deepEqual(statusValue({ code: 20, message: "bye" }, "s"), { code: 20, message: "bye" });
  assert.equal(serverFlagsValue({ startup: true, ackStartup: true }, "f"), 6);
  assert.equal(serverFlagsValue(1, "f"), 1);
  assert.throws(() => serverFlagsValue({ sleepy: true }, "f"), /unknown flag/);
});
