/**
 * Durations as people write them, in whole seconds: `90`, `90s`, `45m`, `1h30m`, `3d`, `1.5d`,
 * `2w`, and ISO 8601 durations (`P3D`, `PT1H`, `P1DT12H`, `PT0.5H`).
 *
 * Parsing never throws: it returns a {@linkcode DurationResult} whose error names the offset of the
 * first character that could not be read. Shared by the CLI and the configuration loader.
 *
 * @module
 */

/** Seconds in each unit that a duration may use. */
export const SECONDS_PER_UNIT: Readonly<Record<DurationUnit, number>> = {
  w: 604800,
  d: 86400,
  h: 3600,
  m: 60,
  s: 1,
};

/** A unit letter of the short form (`1d12h`): weeks, days, hours, minutes, seconds. */
export type DurationUnit = "w" | "d" | "h" | "m" | "s";

/** Why a text is not a duration: a message and the 0-based offset in the text where it went wrong. */
export interface DurationError {
  /** What is wrong, in words, without the text itself (the caller names the field). */
  message: string;
  /** Offset in the (untrimmed) text of the first character that could not be used. */
  offset: number;
}

/** The result of {@linkcode parseDuration}: whole seconds, or why not. */
export type DurationResult =
  | { ok: true; seconds: number }
  | { ok: false; error: DurationError };

const UNIT_ORDER: readonly DurationUnit[] = ["w", "d", "h", "m", "s"];
const NUMBER = /^[0-9]+(?:[.,][0-9]+)?/;

function fail(message: string, offset: number): DurationResult {
  return { ok: false, error: { message, offset } };
}

/** Rounds away float noise (1.1h = 3960.0000000000005) but keeps real fractions visible. */
function settle(seconds: number): number {
  const rounded = Math.round(seconds);
  return Math.abs(seconds - rounded) < 1e-6 ? rounded : seconds;
}

function finish(seconds: number, at: number): DurationResult {
  const s = settle(seconds);
  if (!Number.isSafeInteger(s)) {
    return Number.isFinite(s) && s < Number.MAX_SAFE_INTEGER
      ? fail("is not a whole number of seconds", at)
      : fail("is too large", at);
  }
  return { ok: true, seconds: s };
}

/**
 * Parses a duration into whole seconds.
 *
 * Accepted forms:
 * - a plain number of seconds: `90`, `1.5` is refused (not whole);
 * - number-unit pairs, largest unit first, each unit once, optional spaces:
 *   `90s`, `45m`, `1h30m`, `3d`, `1.5d`, `2w 1d` (units `w d h m s`, any case);
 * - ISO 8601 `PnW`, `PnDTnHnMnS` (a fraction is allowed, comma or dot). Years and months are
 *   refused because they have no fixed length.
 *
 * Negative durations are refused; zero is a valid duration (callers that need a positive one say
 * so themselves).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDuration } from "@failover6/failover6";
 *
 * assert.deepEqual(parseDuration("1h30m"), { ok: true, seconds: 5400 });
 * assert.deepEqual(parseDuration("P3D"), { ok: true, seconds: 259200 });
 * assert.deepEqual(parseDuration("90x"), {
 *   ok: false,
 *   error: { message: 'unknown unit "x" (use w, d, h, m or s)', offset: 2 },
 * });
 * ```
 */
export function parseDuration(text: string): DurationResult {
  const lead = text.length - text.trimStart().length;
  const body = text.trim();
  if (body === "") return fail("is empty", 0);
  if (body[0] === "-") return fail("is negative", lead);
  if (body[0] === "+") return fail("must not have a sign", lead);
  if (body[0] === "P" || body[0] === "p") return parseIso(body, lead);
  return parseShort(body, lead);
}

function parseShort(body: string, lead: number): DurationResult {
  let pos = 0;
  let total = 0;
  let lastUnit = -1;
  let parts = 0;
  while (pos < body.length) {
    while (body[pos] === " ") pos++;
    if (pos >= body.length) break;
    const m = NUMBER.exec(body.slice(pos));
    if (!m) return fail("expected a number", lead + pos);
    const value = Number(m[0].replace(",", "."));
    const numberAt = pos;
    pos += m[0].length;
    while (body[pos] === " ") pos++;
    if (pos >= body.length) {
      if (parts === 0) return finish(value, lead + numberAt); // plain seconds
      return fail("a number needs a unit (w, d, h, m or s) after the first part", lead + pos);
    }
    const unit = body[pos].toLowerCase() as DurationUnit;
    const index = UNIT_ORDER.indexOf(unit);
    if (index < 0) {
      return fail(`unknown unit "${body[pos]}" (use w, d, h, m or s)`, lead + pos);
    }
    if (index <= lastUnit) {
      return fail(`unit "${body[pos]}" is repeated or out of order (largest first)`, lead + pos);
    }
    lastUnit = index;
    total += value * SECONDS_PER_UNIT[unit];
    pos++;
    parts++;
  }
  return finish(total, lead);
}

function parseIso(body: string, lead: number): DurationResult {
  let pos = 1;
  let total = 0;
  let inTime = false;
  let parts = 0;
  let fractionSeen = false;
  const dateUnits = ["Y", "M", "W", "D"];
  const timeUnits = ["H", "M", "S"];
  let lastIndex = -1;
  while (pos < body.length) {
    const c = body[pos].toUpperCase();
    if (c === "T") {
      if (inTime) return fail('"T" appears twice', lead + pos);
      inTime = true;
      lastIndex = -1;
      pos++;
      if (pos >= body.length) {
        return fail('"T" must be followed by hours, minutes or seconds', lead + pos);
      }
      continue;
    }
    if (fractionSeen) return fail("only the last part may have a fraction", lead + pos);
    const m = NUMBER.exec(body.slice(pos));
    if (!m) return fail("expected a number", lead + pos);
    const value = Number(m[0].replace(",", "."));
    if (/[.,]/.test(m[0])) fractionSeen = true;
    pos += m[0].length;
    if (pos >= body.length) return fail("a number needs a unit letter", lead + pos);
    const unit = body[pos].toUpperCase();
    const units = inTime ? timeUnits : dateUnits;
    const index = units.indexOf(unit);
    if (index < 0) {
      return fail(
        inTime
          ? `unknown time unit "${body[pos]}" (use H, M or S)`
          : `unknown date unit "${body[pos]}" (use W or D, and T before hours, minutes, seconds)`,
        lead + pos,
      );
    }
    if (index <= lastIndex) {
      return fail(`unit "${body[pos]}" is repeated or out of order`, lead + pos);
    }
    if (!inTime && (unit === "Y" || unit === "M")) {
      return fail(
        `${unit === "Y" ? "years" : "months"} have no fixed length; use days (D) or weeks (W)`,
        lead + pos,
      );
    }
    lastIndex = index;
    const seconds = inTime
      ? { H: 3600, M: 60, S: 1 }[unit as "H" | "M" | "S"]
      : { W: 604800, D: 86400 }[unit as "W" | "D"];
    total += value * seconds;
    pos++;
    parts++;
  }
  if (parts === 0) {
    return fail("an ISO 8601 duration needs at least one part, e.g. P3D", lead + pos);
  }
  return finish(total, lead);
}

/**
 * Renders whole seconds in the short form that {@linkcode parseDuration} reads back, largest
 * unit first without weeks: `0s`, `45m`, `1h30m`, `3d30m`, `1d12h`. Negative values get a `-`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatDuration, parseDuration } from "@failover6/failover6";
 *
 * assert.equal(formatDuration(5400), "1h30m");
 * assert.equal(formatDuration(261000), "3d30m");
 * assert.deepEqual(parseDuration(formatDuration(261000)), { ok: true, seconds: 261000 });
 * ```
 */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return String(seconds);
  if (seconds < 0) return `-${formatDuration(-seconds)}`;
  let rest = Math.round(seconds);
  if (rest === 0) return "0s";
  let out = "";
  for (const unit of ["d", "h", "m", "s"] as const) {
    const n = Math.floor(rest / SECONDS_PER_UNIT[unit]);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * SECONDS_PER_UNIT[unit];
    }
  }
  return out;
}
