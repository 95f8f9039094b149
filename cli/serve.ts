/**
 * `failover6 serve`: run the DHCPv6 server.
 *
 * - `failover6 serve` runs on the embedded default configuration (and says so);
 * - `failover6 serve --config FILE` runs on FILE;
 * - `failover6 serve --check FILE` validates FILE and exits: 0 valid, 2 invalid (one line per
 *   error, `FILE:LINE: path: message`).
 *
 * SIGTERM and SIGINT drain (stop accepting, finish commits and their replies, close the
 * database) and exit 0. SIGHUP (like `failover6 ctl reload`) re-reads the `--config` file,
 * validates it as at start-up and applies what may change without a restart (subnets, pools,
 * prefixes, reservations, lifetimes, options, logging); an invalid file changes nothing and is
 * logged one line per error (see `lib/server/shell/reload.ts`). A configuration or lease database that cannot be used exits 2; sockets
 * that cannot be opened exit 1.
 *
 * Permissions: `--allow-net` (UDP, control API), `--allow-read` and `--allow-write` (the
 * configuration, lease database, token and DUID files).
 *
 * @module
 */

import type { Command } from "@commander-js/extra-typings";
import { UsageError } from "./main.ts";
import { type Config, DEFAULT_CONFIG_NAME, defaultConfig } from "../lib/config/mod.ts";
import { DhcpServer, StartError } from "../lib/server/shell/server.ts";
import { readConfigFile as readAndValidate } from "../lib/server/shell/config_file.ts";
import { Logger, stderrSink } from "../lib/server/shell/log.ts";

/** A configuration that failed validation; each line is one error. */
class ConfigInvalid extends Error {
  readonly lines: string[];
  constructor(lines: string[]) {
    super(lines[0] ?? "invalid configuration");
    this.lines = lines;
  }
}

/**
 * Reads and validates a configuration file (the same check a reload makes); throws
 * UsageError (cannot read it) or ConfigInvalid.
 */
export async function readConfigFile(file: string): Promise<Config> {
  const r = await readAndValidate(file);
  if (r.ok) return r.config;
  if (r.kind === "unreadable") throw new UsageError(r.errors[0]);
  throw new ConfigInvalid(r.errors);
}

function printInvalid(e: ConfigInvalid): void {
  for (const line of e.lines) console.error(`failover6: ${line}`);
}

/** Registers `serve`. */
export function register(program: Command): void {
  const serve = program
    .command("serve")
    .description(
      "run the DHCPv6 server (embedded default configuration when no --config is given)",
    )
    .option("--config <file>", "YAML configuration file")
    .option("--check <file>", "validate a configuration file and exit (0 valid, 2 invalid)")
    .action(async (o) => {
      if (o.check !== undefined && o.config !== undefined) {
        throw new UsageError("--check and --config: give one");
      }
      if (o.check !== undefined) {
        try {
          const c = await readConfigFile(o.check);
          const pools = c.subnets.reduce((n, s) => n + s.pools.length + s.prefixes.length, 0);
          console.log(
            `${o.check}: valid (${c.subnets.length} subnet(s), ${pools} pool(s), ` +
              `${c.listen.length} listen socket(s), ${c.failover.length} relationship(s))`,
          );
          return;
        } catch (e) {
          if (e instanceof ConfigInvalid) {
            printInvalid(e);
            Deno.exitCode = 2;
            return;
          }
          throw e;
        }
      }
      let config: Config;
      let configName: string;
      if (o.config === undefined) {
        config = defaultConfig();
        configName = DEFAULT_CONFIG_NAME;
      } else {
        try {
          config = await readConfigFile(o.config);
        } catch (e) {
          if (e instanceof ConfigInvalid) {
            printInvalid(e);
            console.error(`failover6: ${o.config}: not starting`);
            Deno.exitCode = 2;
            return;
          }
          throw e;
        }
        configName = o.config;
      }
      await runServer(config, configName, o.config);
    });
  serve.showHelpAfterError(false);
  serve.configureOutput({
    outputError: (str, write) => write(`failover6: ${str.replace(/^error: /, "").trimEnd()}\n`),
  });
}

/** Starts the server, waits for SIGTERM/SIGINT or a control-API shutdown, drains, returns. */
async function runServer(
  config: Config,
  configName: string,
  configFile: string | undefined,
): Promise<void> {
  const logger = new Logger({
    format: config.logging.format,
    level: config.logging.level,
    sink: stderrSink,
  });
  let server: DhcpServer;
  try {
    server = await DhcpServer.start({ config, configName, configFile, logger });
  } catch (e) {
    if (e instanceof StartError) {
      if (e.kind === "config") throw new UsageError(e.message);
      console.error(`failover6: ${e.message}`);
      Deno.exitCode = 1;
      return;
    }
    throw e;
  }
  const signals: Deno.Signal[] = ["SIGTERM", "SIGINT"];
  const handlers = signals.map((sig) => {
    const h = () => {
      server.stop(sig);
    };
    Deno.addSignalListener(sig, h);
    return [sig, h] as const;
  });
  // SIGHUP: reload; the outcome is logged by the server (a failed reload keeps it running).
  const hup = () => {
    server.reload("SIGHUP").catch((e) =>
      logger.error("configuration reload failed", { error: (e as Error).message })
    );
  };
  let hupListening = false;
  try {
    Deno.addSignalListener("SIGHUP", hup);
    hupListening = true;
  } catch { /* no SIGHUP on this platform: reload through the control API */ }
  await server.finished;
  for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
  if (hupListening) Deno.removeSignalListener("SIGHUP", hup);
  Deno.exitCode = 0;
}
