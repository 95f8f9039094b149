/**
 * `failover6 serve`: run the DHCPv6 server.
 *
 * - `failover6 serve` runs on the embedded default configuration (and says so);
 * - `failover6 serve --config FILE` runs on FILE;
 * - `failover6 serve --check FILE` validates FILE and exits: 0 valid, 2 invalid (one line per
 *   error, `FILE:LINE: path: message`).
 *
 * SIGTERM and SIGINT drain (stop accepting, finish commits and their replies, close the
 * database) and exit 0. A configuration or lease database that cannot be used exits 2; sockets
 * that cannot be opened exit 1.
 *
 * Permissions: `--allow-net` (UDP, control API), `--allow-read` and `--allow-write` (the
 * configuration, lease database, token and DUID files).
 *
 * @module
 */

import type { Command } from "@commander-js/extra-typings";
import { UsageError } from "./main.ts";
import {
  type Config,
  DEFAULT_CONFIG_NAME,
  defaultConfig,
  formatConfigError,
  loadConfig,
  MAX_CONFIG_BYTES,
} from "../lib/config/mod.ts";
import { compileSettings } from "../lib/server/settings.ts";
import { DhcpServer, StartError } from "../lib/server/shell/server.ts";
import { checkFailoverConfig } from "../lib/server/shell/failover.ts";
import { Logger, stderrSink } from "../lib/server/shell/log.ts";

/** A configuration that failed validation; each line is one error. */
class ConfigInvalid extends Error {
  readonly lines: string[];
  constructor(lines: string[]) {
    super(lines[0] ?? "invalid configuration");
    this.lines = lines;
  }
}

/** Reads and validates a configuration file; throws UsageError or ConfigInvalid. */
export async function readConfigFile(file: string): Promise<Config> {
  let text: string;
  try {
    const st = await Deno.stat(file);
    if (!st.isFile) throw new UsageError(`${file}: not a file`);
    if (st.size > MAX_CONFIG_BYTES) {
      throw new UsageError(`${file}: too large for a configuration (${st.size} bytes)`);
    }
    text = await Deno.readTextFile(file);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
  }
  const r = loadConfig(text, file);
  if (!r.ok) throw new ConfigInvalid(r.errors.map(formatConfigError));
  try {
    compileSettings(r.config);
  } catch (e) {
    throw new ConfigInvalid([`${file}: ${(e as Error).message}`]);
  }
  const failover = checkFailoverConfig(r.config);
  if (failover.errors.length > 0) {
    throw new ConfigInvalid(failover.errors.map((e) => `${file}: ${e.message}`));
  }
  return r.config;
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
      await runServer(config, configName);
    });
  serve.showHelpAfterError(false);
  serve.configureOutput({
    outputError: (str, write) => write(`failover6: ${str.replace(/^error: /, "").trimEnd()}\n`),
  });
}

/** Starts the server, waits for SIGTERM/SIGINT or a control-API shutdown, drains, returns. */
async function runServer(config: Config, configName: string): Promise<void> {
  const logger = new Logger({
    format: config.logging.format,
    level: config.logging.level,
    sink: stderrSink,
  });
  let server: DhcpServer;
  try {
    server = await DhcpServer.start({ config, configName, logger });
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
  await server.finished;
  for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
  Deno.exitCode = 0;
}
