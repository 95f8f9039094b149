/**
 * `failover6 mclt`: lease-time schedules under the Maximum Client Lead Time, computed by the same
 * rules module the server uses (`lib/failover/mclt.ts`).
 *
 * - `failover6 mclt [options]`: simulate a client, its renewals and the partner's acks, and print
 *   the schedule as a table (default), `--json`, `--csv`, with `--explain`, or draw `--svg FILE`;
 * - `failover6 mclt reuse …`: when may an address go to another client in PARTNER-DOWN?
 * - `failover6 mclt recover-wait …`: when does RECOVER-WAIT end?
 *
 * Bad options throw {@linkcode UsageError}: one line on stderr, exit status 2.
 *
 * @module
 */
import type { Command } from "@commander-js/extra-typings";
import { UsageError } from "./main.ts";
import { type Clock, systemClock } from "../lib/util/clock.ts";
import { formatDuration, parseDuration } from "../lib/util/duration.ts";
import { recoverWaitEnd, reuseTime } from "../lib/failover/mclt.ts";
import {
  type AckModel,
  checkScheduleParams,
  type ScheduleParams,
  type ScheduleRow,
  simulateSchedule,
} from "../lib/failover/mclt_schedule.ts";
import { scheduleSvg } from "../lib/failover/mclt_svg.ts";

/** Maps a `ScheduleParams` field to the option the user typed. */
const OPTION_OF_FIELD: Record<string, string> = {
  desired: "--valid",
  desiredPreferred: "--preferred",
  mclt: "--mclt",
  t1Fraction: "--t1",
  renewals: "--renewals",
  renewAt: "--renew-at",
  ack: "--ack",
  commsLostAt: "--comms-lost-at",
  partnerDownAt: "--partner-down-at",
  start: "--start",
};

/** Parses a duration option into seconds, or throws a one-line UsageError naming the option. */
export function durationOption(
  option: string,
  text: string,
  opts: { positive?: boolean } = {},
): number {
  const r = parseDuration(text);
  if (!r.ok) {
    const where = r.error.offset > 0 ? ` (at character ${r.error.offset + 1})` : "";
    throw new UsageError(`${option}: "${text}" is not a duration: ${r.error.message}${where}`);
  }
  if (opts.positive && r.seconds <= 0) {
    throw new UsageError(`${option}: must be longer than zero (got "${text}")`);
  }
  return r.seconds;
}

const DATE_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2}))?$/;

/**
 * Parses an ISO 8601 date (`2026-01-01`, UTC) or date-time with a zone (`…T00:00:00Z`,
 * `…+02:00`) into whole Unix seconds, or throws a UsageError naming the option.
 */
export function dateOption(option: string, text: string): number {
  const m = DATE_RE.exec(text.trim());
  const bad = () =>
    new UsageError(
      `${option}: "${text}" is not a date (use ISO 8601 with a zone, e.g. 2026-01-01T00:00:00Z)`,
    );
  if (!m) throw bad();
  const [, y, mo, d, h = "0", mi = "0", s = "0"] = m;
  const check = new Date(Date.UTC(+y, +mo - 1, +d, +h, +mi, +s));
  if (
    check.getUTCFullYear() !== +y || check.getUTCMonth() !== +mo - 1 || check.getUTCDate() !== +d ||
    +h > 23 || +mi > 59 || +s > 59
  ) throw bad();
  const ms = m[4] === undefined ? Date.parse(`${y}-${mo}-${d}T00:00:00Z`) : Date.parse(text.trim());
  if (!Number.isFinite(ms) || ms < 0) throw bad();
  return Math.floor(ms / 1000);
}

/** A time option: an ISO date-time, or a duration counted from `start`. */
export function timeOption(option: string, text: string, start: number): number {
  if (/^\d{4}-\d{2}-\d{2}/.test(text.trim())) return dateOption(option, text);
  return start + durationOption(option, text);
}

/** ISO 8601 rendering of Unix seconds, without milliseconds. */
export function isoTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace(".000Z", "Z");
}

function parseFraction(option: string, text: string): number {
  const t = text.trim();
  if (!/^(?:\d+(?:\.\d*)?|\.\d+)$/.test(t)) {
    throw new UsageError(`${option}: "${text}" is not a number (use a fraction such as 0.5)`);
  }
  const v = Number(t);
  if (!(v > 0 && v < 1)) {
    throw new UsageError(`${option}: must lie strictly between 0 and 1 (got ${text})`);
  }
  return v;
}

function parseCount(option: string, text: string): number {
  if (!/^\d+$/.test(text.trim())) {
    throw new UsageError(`${option}: "${text}" is not a whole number`);
  }
  return Number(text.trim());
}

function parseAck(text: string): AckModel {
  const t = text.trim().toLowerCase();
  if (t === "at-once" || t === "now" || t === "0") return { kind: "at-once" };
  if (t === "never") return { kind: "never" };
  const delay = durationOption("--ack", text);
  return delay === 0 ? { kind: "at-once" } : { kind: "late", delay };
}

/** The options of `failover6 mclt` as commander hands them over. */
export interface ScheduleOptions {
  /** `--valid`: desired valid lifetime. */
  valid: string;
  /** `--preferred`: desired preferred lifetime. */
  preferred?: string;
  /** `--mclt`. */
  mclt: string;
  /** `--t1`: fraction in (0, 1). */
  t1: string;
  /** `--renewals`: count of T1 renewals. */
  renewals: string;
  /** `--renew-at`: comma-separated times. */
  renewAt?: string;
  /** `--ack`: at-once, never, or a delay. */
  ack: string;
  /** `--comms-lost-at`. */
  commsLostAt?: string;
  /** `--partner-down-at`. */
  partnerDownAt?: string;
  /** `--start`: ISO 8601 date-time. */
  start?: string;
  /** `--json`. */
  json?: boolean;
  /** `--csv`. */
  csv?: boolean;
  /** `--explain`. */
  explain?: boolean;
  /** `--svg FILE`. */
  svg?: string;
}

/** Turns the command-line options into simulator parameters, or throws a UsageError. */
export function scheduleParamsFromOptions(o: ScheduleOptions, clock: Clock): ScheduleParams {
  const start = o.start === undefined
    ? Math.floor(clock.now() / 1000)
    : dateOption("--start", o.start);
  const params: ScheduleParams = {
    start,
    desired: durationOption("--valid", o.valid, { positive: true }),
    mclt: durationOption("--mclt", o.mclt, { positive: true }),
    t1Fraction: parseFraction("--t1", o.t1),
    renewals: parseCount("--renewals", o.renewals),
    ack: parseAck(o.ack),
  };
  if (o.preferred !== undefined) {
    params.desiredPreferred = durationOption("--preferred", o.preferred);
  }
  if (o.renewAt !== undefined) {
    const parts = o.renewAt.split(",").map((s) => s.trim()).filter((s) => s !== "");
    if (parts.length === 0) throw new UsageError(`--renew-at: give at least one time`);
    params.renewAt = parts.map((p) => timeOption("--renew-at", p, start));
  }
  if (o.commsLostAt !== undefined) {
    params.commsLostAt = timeOption("--comms-lost-at", o.commsLostAt, start);
  }
  if (o.partnerDownAt !== undefined) {
    params.partnerDownAt = timeOption("--partner-down-at", o.partnerDownAt, start);
  }
  const problem = checkScheduleParams(params);
  if (problem) {
    const option = OPTION_OF_FIELD[problem.field] ?? problem.field;
    throw new UsageError(`${option}: ${problem.message.slice(problem.field.length + 2)}`);
  }
  return params;
}

const rel = (t: number | null, start: number) => t === null ? null : t - start;
const relText = (t: number | null, start: number) =>
  t === null ? "-" : `+${formatDuration(t - start)}`;
const isoOrNull = (t: number | null) => t === null ? null : isoTime(t);

/** One schedule row as JSON: times in seconds since the start and as ISO dates. */
export function rowToJson(row: ScheduleRow, start: number): Record<string, unknown> {
  return {
    step: row.step,
    time: row.time - start,
    timeIso: isoTime(row.time),
    event: row.event,
    state: row.state,
    ackedPartnerLifetime: rel(row.ackedPartnerLifetime, start),
    ackedPartnerLifetimeIso: isoOrNull(row.ackedPartnerLifetime),
    clientLifetime: row.clientLifetime,
    preferredLifetime: row.preferredLifetime,
    clientT1: rel(row.clientT1, start),
    clientExpiry: rel(row.clientExpiry, start),
    clientExpiryIso: isoOrNull(row.clientExpiry),
    partnerLifetimeSent: rel(row.partnerLifetimeSent, start),
    partnerLifetimeSentIso: isoOrNull(row.partnerLifetimeSent),
    bound: row.bound - start,
    boundIso: isoTime(row.bound),
    boundApplies: row.boundApplies,
    reuseAt: rel(row.reuseAt, start),
    reuseAtIso: isoOrNull(row.reuseAt),
    rule: row.rule,
    explanation: row.explanation,
  };
}

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? "" : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The schedule as CSV: seconds since the start, ISO time, and `explanation` with `explain`. */
export function scheduleCsv(rows: readonly ScheduleRow[], start: number, explain: boolean): string {
  const cols = [
    "step",
    "time",
    "time_iso",
    "event",
    "state",
    "acked_partner_lifetime",
    "client_lifetime",
    "preferred_lifetime",
    "client_expiry",
    "partner_lifetime_sent",
    "bound",
    "bound_applies",
    "reuse_at",
    "rule",
    ...(explain ? ["explanation"] : []),
  ];
  const lines = [cols.join(",")];
  for (const r of rows) {
    lines.push(
      [
        r.step,
        r.time - start,
        isoTime(r.time),
        r.event,
        r.state,
        rel(r.ackedPartnerLifetime, start),
        r.clientLifetime,
        r.preferredLifetime,
        rel(r.clientExpiry, start),
        rel(r.partnerLifetimeSent, start),
        r.bound - start,
        r.boundApplies,
        rel(r.reuseAt, start),
        r.rule,
        ...(explain ? [r.explanation] : []),
      ].map(csvCell).join(","),
    );
  }
  return lines.join("\n") + "\n";
}

/**
 * The schedule as an aligned text table under a line naming the start. Times are shown as
 * `+offset` from the start. With `explain`, each row is followed by the rule that decided it.
 */
export function scheduleTable(
  rows: readonly ScheduleRow[],
  start: number,
  explain: boolean,
): string {
  const withReuse = rows.some((r) => r.reuseAt !== null);
  const header = [
    "step",
    "time",
    "event",
    "state",
    "acked partner lifetime",
    "client lifetime",
    "client expiry",
    "partner lifetime sent",
    "bound max(acked,now)+MCLT",
    ...(withReuse ? ["reuse at"] : []),
  ];
  const body = rows.map((r) => [
    String(r.step),
    `+${formatDuration(r.time - start)}`,
    r.event,
    r.state,
    relText(r.ackedPartnerLifetime, start),
    r.clientLifetime === null ? "-" : formatDuration(r.clientLifetime),
    relText(r.clientExpiry, start),
    relText(r.partnerLifetimeSent, start),
    r.boundApplies ? relText(r.bound, start) : "lifted",
    ...(withReuse ? [relText(r.reuseAt, start)] : []),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  const out = [
    `times are since the start, ${isoTime(start)}; "-" = none`,
    line(header),
    line(widths.map((w) => "-".repeat(w))),
  ];
  for (const [i, cells] of body.entries()) {
    out.push(line(cells));
    if (explain) out.push(`      why: ${rows[i].explanation}`);
  }
  return out.join("\n") + "\n";
}

/** A one-line description of the simulated settings, used as the SVG title. */
export function settingsTitle(p: ScheduleParams): string {
  const bits = [
    `valid ${formatDuration(p.desired)}`,
    `MCLT ${formatDuration(p.mclt)}`,
    `T1 ${p.t1Fraction}`,
  ];
  if (p.commsLostAt != null) bits.push(`comms lost +${formatDuration(p.commsLostAt - p.start)}`);
  if (p.partnerDownAt != null) {
    bits.push(`PARTNER-DOWN +${formatDuration(p.partnerDownAt - p.start)}`);
  }
  return `Lease times under the MCLT (${bits.join(", ")})`;
}

/** The two commander methods {@linkcode oneLineErrors} needs, whatever the command's typing. */
interface ErrorOutput {
  showHelpAfterError(displayHelp: boolean): unknown;
  configureOutput(
    config: { outputError: (str: string, write: (str: string) => void) => void },
  ): unknown;
}

/** Commander's own errors (unknown option, missing value) as one `failover6: …` line, no help. */
function oneLineErrors(cmd: ErrorOutput): void {
  cmd.showHelpAfterError(false);
  cmd.configureOutput({
    outputError: (str, write) => write(`failover6: ${str.replace(/^error: /, "").trimEnd()}\n`),
  });
}

/**
 * Registers `mclt` with its subcommands `schedule` (the default, so `failover6 mclt --valid 3d`
 * works), `reuse` and `recover-wait`. The parent has no options of its own, so the subcommands
 * can share option names (`--mclt`, `--start`) without the parent taking them.
 */
export function register(program: Command, clock: Clock = systemClock): void {
  const mclt = program
    .command("mclt")
    .description(
      "Maximum Client Lead Time (RFC 8156 §4.4): lease-time schedules (the default, " +
        "`mclt schedule`), reuse times in PARTNER-DOWN, and the end of RECOVER-WAIT",
    );
  oneLineErrors(mclt);

  const schedule = mclt
    .command("schedule", { isDefault: true })
    .description(
      "lease-time schedule under the MCLT: what the client gets, what the partner is told, and " +
        "the bound max(acked partner lifetime, now) + MCLT (default subcommand of mclt)",
    )
    .option("--valid <duration>", "desired valid lifetime (90, 45m, 1h30m, 3d, 1.5d, P3D)", "3d")
    .option("--preferred <duration>", "desired preferred lifetime (default: the valid lifetime)")
    .option("--mclt <duration>", "maximum client lead time, at least 30s", "1h")
    .option("--t1 <fraction>", "client renews at this fraction of its lifetime, in (0,1)", "0.5")
    .option("--renewals <n>", "renewals at T1 after the first Reply", "4")
    .option(
      "--renew-at <times>",
      "comma-separated times (durations since start or ISO dates) " +
        "of the client's messages, instead of T1",
    )
    .option("--ack <when>", "partner BNDREPLY: at-once, never, or a delay such as 5m", "at-once")
    .option("--comms-lost-at <time>", "communications lost (duration since start or ISO date)")
    .option("--partner-down-at <time>", "enter PARTNER-DOWN (duration since start or ISO date)")
    .option("--start <date>", "ISO 8601 time of the first request (default: now)")
    .option("--json", "print the rows as a JSON array")
    .option("--csv", "print the rows as CSV")
    .option("--explain", "say for each row which rule decided the number")
    .option("--svg <file>", "also draw the timeline as an SVG picture into FILE")
    .action(async (o) => {
      if (o.json && o.csv) throw new UsageError("--json and --csv: choose one output format");
      const params = scheduleParamsFromOptions(o, clock);
      const rows = simulateSchedule(params);
      if (o.svg !== undefined) {
        if (o.svg.trim() === "") throw new UsageError("--svg: needs a file name");
        const svg = scheduleSvg(rows, {
          start: params.start,
          mclt: params.mclt,
          title: settingsTitle(params),
        });
        try {
          await Deno.writeTextFile(o.svg, svg);
        } catch (e) {
          throw new UsageError(`--svg: cannot write ${o.svg}: ${(e as Error).message}`);
        }
      }
      if (o.json) {
        console.log(JSON.stringify(rows.map((r) => rowToJson(r, params.start)), null, 2));
      } else if (o.csv) {
        console.log(scheduleCsv(rows, params.start, !!o.explain).trimEnd());
      } else {
        console.log(scheduleTable(rows, params.start, !!o.explain).trimEnd());
      }
    });
  oneLineErrors(schedule);

  const reuse = mclt
    .command("reuse")
    .description(
      "when may this address go to another client? (PARTNER-DOWN, RFC 8156 §8.4.1): " +
        "max(latest lease time + MCLT, PARTNER-DOWN entry + MCLT)",
    )
    .option("--mclt <duration>", "maximum client lead time", "1h")
    .option("--partner-down-at <time>", "when this server entered PARTNER-DOWN (required)")
    .option("--client-expiry <time>", "the client's lease expiration time")
    .option("--partner-lifetime-sent <time>", "the partner lifetime most recently sent")
    .option("--acked-partner-lifetime <time>", "the most recent acked partner lifetime received")
    .option("--expiration-time <time>", "the partner lifetime most recently acked to the partner")
    .option("--start <date>", "times given as durations count from here (default: now)")
    .option("--json", "print the answer as JSON")
    .action((o) => {
      const start = o.start === undefined
        ? Math.floor(clock.now() / 1000)
        : dateOption("--start", o.start);
      const mcltSeconds = durationOption("--mclt", o.mclt, { positive: true });
      if (o.partnerDownAt === undefined) {
        throw new UsageError("--partner-down-at: required (the time PARTNER-DOWN was entered)");
      }
      const t = (option: string, v: string | undefined) =>
        v === undefined ? null : timeOption(option, v, start);
      const decision = reuseTime({
        mclt: mcltSeconds,
        partnerDownEntry: timeOption("--partner-down-at", o.partnerDownAt, start),
        clientExpiry: t("--client-expiry", o.clientExpiry),
        partnerLifetimeSent: t("--partner-lifetime-sent", o.partnerLifetimeSent),
        ackedPartnerLifetime: t("--acked-partner-lifetime", o.ackedPartnerLifetime),
        expirationTime: t("--expiration-time", o.expirationTime),
      });
      if (o.json) {
        console.log(JSON.stringify(
          {
            reuseAt: decision.at - start,
            reuseAtIso: isoTime(decision.at),
            fromLeaseTimes: decision.latest === "none" ? null : decision.fromLeaseTimes - start,
            fromPartnerDownEntry: decision.fromPartnerDownEntry - start,
            rule: decision.rule,
            latest: decision.latest,
            explanation: decision.explanation,
          },
          null,
          2,
        ));
        return;
      }
      console.log(
        `reuse at ${isoTime(decision.at)} (+${formatDuration(decision.at - start)} since start)`,
      );
      console.log(
        `  PARTNER-DOWN entry + MCLT:   ${isoTime(decision.fromPartnerDownEntry)}`,
      );
      console.log(
        `  latest lease time + MCLT:    ${
          decision.latest === "none"
            ? "-"
            : `${isoTime(decision.fromLeaseTimes)} (${decision.latest})`
        }`,
      );
      console.log(`  why: ${decision.explanation}`);
    });
  oneLineErrors(reuse);

  const recover = mclt
    .command("recover-wait")
    .description(
      "when does RECOVER-WAIT end? (RFC 8156 §8.6.2): time of failure (or start time) + MCLT",
    )
    .option("--mclt <duration>", "maximum client lead time", "1h")
    .option("--time-of-failure <time>", "TIME-OF-FAILURE from stable storage, if known")
    .option(
      "--start-time <time>",
      "when the server started, used without a time of failure (default: --start)",
    )
    .option("--start <date>", "times given as durations count from here (default: now)")
    .option("--json", "print the answer as JSON")
    .action((o) => {
      const start = o.start === undefined
        ? Math.floor(clock.now() / 1000)
        : dateOption("--start", o.start);
      const mcltSeconds = durationOption("--mclt", o.mclt, { positive: true });
      const startTime = o.startTime === undefined
        ? start
        : timeOption("--start-time", o.startTime, start);
      const tof = o.timeOfFailure === undefined
        ? null
        : timeOption("--time-of-failure", o.timeOfFailure, start);
      const d = recoverWaitEnd({ timeOfFailure: tof, startTime, mclt: mcltSeconds });
      if (o.json) {
        console.log(JSON.stringify(
          {
            recoverWaitEnd: d.at - start,
            recoverWaitEndIso: isoTime(d.at),
            rule: d.rule,
            explanation: d.explanation,
          },
          null,
          2,
        ));
        return;
      }
      console.log(`RECOVER-WAIT ends at ${isoTime(d.at)}: ${d.explanation}`);
    });
  oneLineErrors(recover);
}
