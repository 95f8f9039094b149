import assert from "node:assert/strict";
import { decodeMessage } from "../../lib/wire/decode.ts";
import {
  bindingStatusName,
  failoverStateName,
  messageTypeAlias,
  messageTypeFromName,
  messageTypeName,
  optionName,
  optionShortName,
  statusName,
} from "../../lib/wire/names.ts";
import { messageToJson, renderMessage } from "../../lib/wire/render.ts";
import { absoluteTimeFromMs, absoluteTimeToIso } from "../../lib/wire/time.ts";
import type { Message } from "../../lib/wire/types.ts";
import { addr, be, cat, csHeader, foHeader, opt, relayHeader, utf8 } from "./helpers.ts";

Deno.test("names: messages (with aliases), options, statuses, states, binding statuses", () => {
  assert.equal(messageTypeName(25), "BNDREPLY");
  assert.equal(messageTypeAlias(25), "BNDACK");
  assert.equal(messageTypeAlias(32), "CONNECTACK");
  assert.equal(messageTypeFromName("bndack"), 25);
  assert.equal(messageTypeFromName("relay_forw"), 12);
  assert.equal(messageTypeFromName("nope"), undefined);
  assert.equal(messageTypeName(11), "INFORMATION-REQUEST");
  assert.equal(messageTypeName(99), "UNKNOWN-99");
  assert.equal(optionName(134), "OPTION_F_STATE_EXPIRATION_TIME");
  assert.equal(optionShortName(3), "IA_NA");
  assert.equal(optionName(4242), "OPTION_UNKNOWN_4242");
  assert.equal(statusName(22), "ExcessiveTimeSkew");
  assert.equal(statusName(15), "TLSConnectionRefused");
  assert.equal(statusName(23), "Unknown-23");
  assert.equal(failoverStateName(3), "COMMUNICATIONS-INTERRUPTED");
  assert.equal(failoverStateName(0), "UNKNOWN-0");
  assert.equal(bindingStatusName(6), "FREE-BACKUP");
  assert.equal(bindingStatusName(4), "PENDING-FREE");
});

Deno.test("time: absolute times render as ISO and come from the clock", () => {
  assert.equal(absoluteTimeToIso(762609610), "2024-03-01T12:00:10Z");
  assert.equal(absoluteTimeToIso(0), "2000-01-01T00:00:00Z");
  assert.equal(absoluteTimeFromMs(Date.UTC(2024, 2, 1, 12, 0, 10, 999)), 762609610);
});

Deno.test("render: failover message header and options as text", () => {
  const bytes = cat(
    foHeader(34, 8388609, 762609600),
    opt(132, be(3, 1)),
    opt(131, be(1, 1)),
    opt(133, be(762609000, 4)),
  );
  const text = renderMessage(decodeMessage(bytes).message!);
  assert.equal(
    text,
    [
      "STATE (34) transactionId=8388609 (0x800001) sentTime=762609600 (2024-03-01T12:00:00Z)",
      "  OPTION_F_SERVER_STATE (132) length=1: serverState=3 (COMMUNICATIONS-INTERRUPTED)",
      "  OPTION_F_SERVER_FLAGS (131) length=1: flags=0x01 [communicated]",
      "  OPTION_F_START_TIME_OF_STATE (133) length=4: startTimeOfState=762609000 (2024-03-01T11:50:00Z)",
    ].join("\n"),
  );
});

Deno.test("render: nested tree, units, statuses, malformed parts and errors", () => {
  const iaaddr = opt(
    5,
    cat(
      addr("2001 db8 1 0 0 0 0 102"),
      be(0, 4),
      be(0xffffffff, 4),
      opt(13, cat(be(17, 2), utf8("address not in configuration"))),
      opt(114, be(3, 1)),
    ),
  );
  const bytes = cat(
    foHeader(25, 263, 762609611),
    opt(45, cat(opt(3, cat(be(1, 4), be(1800, 4), be(2880, 4), iaaddr)), opt(122, be(1, 2)))),
  );
  const r = decodeMessage(bytes);
  const lines = renderMessage(r.message!, r.errors).split("\n");
  assert.equal(
    lines[0],
    "BNDREPLY (25) transactionId=263 (0x000107) sentTime=762609611 (2024-03-01T12:00:11Z)",
  );
  assert.equal(lines[1], "  OPTION_CLIENT_DATA (45) length=89");
  assert.equal(lines[2], "    OPTION_IA_NA (3) length=79: iaid=1 t1=1800s t2=2880s");
  assert.equal(
    lines[3],
    "      OPTION_IAADDR (5) length=63: address=2001:db8:1::102 preferredLifetime=0s validLifetime=4294967295 (infinity)",
  );
  assert.equal(
    lines[4],
    '        OPTION_STATUS_CODE (13) length=30: statusCode=17 (ConfigurationConflict) statusMessage="address not in configuration"',
  );
  assert.equal(
    lines[5],
    "        OPTION_F_BINDING_STATUS (114) length=1: bindingStatus=3 (RELEASED)",
  );
  assert.equal(
    lines[6],
    "    OPTION_F_MCLT (122) length=2: MALFORMED (too short, needs 4) data=0001",
  );
  assert.equal(
    lines[7],
    "  ! option-too-short: OPTION_F_MCLT has 2 octets, needs at least 4 (CLIENT_DATA[0].F_MCLT[0], offset 95)",
  );
});

Deno.test("render: relays show hop count, addresses and the nested message", () => {
  const m: Message = decodeMessage(
    cat(
      relayHeader(13, 0, addr("2001 db8 10 0 0 0 0 1"), addr("fe80 0 0 0 0 0 0 2")),
      opt(9, cat(csHeader(2, 0x2468ac), opt(7, be(255, 1)))),
    ),
  ).message!;
  assert.equal(
    renderMessage(m),
    [
      "RELAY-REPL (13) hopCount=0 linkAddress=2001:db8:10::1 peerAddress=fe80::2",
      "  OPTION_RELAY_MSG (9) length=9",
      "    ADVERTISE (2) transactionId=2386092 (0x2468ac)",
      "      OPTION_PREFERENCE (7) length=1: preference=255",
    ].join("\n"),
  );
  assert.deepStrictEqual(messageToJson(m), {
    msgType: 13,
    msgName: "RELAY-REPL",
    transactionId: null,
    hopCount: 0,
    linkAddress: "2001:db8:10::1",
    peerAddress: "fe80::2",
    options: [{
      code: 9,
      name: "OPTION_RELAY_MSG",
      length: 9,
      message: {
        msgType: 2,
        msgName: "ADVERTISE",
        transactionId: 2386092,
        options: [{ code: 7, name: "OPTION_PREFERENCE", length: 1, preference: 255 }],
      },
    }],
  });
});
