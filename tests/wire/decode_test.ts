import assert from "node:assert/strict";
import { decodeMessage, decodeOptions } from "../../lib/wire/decode.ts";
import { encodeMessage } from "../../lib/wire/encode.ts";
import { errorToJson } from "../../lib/wire/errors.ts";
import { messageToJson } from "../../lib/wire/render.ts";
import type { DhcpOption, Message } from "../../lib/wire/types.ts";
import { addr, be, cat, csHeader, foHeader, hex, opt, relayHeader, utf8 } from "./helpers.ts";

/** Decodes, asserts no errors and the law-1 round trip, returns the message. */
function clean(bytes: Uint8Array): Message {
  const r = decodeMessage(bytes);
  assert.deepEqual(r.errors, []);
  assert.ok(r.message);
  assert.deepStrictEqual(encodeMessage(r.message), bytes);
  return r.message;
}

function onlyOption(bytes: Uint8Array): DhcpOption {
  const m = clean(cat(csHeader(7, 1), bytes));
  assert.equal(m.options.length, 1);
  return m.options[0];
}

const DUID_LLT = hex("0001 0001 29b92700 001122334455");

// ---------------------------------------------------------------------------------------
// Headers
// ---------------------------------------------------------------------------------------

Deno.test("header: client/server SOLICIT, 4 octets, 24-bit transaction-id", () => {
  const m = clean(
    cat(
      csHeader(1, 0x1a2b3c),
      opt(1, DUID_LLT),
      opt(8, be(0, 2)),
      opt(6, hex("0017 0018")),
      opt(3, cat(be(1, 4), be(0, 4), be(0, 4))),
    ),
  );
  assert.deepStrictEqual(m, {
    kind: "client-server",
    msgType: 1,
    transactionId: 0x1a2b3c,
    options: [
      { code: 1, duid: DUID_LLT },
      { code: 8, elapsedTime: 0 },
      { code: 6, requestedOptions: [23, 24] },
      { code: 3, iaid: 1, t1: 0, t2: 0, options: [] },
    ],
  });
});

Deno.test("header: failover CONNECT, 8 octets with sent-time (oracle CONNECT)", () => {
  const bytes = cat(
    foHeader(31, 257, 762609600),
    opt(127, hex("0001 0000")),
    opt(122, be(3600, 4)),
    opt(128, be(60, 4)),
    opt(121, be(10, 4)),
    opt(115, be(0, 2)),
    opt(130, utf8("fo-pair-1")),
  );
  assert.equal(bytes.length, 59); // messageSize in the oracle
  const m = clean(bytes);
  assert.deepStrictEqual(messageToJson(m), {
    msgType: 31,
    msgName: "CONNECT",
    transactionId: 257,
    sentTime: 762609600,
    options: [
      { code: 127, name: "OPTION_F_PROTOCOL_VERSION", length: 4, majorVersion: 1, minorVersion: 0 },
      { code: 122, name: "OPTION_F_MCLT", length: 4, mclt: 3600 },
      { code: 128, name: "OPTION_F_KEEPALIVE_TIME", length: 4, keepaliveTime: 60 },
      { code: 121, name: "OPTION_F_MAX_UNACKED_BNDUPD", length: 4, maxUnackedBndupd: 10 },
      { code: 115, name: "OPTION_F_CONNECT_FLAGS", length: 2, flags: 0, fixedPdLength: false },
      { code: 130, name: "OPTION_F_RELATIONSHIP_NAME", length: 9, relationshipName: "fo-pair-1" },
    ],
  });
});

Deno.test("header: every failover type 24-35 uses the 8-octet header, others 4", () => {
  for (let t = 1; t <= 35; t++) {
    if (t === 12 || t === 13) continue;
    const failover = t >= 24;
    const bytes = failover ? foHeader(t, 0xabcdef, 0x01020304) : csHeader(t, 0xabcdef);
    const m = clean(bytes);
    assert.equal(m.kind, failover ? "failover" : "client-server", `type ${t}`);
    if (m.kind === "failover") assert.equal(m.sentTime, 0x01020304);
  }
});

Deno.test("header: STARTTLS (23) and its REPLY (7) use the 4-octet header", () => {
  assert.deepStrictEqual(clean(csHeader(23, 5)), {
    kind: "client-server",
    msgType: 23,
    transactionId: 5,
    options: [],
  });
  const reply = clean(cat(csHeader(7, 5), opt(13, cat(be(15, 2), utf8("no TLS")))));
  assert.deepStrictEqual(reply.options, [{ code: 13, statusCode: 15, statusMessage: "no TLS" }]);
});

Deno.test("header: relay with 34-octet header and nested message", () => {
  const inner = cat(csHeader(1, 0x2468ac), opt(8, be(0, 2)));
  const bytes = cat(
    relayHeader(12, 1, addr("2001 db8 20 0 0 0 0 1"), addr("fe80 0 0 0 211 22ff fe33 4477")),
    opt(18, utf8("ge-0/0/2.0")),
    opt(9, inner),
  );
  const m = clean(bytes);
  assert.deepStrictEqual(m, {
    kind: "relay",
    msgType: 12,
    hopCount: 1,
    linkAddress: "2001:db8:20::1",
    peerAddress: "fe80::211:22ff:fe33:4477",
    options: [
      { code: 18, interfaceId: utf8("ge-0/0/2.0") },
      {
        code: 9,
        message: {
          kind: "client-server",
          msgType: 1,
          transactionId: 0x2468ac,
          options: [{ code: 8, elapsedTime: 0 }],
        },
      },
    ],
  });
  const json = messageToJson(m);
  assert.equal(json.transactionId, null);
  assert.equal((json.options as { interfaceId?: string }[])[0].interfaceId, "67652d302f302f322e30");
});

Deno.test("header: messages shorter than their header give message-too-short", () => {
  const cases: [Uint8Array, number][] = [
    [new Uint8Array(), 4],
    [hex("01 0000"), 4],
    [hex("18 000001 000000"), 8],
    [cat(be(12, 1), new Uint8Array(32)), 34],
  ];
  for (const [bytes, min] of cases) {
    const r = decodeMessage(bytes);
    assert.equal(r.message, undefined);
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0].kind, "message-too-short");
    assert.deepEqual(
      { ...errorToJson(r.errors[0]) },
      bytes.length === 0 ? { kind: "message-too-short", length: 0, minimumLength: min } : {
        kind: "message-too-short",
        msgType: bytes[0],
        length: bytes.length,
        minimumLength: min,
      },
    );
  }
});

// ---------------------------------------------------------------------------------------
// Option families
// ---------------------------------------------------------------------------------------

Deno.test("options: IA_NA > IAADDR > STATUS_CODE, IA_TA, IA_PD > IAPREFIX", () => {
  const iaaddr = opt(
    5,
    cat(
      addr("2001 db8 1 0 0 0 0 100"),
      be(3600, 4),
      be(7200, 4),
      opt(13, cat(be(2, 2), utf8("x"))),
    ),
  );
  const m = clean(
    cat(
      csHeader(7, 9),
      opt(3, cat(be(1, 4), be(1800, 4), be(2880, 4), iaaddr)),
      opt(4, cat(be(2, 4))),
      opt(
        25,
        cat(
          be(3, 4),
          be(0, 4),
          be(0, 4),
          opt(26, cat(be(0, 4), be(0, 4), be(56, 1), addr("0 0 0 0 0 0 0 0"))),
        ),
      ),
    ),
  );
  assert.deepStrictEqual(m.options, [
    {
      code: 3,
      iaid: 1,
      t1: 1800,
      t2: 2880,
      options: [{
        code: 5,
        address: "2001:db8:1::100",
        preferredLifetime: 3600,
        validLifetime: 7200,
        options: [{ code: 13, statusCode: 2, statusMessage: "x" }],
      }],
    },
    { code: 4, iaid: 2, options: [] },
    {
      code: 25,
      iaid: 3,
      t1: 0,
      t2: 0,
      options: [{
        code: 26,
        preferredLifetime: 0,
        validLifetime: 0,
        prefixLength: 56,
        prefix: "::",
        options: [],
      }],
    },
  ]);
});

Deno.test("options: BNDUPD CLIENT_DATA tree with every lease time (oracle shape)", () => {
  const inner = cat(
    opt(114, be(1, 1)),
    opt(133, be(762609580, 4)),
    opt(134, be(762616810, 4)),
    opt(46, be(12, 4)),
    opt(123, be(762618610, 4)),
    opt(126, be(762609598, 4)),
    opt(120, be(762616810, 4)),
  );
  const cd = cat(
    opt(1, hex("0001000129b92700001122335010")),
    opt(100, be(762609610, 4)),
    opt(
      3,
      cat(
        be(1, 4),
        be(1800, 4),
        be(2880, 4),
        opt(5, cat(addr("2001 db8 1 0 0 0 0 100"), be(3600, 4), be(7200, 4), inner)),
      ),
    ),
  );
  const bytes = cat(foHeader(24, 261, 762609610), opt(45, cd));
  assert.equal(bytes.length, 135); // messageSize in the oracle
  const json = messageToJson(clean(bytes));
  const ia =
    ((json.options as Record<string, unknown>[])[0].options as Record<string, unknown>[])[2];
  assert.equal(ia.length, 93);
  const iaaddr = (ia.options as Record<string, unknown>[])[0];
  assert.equal(iaaddr.length, 77);
  assert.deepStrictEqual((iaaddr.options as unknown[])[0], {
    code: 114,
    name: "OPTION_F_BINDING_STATUS",
    length: 1,
    bindingStatus: 1,
    bindingStatusName: "ACTIVE",
  });
});

Deno.test("options: STATE options with flags, states, partner-down time", () => {
  const m = clean(
    cat(
      foHeader(34, 8388609, 762609600),
      opt(132, be(4, 1)),
      opt(131, be(0x07, 1)),
      opt(133, be(762609000, 4)),
      opt(125, be(762608000, 4)),
    ),
  );
  assert.deepStrictEqual(messageToJson(m).options, [
    {
      code: 132,
      name: "OPTION_F_SERVER_STATE",
      length: 1,
      serverState: 4,
      serverStateName: "PARTNER-DOWN",
    },
    {
      code: 131,
      name: "OPTION_F_SERVER_FLAGS",
      length: 1,
      flags: 7,
      ackStartup: true,
      startup: true,
      communicated: true,
    },
    { code: 133, name: "OPTION_F_START_TIME_OF_STATE", length: 4, startTimeOfState: 762609000 },
    { code: 125, name: "OPTION_F_PARTNER_DOWN_TIME", length: 4, partnerDownTime: 762608000 },
  ]);
});

Deno.test("options: DNS removal info with host name, zone name and DNS flags", () => {
  const o = onlyOption(
    opt(
      116,
      cat(
        opt(117, hex("05 686f737433 00")),
        opt(118, hex("07 6578616d706c65 03 636f6d 00")),
        opt(119, be(0x000b, 2)),
      ),
    ),
  );
  assert.deepStrictEqual(o, {
    code: 116,
    options: [
      { code: 117, hostName: "host3" },
      { code: 118, zoneName: "example.com" },
      { code: 119, flags: 0x0b },
    ],
  });
  const json = messageToJson({ kind: "client-server", msgType: 7, transactionId: 1, options: [o] });
  assert.deepStrictEqual((json.options as Record<string, unknown>[])[0].options, [
    { code: 117, name: "OPTION_F_DNS_HOST_NAME", length: 7, hostName: "host3" },
    { code: 118, name: "OPTION_F_DNS_ZONE_NAME", length: 13, zoneName: "example.com" },
    {
      code: 119,
      name: "OPTION_F_DNS_FLAGS",
      length: 2,
      flags: 11,
      usingRequestedFqdn: true,
      synthesizedName: false,
      revUptodate: true,
      fwdUptodate: true,
    },
  ]);
});

Deno.test("options: CLIENT_FQDN full and partial names, DOMAIN_LIST, DNS_SERVERS", () => {
  assert.deepStrictEqual(onlyOption(opt(39, hex("01 05686f737433 076578616d706c65 03636f6d 00"))), {
    code: 39,
    flags: 1,
    domainName: "host3.example.com",
  });
  assert.deepStrictEqual(onlyOption(opt(39, hex("00 05686f737433"))), {
    code: 39,
    flags: 0,
    domainName: "host3",
    partial: true,
  });
  assert.deepStrictEqual(onlyOption(opt(39, hex("04"))), {
    code: 39,
    flags: 4,
    domainName: "",
    partial: true,
  });
  assert.deepStrictEqual(
    onlyOption(opt(24, hex("076578616d706c6503636f6d00 036c6162076578616d706c6503636f6d00"))),
    { code: 24, domains: ["example.com", "lab.example.com"] },
  );
  assert.deepStrictEqual(
    onlyOption(opt(23, cat(addr("2001 db8 0 0 0 0 0 53"), addr("2001 db8 0 0 0 0 0 54")))),
    { code: 23, dnsServers: ["2001:db8::53", "2001:db8::54"] },
  );
});

Deno.test("options: label octets outside printable ASCII, '.' and '\\' are escaped \\DDD", () => {
  const o = onlyOption(opt(24, hex("03 612e62 02 5c20 01 ff 00")));
  assert.deepStrictEqual(o, { code: 24, domains: ["a\\046b.\\092\\032.\\255"] });
});

Deno.test("options: VSS, RECONFIGURE_DATA, UNICAST, PREFERENCE, RAPID_COMMIT, LQ_RELAY_DATA", () => {
  assert.deepStrictEqual(onlyOption(opt(68, hex("01 00000000000001"))), {
    code: 68,
    vssType: 1,
    vssInfo: hex("00000000000001"),
  });
  assert.deepStrictEqual(onlyOption(opt(129, cat(be(762609000, 4), hex("a1a2a3")))), {
    code: 129,
    reconfigureTime: 762609000,
    reconfigureKey: hex("a1a2a3"),
  });
  assert.deepStrictEqual(onlyOption(opt(12, addr("2001 db8 0 0 0 0 0 1"))), {
    code: 12,
    serverAddress: "2001:db8::1",
  });
  assert.deepStrictEqual(onlyOption(opt(7, be(255, 1))), { code: 7, preference: 255 });
  assert.deepStrictEqual(onlyOption(opt(14)), { code: 14 });
  const relay = relayHeader(12, 0, addr("2001 db8 10 0 0 0 0 1"), addr("fe80 0 0 0 0 0 0 2"));
  assert.deepStrictEqual(onlyOption(opt(47, cat(addr("2001 db8 0 0 0 0 0 3"), relay))), {
    code: 47,
    peerAddress: "2001:db8::3",
    message: {
      kind: "relay",
      msgType: 12,
      hopCount: 0,
      linkAddress: "2001:db8:10::1",
      peerAddress: "fe80::2",
      options: [],
    },
  });
});

Deno.test("options: unknown codes stay raw and re-encode", () => {
  assert.deepStrictEqual(onlyOption(opt(999, hex("deadbeef"))), {
    code: 999,
    raw: true,
    data: hex("deadbeef"),
  });
});

// ---------------------------------------------------------------------------------------
// Malformed input
// ---------------------------------------------------------------------------------------

Deno.test("malformed: ORO running past the message end (oracle frame 2)", () => {
  const bytes = cat(csHeader(1, 0x600002), opt(8, be(100, 2)), opt(6, hex("0017 0018"), 200));
  const r = decodeMessage(bytes);
  assert.deepStrictEqual(r.errors.map((e) => errorToJson(e)), [
    { kind: "option-overrun", code: 6, declaredLength: 200, availableLength: 4 },
  ]);
  assert.equal(r.errors[0].path, "ORO[0]");
  assert.equal(r.errors[0].offset, 10);
  assert.deepStrictEqual((messageToJson(r.message!).options as unknown[])[1], {
    code: 6,
    name: "OPTION_ORO",
    length: 200,
    malformed: true,
    availableLength: 4,
    data: "00170018",
  });
  assert.deepStrictEqual(encodeMessage(r.message!), bytes);
});

Deno.test("malformed: IA_NA of length 7 (oracle frame 4); decoding goes on after it", () => {
  const bytes = cat(csHeader(3, 3), opt(3, hex("00000001000007")), opt(6, hex("0017")));
  const r = decodeMessage(bytes);
  assert.deepStrictEqual(r.errors.map((e) => errorToJson(e)), [
    { kind: "option-too-short", code: 3, length: 7, minimumLength: 12 },
  ]);
  assert.equal(r.errors[0].path, "IA_NA[0]");
  assert.equal(r.errors[0].offset, 4);
  assert.deepStrictEqual(r.message!.options, [
    { code: 3, malformed: true, length: 7, minimumLength: 12, data: hex("00000001000007") },
    { code: 6, requestedOptions: [23] },
  ]);
  assert.deepStrictEqual(encodeMessage(r.message!), bytes);
});

Deno.test("malformed: IAADDR overrunning its IA_NA (oracle frame 7) has path and parentCode", () => {
  const iaaddrData = cat(addr("2001 db8 66 0 0 0 0 10"), be(3600, 4), be(7200, 4));
  const ia = cat(be(1, 4), be(1800, 4), be(2880, 4), opt(5, iaaddrData, 40));
  const bytes = cat(csHeader(5, 0x600005), opt(3, ia));
  const r = decodeMessage(bytes);
  assert.deepStrictEqual(r.errors.map((e) => errorToJson(e)), [
    { kind: "option-overrun", code: 5, declaredLength: 40, availableLength: 24, parentCode: 3 },
  ]);
  assert.equal(r.errors[0].path, "IA_NA[0].IAADDR[0]");
  assert.equal(r.errors[0].offset, 4 + 4 + 12);
  const json = messageToJson(r.message!);
  const iaJson = (json.options as Record<string, unknown>[])[0];
  assert.equal(iaJson.length, 40);
  assert.deepStrictEqual((iaJson.options as unknown[])[0], {
    code: 5,
    name: "OPTION_IAADDR",
    length: 40,
    malformed: true,
    availableLength: 24,
    data: "20010db800660000000000000000001000000e1000001c20",
  });
  assert.deepStrictEqual(encodeMessage(r.message!), bytes);
});

Deno.test("malformed: path indexes count siblings of the same code (IA_NA[0].IAADDR[1])", () => {
  const good = opt(5, cat(addr("2001 db8 0 0 0 0 0 1"), be(1, 4), be(2, 4)));
  const bad = opt(5, hex("2001"));
  const bytes = cat(csHeader(7, 1), opt(3, cat(be(1, 4), be(0, 4), be(0, 4), good, bad)));
  const r = decodeMessage(bytes);
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0].kind, "option-too-short");
  assert.equal(r.errors[0].path, "IA_NA[0].IAADDR[1]");
  assert.equal(r.errors[0].offset, 4 + 4 + 12 + 28);
});

Deno.test("malformed: fixed-size options with the wrong length", () => {
  const r = decodeMessage(cat(foHeader(31, 1, 0), opt(122, be(3600, 5)), opt(128, be(60, 3))));
  assert.deepStrictEqual(r.errors.map((e) => errorToJson(e)), [
    { kind: "option-bad-length", code: 122, length: 5, expectedLength: 4 },
    { kind: "option-too-short", code: 128, length: 3, minimumLength: 4 },
  ]);
  assert.deepStrictEqual(r.message!.options.map((o) => "malformed" in o), [true, true]);
});

Deno.test("malformed: lists with lengths that are not a whole number of entries", () => {
  const r = decodeMessage(cat(csHeader(7, 1), opt(6, hex("001700")), opt(23, new Uint8Array(17))));
  assert.deepStrictEqual(r.errors.map((e) => errorToJson(e)), [
    { kind: "option-bad-length", code: 6, length: 3, multipleOf: 2 },
    { kind: "option-bad-length", code: 23, length: 17, multipleOf: 16 },
  ]);
});

Deno.test("malformed: bad enum values keep the typed option and report invalid-value", () => {
  const iaaddr = opt(
    5,
    cat(addr("2001 db8 0 0 0 0 0 1"), be(0, 4), be(0, 4), opt(114, be(9, 1))),
  );
  const bytes = cat(
    foHeader(24, 1, 0),
    opt(45, opt(3, cat(be(1, 4), be(0, 4), be(0, 4), iaaddr))),
    opt(132, be(0, 1)),
  );
  const r = decodeMessage(bytes);
  assert.deepStrictEqual(r.errors.map((e) => errorToJson(e)), [
    { kind: "invalid-value", code: 114, field: "bindingStatus", value: 9, parentCode: 5 },
    { kind: "invalid-value", code: 132, field: "serverState", value: 0 },
  ]);
  assert.equal(
    r.errors[0].path,
    "CLIENT_DATA[0].IA_NA[0].IAADDR[0].F_BINDING_STATUS[0].bindingStatus",
  );
  assert.equal(r.errors[0].offset, bytes.length - 5 - 1); // the status octet
  const json = JSON.stringify(messageToJson(r.message!));
  assert.match(json, /"bindingStatus":9,"bindingStatusName":"UNKNOWN-9"/);
  assert.deepStrictEqual(encodeMessage(r.message!), bytes);
});

Deno.test("malformed: prefix length over 128, bad UTF-8 and bad names", () => {
  const r = decodeMessage(
    cat(
      csHeader(7, 1),
      opt(26, cat(be(0, 4), be(0, 4), be(129, 1), new Uint8Array(16))),
      opt(13, cat(be(0, 2), hex("c328"))),
      opt(39, hex("00 c0 0c")),
      opt(24, hex("03 616263")),
      opt(117, hex("01 61 00 00")),
    ),
  );
  assert.deepStrictEqual(
    r.errors.map((e) => [e.kind, (e as { field?: string }).field, e.path]),
    [
      ["invalid-value", "prefixLength", "IAPREFIX[0].prefixLength"],
      ["invalid-value", "statusMessage", "STATUS_CODE[0].statusMessage"],
      ["invalid-value", "domainName", "CLIENT_FQDN[0].domainName"],
      ["invalid-value", "domains", "DOMAIN_LIST[0].domains"],
      ["invalid-value", "hostName", "F_DNS_HOST_NAME[0].hostName"],
    ],
  );
  assert.deepStrictEqual(r.message!.options.map((o) => "malformed" in o), [
    false,
    false, // a status code with bad text keeps its code (a rejection must not read as success)
    true,
    true,
    true,
  ]);
  assert.deepStrictEqual(r.message!.options[1], {
    code: 13,
    statusCode: 0,
    statusMessage: "\ufffd(",
    statusMessageOctets: hex("c328"),
  });
});

Deno.test("malformed: bad UTF-8 re-encodes byte for byte", () => {
  const bytes = cat(
    foHeader(32, 1, 0),
    opt(13, cat(be(14, 2), hex("ff fe 41"))),
    opt(130, hex("80 61")),
  );
  const r = decodeMessage(bytes);
  assert.deepStrictEqual(r.errors.map((e) => e.path), [
    "STATUS_CODE[0].statusMessage",
    "F_RELATIONSHIP_NAME[0].relationshipName",
  ]);
  assert.deepStrictEqual(encodeMessage(r.message!), bytes);
  const json = messageToJson(r.message!).options as Record<string, unknown>[];
  assert.deepStrictEqual(json[0], {
    code: 13,
    name: "OPTION_STATUS_CODE",
    length: 5,
    statusCode: 14,
    statusName: "NotSupported",
    statusMessage: "\ufffd\ufffdA",
  });
});

Deno.test("malformed: 1-3 octets after the last option give trailing-octets", () => {
  const r = decodeMessage(cat(csHeader(7, 1), opt(14), hex("0001 00")));
  assert.deepStrictEqual(r.errors.map((e) => errorToJson(e)), [
    { kind: "trailing-octets", length: 3 },
  ]);
  assert.equal(r.errors[0].offset, 8);
  assert.deepStrictEqual(r.message!.options, [{ code: 14 }]);
});

Deno.test("malformed: RELAY_MSG too short for a message header", () => {
  const bytes = cat(
    relayHeader(12, 0, new Uint8Array(16), new Uint8Array(16)),
    opt(9, hex("0100")),
  );
  const r = decodeMessage(bytes);
  assert.deepStrictEqual(r.errors.map((e) => errorToJson(e)), [
    { kind: "option-too-short", code: 9, length: 2, minimumLength: 4 },
  ]);
  assert.deepStrictEqual(encodeMessage(r.message!), bytes);
});

/** A RELAY-FORW chain `depth` deep around a SOLICIT, as in oracle frame 6. */
function relayChain(depth: number): Uint8Array {
  let msg = cat(csHeader(1, 0x600004), opt(8, be(0, 2)));
  for (let h = 0; h < depth; h++) {
    const link = addr(`2001 db8 ${(0x1000 + h).toString(16)} 0 0 0 0 1`);
    const peer = addr(`2001 db8 ${(0x1000 + h).toString(16)} 0 0 0 0 2`);
    msg = cat(relayHeader(12, h, link, peer), opt(9, msg));
  }
  return msg;
}

Deno.test("malformed: relay chain 40 deep reports relay-nesting-too-deep and stops", () => {
  const bytes = relayChain(40);
  const r = decodeMessage(bytes);
  assert.deepStrictEqual(r.errors.map((e) => errorToJson(e)), [
    { kind: "relay-nesting-too-deep", relayDepth: 40, hopCountLimit: 8 },
  ]);
  assert.equal(r.errors[0].path, Array(9).fill("RELAY_MSG[0]").join("."));
  assert.equal(r.errors[0].offset, 9 * 34 + 8 * 4);
  // Nine relay headers decoded (hop-counts 0..8 are legal), the rest kept raw.
  let m: Message = r.message!;
  let relays = 0;
  while (m.kind === "relay") {
    relays++;
    const o = m.options[0];
    if ("raw" in o) break;
    assert.equal(o.code, 9);
    m = (o as { message: Message }).message;
  }
  assert.equal(relays, 9);
  assert.deepStrictEqual(encodeMessage(r.message!), bytes);
  // A chain of 9 is accepted, 10 is not.
  assert.deepEqual(decodeMessage(relayChain(9)).errors, []);
  assert.equal(decodeMessage(relayChain(10)).errors[0].kind, "relay-nesting-too-deep");
  // With a higher limit the whole tree decodes.
  assert.deepEqual(decodeMessage(bytes, { hopCountLimit: 64, maxDepth: 128 }).errors, []);
});

Deno.test("malformed: option containers nested past the limit are kept raw", () => {
  let inner = opt(14);
  for (let i = 0; i < 40; i++) inner = opt(45, inner);
  const bytes = cat(foHeader(24, 1, 0), inner);
  const r = decodeMessage(bytes);
  assert.equal(r.errors.length, 1);
  assert.deepStrictEqual(errorToJson(r.errors[0]), {
    kind: "option-nesting-too-deep",
    code: 45,
    depth: 33,
    limit: 32,
  });
  assert.deepStrictEqual(encodeMessage(r.message!), bytes);
  // Deep enough to overflow a naive recursive decoder: still no throw.
  const levels = 16000;
  const deep = new Uint8Array(8 + 4 * levels + 4);
  deep.set(foHeader(24, 1, 0));
  for (let i = 0; i < levels; i++) deep.set(opt(45, new Uint8Array(), 4 * (levels - i)), 8 + 4 * i);
  deep.set(opt(14), 8 + 4 * levels);
  const dr = decodeMessage(deep);
  assert.equal(dr.errors[0].kind, "option-nesting-too-deep");
  assert.deepStrictEqual(encodeMessage(dr.message!), deep);
});

Deno.test("capture-truncated: the cut option is kept as truncated, no overrun error", () => {
  const full = cat(
    csHeader(7, 0x600006),
    opt(2, hex("000200007ed9 7372762d6d616c666f726d6564")),
    opt(3, cat(be(1, 4), be(1800, 4), be(2880, 4), opt(5, new Uint8Array(24)))),
  );
  const cut = full.slice(0, 4 + 23 + 4 + 8);
  const r = decodeMessage(cut, { captureTruncated: { capturedLength: 119, originalLength: 171 } });
  assert.deepStrictEqual(r.errors.map((e) => errorToJson(e)), [
    { kind: "capture-truncated", capturedLength: 119, originalLength: 171 },
  ]);
  assert.deepStrictEqual((messageToJson(r.message!).options as unknown[])[1], {
    code: 3,
    name: "OPTION_IA_NA",
    length: 40,
    truncated: true,
    capturedLength: 8,
  });
});

Deno.test("decodeOptions decodes a bare option sequence", () => {
  const r = decodeOptions(cat(opt(122, be(7, 4)), opt(6, hex("00"))));
  assert.deepStrictEqual(r.options[0], { code: 122, mclt: 7 });
  assert.equal(r.errors[0].kind, "option-bad-length");
});
