/**
 * Property: whatever random sequence of client operations arrives (Solicit with and without
 * Rapid Commit, Request, Renew, Rebind, Release, Decline, time passing, expiry), no address
 * or prefix is ever granted or offered to a client while another client's grant of it is
 * still valid, and the committed store always equals the server's index.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { MemoryBindingStore } from "../../lib/store/memory.ts";
import { leaseWrites, ServerCore } from "../../lib/server/service.ts";
import type { HandleResult } from "../../lib/server/types.ts";
import { findOptions } from "../../lib/wire/options.ts";
import { decodeMessage } from "../../lib/wire/decode.ts";
import { encodeMessage } from "../../lib/wire/encode.ts";
import { type DhcpOption, MessageType as T } from "../../lib/wire/types.ts";
import {
  cid,
  innerOf,
  msg,
  na,
  pd,
  pfx,
  pool,
  SERVER_DUID,
  settings,
  sid,
  subnet,
} from "./helpers.ts";

const START = 1_700_000_000_000;
const CLIENTS = 6;

type Op =
  | { op: "solicit"; client: number; rapid: boolean; nas: number; pds: number }
  | {
    op: "request" | "renew" | "rebind" | "release" | "decline";
    client: number;
    nas: number;
    pds: number;
    pick: number;
  }
  | { op: "wait"; seconds: number }
  | { op: "expire" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant("solicit" as const),
    client: fc.nat(CLIENTS - 1),
    rapid: fc.boolean(),
    nas: fc.integer({ min: 0, max: 2 }),
    pds: fc.integer({ min: 0, max: 1 }),
  }),
  fc.record({
    op: fc.constantFrom(
      "request" as const,
      "renew" as const,
      "rebind" as const,
      "release" as const,
      "decline" as const,
    ),
    client: fc.nat(CLIENTS - 1),
    nas: fc.integer({ min: 0, max: 2 }),
    pds: fc.integer({ min: 0, max: 1 }),
    pick: fc.nat(20),
  }),
  fc.record({ op: fc.constant("wait" as const), seconds: fc.integer({ min: 1, max: 4000 }) }),
  fc.record({ op: fc.constant("expire" as const) }),
);

/** Every (key, valid lifetime) in the IAs of a reply. */
function granted(
  r: HandleResult,
): { key: string; valid: number; text: string; len: number; kind: "na" | "pd"; iaid: number }[] {
  const m = innerOf(r);
  const out = [];
  for (const ia of findOptions(m.options, 3)) {
    for (const a of findOptions(ia.options, 5)) {
      out.push({
        key: `na ${a.address}`,
        valid: a.validLifetime,
        text: a.address,
        len: 128,
        kind: "na" as const,
        iaid: ia.iaid,
      });
    }
  }
  for (const ia of findOptions(m.options, 25)) {
    for (const p of findOptions(ia.options, 26)) {
      out.push({
        key: `pd ${p.prefix}/${p.prefixLength}`,
        valid: p.validLifetime,
        text: p.prefix,
        len: p.prefixLength,
        kind: "pd" as const,
        iaid: ia.iaid,
      });
    }
  }
  return out;
}

Deno.test("property: no address or prefix is ever held by two clients at once", () => {
  const s = settings([subnet({
    pools: [pool("tiny", "2001:db8:1::10", "2001:db8:1::15")],
    prefixes: [{
      name: "tiny-pd",
      prefix: pfx("2001:db8:f0::/60"),
      delegatedLength: 62,
      allocation: null,
    }],
    lifetimes: {
      preferred: 1800,
      valid: 3600,
      t1: { kind: "fraction", value: 0.5 },
      t2: { kind: "fraction", value: 0.8 },
    },
  })], { abandonedHoldSeconds: 5000 });
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => {
      const core = new ServerCore({ settings: s, serverDuid: SERVER_DUID });
      const store = new MemoryBindingStore();
      let now = START;
      /** key -> who holds it and until when (ms), from the Replies the clients got. */
      const holds = new Map<string, { client: number; until: number }>();
      /** What each client believes it holds: key -> [kind, text, len, iaid]. */
      const mine: Map<string, { kind: "na" | "pd"; text: string; len: number; iaid: number }>[] =
        Array.from(
          { length: CLIENTS },
          () => new Map(),
        );
      const commit = (r: HandleResult) => {
        if (r.kind === "reply" && r.changes.length > 0) store.apply(leaseWrites(r.changes));
      };
      const check = (client: number, r: HandleResult, isGrant: boolean) => {
        for (const g of granted(r)) {
          const h = holds.get(g.key);
          if (g.valid > 0) {
            if (h !== undefined && h.client !== client && h.until > now) {
              assert.fail(`${g.key} given to client ${client} while client ${h.client} holds it`);
            }
            if (isGrant) {
              holds.set(g.key, { client, until: now + g.valid * 1000 });
              mine[client].set(g.key, g);
            }
          } else if (isGrant) {
            if (h?.client === client) holds.delete(g.key);
            mine[client].delete(g.key);
          }
        }
      };
      for (const o of ops) {
        if (o.op === "wait") {
          now += o.seconds * 1000;
          continue;
        }
        if (o.op === "expire") {
          const ch = core.expire(now);
          if (ch.length) store.apply(leaseWrites(ch));
          continue;
        }
        const c = o.client;
        const ias: DhcpOption[] = [];
        const held = [...mine[c].values()];
        const pick = "pick" in o ? o.pick : 0;
        for (let i = 0; i < o.nas; i++) {
          const h = held.filter((x) => x.kind === "na")[(pick + i) % Math.max(1, held.length)];
          ias.push(
            h && o.op !== "solicit"
              ? na(h.iaid, h.text)
              : na(i + 1, ...(pick % 3 === 0 ? ["2001:db8:1::12"] : [])),
          );
        }
        for (let i = 0; i < o.pds; i++) {
          const h = held.find((x) => x.kind === "pd");
          ias.push(h && o.op !== "solicit" ? pd(h.iaid, `${h.text}/${h.len}`) : pd(10 + i));
        }
        const type = {
          solicit: T.SOLICIT,
          request: T.REQUEST,
          renew: T.RENEW,
          rebind: T.REBIND,
          release: T.RELEASE,
          decline: T.DECLINE,
        }[o.op];
        const options = [cid(c), ...ias];
        if (type !== T.SOLICIT && type !== T.REBIND) options.push(sid());
        if (o.op === "solicit" && o.rapid) options.push({ code: 14 });
        const r = core.handle({
          message: msg(type, options),
          sourceAddress: "fe80::1",
          sourcePort: 546,
          unicast: false,
        }, now);
        commit(r);
        if (r.kind !== "reply") continue;
        if (type === T.RELEASE || type === T.DECLINE) {
          for (const ia of ias) {
            for (const a of ("options" in ia ? ia.options : [])) {
              const key = a.code === 5 && "address" in a
                ? `na ${a.address}`
                : a.code === 26 && "prefix" in a
                ? `pd ${a.prefix}/${a.prefixLength}`
                : "";
              if (type === T.DECLINE && key.startsWith("pd")) continue;
              if (holds.get(key)?.client === c) holds.delete(key);
              mine[c].delete(key);
            }
          }
          continue;
        }
        check(c, r, innerOf(r).msgType === T.REPLY);
      }
      // The durable copy equals the index.
      const fromStore = [...store.all()].map((l) => JSON.stringify(l)).sort();
      const fromIndex = [...core.leases.values()].map((l) => JSON.stringify(l)).sort();
      assert.deepEqual(fromStore, fromIndex);
    }),
    { numRuns: 300 },
  );
});

const bytesArb = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const addrArb = fc.constantFrom(
  "2001:db8:1::10",
  "2001:db8:1::13",
  "2001:db8:1::",
  "::",
  "fe80::1",
  "2001:db8:9::1",
);
const optionArb: fc.Arbitrary<DhcpOption> = fc.oneof(
  fc.nat(CLIENTS - 1).map((n) => cid(n)),
  bytesArb(0, 140).map((duid): DhcpOption => ({ code: 1, duid })),
  fc.boolean().map((ours): DhcpOption =>
    ours ? sid() : { code: 2, duid: new Uint8Array([0, 3, 0, 1, 9, 9]) }
  ),
  fc.record({ iaid: fc.nat(3), a: fc.array(addrArb, { maxLength: 3 }) }).map(({ iaid, a }) =>
    na(iaid, ...a)
  ),
  fc.record({ iaid: fc.nat(3), len: fc.integer({ min: 0, max: 255 }), a: addrArb }).map((
    { iaid, len, a },
  ): DhcpOption => ({
    code: 25,
    iaid,
    t1: 0,
    t2: 0,
    options: [{
      code: 26,
      preferredLifetime: 9,
      validLifetime: 9,
      prefixLength: len,
      prefix: a,
      options: [],
    }],
  })),
  fc.nat(3).map((iaid): DhcpOption => ({ code: 4, iaid, options: [] })),
  fc.array(fc.integer({ min: 0, max: 65535 }), { maxLength: 5 }).map((c): DhcpOption => ({
    code: 6,
    requestedOptions: [23, 24, ...c],
  })),
  fc.constant<DhcpOption>({ code: 14 }),
  fc.constant<DhcpOption>({ code: 8, elapsedTime: 100 }),
  fc.record({ code: fc.integer({ min: 1, max: 65535 }), data: bytesArb(0, 8) }).map((
    { code, data },
  ): DhcpOption => ({ code, raw: true, data })),
);

Deno.test("property: any client message, direct or relayed, gets a drop or a reply that encodes", () => {
  const s = settings([subnet({ pools: [pool("tiny", "2001:db8:1::10", "2001:db8:1::13")] })]);
  const core = new ServerCore({ settings: s, serverDuid: SERVER_DUID });
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 40 }),
      fc.array(optionArb, { maxLength: 8 }),
      fc.array(fc.record({ link: addrArb, ifid: fc.option(bytesArb(0, 6)) }), { maxLength: 3 }),
      fc.boolean(),
      (type, options, relays, unicast) => {
        let m: import("../../lib/wire/types.ts").Message = msg(type, options);
        relays.forEach((r, i) => {
          m = {
            kind: "relay",
            msgType: 12,
            hopCount: i,
            linkAddress: r.link,
            peerAddress: "fe80::2",
            options: [...(r.ifid ? [{ code: 18 as const, interfaceId: r.ifid }] : []), {
              code: 9,
              message: m,
            }],
          };
        });
        const r = core.handle({
          message: m,
          sourceAddress: "fe80::1%eth0",
          sourcePort: 546,
          unicast,
        }, START);
        if (r.kind === "reply") {
          const d = decodeMessage(encodeMessage(r.message));
          assert.deepEqual(d.errors, []);
          assert.equal(d.message?.msgType, relays.length > 0 ? T.RELAY_REPL : r.replyType);
        }
      },
    ),
    { numRuns: 3000 },
  );
});
