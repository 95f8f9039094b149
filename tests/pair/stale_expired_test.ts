/**
 * A stale EXPIRED from the partner must not end a lease this server granted and whose client
 * lifetime still runs (fault (c) of `tests/faults/secondary_db_loss_test.ts`: during
 * UPDREQALL the secondary echoed an old EXPIRED of an address the primary had since given to
 * another client; the primary accepted it under Figure 4's time(1) because a lease granted by
 * the server itself carries state-expiration-time 0, and lost the client's lease).
 *
 * The local lease is built as the DHCPv6 core builds a grant (`handle.ts`: ACTIVE,
 * `stateExpirationTime: 0`) and stamped by the real failover policy.
 *
 * @module
 */

import assert from "node:assert/strict";
import { step } from "../../lib/failover/engine.ts";
import { bndupdOptions, parseBndreply } from "../../lib/failover/bndupd.ts";
import { pairPolicy } from "../../lib/server/failover_policy.ts";
import { emptyLease } from "../../lib/store/lease.ts";
import type { Lease } from "../../lib/store/types.ts";
import { engineIn, fo, sent, T0 } from "../failover/helpers.ts";
import { pairSettings } from "./config.ts";

const REL = "rel";
const ADDRESS = "fd00:f6::1001";
const OLD_CLIENT = "00030001020000000001";
const NEW_CLIENT = "00030001020000000002";

const settings = pairSettings({ mclt: 30 });

/** The new client's lease as the core grants it (MCLT lifetime: nothing acked yet). */
function granted(now: number): Lease {
  const policy = pairPolicy({
    endpoints: new Map([[settings.subnets[0].relationship!, {
      relationship: settings.subnets[0].relationship!,
      role: "primary" as const,
      state: "COMMUNICATIONS-INTERRUPTED" as const,
      stateSince: now - 60_000,
      mclt: 30,
    }]]),
    settings,
  });
  const after: Lease = {
    ...emptyLease({ kind: "na", address: ADDRESS }),
    clientDuid: NEW_CLIENT,
    iaid: 1,
    status: "ACTIVE",
    preferredLifetime: 30,
    validLifetime: 30,
    expirationTime: now + 30_000,
    cltTime: now,
    startTimeOfState: now,
    stateExpirationTime: 0,
    pool: "lan-addresses",
  };
  const stamped = policy.stamp(after, undefined, now);
  return { ...stamped, relationship: REL };
}

/** The partner's record of the old client's lease, EXPIRED a little later than the grant. */
function staleExpired(at: number): Lease {
  return {
    ...emptyLease({ kind: "na", address: ADDRESS }),
    clientDuid: OLD_CLIENT,
    iaid: 1,
    status: "EXPIRED",
    startTimeOfState: at,
    relationship: REL,
    owner: "primary",
  };
}

function receive(local: Lease, incoming: Lease, now: number) {
  const options = bndupdOptions(incoming, now);
  assert.ok(options, "the EXPIRED lease is expressible in a BNDUPD");
  const r = step(engineIn("COMMUNICATIONS-INTERRUPTED", { partner: "RECOVER" }), {
    type: "message-received",
    message: fo(24, options, 0x77, now),
    bindings: [local],
  }, now);
  const reply = sent(r.actions).find((m) => m.msgType === 25);
  assert.ok(reply, "a BNDREPLY is sent");
  const written = r.actions.flatMap((a) =>
    a.type === "persist" ? a.writes.flatMap((w) => (w.type === "lease" ? [w.lease] : [])) : []
  );
  return { status: parseBndreply(reply).leases[0]?.status.code, written };
}

Deno.test("a grant of the server itself carries no state-expiration-time (the premise)", () => {
  const l = granted(T0);
  assert.equal(l.status, "ACTIVE");
  assert.equal(l.stateExpirationTime, 0);
  assert.equal(l.expirationTime, T0 + 30_000);
});

Deno.test("a stale EXPIRED from the partner is rejected while the local grant's lifetime runs", () => {
  const local = granted(T0);
  // The partner's EXPIRED is 8 s later than the grant (beyond the ±5 s tie), the lease still
  // has 22 s to run: time(1) must reject it (OutdatedBindingInformation) and keep the lease.
  const now = T0 + 8_000;
  const r = receive(local, staleExpired(now), now);
  assert.equal(r.status, 19);
  assert.ok(
    !r.written.some((l) => l.address === ADDRESS && l.status !== "ACTIVE"),
    "the client's ACTIVE lease is not overwritten",
  );
});

Deno.test("once the local grant has expired, the partner's EXPIRED is accepted (time(1))", () => {
  const local = granted(T0);
  const now = T0 + 40_000;
  const r = receive(local, staleExpired(now), now);
  assert.notEqual(r.status, 19);
  assert.ok(r.written.some((l) => l.address === ADDRESS && l.status === "EXPIRED"));
});
