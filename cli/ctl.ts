/**
 * `failover6 ctl`: the client of a running server's control API.
 *
 * - `failover6 ctl status`
 * - `failover6 ctl lease ADDRESS|PREFIX/LEN|DUID`
 * - `failover6 ctl leases [--page CURSOR] [--limit N] [--status S] [--kind na|pd]`
 * - `failover6 ctl release ADDRESS|PREFIX/LEN`
 * - `failover6 ctl shutdown`
 * - `failover6 ctl reload` (re-read the configuration file; 1 when it is invalid or there is none)
 * - `failover6 ctl metrics`
 * - `failover6 ctl partner-down [--relationship NAME] [--yes]`
 *
 * Common options: `--url` (default http://127.0.0.1:10548), `--token` or `--token-file`
 * (default: `./failover6-control.token`, the file `serve` writes when its configuration names
 * no token), `--json`. Exit status: 0 done, 1 not found / refused / unreachable, 2 bad usage
 * or a token the server does not accept.
 *
 * @module
 */

import type { Command } from "@commander-js/extra-typings";
import { UsageError } from "./main.ts";
import {
  ControlClient,
  ControlError,
  DEFAULT_CONTROL_URL,
  type LeaseJson,
  stringList,
} from "../lib/server/shell/control_client.ts";
import { parseLeaseLookup, TOKEN_FILE_NAME } from "../lib/server/shell/control.ts";
import { type EndpointStatus, renderEndpointStatus } from "../lib/server/shell/failover_status.ts";

/** A failure that is not the user's input: one line, exit status 1. */
class CtlFailure extends Error {}

interface CommonOptions {
  url?: string;
  token?: string;
  tokenFile?: string;
  json?: boolean;
}

async function readToken(o: CommonOptions): Promise<string> {
  if (o.token !== undefined && o.tokenFile !== undefined) {
    throw new UsageError("--token and --token-file: give one");
  }
  if (o.token !== undefined) {
    if (o.token.trim() === "") throw new UsageError("--token: empty");
    return o.token.trim();
  }
  const file = o.tokenFile ?? TOKEN_FILE_NAME;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    if (o.tokenFile === undefined && e instanceof Deno.errors.NotFound) {
      throw new UsageError(
        `no token: give --token or --token-file (no ${TOKEN_FILE_NAME} in the working directory)`,
      );
    }
    throw new UsageError(`--token-file: cannot read ${file}: ${(e as Error).message}`);
  }
  const t = text.trim();
  if (t === "" || /\s/.test(t)) {
    throw new UsageError(`--token-file: ${file} must hold one token on one line`);
  }
  return t;
}

function checkUrl(text: string): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new UsageError(`--url: "${text}" is not a URL (e.g. ${DEFAULT_CONTROL_URL})`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new UsageError(`--url: "${text}" must start with http:// or https://`);
  }
  return text;
}

async function client(o: CommonOptions): Promise<ControlClient> {
  return new ControlClient(checkUrl(o.url ?? DEFAULT_CONTROL_URL), await readToken(o));
}

/** Runs a control call, mapping ControlError to the exit statuses of this command. */
async function run<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof ControlError) {
      if (e.kind === "unauthorized" || e.kind === "bad-request") throw new UsageError(e.message);
      throw new CtlFailure(e.message);
    }
    throw e;
  }
}

function when(iso: unknown): string {
  return typeof iso === "string" ? iso.replace(/\.\d{3}Z$/, "Z") : "-";
}

/** One lease per line: address/prefix, status, client, IAID, expiry, pool. */
export function leaseTable(leases: readonly LeaseJson[]): string {
  const rows = [["LEASE", "STATUS", "CLIENT DUID", "IAID", "EXPIRES", "POOL"]];
  for (const l of leases) {
    rows.push([
      l.kind === "pd" ? `${l.address}/${l.prefixLength}` : l.address,
      l.status,
      l.clientDuid === "" ? "-" : l.clientDuid,
      String(l.iaid),
      when(l.expirationTime),
      l.pool === "" ? "-" : l.pool,
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

function statusText(s: Record<string, unknown>): string {
  const lines: string[] = [];
  const put = (k: string, v: unknown) => {
    if (v !== undefined) {
      lines.push(`${k.padEnd(14)} ${typeof v === "string" ? v : JSON.stringify(v)}`);
    }
  };
  put("server", s.server);
  put("version", s.version);
  put("state", s.state);
  put("server DUID", s.serverDuid);
  put("started", s.startedAt);
  put(
    "uptime",
    typeof s.uptimeSeconds === "number" ? `${Math.floor(s.uptimeSeconds)}s` : undefined,
  );
  put("config", s.config);
  const cfg = s.configuration as Record<string, unknown> | undefined;
  if (cfg) {
    put("loaded", cfg.loadedAt);
    const r = cfg.reloads as Record<string, unknown> | undefined;
    if (r) put("reloads", `${r.ok ?? 0} ok, ${r.invalid ?? 0} invalid`);
    const last = cfg.lastReload as Record<string, unknown> | null | undefined;
    if (last) put("last reload", `${last.at} ${last.result} (${last.trigger})`);
  }
  put("database", s.leaseDatabase);
  const listeners = s.listeners as Record<string, unknown>[] | undefined;
  for (const l of listeners ?? []) {
    put(
      "listening",
      l.interface ? `${l.address}%${l.interface} port ${l.port}` : `[${l.address}]:${l.port}`,
    );
  }
  const leases = s.leases as Record<string, unknown> | undefined;
  if (leases) put("leases", leases);
  const packets = s.packets as Record<string, unknown> | undefined;
  if (packets) put("packets", packets);
  for (const p of (s.pools as Record<string, unknown>[] | undefined) ?? []) {
    const pct = typeof p.utilisation === "number" ? ` ${(p.utilisation * 100).toFixed(2)}%` : "";
    put(`pool`, `${p.name} (${p.kind}) ${p.held}/${p.size}${pct}`);
  }
  for (const f of (s.failover as Partial<EndpointStatus>[] | undefined) ?? []) {
    lines.push(...renderEndpointStatus(f));
  }
  return lines.join("\n");
}

/** Registers `ctl` and its subcommands. */
export function register(program: Command): void {
  const ctl = program
    .command("ctl")
    .description("talk to a running `failover6 serve` through its control API")
    .option("--url <url>", `control API base URL (default ${DEFAULT_CONTROL_URL})`)
    .option("--token <token>", "bearer token")
    .option("--token-file <file>", `file holding the bearer token (default ./${TOKEN_FILE_NAME})`)
    .option("--json", "print the server's JSON answer");
  ctl.showHelpAfterError(false);
  ctl.configureOutput({
    outputError: (str, write) => write(`failover6: ${str.replace(/^error: /, "").trimEnd()}\n`),
  });
  const common = (): CommonOptions => ctl.opts();
  /** Prints a failure (exit status 1) or passes anything else on. */
  const fail = (e: unknown): void => {
    if (!(e instanceof CtlFailure)) throw e;
    console.error(`failover6: ctl: ${e.message}`);
    Deno.exitCode = 1;
  };

  ctl.command("status").description("server status").action(async () => {
    const o = common();
    try {
      const s = await run(async () => (await client(o)).status());
      console.log(o.json ? JSON.stringify(s, null, 2) : statusText(s));
    } catch (e) {
      fail(e);
    }
  });

  ctl.command("lease").description("look a lease up by address, prefix (ADDR/LEN) or DUID")
    .argument("<query>", "IPv6 address, prefix ADDRESS/LENGTH, or client DUID in hex")
    .action(async (query) => {
      const o = common();
      const q = parseLeaseLookup(query);
      if ("error" in q) throw new UsageError(`lease: ${q.error}`);
      try {
        const leases = await run(async () => (await client(o)).lease(query));
        console.log(o.json ? JSON.stringify(leases, null, 2) : leaseTable(leases));
      } catch (e) {
        fail(e);
      }
    });

  ctl.command("leases").description("list leases, one page at a time")
    .option("--page <cursor>", "the cursor printed after the previous page")
    .option("--limit <n>", "leases per page, 1-10000", "100")
    .option("--status <statuses>", "only these binding statuses, comma-separated (e.g. ACTIVE)")
    .option("--kind <kind>", "only na (addresses) or pd (prefixes)")
    .action(async (lo) => {
      const o = common();
      const limit = Number(lo.limit);
      if (!/^\d+$/.test(lo.limit) || limit < 1 || limit > 10000) {
        throw new UsageError(`--limit: "${lo.limit}" is not a number from 1 to 10000`);
      }
      if (lo.kind !== undefined && lo.kind !== "na" && lo.kind !== "pd") {
        throw new UsageError(`--kind: "${lo.kind}" is not na or pd`);
      }
      try {
        const page = await run(async () =>
          (await client(o)).leases({
            after: lo.page,
            limit,
            kind: lo.kind as "na" | "pd" | undefined,
            status: lo.status?.split(",").map((s) => s.trim()).filter((s) => s !== ""),
          })
        );
        if (o.json) console.log(JSON.stringify(page, null, 2));
        else {
          console.log(leaseTable(page.leases));
          if (page.next !== undefined) console.log(`next page: --page ${page.next}`);
        }
      } catch (e) {
        fail(e);
      }
    });

  ctl.command("release").description("release an ACTIVE lease (address or prefix ADDR/LEN)")
    .argument("<lease>", "IPv6 address or prefix ADDRESS/LENGTH")
    .action(async (query) => {
      const o = common();
      const q = parseLeaseLookup(query);
      if ("error" in q) throw new UsageError(`release: ${q.error}`);
      if (q.kind === "duid") throw new UsageError("release: give an address or a prefix");
      try {
        const l = await run(async () => (await client(o)).release(query));
        console.log(o.json ? JSON.stringify(l, null, 2) : `released ${query} (${l.status})`);
      } catch (e) {
        fail(e);
      }
    });

  ctl.command("shutdown").description("drain and stop the server").action(async () => {
    const o = common();
    try {
      await run(async () => (await client(o)).shutdown());
      console.log(o.json ? JSON.stringify({ shutdown: true }) : "server is shutting down");
    } catch (e) {
      fail(e);
    }
  });

  ctl.command("reload")
    .description(
      "re-read the server's configuration file (as SIGHUP does); exit 1 when it is invalid",
    )
    .action(async () => {
      const o = common();
      try {
        const c = await client(o);
        const a = await run(async () => {
          try {
            return await c.reload();
          } catch (e) {
            if (e instanceof ControlError && e.kind === "invalid") {
              // One line per error, as `serve --check` prints them; the summary follows.
              if (o.json) console.log(JSON.stringify(e.body ?? {}, null, 2));
              for (const line of stringList(e.body?.errors)) console.error(`failover6: ${line}`);
            }
            throw e;
          }
        });
        if (o.json) {
          console.log(JSON.stringify({ reload: "applied", ...a }, null, 2));
          return;
        }
        console.log(`reloaded ${a.file} (${a.applied.length} change(s) applied)`);
        for (const line of a.applied) console.log(`applied: ${line}`);
        for (const line of a.needsRestart) console.log(`not applied: ${line}`);
      } catch (e) {
        fail(e);
      }
    });

  ctl.command("metrics").description("print the Prometheus metrics").action(async () => {
    const o = common();
    try {
      const text = await run(async () => (await client(o)).metrics());
      console.log(text.trimEnd());
    } catch (e) {
      fail(e);
    }
  });

  ctl.command("partner-down")
    .description(
      "tell the server its failover partner is down (RFC 8156 §8.4); refused while the partner is reachable",
    )
    .option("--relationship <name>", "the failover relationship (needed when there are several)")
    .option("--yes", "do not ask for confirmation")
    .action(async (po) => {
      const o = common();
      try {
        const c = await client(o);
        if (!po.yes) {
          const rels = (await run(() => c.failover())).relationships as Partial<EndpointStatus>[];
          const rel = po.relationship === undefined
            ? (rels.length === 1 ? rels[0] : undefined)
            : rels.find((r) => r.relationship === po.relationship);
          // Ask only when the server would do it; otherwise let it say why not.
          if (rel?.partnerDown?.commandAllowed) {
            console.log(renderEndpointStatus(rel).join("\n"));
            if (!Deno.stdin.isTerminal()) {
              throw new UsageError(
                "partner-down: confirm with --yes (standard input is not a terminal)",
              );
            }
            const yes = confirm(
              `Declare the partner of ${rel.relationship} DOWN? It must not be serving clients ` +
                "(RFC 8156 §8.4): this server will then use the MCLT-free lifetimes and, later, the partner's pool.",
            );
            if (!yes) throw new CtlFailure("partner-down: not confirmed, nothing done");
          }
        }
        const r = await run(() => c.partnerDown(po.relationship));
        const st = r.status as Partial<EndpointStatus> | undefined;
        if (o.json) console.log(JSON.stringify(r, null, 2));
        else if (r.partnerDown === "already") {
          console.log(
            `${st?.relationship ?? "relationship"}: already in PARTNER-DOWN${
              st?.stateSince ? ` since ${st.stateSince}` : ""
            }`,
          );
        } else {
          console.log(
            `${st?.relationship ?? "relationship"}: now in PARTNER-DOWN (${st?.state ?? "?"})`,
          );
        }
      } catch (e) {
        fail(e);
      }
    });

  for (const sub of ctl.commands) {
    sub.showHelpAfterError(false);
    sub.configureOutput({
      outputError: (str, write) => write(`failover6: ${str.replace(/^error: /, "").trimEnd()}\n`),
    });
  }
}
