/**
 * Helpers of the serve tests: a server on [::1] with ephemeral ports and a temporary lease
 * database, output capture for in-process CLI runs, free ports for child processes, and RSS
 * of a process.
 *
 * @module
 */

import { type Config, defaultConfig } from "../../lib/config/mod.ts";
import { DhcpServer, type DhcpServerOptions } from "../../lib/server/shell/server.ts";
import { Logger, MemorySink } from "../../lib/server/shell/log.ts";
import type { Clock } from "../../lib/util/clock.ts";
import { main } from "../../cli/main.ts";
import dgram from "node:dgram";

/** The default configuration on ephemeral ports with its database in `dir`. */
export function testConfig(dir: string, edit: (c: Config) => void = () => {}): Config {
  const c = defaultConfig();
  c.listen = [{ kind: "unicast", address: "::1", port: 0 }];
  c.control = { ...c.control, port: 0, token: "test-token", tokenFile: null };
  c.leaseDatabase = `${dir}/leases.db`;
  c.logging = { format: "json", level: "debug" };
  edit(c);
  return c;
}

/** A running in-process server and what the tests need of it. */
export interface TestServer {
  server: DhcpServer;
  /** Where clients send. */
  udp: { address: string; port: number };
  /** Control API base URL. */
  url: string;
  /** Log lines. */
  logs: MemorySink;
  /** Temporary directory (database, files). */
  dir: string;
  /** Stops the server (drain) and removes the directory. */
  close(): Promise<void>;
}

/** Starts a server in-process on [::1] with ephemeral ports. */
export async function startTestServer(
  opts: {
    dir?: string;
    edit?: (c: Config) => void;
    clock?: Clock;
    keepDir?: boolean;
    extra?: Partial<DhcpServerOptions>;
  } = {},
): Promise<TestServer> {
  const dir = opts.dir ?? await Deno.makeTempDir({ prefix: "f6serve-" });
  const config = testConfig(dir, opts.edit);
  const logs = new MemorySink();
  const server = await DhcpServer.start({
    config,
    configName: "<test>",
    logger: new Logger({ format: "json", level: "debug", sink: logs, clock: opts.clock }),
    clock: opts.clock,
    ...opts.extra,
  });
  const l = server.listeners[0];
  return {
    server,
    udp: { address: l.address, port: l.port },
    url: server.control?.url ?? "",
    logs,
    dir,
    close: async () => {
      await server.stop("test");
      if (!opts.keepDir) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** What an in-process CLI run printed and returned. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `failover6 ARGS` in-process, capturing console output and the exit code. */
export async function runCli(args: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  const stdoutWrite = Deno.stdout.write;
  console.log = (...a: unknown[]) => out.push(a.map(String).join(" "));
  console.error = (...a: unknown[]) => err.push(a.map(String).join(" "));
  Deno.exitCode = 0;
  let code: number;
  try {
    code = await main(args);
  } finally {
    console.log = log;
    console.error = error;
    Deno.stdout.write = stdoutWrite;
    Deno.exitCode = 0;
  }
  return { code, stdout: out.join("\n"), stderr: err.join("\n") };
}

/** A UDP port free on [::1] right now (for child processes; tiny race accepted). */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket("udp6");
    s.once("error", reject);
    s.bind({ address: "::1", port: 0 }, () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

/** A TCP port free on 127.0.0.1 right now. */
export function freeTcpPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = (l.addr as Deno.NetAddr).port;
  l.close();
  return p;
}

/** Resident set size of a process in KiB (Linux /proc), undefined elsewhere. */
export function rssKiB(pid: number): number | undefined {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(s);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The permissions `failover6 serve` runs with (the deno.json task uses the same). */
export const SERVE_PERMISSIONS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env=LOG_TOKENS,LOG_STREAM",
];

/** Absolute path of cli/main.ts. */
export const MAIN = new URL("../../cli/main.ts", import.meta.url).pathname;

/** A YAML configuration for a child-process server on the given ports. */
export function childConfigYaml(
  dir: string,
  udpPort: number,
  controlPort: number,
  extra = "",
  delegable = { prefix: "fd00:f6:0:100::/56", delegatedLength: 64 },
): string {
  return `leaseDatabase: ${dir}/leases.db
listen:
  - address: "::1"
    port: ${udpPort}
lifetimes:
  preferred: 1h
  valid: 2h
subnets:
  - name: test
    prefix: fd00:f6::/64
    pools:
      - name: test-addresses
        range: fd00:f6::1000 - fd00:f6::ffff
    prefixes:
      - name: test-prefixes
        prefix: ${delegable.prefix}
        delegatedLength: ${delegable.delegatedLength}
control:
  address: 127.0.0.1
  port: ${controlPort}
  token: child-token-0123456789
logging:
  format: json
  level: info
${extra}`;
}

/** Waits until `f` returns true, polling every `everyMs`, failing after `timeoutMs`. */
export async function until(
  f: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
