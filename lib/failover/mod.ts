/**
 * The RFC 8156 failover engine: the pure core (`step(state, event, now)` in `engine.ts`, with
 * the endpoint state table, binding states, BNDUPD/BNDREPLY trees, conflict resolution, sync
 * and pool balancing), the MCLT rules, and the shells that run it (`driver.ts` for one
 * endpoint over any transport, `connection.ts` for TCP, `tls.ts` for STARTTLS).
 *
 * @module
 */

export * from "./types.ts";
export * from "./engine.ts";
export * from "./endpoint.ts";
export * from "./binding.ts";
export * from "./bndupd.ts";
export * from "./conflict.ts";
export * from "./connect.ts";
export * from "./pool.ts";
export * from "./sync.ts";
export * from "./scheduler.ts";
export * from "./driver.ts";
export * from "./connection.ts";
