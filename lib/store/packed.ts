/**
 * A compact form of a run of {@linkcode StoreWrite}s for passing to another thread: the
 * leases' numbers go in one `Float64Array` (transferred, not copied), their per-lease text
 * (address, client DUID) in one string array, and the few distinct values of `kind`,
 * `status`, `owner`, `relationship` and `pool` once each in a small table. Structured
 * cloning the lease objects themselves costs several microseconds per lease on each side
 * (every property name is written and read back); this costs a fraction of that.
 *
 * Other writes (deletes, endpoint state, the server DUID) ride along as they are, in their
 * place: {@linkcode unpackWrites} returns the writes in the order they were packed.
 *
 * @example
 * ```ts
 * import { emptyLease } from "./lease.ts";
 * import { packWrites, unpackWrites } from "./packed.ts";
 * const lease = emptyLease({ kind: "na", address: "2001:db8::1" }, "ACTIVE");
 * const packed = packWrites([{ type: "lease", lease }]);
 * const [back] = unpackWrites(packed);
 * console.assert(back.type === "lease" && back.lease.address === "2001:db8::1");
 * ```
 *
 * @module
 */

import type { BindingStatus, Lease, LeaseKind, PoolOwner, StoreWrite } from "./types.ts";

/** Numbers per lease in {@linkcode PackedWrites.numbers}. */
const NUMBERS = 18;

/** A run of writes in compact form (see the module doc); plain data, cloneable. */
export interface PackedWrites {
  /** How many writes. */
  count: number;
  /** Per write: 0 = the next lease of the columns, 1 = the next entry of `other`. */
  tags: Uint8Array;
  /** {@linkcode NUMBERS} numbers per lease. */
  numbers: Float64Array;
  /** Per lease: its address text, then its client DUID. */
  texts: string[];
  /** The distinct kind, status, owner, relationship and pool values. */
  table: string[];
  /** The writes that are not leases, in order. */
  other: StoreWrite[];
}

/** Packs `writes` (in order). The arrays of the result can be transferred. */
export function packWrites(writes: readonly StoreWrite[]): PackedWrites {
  let leases = 0;
  for (const w of writes) if (w.type === "lease") leases++;
  const tags = new Uint8Array(writes.length);
  const numbers = new Float64Array(leases * NUMBERS);
  const texts: string[] = new Array(leases * 2);
  const table: string[] = [];
  const index = new Map<string, number>();
  const other: StoreWrite[] = [];
  const code = (s: string): number => {
    let i = index.get(s);
    if (i === undefined) {
      i = table.length;
      table.push(s);
      index.set(s, i);
    }
    return i;
  };
  let n = 0;
  for (let i = 0; i < writes.length; i++) {
    const w = writes[i];
    if (w.type !== "lease") {
      tags[i] = 1;
      other.push(w);
      continue;
    }
    const l = w.lease;
    const at = n * NUMBERS;
    numbers[at] = l.prefixLength;
    numbers[at + 1] = l.iaid;
    numbers[at + 2] = l.preferredLifetime;
    numbers[at + 3] = l.validLifetime;
    numbers[at + 4] = l.expirationTime;
    numbers[at + 5] = l.partnerLifetime;
    numbers[at + 6] = l.ackedPartnerLifetime;
    numbers[at + 7] = l.cltTime;
    numbers[at + 8] = l.partnerRawCltTime;
    numbers[at + 9] = l.startTimeOfState;
    numbers[at + 10] = l.stateExpirationTime;
    numbers[at + 11] = l.updatePending ? 1 : 0;
    numbers[at + 12] = l.ackPending ? 1 : 0;
    numbers[at + 13] = code(l.kind);
    numbers[at + 14] = code(l.status);
    numbers[at + 15] = code(l.owner);
    numbers[at + 16] = code(l.relationship);
    numbers[at + 17] = code(l.pool);
    texts[2 * n] = l.address;
    texts[2 * n + 1] = l.clientDuid;
    n++;
  }
  return { count: writes.length, tags, numbers, texts, table, other };
}

/** The buffers of `packed` to list as transferable in `postMessage`. */
export function packedTransfer(packed: PackedWrites): ArrayBuffer[] {
  return [packed.tags.buffer as ArrayBuffer, packed.numbers.buffer as ArrayBuffer];
}

/**
 * The writes of `packed`, in the order they were packed. A malformed pack (only possible if
 * it did not come from {@linkcode packWrites}) throws a `RangeError` naming what is wrong;
 * the leases are not validated here (the store validates every write it applies).
 */
export function unpackWrites(packed: PackedWrites): StoreWrite[] {
  const { count, tags, numbers, texts, table, other } = packed;
  if (tags.length !== count) {
    throw new RangeError(`packed writes: ${tags.length} tags for ${count}`);
  }
  const out: StoreWrite[] = new Array(count);
  let n = 0;
  let o = 0;
  for (let i = 0; i < count; i++) {
    if (tags[i] === 1) {
      if (o >= other.length) throw new RangeError(`packed writes: write ${i}: no such entry`);
      out[i] = other[o++];
      continue;
    }
    const at = n * NUMBERS;
    if (at + NUMBERS > numbers.length) {
      throw new RangeError(`packed writes: write ${i}: lease ${n} is past the numbers`);
    }
    const lease: Lease = {
      kind: table[numbers[at + 13]] as LeaseKind,
      address: texts[2 * n],
      prefixLength: numbers[at],
      clientDuid: texts[2 * n + 1],
      iaid: numbers[at + 1],
      status: table[numbers[at + 14]] as BindingStatus,
      preferredLifetime: numbers[at + 2],
      validLifetime: numbers[at + 3],
      expirationTime: numbers[at + 4],
      partnerLifetime: numbers[at + 5],
      ackedPartnerLifetime: numbers[at + 6],
      cltTime: numbers[at + 7],
      partnerRawCltTime: numbers[at + 8],
      startTimeOfState: numbers[at + 9],
      stateExpirationTime: numbers[at + 10],
      updatePending: numbers[at + 11] === 1,
      ackPending: numbers[at + 12] === 1,
      owner: table[numbers[at + 15]] as PoolOwner,
      relationship: table[numbers[at + 16]],
      pool: table[numbers[at + 17]],
    };
    out[i] = { type: "lease", lease };
    n++;
  }
  return out;
}
