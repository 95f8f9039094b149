/**
 * Fixed layout facts shared by the decoder, encoder and renderer.
 *
 * @module
 */

import { isFailoverMsgType, isRelayMsgType } from "./types.ts";

/** Fixed-size integer options: code -> [field name, size in octets]. */
export const SCALAR_OPTIONS: Readonly<Record<number, readonly [string, 1 | 2 | 4]>> = {
  7: ["preference", 1],
  8: ["elapsedTime", 2],
  19: ["reconfMsgType", 1],
  32: ["informationRefreshTime", 4],
  46: ["cltTime", 4],
  82: ["solMaxRt", 4],
  83: ["infMaxRt", 4],
  100: ["baseTime", 4],
  114: ["bindingStatus", 1],
  115: ["flags", 2],
  119: ["flags", 2],
  120: ["expirationTime", 4],
  121: ["maxUnackedBndupd", 4],
  122: ["mclt", 4],
  123: ["partnerLifetime", 4],
  124: ["partnerLifetimeSent", 4],
  125: ["partnerDownTime", 4],
  126: ["partnerRawCltTime", 4],
  128: ["keepaliveTime", 4],
  131: ["flags", 1],
  132: ["serverState", 1],
  133: ["startTimeOfState", 4],
  134: ["stateExpirationTime", 4],
};

/** Minimum header length for a message type. */
export function headerLength(msgType: number): number {
  return isRelayMsgType(msgType) ? 34 : isFailoverMsgType(msgType) ? 8 : 4;
}

/** Option codes the codec decodes into a typed form (all others stay `{raw: true}`). */
export const TYPED_OPTION_CODES: ReadonlySet<number> = new Set([
  1,
  2,
  3,
  4,
  5,
  6,
  7,
  8,
  9,
  12,
  13,
  14,
  18,
  19,
  20,
  23,
  24,
  25,
  26,
  32,
  39,
  45,
  46,
  47,
  68,
  82,
  83,
  100,
  114,
  115,
  116,
  117,
  118,
  119,
  120,
  121,
  122,
  123,
  124,
  125,
  126,
  127,
  128,
  129,
  130,
  131,
  132,
  133,
  134,
]);

/** Option codes whose data holds nested options (after a fixed part). */
export const CONTAINER_OPTION_CODES: ReadonlySet<number> = new Set([3, 4, 5, 25, 26, 45, 116]);
