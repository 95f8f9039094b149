import assert from "node:assert/strict";
import { decodeMessage } from "../../lib/wire/decode.ts";
import { decodeName, encodeName, isNameError } from "../../lib/wire/dnsname.ts";
import { duidEn, duidLl, duidLlt, duidToJson, parseDuid } from "../../lib/wire/duid.ts";
import { encodeMessage, encodeOption } from "../../lib/wire/encode.ts";
import { WireEncodeError } from "../../lib/wire/errors.ts";
import { formatIPv6Bytes, parseIPv6Bytes } from "../../lib/util/ipv6_octets.ts";
import { canonicalIPv6 } from "../../lib/util/ipv6.ts";
import {
  clientData,
  clientId,
  connectOptions,
  failoverMessage,
  findOption,
  findOptions,
  iaAddr,
  iaNa,
  iaPd,
  iaPrefix,
  isKnownOption,
  leaseOptions,
  serverFlags,
  stateOptions,
} from "../../lib/wire/options.ts";
import { BindingStatus, FailoverState, MessageType, ServerFlag } from "../../lib/wire/types.ts";
import { be, cat, foHeader, hex, opt, utf8 } from "./helpers.ts";

Deno.test("ipv6: RFC 5952 canonical text", () => {
  const cases: [string, string][] = [
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // one zero group is not compressed
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"], // the longest run
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // the first of equal runs
    ["0:0:0:0:0:0:0:0", "::"],
    ["::1", "::1"],
    ["1::", "1::"],
    ["FE80::ABCD", "fe80::abcd"],
    ["::ffff:c000:0201", "::ffff:192.0.2.1"],
    ["::192.0.2.1", "::c000:201"],
  ];
  for (const [input, want] of cases) assert.equal(canonicalIPv6(input), want, input);
  for (
    const bad of [
      "",
      ":",
      "1:2:3:4:5:6:7",
      "1::2::3",
      "12345::",
      "1:2:3:4:5:6:7:8:9",
      "::g",
      "::1.2.3.256",
    ]
  ) {
    assert.equal(parseIPv6Bytes(bad), undefined, bad);
  }
  assert.equal(formatIPv6Bytes(hex("00 20010db8000000000000000000000001"), 1), "2001:db8::1");
});

Deno.test("names: wire <-> text, partial names, errors", () => {
  const wire = hex("05686f737433 076578616d706c65 03636f6d 00");
  const r = decodeName(wire, 0, wire.length, false);
  assert.deepStrictEqual(r, { name: "host3.example.com", partial: false, length: wire.length });
  assert.deepStrictEqual(encodeName("host3.example.com"), wire);
  assert.deepStrictEqual(encodeName("host3.example.com."), wire);
  assert.deepStrictEqual(encodeName("host3", true), hex("05686f737433"));
  assert.deepStrictEqual(encodeName(""), hex("00"));
  assert.deepStrictEqual(encodeName("a\\.b"), hex("03 612e62 00"));
  assert.deepStrictEqual(encodeName("a\\046b"), hex("03 612e62 00"));
  assert.equal(typeof encodeName("a..b"), "string");
  assert.equal(typeof encodeName("x".repeat(64)), "string");
  assert.equal(typeof encodeName("caf\u00e9"), "string");
  const ptr = decodeName(hex("c00c"), 0, 2, true);
  assert.ok(isNameError(ptr));
  const past = decodeName(hex("05 6162"), 0, 3, true);
  assert.ok(isNameError(past) && past.at === 0);
});

Deno.test("duid: build, parse and oracle JSON of LLT, EN, LL, UUID and others", () => {
  const llt = duidLlt(1, 700000000, hex("001122334455"));
  assert.deepStrictEqual(llt, hex("0001000129b92700001122334455"));
  assert.deepStrictEqual(duidToJson(llt), {
    type: 1,
    hwType: 1,
    time: 700000000,
    linkLayerAddress: "00:11:22:33:44:55",
    hex: "0001000129b92700001122334455",
  });
  const en = duidEn(32473, hex("0a0b0c0d0e0f"));
  assert.deepStrictEqual(duidToJson(en), {
    type: 2,
    enterpriseNumber: 32473,
    identifier: "0a0b0c0d0e0f",
    hex: "000200007ed90a0b0c0d0e0f",
  });
  assert.deepStrictEqual(duidToJson(duidLl(1, hex("001122334466"))), {
    type: 3,
    hwType: 1,
    linkLayerAddress: "00:11:22:33:44:66",
    hex: "00030001001122334466",
  });
  const uuid = cat(be(4, 2), hex("00112233445566778899aabbccddeeff"));
  assert.deepStrictEqual(parseDuid(uuid), {
    type: 4,
    uuid: "00112233-4455-6677-8899-aabbccddeeff",
  });
  assert.deepStrictEqual(duidToJson(hex("0009 abcd")), {
    type: 9,
    identifier: "abcd",
    hex: "0009abcd",
  });
  assert.deepStrictEqual(parseDuid(hex("0001 0001")), {
    type: 1,
    other: true,
    identifier: hex("0001"),
  });
});

Deno.test("encode: builders produce the oracle BNDUPD octets", () => {
  const duid = hex("0001000129b92700001122335010");
  const m = failoverMessage(MessageType.BNDUPD, 261, 762609610, [
    clientData([
      clientId(duid),
      { code: 100, baseTime: 762609610 },
      iaNa(1, 1800, 2880, [
        iaAddr(
          "2001:db8:1::100",
          3600,
          7200,
          leaseOptions({
            bindingStatus: BindingStatus.ACTIVE,
            startTimeOfState: 762609580,
            stateExpirationTime: 762616810,
            cltTime: 12,
            partnerLifetime: 762618610,
            partnerRawCltTime: 762609598,
            expirationTime: 762616810,
          }),
        ),
      ]),
    ]),
  ]);
  const want = cat(
    foHeader(24, 261, 762609610),
    opt(
      45,
      cat(
        opt(1, duid),
        opt(100, be(762609610, 4)),
        opt(
          3,
          cat(
            be(1, 4),
            be(1800, 4),
            be(2880, 4),
            opt(
              5,
              cat(
                hex("20010db8000100000000000000000100"),
                be(3600, 4),
                be(7200, 4),
                opt(114, be(1, 1)),
                opt(133, be(762609580, 4)),
                opt(134, be(762616810, 4)),
                opt(46, be(12, 4)),
                opt(123, be(762618610, 4)),
                opt(126, be(762609598, 4)),
                opt(120, be(762616810, 4)),
              ),
            ),
          ),
        ),
      ),
    ),
  );
  assert.deepStrictEqual(encodeMessage(m), want);
  assert.deepStrictEqual(decodeMessage(want).message, m);
});

Deno.test("encode: CONNECT and STATE builders", () => {
  const connect = failoverMessage(
    MessageType.CONNECT,
    257,
    762609600,
    connectOptions({
      mclt: 3600,
      keepaliveTime: 60,
      maxUnackedBndupd: 10,
      relationshipName: "fo-pair-1",
    }),
  );
  assert.equal(encodeMessage(connect).length, 59);
  assert.equal(findOption(connect.options, 122)?.mclt, 3600);
  assert.equal(findOption(connect.options, 130)?.relationshipName, "fo-pair-1");
  assert.equal(findOption(connect.options, 13), undefined);
  const flags = serverFlags({ communicated: true, startup: true });
  assert.equal(flags, ServerFlag.COMMUNICATED | ServerFlag.STARTUP);
  const state = stateOptions({
    serverState: FailoverState.PARTNER_DOWN,
    flags,
    startTimeOfState: 5,
    partnerDownTime: 4,
  });
  assert.deepStrictEqual(state.map((o) => o.code), [132, 131, 133, 125]);
  const bndreply = leaseOptions({
    bindingStatus: 3,
    status: { code: 17, message: "address not in configuration" },
  });
  assert.deepStrictEqual(bndreply.map((o) => o.code), [13, 114]);
  const pd = iaPd(3, 0, 0, [iaPrefix("2001:db8:100::", 56, 0, 0), {
    code: 999,
    raw: true,
    data: hex("00"),
  }]);
  assert.equal(findOptions(pd.options, 26).length, 1);
  assert.deepStrictEqual(pd.options.map(isKnownOption), [true, false]);
});

Deno.test("encode: values that cannot go on the wire throw WireEncodeError with a path", () => {
  const bad = (f: () => unknown, path: string) =>
    assert.throws(f, (e: unknown) => e instanceof WireEncodeError && e.path === path);
  bad(
    () => encodeOption(iaNa(1, 0, 0, [iaAddr("2001:db8::zz", 0, 0)])),
    "IA_NA.IAADDR[0].address",
  );
  bad(() => encodeOption({ code: 122, mclt: 2 ** 32 }), "F_MCLT.mclt");
  bad(() => encodeOption({ code: 122, mclt: -1 }), "F_MCLT.mclt");
  bad(() => encodeOption({ code: 122, mclt: 1.5 }), "F_MCLT.mclt");
  bad(() => encodeOption({ code: 24, domains: ["a..b"] }), "DOMAIN_LIST.domains[0]");
  bad(
    () => encodeMessage({ kind: "client-server", msgType: 24, transactionId: 1, options: [] }),
    "msgType",
  );
  bad(
    () =>
      encodeMessage({
        kind: "failover",
        msgType: 24,
        transactionId: 2 ** 24,
        sentTime: 0,
        options: [],
      }),
    "transactionId",
  );
  bad(
    () => encodeOption({ code: 18, interfaceId: new Uint8Array(70000) }),
    "INTERFACE_ID",
  );
  bad(
    () => encodeOption({ code: 1, malformed: true, length: 70000, data: new Uint8Array() }),
    "CLIENTID.length",
  );
});

Deno.test("encode: malformed options write their recorded length", () => {
  const o = encodeOption({ code: 6, malformed: true, length: 200, data: hex("0017") });
  assert.deepStrictEqual(o, cat(be(6, 2), be(200, 2), hex("0017")));
  assert.deepStrictEqual(encodeOption({ code: 130, relationshipName: "fo" }), opt(130, utf8("fo")));
});
