/**
 * The server DUID (RFC 8415 §11): configured, or generated once and kept in the lease
 * database. Generation makes a DUID-LLT when a link-layer address is given (hardware type 1,
 * time in seconds since 2000), otherwise a DUID-UUID (RFC 6355) from random octets.
 *
 * @module
 */

import { normaliseDuid } from "../store/lease.ts";
import type { StoreWrite } from "../store/types.ts";
import { unixToFailoverTime } from "../util/clock.ts";
import { bytesToHex, hexToBytes } from "../wire/bytes.ts";
import { duidLlt } from "../wire/duid.ts";
import { SettingsError } from "./settings.ts";

/** What {@linkcode resolveServerDuid} decides from. */
export interface ServerDuidInput {
  /** A DUID from the configuration (hex, `:` allowed); wins over the stored one. */
  configured?: string | null;
  /** The DUID kept in the store (`store.getServerDuid()`). */
  stored?: string;
  /** Now, ms (the time field of a DUID-LLT). */
  now: number;
  /** A link-layer (MAC) address: generate a DUID-LLT with hardware type 1 (Ethernet). */
  linkLayerAddress?: Uint8Array;
  /** Random octets for a DUID-UUID (default `crypto.getRandomValues`). */
  random?: (length: number) => Uint8Array;
}

/** The DUID to use and, when it must be kept, the store write that keeps it. */
export interface ServerDuid {
  /** DUID octets. */
  duid: Uint8Array;
  /** Lower-case hex. */
  hex: string;
  /** Where it came from. */
  source: "configured" | "stored" | "generated";
  /** Commit this before serving (absent when the store already holds this DUID). */
  write?: StoreWrite;
}

function check(hex: string, what: string): Uint8Array {
  const norm = normaliseDuid(hex);
  const bytes = norm === undefined ? undefined : hexToBytes(norm);
  if (bytes === undefined || bytes.length < 3 || bytes.length > 130) {
    throw new SettingsError(what, "a DUID is 3 to 130 octets of hex");
  }
  return bytes;
}

/** A DUID-UUID (type 4) of a random version-4 UUID. */
export function duidUuid(random: (length: number) => Uint8Array): Uint8Array {
  const u = random(16).slice(0, 16);
  u[6] = (u[6] & 0x0f) | 0x40; // version 4
  u[8] = (u[8] & 0x3f) | 0x80; // variant 10
  const out = new Uint8Array(18);
  out[1] = 4;
  out.set(u, 2);
  return out;
}

const defaultRandom = (n: number) => crypto.getRandomValues(new Uint8Array(n));

/**
 * The server DUID: the configured one, else the stored one, else a new one. Throws
 * {@linkcode SettingsError} for a configured or stored DUID that is not a DUID.
 */
export function resolveServerDuid(input: ServerDuidInput): ServerDuid {
  const stored = input.stored === undefined ? undefined : check(input.stored, "stored server DUID");
  if (input.configured !== undefined && input.configured !== null) {
    const duid = check(input.configured, "server.duid");
    const hex = bytesToHex(duid);
    return stored !== undefined && bytesToHex(stored) === hex
      ? { duid, hex, source: "configured" }
      : { duid, hex, source: "configured", write: { type: "server-duid", duid: hex } };
  }
  if (stored !== undefined) return { duid: stored, hex: bytesToHex(stored), source: "stored" };
  const duid = input.linkLayerAddress !== undefined && input.linkLayerAddress.length > 0
    ? duidLlt(1, unixToFailoverTime(input.now / 1000), input.linkLayerAddress)
    : duidUuid(input.random ?? defaultRandom);
  const hex = bytesToHex(duid);
  return { duid, hex, source: "generated", write: { type: "server-duid", duid: hex } };
}
