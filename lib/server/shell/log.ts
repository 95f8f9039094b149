/**
 * Structured logs for `failover6 serve`: one record per line, as text
 * (`2026-01-01T00:00:00.000Z INFO listening address=::1 port=10547`) or as JSON lines
 * (`{"time":"…","level":"info","msg":"listening","address":"::1","port":10547}`), with a
 * lowest level, and a per-key rate limiter for lines that bad traffic could otherwise flood.
 *
 * Formatting is pure ({@linkcode formatLogLine}); the {@linkcode Logger} only adds the clock
 * and the sink.
 *
 * @module
 */

import { type Clock, systemClock } from "../../util/clock.ts";

/** Log levels, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Output format: human text lines or JSON lines. */
export type LogFormat = "text" | "json";

/** Every level, lowest first. */
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

const RANK: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Values a log field may hold. */
export type LogValue = string | number | boolean | null | undefined | bigint | readonly string[];

/** Named values attached to a record. */
export type LogFields = Readonly<Record<string, LogValue>>;

/** One log record before formatting. */
export interface LogRecord {
  /** Milliseconds since the Unix epoch. */
  time: number;
  /** Severity. */
  level: LogLevel;
  /** What happened, a short fixed phrase (no values in it: values go in `fields`). */
  msg: string;
  /** Named values. Fields whose value is `undefined` are left out. */
  fields: LogFields;
}

/** Where formatted lines go. */
export interface LogSink {
  /** Writes one line (without its newline). */
  write(line: string): void;
}

const encoder = new TextEncoder();

/** A sink writing to standard error, one line per record. */
export const stderrSink: LogSink = {
  write(line) {
    try {
      Deno.stderr.writeSync(encoder.encode(line + "\n"));
    } catch {
      // A closed stderr must never take the server down.
    }
  },
};

/** A sink that keeps the lines in memory (for tests). */
export class MemorySink implements LogSink {
  /** Every line written, in order. */
  readonly lines: string[] = [];
  /** Appends the line. */
  write(line: string): void {
    this.lines.push(line);
  }
}

/** True when `level` is at or above `threshold`. */
export function levelEnabled(level: LogLevel, threshold: LogLevel): boolean {
  return RANK[level] >= RANK[threshold];
}

/** True when `s` holds a C0 control character or DEL. */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

function textValue(v: Exclude<LogValue, undefined>): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return textValue(v.join(","));
  const s = String(v);
  if (s === "" || /[\s"=\\]/.test(s) || hasControl(s)) return JSON.stringify(s);
  return s;
}

function jsonValue(v: Exclude<LogValue, undefined>): unknown {
  return typeof v === "bigint" ? v.toString() : v;
}

/**
 * Formats a record as one line. Text: `TIME LEVEL msg key=value …` (values with spaces,
 * quotes, `=` or control characters are JSON-quoted). JSON: an object with `time` (ISO 8601),
 * `level`, `msg`, then the fields; a field named like one of those three is prefixed with `_`.
 * Never contains a newline.
 */
export function formatLogLine(record: LogRecord, format: LogFormat): string {
  const iso = new Date(record.time).toISOString();
  const entries = Object.entries(record.fields).filter(([, v]) => v !== undefined) as [
    string,
    Exclude<LogValue, undefined>,
  ][];
  if (format === "json") {
    const out: Record<string, unknown> = { time: iso, level: record.level, msg: record.msg };
    for (const [k, v] of entries) {
      out[k === "time" || k === "level" || k === "msg" ? `_${k}` : k] = jsonValue(v);
    }
    return JSON.stringify(out);
  }
  let line = `${iso} ${record.level.toUpperCase().padEnd(5)} ${
    record.msg.replace(/[\r\n]+/g, " ")
  }`;
  for (const [k, v] of entries) line += ` ${k.replace(/[\s=]/g, "_")}=${textValue(v)}`;
  return line;
}

/** Options of {@linkcode Logger}. */
export interface LoggerOptions {
  /** Text or JSON lines (default text). */
  format?: LogFormat;
  /** Lowest level written (default info). */
  level?: LogLevel;
  /** Time source (default the system clock). */
  clock?: Clock;
  /** Where lines go (default standard error). */
  sink?: LogSink;
  /** Fields added to every record. */
  fields?: LogFields;
}

/** A structured logger. */
export class Logger {
  /** Format and level, shared with every {@linkcode child} (see {@linkcode reconfigure}). */
  #state: { format: LogFormat; level: LogLevel };
  readonly #clock: Clock;
  readonly #sink: LogSink;
  readonly #fields: LogFields;

  /** @param options format, level, clock, sink and fixed fields */
  constructor(options: LoggerOptions = {}) {
    this.#state = { format: options.format ?? "text", level: options.level ?? "info" };
    this.#clock = options.clock ?? systemClock;
    this.#sink = options.sink ?? stderrSink;
    this.#fields = options.fields ?? {};
  }

  /** Output format. */
  get format(): LogFormat {
    return this.#state.format;
  }

  /** Lowest level written. */
  get level(): LogLevel {
    return this.#state.level;
  }

  /**
   * Changes the format and/or the lowest level of this logger, of the logger it was made
   * from and of every child of either (a configuration reload).
   */
  reconfigure(options: { format?: LogFormat; level?: LogLevel }): void {
    if (options.format !== undefined) this.#state.format = options.format;
    if (options.level !== undefined) this.#state.level = options.level;
  }

  /** A logger writing to the same sink with `fields` added to every record. */
  child(fields: LogFields): Logger {
    const c = new Logger({
      clock: this.#clock,
      sink: this.#sink,
      fields: { ...this.#fields, ...fields },
    });
    c.#state = this.#state;
    return c;
  }

  /** True when records of `level` are written. */
  enabled(level: LogLevel): boolean {
    return levelEnabled(level, this.level);
  }

  /** Writes a record at `level` if that level is enabled. */
  log(level: LogLevel, msg: string, fields: LogFields = {}): void {
    if (!this.enabled(level)) return;
    this.#sink.write(
      formatLogLine(
        { time: this.#clock.now(), level, msg, fields: { ...this.#fields, ...fields } },
        this.format,
      ),
    );
  }

  /** A debug record. */
  debug(msg: string, fields?: LogFields): void {
    this.log("debug", msg, fields);
  }
  /** An info record. */
  info(msg: string, fields?: LogFields): void {
    this.log("info", msg, fields);
  }
  /** A warning record. */
  warn(msg: string, fields?: LogFields): void {
    this.log("warn", msg, fields);
  }
  /** An error record. */
  error(msg: string, fields?: LogFields): void {
    this.log("error", msg, fields);
  }
}

/** What {@linkcode RateLimiter.take} decided. */
export interface RateDecision {
  /** Whether to write the line now. */
  allowed: boolean;
  /** When allowed: how many lines of this key were held back since the last one written. */
  suppressed: number;
}

/** Options of {@linkcode RateLimiter}. */
export interface RateLimiterOptions {
  /** Lines allowed per key in each interval (default 1). */
  burst?: number;
  /** Length of the interval, ms (default 10 000). */
  intervalMs?: number;
  /** Time source. */
  clock?: Clock;
  /** Most keys remembered; the oldest key is forgotten beyond that (default 1024). */
  maxKeys?: number;
}

interface Bucket {
  windowStart: number;
  used: number;
  suppressed: number;
}

/**
 * Allows at most `burst` lines per key per interval and counts the rest, so the next line
 * written can say how many were held back ("suppressed=N"). Memory is bounded by `maxKeys`.
 */
export class RateLimiter {
  readonly #burst: number;
  readonly #intervalMs: number;
  readonly #clock: Clock;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, Bucket>();

  /** @param options burst, interval, clock, key limit */
  constructor(options: RateLimiterOptions = {}) {
    this.#burst = Math.max(1, Math.floor(options.burst ?? 1));
    this.#intervalMs = Math.max(1, options.intervalMs ?? 10_000);
    this.#clock = options.clock ?? systemClock;
    this.#maxKeys = Math.max(1, Math.floor(options.maxKeys ?? 1024));
  }

  /** Number of keys remembered. */
  get size(): number {
    return this.#buckets.size;
  }

  /** Decides about one line of `key`. */
  take(key: string): RateDecision {
    const now = this.#clock.now();
    let b = this.#buckets.get(key);
    if (b === undefined) {
      if (this.#buckets.size >= this.#maxKeys) {
        const oldest = this.#buckets.keys().next().value;
        if (oldest !== undefined) this.#buckets.delete(oldest);
      }
      b = { windowStart: now, used: 0, suppressed: 0 };
      this.#buckets.set(key, b);
    }
    if (now - b.windowStart >= this.#intervalMs || now < b.windowStart) {
      b.windowStart = now;
      b.used = 0;
    }
    if (b.used < this.#burst) {
      b.used++;
      const suppressed = b.suppressed;
      b.suppressed = 0;
      return { allowed: true, suppressed };
    }
    b.suppressed++;
    return { allowed: false, suppressed: 0 };
  }
}
