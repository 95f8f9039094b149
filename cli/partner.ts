/**
 * `failover6 partner`: a scriptable RFC 8156 test peer.
 *
 * - `--role primary --connect HOST[:PORT]` or `--role secondary --listen ADDR[:PORT]`
 *   (IPv6 literals in brackets, `[::1]:16647`; default port 647);
 * - one of `--scenario FILE.yaml`, `--suite conformance` (with `--only NAME,...` or `--list`),
 *   or `--auto` (our engine as a compliant partner, until interrupted or `--duration`);
 * - `--relationship`, `--mclt`, `--keepalive`, `--max-unacked`, `--state`, `--var NAME=VALUE`,
 *   `--within` (default expectation timeout), `--timeout` (connect/accept wait);
 * - `--junit FILE`, `--json FILE`, `--pcap FILE` (pcapng of the session, for `failover6 decode`);
 * - `--tls-cert FILE --tls-key FILE --tls-ca FILE`: secure mode (STARTTLS, RFC 7653 §8.2/§9.1,
 *   certificates verified both ways). As primary the partner sends STARTTLS after connecting; as
 *   secondary it requires it and the primary's certificate. Without them it is in insecure mode
 *   and refuses STARTTLS (REPLY with TLSConnectionRefused). Over TLS, `--pcap` records the
 *   plaintext failover messages after the upgrade.
 *
 * Every message is printed as it flows (the decoder's text, with direction and time), then a
 * verdict per step and per scenario. Exit status: 0 all passed, 1 a check failed, 2 bad input
 * or usage (one line on stderr).
 *
 * @module
 */
import { type Command, Option } from "@commander-js/extra-typings";
import { UsageError } from "./main.ts";
import { parseDuration } from "../lib/util/duration.ts";
import { renderMessage } from "../lib/wire/render.ts";
import { frameMessage } from "../lib/wire/framing.ts";
import { failoverStateName } from "../lib/wire/names.ts";
import type { EngineConfig } from "../lib/failover/engine.ts";
import {
  EndpointSyntaxError,
  formatEndpoint,
  type Network,
  parseHostPort,
  tcpNetwork,
} from "../lib/partner/net.ts";
import { realScheduler, type Scheduler } from "../lib/partner/scheduler.ts";
import { loadScenarioFile, ScenarioError } from "../lib/partner/scenario.ts";
import { CONFORMANCE, conformanceFor } from "../lib/partner/suite.ts";
import { Acceptor, exitCodeOf, runScenarios } from "../lib/partner/runner.ts";
import { reportToJson, reportToJunit } from "../lib/partner/report.ts";
import { PcapngRecorder } from "../lib/partner/capture.ts";
import { EnginePeer } from "../lib/partner/engine_peer.ts";
import {
  listenTls,
  loadTlsFiles,
  TlsFileError,
  tlsNetwork,
  type TlsOptions,
} from "../lib/partner/tls.ts";
import { stateOf } from "../lib/partner/names.ts";
import {
  DEFAULT_SETTINGS,
  type PartnerSettings,
  type Role,
  type Scenario,
} from "../lib/partner/types.ts";
import { SUITE_VARS } from "../lib/partner/suite.ts";
import type { VarValue } from "../lib/partner/variables.ts";

/** What the command talks to; tests pass their own. */
export interface PartnerIo {
  /** One line of standard output. */
  out(line: string): void;
  /** One line of standard error. */
  err(line: string): void;
  network: Network;
  scheduler: Scheduler;
  /** Waits for the user to interrupt (SIGINT/SIGTERM) an `--auto` run; `dispose` stops waiting. */
  interrupted(): { done: Promise<void>; dispose(): void };
}

function signals(): { done: Promise<void>; dispose(): void } {
  let stop = () => {};
  const done = new Promise<void>((resolve) => {
    stop = () => resolve();
  });
  const dispose = () => {
    try {
      Deno.removeSignalListener("SIGINT", stop);
      Deno.removeSignalListener("SIGTERM", stop);
    } catch { /* not supported */ }
  };
  try {
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  } catch { /* not supported: run until --duration */ }
  return { done, dispose };
}

/** The real terminal, TCP and clock. */
export const defaultIo: PartnerIo = {
  out: (l) => console.log(l),
  err: (l) => console.error(l),
  network: tcpNetwork,
  scheduler: realScheduler,
  interrupted: signals,
};

function seconds(option: string, text: string, min = 0): number {
  const r = parseDuration(text);
  if (!r.ok) throw new UsageError(`${option}: "${text}" is not a duration: ${r.error.message}`);
  if (r.seconds < min) throw new UsageError(`${option}: must be at least ${min}s (got "${text}")`);
  if (r.seconds > 0xffffffff) throw new UsageError(`${option}: too large`);
  return r.seconds;
}

function millis(option: string, text: string): number {
  const t = text.trim();
  const ms = /^(\d+)ms$/.exec(t);
  if (ms) return Number(ms[1]);
  return seconds(option, t) * 1000;
}

function integer(option: string, text: string, max: number): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) > max) {
    throw new UsageError(`${option}: "${text}" is not an integer 0-${max}`);
  }
  return Number(text);
}

function endpoint(option: string, text: string) {
  try {
    return parseHostPort(text);
  } catch (e) {
    if (e instanceof EndpointSyntaxError) throw new UsageError(`${option}: ${e.message}`);
    throw e;
  }
}

function parseVars(list: string[]): Record<string, VarValue> {
  const out: Record<string, VarValue> = {};
  for (const item of list) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new UsageError(`--var: "${item}" is not NAME=VALUE`);
    const name = item.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new UsageError(`--var: "${name}" is not a variable name`);
    }
    const v = item.slice(eq + 1);
    out[name] = /^-?\d+$/.test(v) ? Number(v) : v;
  }
  return out;
}

async function writeFile(option: string, path: string, text: string): Promise<void> {
  try {
    await Deno.writeTextFile(path, text);
  } catch (e) {
    throw new UsageError(`${option}: cannot write ${path}: ${e instanceof Error ? e.message : e}`);
  }
}

async function openPcap(path: string): Promise<PcapngRecorder> {
  try {
    const f = await Deno.open(path, { write: true, create: true, truncate: true });
    return new PcapngRecorder(f.writable);
  } catch (e) {
    throw new UsageError(`--pcap: cannot write ${path}: ${e instanceof Error ? e.message : e}`);
  }
}

const TIME_PREFIX = /^\d\d:\d\d:\d\d\.\d\d\d /;

/** Registers `partner` on the program. */
export function register(program: Command, io: PartnerIo = defaultIo): void {
  program
    .command("partner")
    .description("scriptable RFC 8156 test peer: scenarios, the conformance suite, or --auto")
    .addOption(
      new Option("--role <role>", "the role the partner plays").choices(
        ["primary", "secondary"] as const,
      ),
    )
    .option("--connect <host[:port]>", "primary: the secondary to connect to (default port 647)")
    .option("--listen <addr[:port]>", "secondary: where to listen (default [::]:647)")
    .option("--relationship <name>", "OPTION_F_RELATIONSHIP_NAME sent in CONNECT")
    .option("--mclt <duration>", "MCLT we announce", "1h")
    .option("--keepalive <duration>", "FO_KEEPALIVE_TIME we announce", "60s")
    .option("--max-unacked <n>", "OPTION_F_MAX_UNACKED_BNDUPD we announce", "10")
    .option("--state <state>", "endpoint state we announce in STATE", "NORMAL")
    .option("--scenario <file>", "run the scenarios of a YAML file")
    .option("--suite <name>", "run a built-in suite (conformance)")
    .option("--only <names>", "with --suite: only these scenarios (comma-separated)")
    .option("--list", "with --suite: list the scenarios and exit")
    .option("--auto", "be a compliant partner (our engine) until interrupted")
    .option("--duration <duration>", "with --auto: stop after this long")
    .option(
      "--var <name=value>",
      "set a scenario variable (repeatable)",
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option("--within <duration>", "default time an expect step waits", "5s")
    .option("--timeout <duration>", "how long to wait to connect or for a connection", "60s")
    .option("--junit <file>", "write a JUnit XML report")
    .option("--json <file>", "write a JSON report")
    .option(
      "--pcap <file>",
      "write the session as pcapng (over TLS: the plaintext messages after the upgrade)",
    )
    .option("--tls-cert <file>", "secure mode: our certificate (PEM); with --tls-key, --tls-ca")
    .option("--tls-key <file>", "secure mode: the private key of --tls-cert (PEM)")
    .option(
      "--tls-ca <file>",
      "secure mode: CA certificate(s) that must sign the peer's certificate (PEM)",
    )
    .option("-q, --quiet", "print verdicts only, not the messages")
    .action(async (o) => {
      Deno.exitCode = 0;
      const modes =
        [o.scenario !== undefined, o.suite !== undefined, o.auto === true].filter(Boolean).length;
      if (modes !== 1) {
        throw new UsageError("give exactly one of --scenario FILE, --suite conformance, --auto");
      }
      if (o.suite !== undefined && o.suite !== "conformance") {
        throw new UsageError(`--suite: unknown suite "${o.suite}" (conformance)`);
      }
      if ((o.only !== undefined || o.list) && o.suite === undefined) {
        throw new UsageError("--only and --list go with --suite");
      }
      if (o.duration !== undefined && !o.auto) throw new UsageError("--duration goes with --auto");
      if (o.list) {
        const want = o.role as Role | undefined;
        for (const s of CONFORMANCE) {
          if (want && s.role !== want) continue;
          io.out(`${s.name.padEnd(30)} ${String(s.role).padEnd(9)} ${s.description ?? ""}`);
          if (s.reference) io.out(`${"".padEnd(30)} ${"".padEnd(9)} ${s.reference}`);
        }
        return;
      }
      if (!o.role) throw new UsageError("--role primary or --role secondary is required");
      const role = o.role as Role;
      if (role === "primary" && o.listen !== undefined) {
        throw new UsageError("--listen goes with --role secondary");
      }
      if (role === "secondary" && o.connect !== undefined) {
        throw new UsageError("--connect goes with --role primary");
      }
      if (role === "primary" && o.connect === undefined) {
        throw new UsageError("--role primary needs --connect HOST[:PORT]");
      }
      const peer = role === "primary" ? endpoint("--connect", o.connect!) : undefined;
      const listenOn = role === "secondary"
        ? endpoint("--listen", o.listen ?? "[::]:647")
        : undefined;
      const state = stateOf(o.state);
      if (state === undefined || state < 2 || state > 10) {
        throw new UsageError(
          `--state: "${o.state}" is not a failover state (NORMAL, PARTNER-DOWN, ...)`,
        );
      }
      const settings: PartnerSettings = {
        ...DEFAULT_SETTINGS,
        relationship: o.relationship,
        mclt: seconds("--mclt", o.mclt),
        keepalive: seconds("--keepalive", o.keepalive, 1),
        maxUnacked: integer("--max-unacked", o.maxUnacked, 0xffffffff),
        state,
      };
      const tls = await tlsOptions(o.tlsCert, o.tlsKey, o.tlsCa);
      const vars = parseVars(o.var);
      const within = millis("--within", o.within);
      const timeout = millis("--timeout", o.timeout);

      let scenarios: Scenario[] = [];
      if (o.scenario !== undefined) {
        try {
          scenarios = await loadScenarioFile(o.scenario);
        } catch (e) {
          if (e instanceof ScenarioError) throw new UsageError(e.message);
          throw e;
        }
        for (const s of scenarios) {
          if (s.role !== undefined && s.role !== role) {
            throw new UsageError(`scenario "${s.name}" is for --role ${s.role}`);
          }
        }
      } else if (o.suite !== undefined) {
        try {
          scenarios = conformanceFor(
            role,
            o.only?.split(",").map((x) => x.trim()).filter((x) => x !== ""),
          );
        } catch (e) {
          if (e instanceof RangeError) throw new UsageError(`--only: ${e.message}`);
          throw e;
        }
      }

      const log = (line: string) => {
        if (o.quiet && TIME_PREFIX.test(line)) return;
        io.out(line);
      };
      const recorder = o.pcap !== undefined ? await openPcap(o.pcap) : undefined;

      if (o.auto) {
        await runAuto(io, role, settings, peer, listenOn!, o.duration, recorder, log, tls);
        if (recorder) await finishPcap(recorder);
        return;
      }

      let acceptor: Acceptor | undefined;
      if (listenOn) {
        try {
          acceptor = new Acceptor(
            tls ? await listenTls(listenOn, tls) : io.network.listen(listenOn),
          );
        } catch (e) {
          throw new UsageError(
            `--listen: cannot listen on ${formatEndpoint(listenOn)}: ${
              e instanceof Error ? e.message : e
            }`,
          );
        }
        log(
          `listening on ${formatEndpoint(acceptor.listener.local)}${
            tls ? " (secure mode: STARTTLS required)" : ""
          }`,
        );
      }
      const title = o.suite !== undefined
        ? "failover6 partner conformance"
        : `failover6 partner ${o.scenario}`;
      let report;
      try {
        report = await runScenarios(scenarios, {
          role,
          settings,
          network: tls ? tlsNetwork(tls) : io.network,
          peer,
          acceptor,
          scheduler: io.scheduler,
          log,
          recorder,
          vars: { ...(o.suite !== undefined ? SUITE_VARS : {}), ...vars },
          defaultWithinMs: within,
          connectTimeoutMs: timeout,
          acceptTimeoutMs: timeout,
        }, title);
      } finally {
        acceptor?.close();
      }
      if (recorder) await finishPcap(recorder);
      if (o.json !== undefined) await writeFile("--json", o.json, reportToJson(report));
      if (o.junit !== undefined) await writeFile("--junit", o.junit, reportToJunit(report));
      Deno.exitCode = exitCodeOf(report);
    });
}

/** The TLS options of `--tls-*`: all three files or none (insecure mode). */
async function tlsOptions(
  cert: string | undefined,
  key: string | undefined,
  ca: string | undefined,
): Promise<TlsOptions | undefined> {
  const given = [cert, key, ca].filter((x) => x !== undefined).length;
  if (given === 0) return undefined;
  if (given !== 3) throw new UsageError("secure mode needs all of --tls-cert, --tls-key, --tls-ca");
  try {
    return await loadTlsFiles({ cert: cert!, key: key!, ca: ca! });
  } catch (e) {
    if (e instanceof TlsFileError) throw new UsageError(`--tls-${e.which}: ${e.message}`);
    throw e;
  }
}

async function finishPcap(r: PcapngRecorder): Promise<void> {
  try {
    await r.finish();
  } catch (e) {
    throw new UsageError(`--pcap: ${e instanceof Error ? e.message : e}`);
  }
}

function timeOfDay(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

async function runAuto(
  io: PartnerIo,
  role: Role,
  settings: PartnerSettings,
  peer: ReturnType<typeof parseHostPort> | undefined,
  listenOn: ReturnType<typeof parseHostPort> | undefined,
  duration: string | undefined,
  recorder: PcapngRecorder | undefined,
  log: (line: string) => void,
  tls: TlsOptions | undefined,
): Promise<void> {
  const config: EngineConfig = {
    role,
    relationship: settings.relationship ?? "failover6",
    mclt: settings.mclt,
    keepaliveTime: settings.keepalive,
    maxUnackedBndupd: settings.maxUnacked,
  };
  const s = io.scheduler;
  const line = (text: string) => log(`${timeOfDay(s.now())} ${text}`);
  const pad = "                ";
  let engine: EnginePeer;
  try {
    engine = new EnginePeer({
      config,
      network: io.network,
      scheduler: s,
      connect: peer,
      listen: listenOn,
      tls,
      // On real TCP, an insecure secondary answers STARTTLS as `serve` does (RFC 7653 §9.1).
      refuseStartTls: !tls && io.network === tcpNetwork,
      log: (l) => line(`-- ${l}`),
      onConnection: (c, weConnected) => recorder?.open(c.local, c.remote, weConnected, s.now()),
      onDisconnect: (_c, byUs) => {
        recorder?.close(byUs, s.now());
        line(byUs ? "-- we closed the connection" : "<- connection closed by the peer");
      },
      hooks: {
        onSend: (m, bytes) => {
          recorder?.data(true, frameMessage(bytes), s.now());
          line(`-> ${renderMessage(m).split("\n").join(`\n${pad}`)}`);
        },
        onReceive: (m, bytes, errors) => {
          if (bytes.length > 0) recorder?.data(false, frameMessage(bytes), s.now());
          if (m) line(`<- ${renderMessage(m, errors).split("\n").join(`\n${pad}`)}`);
          else {line(`<- ${bytes.length} octets that do not decode: ${
              errors.map((e) => e.message).join("; ")
            }`);}
        },
        onAction: (a) => {
          if (a.type === "state-changed") line(`** state ${a.from} -> ${a.to}: ${a.reason}`);
          else if (a.type === "alarm") line(`!! ${a.text}`);
          else if (a.type === "log") line(`.. ${a.text}`);
        },
      },
    });
    await engine.start();
  } catch (e) {
    throw new UsageError(`--auto: ${e instanceof Error ? e.message : e}`);
  }
  if (listenOn && engine.local) {
    line(
      `-- listening on ${formatEndpoint(engine.local)}${
        tls ? " (secure mode: STARTTLS required)" : ""
      }`,
    );
  }
  line(`-- auto partner as ${role}; Ctrl-C stops it`);
  const interrupt = io.interrupted();
  const stops: Promise<void>[] = [interrupt.done];
  let timer: number | undefined;
  if (duration !== undefined) {
    const ms = millis("--duration", duration);
    stops.push(new Promise((r) => timer = s.setTimer(ms, r)));
  }
  try {
    await Promise.race(stops);
  } finally {
    interrupt.dispose();
    if (timer !== undefined) s.clearTimer(timer);
  }
  await engine.stop();
  line(`-- stopped in ${failoverStateName(stateCode(engine.driver.endpointState))}`);
}

function stateCode(name: string): number {
  return stateOf(name) ?? 0;
}
