/**
 * {@linkcode ServerCore}: the handler, the in-memory lease index and the failover policy held
 * together for the shell. Still no I/O: the shell decodes (or lets `receive` decode), calls
 * in, commits `changes` through the `BatchCommitter`, then sends; on a failed commit it calls
 * {@linkcode ServerCore.revert}. Usage (see {@linkcode ServerCore} for a complete example):
 *
 * ```ts ignore
 * const r = core.receive(datagram, { sourceAddress, sourcePort, unicast: false }, clock.now());
 * if (r.kind === "reply") {
 *   try { if (r.changes.length) await committer.write(leaseWrites(r.changes)); }
 *   catch { core.revert(r.changes); return; }
 *   socket.send(encodeMessage(r.message), r.to.port, r.to.address);
 * }
 * ```
 *
 * @module
 */

import type { Lease, StoreWrite } from "../store/types.ts";
import { decodeMessage } from "../wire/decode.ts";
import { expireLeases } from "./expiry.ts";
import { handle } from "./handle.ts";
import { LeaseIndex } from "./lease_index.ts";
import { type FailoverPolicy, standalonePolicy } from "./policy.ts";
import type { ServerSettings } from "./settings.ts";
import type { HandleResult, Inbound, LeaseChange } from "./types.ts";

/**
 * The store writes that commit `changes` (one `lease` write each, in order).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyLease, leaseWrites } from "@failover6/failover6";
 *
 * const after = { ...emptyLease({ kind: "na", address: "2001:db8::10" }), status: "ACTIVE" as const };
 * assert.deepEqual(leaseWrites([{ after }]), [{ type: "lease", lease: after }]);
 * ```
 */
export function leaseWrites(changes: readonly LeaseChange[]): StoreWrite[] {
  return changes.map((c) => ({ type: "lease", lease: c.after }));
}

/** How {@linkcode ServerCore} starts. */
export interface ServerCoreOptions {
  /** Compiled configuration. */
  settings: ServerSettings;
  /** Our DUID. */
  serverDuid: Uint8Array;
  /** The leases at start (e.g. `store.all()`); default none. */
  leases?: Iterable<Lease>;
  /** Failover gating; default {@linkcode standalonePolicy}. */
  policy?: FailoverPolicy;
}

/** Where a datagram came from (everything of {@linkcode Inbound} but the message). */
export type DatagramMeta = Omit<Inbound, "message">;

/**
 * Handler, lease index and policy, for the shell.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   BatchCommitter,
 *   clientId,
 *   compileSettings,
 *   defaultConfig,
 *   encodeMessage,
 *   iaNa,
 *   leaseWrites,
 *   MemoryBindingStore,
 *   MessageType,
 *   ServerCore,
 * } from "@failover6/failover6";
 *
 * const store = new MemoryBindingStore();
 * const committer = new BatchCommitter(store);
 * const core = new ServerCore({
 *   settings: compileSettings(defaultConfig()),
 *   serverDuid: new Uint8Array([0, 3, 0, 1, 2, 0, 0, 0, 0, 0xaa]),
 *   leases: store.all(),
 * });
 * const solicit = encodeMessage({
 *   kind: "client-server",
 *   msgType: MessageType.SOLICIT,
 *   transactionId: 7,
 *   options: [clientId(new Uint8Array([0, 3, 0, 1, 2, 0, 0, 0, 0, 1])), iaNa(1, 0, 0)],
 * });
 * // What the UDP shell does with each datagram:
 * const r = core.receive(solicit, { sourceAddress: "fe80::1", sourcePort: 546, unicast: false }, 0);
 * assert.equal(r.kind, "reply");
 * if (r.kind === "reply") {
 *   try {
 *     if (r.changes.length > 0) await committer.write(leaseWrites(r.changes));
 *   } catch {
 *     core.revert(r.changes); // not committed: forget them, send nothing
 *   }
 *   assert.equal(r.replyType, MessageType.ADVERTISE);
 *   assert.deepEqual(r.to, { address: "fe80::1", port: 546 }); // send encodeMessage(r.message) there
 * }
 * await committer.close();
 * ```
 */
export class ServerCore {
  /** The in-memory bindings the handler decides on. */
  readonly leases: LeaseIndex;
  /** Compiled configuration (replace it to reload). */
  settings: ServerSettings;
  /** Our DUID. */
  readonly serverDuid: Uint8Array;
  /** Failover gating (issue 6 swaps it as the endpoint state changes). */
  policy: FailoverPolicy;

  /**
   * Creates the core and indexes the initial leases.
   *
   * @param options settings, DUID, initial leases, policy
   */
  constructor(options: ServerCoreOptions) {
    this.settings = options.settings;
    this.serverDuid = options.serverDuid;
    this.leases = LeaseIndex.from(options.leases ?? []);
    this.policy = options.policy ?? standalonePolicy;
  }

  /**
   * Handles a decoded message and applies its lease changes to the index at once (so the
   * next message sees them). Commit `changes` before sending the reply.
   */
  handle(inbound: Inbound, now: number): HandleResult {
    const r = handle(
      {
        settings: this.settings,
        serverDuid: this.serverDuid,
        leases: this.leases,
        policy: this.policy,
      },
      inbound,
      now,
    );
    if (r.kind === "reply" && r.changes.length > 0) this.leases.apply(r.changes);
    return r;
  }

  /**
   * Decodes a datagram and handles it. A datagram the codec finds any fault in is dropped as
   * `malformed` (RFC 8415 §16), with the first fault in `detail`.
   */
  receive(datagram: Uint8Array, meta: DatagramMeta, now: number): HandleResult {
    const d = decodeMessage(datagram);
    if (d.message === undefined || d.errors.length > 0) {
      const e = d.errors[0];
      return {
        kind: "drop",
        reason: "malformed",
        detail: e === undefined
          ? "undecodable datagram"
          : `${e.kind} at offset ${e.offset}: ${e.message}`,
        ...(datagram.length > 0 ? { requestType: datagram[0] } : {}),
      };
    }
    return this.handle({ ...meta, message: d.message }, now);
  }

  /** Undoes changes whose commit failed. */
  revert(changes: readonly LeaseChange[]): void {
    this.leases.revert(changes);
  }

  /**
   * Expiry at `now`: takes up to `limit` due leases, applies the policy's transitions to the
   * index and returns them for committing (revert them if the commit fails).
   */
  expire(now: number, limit = 1000): LeaseChange[] {
    const changes = expireLeases(this.leases.takeDue(now, limit), now, this.policy);
    this.leases.apply(changes);
    return changes;
  }

  /** When expiry next has work (ms), `undefined` when no lease has a due time. */
  nextExpiry(): number | undefined {
    return this.leases.nextDue();
  }
}
