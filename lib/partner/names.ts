/**
 * Name lookups for scenario text: option, message-type, state, binding-status and status-code
 * names in the spellings people write (`OPTION_F_MCLT`, `F_MCLT`, `partner-down`,
 * `ExcessiveTimeSkew`), or their numbers.
 *
 * @module
 */

import {
  bindingStatusName,
  failoverStateName,
  isKnownBindingStatus,
  isKnownFailoverState,
  isKnownStatusCode,
  isNamedOption,
  messageTypeFromName,
  optionName,
  statusName,
} from "../wire/names.ts";

const OPTION_BY_NAME = new Map<string, number>();
for (let code = 0; code < 1024; code++) {
  if (!isNamedOption(code)) continue;
  const full = optionName(code);
  OPTION_BY_NAME.set(full, code);
  OPTION_BY_NAME.set(full.slice("OPTION_".length), code);
}

function key(text: string): string {
  return text.trim().toUpperCase().replaceAll("-", "_");
}

function int(text: string | number, max: number): number | undefined {
  if (typeof text === "number") {
    return Number.isInteger(text) && text >= 0 && text <= max ? text : undefined;
  }
  if (!/^(?:0x[0-9a-fA-F]+|[0-9]+)$/.test(text.trim())) return undefined;
  const n = Number(text.trim());
  return n <= max ? n : undefined;
}

/** Option code for `OPTION_F_MCLT`, `F_MCLT`, `f-mclt` or `122`; undefined if unknown. */
export function optionCodeOf(name: string | number): number | undefined {
  const n = int(name, 0xffff);
  if (n !== undefined) return n;
  return OPTION_BY_NAME.get(key(String(name)));
}

/** Message type for `CONNECT`, `bndack`, `31`; undefined if unknown. */
export function messageTypeOf(name: string | number): number | undefined {
  const n = int(name, 255);
  if (n !== undefined) return n;
  return messageTypeFromName(String(name));
}

function lookup(
  name: string | number,
  max: number,
  known: (n: number) => boolean,
  nameOf: (n: number) => string,
  normalise: (s: string) => string,
): number | undefined {
  const n = int(name, max);
  if (n !== undefined) return n;
  const want = normalise(String(name));
  for (let i = 0; i <= max; i++) if (known(i) && normalise(nameOf(i)) === want) return i;
  return undefined;
}

const dashless = (s: string) => s.trim().toUpperCase().replace(/[-_ ]/g, "");

/** Failover state code for `NORMAL`, `partner-down`, `PARTNER_DOWN` or `4`. */
export function stateOf(name: string | number): number | undefined {
  return lookup(name, 255, isKnownFailoverState, failoverStateName, dashless);
}

/** Binding status for `ACTIVE`, `free-backup` or `1`. */
export function bindingStatusOf(name: string | number): number | undefined {
  return lookup(name, 255, isKnownBindingStatus, bindingStatusName, dashless);
}

/** Status code for `ExcessiveTimeSkew`, `excessive-time-skew` or `22`. */
export function statusCodeOf(name: string | number): number | undefined {
  return lookup(name, 0xffff, isKnownStatusCode, statusName, dashless);
}
