/**
 * Configuration reload of `failover6 serve` (SIGHUP and `POST /v1/reload`): re-read the file
 * given at start, validate it exactly as at start-up ({@linkcode readConfigFile}), work out
 * what may change now ({@linkcode planReload}), and hand the resulting configuration to the
 * server, which swaps its compiled settings in one step between two datagrams.
 *
 * An invalid file changes nothing: one log line per error (`FILE:LINE: path: message`, the
 * start-up format) and one summary line. Changes that need a restart (`listen`, `control`,
 * `leaseDatabase`, `server.duid*`, `failover`) are logged one per line and kept at their
 * running values. Reloads run one at a time: a SIGHUP during a reload waits for it.
 *
 * @module
 */

import { formatChange, planReload } from "../../config/reload.ts";
import type { Config } from "../../config/types.ts";
import type { Clock } from "../../util/clock.ts";
import { type ConfigFileResult, readConfigFile } from "./config_file.ts";
import type { Logger } from "./log.ts";
import type { ServeMetrics } from "./metrics.ts";

/** What started a reload. */
export type ReloadTrigger = "SIGHUP" | "control API" | string;

/** The outcome of one reload. */
export type ReloadOutcome =
  | {
    /** The new configuration is in use. */
    result: "applied";
    /** The file read. */
    file: string;
    /** When it was applied (ms since the epoch). */
    loadedAt: number;
    /** Changes applied, one line each (`subnets[lan].pools: changed`). */
    applied: string[];
    /** Changes kept for a restart, one line each (`listen: changed; restart to apply`). */
    needsRestart: string[];
  }
  | {
    /** The file could not be read or is not valid: nothing changed. */
    result: "invalid";
    /** The file read. */
    file: string;
    /** One line per error, `FILE:LINE: path: message`. */
    errors: string[];
  }
  | {
    /** The server runs on the embedded default: there is no file to read. */
    result: "no-file";
    /** One line saying so. */
    message: string;
  };

/** The configuration figures of the status document. */
export interface ReloadStatus {
  /** The configuration file, `null` on the embedded default. */
  file: string | null;
  /** When the running configuration was loaded (ISO 8601): start or last applied reload. */
  loadedAt: string;
  /** Reloads since start, by result. */
  reloads: { ok: number; invalid: number };
  /** The last reload attempt, `null` before the first. */
  lastReload: {
    at: string;
    trigger: string;
    result: "applied" | "invalid" | "no-file";
    applied?: string[];
    needsRestart?: string[];
    errors?: string[];
  } | null;
}

/** What the reloader needs from the server. */
export interface ReloadTarget {
  /** The configuration the server runs on now. */
  current(): Config;
  /**
   * Puts `config` in use in one step (compile, then swap); throws, changing nothing, when the
   * server core refuses it.
   */
  apply(config: Config): void;
}

/** Options of {@linkcode ConfigReloader}. */
export interface ConfigReloaderOptions {
  /** The file given with `--config`; absent: embedded default, nothing to reload. */
  file?: string;
  /** The server side. */
  target: ReloadTarget;
  /** Logs. */
  log: Logger;
  /** Counters and gauges. */
  metrics: ServeMetrics;
  /** Time source. */
  clock: Clock;
  /** Reads and validates the file (default {@linkcode readConfigFile}; tests replace it). */
  read?: (file: string) => Promise<ConfigFileResult>;
}

/** Reloads the configuration on request, one reload at a time. */
export class ConfigReloader {
  readonly #o: ConfigReloaderOptions;
  readonly #read: (file: string) => Promise<ConfigFileResult>;
  #loadedAt: number;
  #ok = 0;
  #invalid = 0;
  #last: ReloadStatus["lastReload"] = null;
  #queue: Promise<unknown> = Promise.resolve();

  /** @param options file, server side, log, metrics, clock */
  constructor(options: ConfigReloaderOptions) {
    this.#o = options;
    this.#read = options.read ?? readConfigFile;
    this.#loadedAt = options.clock.now();
    options.metrics.configReloads.inc({ result: "ok" }, 0);
    options.metrics.configReloads.inc({ result: "invalid" }, 0);
    options.metrics.configLastReloadSuccess.set(undefined, this.#loadedAt / 1000);
  }

  /** The configuration file, `undefined` on the embedded default. */
  get file(): string | undefined {
    return this.#o.file;
  }

  /** Re-reads, validates and applies the file (after any reload still running). */
  reload(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    const run = this.#queue.then(() => this.#reload(trigger));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #reload(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    const { log, metrics, clock, target } = this.#o;
    const file = this.#o.file;
    if (file === undefined) {
      const message =
        "no configuration file: running on the embedded default; nothing to reload (start with --config FILE)";
      log.warn("configuration reload: nothing to reload", { trigger, reason: message });
      this.#last = { at: iso(clock.now()), trigger, result: "no-file" };
      return { result: "no-file", message };
    }
    log.info("configuration reload", { trigger, config: file });
    const read = await this.#read(file);
    let outcome: ReloadOutcome;
    if (!read.ok) {
      outcome = { result: "invalid", file, errors: read.errors };
    } else {
      const plan = planReload(target.current(), read.config);
      try {
        target.apply(plan.config);
        const loadedAt = clock.now();
        outcome = {
          result: "applied",
          file,
          loadedAt,
          applied: plan.applied.map(formatChange),
          needsRestart: plan.needsRestart.map(formatChange),
        };
      } catch (e) {
        outcome = { result: "invalid", file, errors: [`${file}: ${(e as Error).message}`] };
      }
    }
    const now = clock.now();
    if (outcome.result === "invalid") {
      this.#invalid++;
      metrics.configReloads.inc({ result: "invalid" });
      for (const e of outcome.errors) log.error("configuration error", { error: e });
      log.error(
        "configuration reload failed; still running on the previous configuration",
        { config: file, errors: outcome.errors.length },
      );
      this.#last = { at: iso(now), trigger, result: "invalid", errors: outcome.errors };
    } else if (outcome.result === "applied") {
      this.#ok++;
      this.#loadedAt = outcome.loadedAt;
      metrics.configReloads.inc({ result: "ok" });
      metrics.configLastReloadSuccess.set(undefined, outcome.loadedAt / 1000);
      for (const c of outcome.needsRestart) {
        log.warn("configuration change not applied", { change: c });
      }
      log.info("configuration reloaded", {
        config: file,
        applied: outcome.applied.length > 0 ? outcome.applied : "nothing changed",
        needsRestart: outcome.needsRestart.length,
      });
      this.#last = {
        at: iso(now),
        trigger,
        result: "applied",
        applied: outcome.applied,
        needsRestart: outcome.needsRestart,
      };
    }
    return outcome;
  }

  /** The configuration figures of the status document. */
  status(): ReloadStatus {
    return {
      file: this.#o.file ?? null,
      loadedAt: iso(this.#loadedAt),
      reloads: { ok: this.#ok, invalid: this.#invalid },
      lastReload: this.#last,
    };
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
