/**
 * The assertions every fault test makes on its checks: zero leases lost, zero addresses or
 * prefixes held by two clients, no lifetime beyond the MCLT rule outside PARTNER-DOWN, both
 * servers holding the same bindings, no new lease from the partner's half of the addresses.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { CheckReport } from "./check.ts";

/** Asserts the safety properties of a fault run (and that the run did serve clients). */
export function assertSafe(r: CheckReport, minGrants: number): void {
  const why = r.examples.join("\n");
  assert.ok(r.grants >= minGrants, `only ${r.grants} leases granted (expected >= ${minGrants})`);
  assert.ok(r.mcltChecked > 0, "no grant was checked against the MCLT rule");
  assert.deepEqual(r.lost, { s1: 0, s2: 0 }, `leases lost:\n${why}`);
  assert.equal(r.doubleHeldOnWire, 0, `held by two clients:\n${why}`);
  assert.equal(r.doubleHeldAtEnd, 0, `ACTIVE for two clients:\n${why}`);
  assert.equal(r.mcltViolations, 0, `MCLT rule broken:\n${why}`);
  assert.equal(r.bindingsDiffer, 0, `the servers' bindings differ:\n${why}`);
  assert.equal(r.partnerHalfNew, 0, `new leases from the partner's half:\n${why}`);
}
