/**
 * Binding-update bookkeeping of the engine (RFC 8156 §5.3.5–§5.3.7, §5.5.5, §8.8): the sync
 * jobs that stream leases out as BNDUPDs (answering UPDREQ/UPDREQALL, flushing on entering
 * NORMAL, periodic scans, pool rebalancing), the outstanding-BNDUPD table used for flow
 * control and for UPDDONE ("only after every BNDREPLY"), and the fingerprint that tells
 * whether an acknowledged BNDUPD still describes the lease. Plain data and pure helpers.
 *
 * @module
 */

import type { Lease, PoolOwner } from "../store/types.ts";
import type { BindingSource } from "./types.ts";
import type { BindingStatus } from "./binding.ts";
import { statusHasTimeout, toWireTime } from "./binding.ts";

/** Why leases are being streamed to the partner. */
export type SyncJobKind =
  /** Answering an UPDREQ: every lease the partner has not confirmed; UPDDONE at the end. */
  | "updreq"
  /** Answering an UPDREQALL: every lease; UPDDONE at the end. */
  | "updreqall"
  /** Entering NORMAL: send every unacknowledged update (§8.8); a secondary then sends POOLREQ. */
  | "flush"
  /** Periodic scan for updates still needed (damped ones included, §7.5.4). */
  | "scan"
  /** Primary: read the pool counts to plan a rebalance (§4.2.2). */
  | "pool-count"
  /** Primary: hand FREE prefixes to the secondary as FREE-BACKUP. */
  | "pool-give"
  /** Primary: take FREE-BACKUP prefixes back as FREE. */
  | "pool-take";

/** One sync job. Jobs run one at a time, first in first out. */
export interface SyncJob {
  /** Job id. */
  id: number;
  /** What the job is for. */
  kind: SyncJobKind;
  /** Transaction-id of the UPDREQ/UPDREQALL being answered. */
  xid?: number;
  /** Where the leases come from. */
  source: BindingSource;
  /** Stream id of the shell's reader, once opened. */
  stream?: number;
  /** A `read-bindings` is outstanding. */
  reading: boolean;
  /** The source has no more leases. */
  exhausted: boolean;
  /** Leases of this job waiting in the queue. */
  queued: number;
  /** BNDUPDs of this job sent and not yet answered. */
  inflight: number;
  /** BNDUPDs of this job sent so far. */
  sent: number;
}

/** A lease waiting to go out as a BNDUPD. */
export interface QueuedLease {
  /** The lease to send. */
  lease: Lease;
  /** The job it belongs to; 0 for an immediate update (lease change, damping). */
  job: number;
}

/** What a BNDUPD said about one lease, to compare with the lease when the BNDREPLY arrives. */
export interface Fingerprint {
  /** Binding status sent. */
  status: BindingStatus;
  /** Client DUID sent (lower-case hex). */
  clientDuid: string;
  /** Wire seconds (0 when absent). */
  stateExpirationTime: number;
  /** Partner lifetime sent, wire seconds (0 when absent). */
  partnerLifetime: number;
}

/** A BNDUPD sent and not yet answered. */
export interface OutstandingBndupd {
  /** Transaction-id of the BNDUPD. */
  xid: number;
  /** The lease key text (`na 2001:db8::1/128`). */
  key: string;
  /** What was sent. */
  sent: Fingerprint;
  /** The job, 0 for none. */
  job: number;
  /** Changes to make to the lease once acknowledged (pool take-back). */
  onAck?: { status: BindingStatus; owner: PoolOwner };
  /**
   * The lease as it was when sent: used for the BNDREPLY when the shell supplies no current
   * record (it skips the lookup when the acknowledgement would change nothing, see
   * `lookupKeys` in `engine.ts`).
   */
  lease: Lease;
  /** When it was sent (ms). */
  at: number;
}

/** Our outstanding UPDREQ / UPDREQALL (§5.4: its id is not reused until UPDDONE). */
export interface UpdateRequest {
  /** Transaction-id of the request. */
  xid: number;
  /** Which request. */
  kind: "UPDREQ" | "UPDREQALL";
  /** When sent (ms). */
  at: number;
  /** Last sign of progress: the request, or a BNDUPD received since (ms). */
  progress: number;
}

/** The fingerprint of what a BNDUPD for `lease` carries (see `bndupdOptions`). */
export function fingerprint(lease: Lease): Fingerprint {
  const timeout = statusHasTimeout(lease.status);
  return {
    status: lease.status,
    clientDuid: lease.clientDuid,
    stateExpirationTime: timeout
      ? toWireTime(lease.stateExpirationTime || lease.expirationTime)
      : 0,
    partnerLifetime: timeout
      ? toWireTime(lease.partnerLifetime || lease.ackedPartnerLifetime || lease.expirationTime)
      : 0,
  };
}

/** True when the lease still says what the acknowledged BNDUPD said. */
export function sameFingerprint(a: Fingerprint, b: Fingerprint): boolean {
  return a.status === b.status && a.clientDuid === b.clientDuid &&
    a.stateExpirationTime === b.stateExpirationTime && a.partnerLifetime === b.partnerLifetime;
}

/** The lease source of a job kind (pool jobs get theirs from the rebalance plan). */
export function sourceOf(kind: SyncJobKind): BindingSource {
  switch (kind) {
    case "updreqall":
      return { kind: "all" };
    case "pool-count":
      return { kind: "pool-counts" };
    default:
      return { kind: "pending" };
  }
}

/** A job is complete when its source is exhausted and none of its BNDUPDs are queued or unanswered. */
export function jobComplete(job: SyncJob): boolean {
  return job.exhausted && !job.reading && job.queued === 0 && job.inflight === 0;
}

/** A new job. */
export function newJob(
  id: number,
  kind: SyncJobKind,
  extra: { xid?: number; source?: BindingSource } = {},
): SyncJob {
  return {
    id,
    kind,
    xid: extra.xid,
    source: extra.source ?? sourceOf(kind),
    reading: false,
    exhausted: false,
    queued: 0,
    inflight: 0,
    sent: 0,
  };
}
