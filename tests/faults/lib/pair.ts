/**
 * A failover6 pair in the namespace lab: configurations, the two servers (start, `kill -9`,
 * restart, database loss), their states (a status poller per server), their leases (through
 * `failover6 ctl leases --json`), the capture of the client LAN and the partner link
 * (`dumpcap` in the switch namespace, decoded with `failover6 decode --json`), and perfdhcp.
 *
 * @module
 */

import {
  type ClientEnd,
  clientEvents,
  type ClientGrant,
  type DecodedMessage,
  failoverEvents,
  type HeldLease,
  parseDecodeJson,
  type PartnerAck,
  type StateSample,
  type WireState,
} from "./check.ts";
import { type Lab, type LabProcess, MAIN, REPO, run, waitFor } from "./lab.ts";

/** The two servers of the pair. */
export type ServerName = "s1" | "s2";

/** Server DUIDs (DUID-EN, enterprise 32473 = documentation), so Replies name their server. */
export const SERVER_DUIDS: Readonly<Record<ServerName, string>> = {
  s1: "00:02:00:00:7e:d9:f6:00:00:01",
  s2: "00:02:00:00:7e:d9:f6:00:00:02",
};

/** The partner-link addresses. */
export const FAILOVER_ADDRESSES: Readonly<Record<ServerName, string>> = {
  s1: "fd00:f6:f0::1",
  s2: "fd00:f6:f0::2",
};

/** The control API token of the lab servers. */
export const LAB_TOKEN = "failover6-lab-token-0123456789";

/** The control API inside each server namespace. */
export const CONTROL_URL = "http://127.0.0.1:10548";

/** Settings of the pair under test. */
export interface PairSettings {
  /** MCLT, seconds (the engine refuses less than 30). */
  mclt: number;
  /** Keepalive, seconds (how fast a silent partner is noticed). */
  keepalive: number;
  /** Auto-partner-down period of the secondary, seconds, or `off`. */
  autoPartnerDownSecondary: number | "off";
  /** Auto-partner-down period of the primary, seconds, or `off`. */
  autoPartnerDownPrimary: number | "off";
  /** Desired valid lifetime, seconds. */
  valid: number;
  /** Desired preferred lifetime, seconds. */
  preferred: number;
  /** Run without a failover relationship (one server, for latency comparisons). */
  standalone?: boolean;
}

/** Defaults: MCLT 30 s, keepalive 3 s, auto-partner-down off, lifetimes 5 / 10 minutes. */
export const DEFAULT_SETTINGS: PairSettings = {
  mclt: 30,
  keepalive: 3,
  autoPartnerDownSecondary: "off",
  autoPartnerDownPrimary: "off",
  valid: 600,
  preferred: 300,
};

/** The YAML configuration of one server of the lab pair. */
export function serverYaml(name: ServerName, dir: string, s: PairSettings): string {
  const primary = name === "s1";
  const apd = primary ? s.autoPartnerDownPrimary : s.autoPartnerDownSecondary;
  const lines = [
    `# failover6 lab server ${name} (${
      s.standalone ? "standalone" : primary ? "primary" : "secondary"
    })`,
    `leaseDatabase: ${dir}/${name}-leases.db`,
    `server:`,
    `  duid: "${SERVER_DUIDS[name]}"`,
    `listen:`,
    `  - interface: lan0`,
    `    port: 547`,
    `lifetimes:`,
    `  preferred: ${s.preferred}s`,
    `  valid: ${s.valid}s`,
    `subnets:`,
    `  - name: lan`,
    `    prefix: fd00:f6::/64`,
    `    link: { interfaces: [lan0] }`,
    `    pools:`,
    `      - name: lan-addresses`,
    `        range: fd00:f6::1:0 - fd00:f6::1:ffff`,
    `    prefixes:`,
    `      - name: lan-prefixes`,
    `        prefix: fd00:f6:100::/51`,
    `        delegatedLength: 64`,
    `control:`,
    `  address: 127.0.0.1`,
    `  port: 10548`,
    `  token: ${LAB_TOKEN}`,
    `logging:`,
    `  format: json`,
    `  level: info`,
  ];
  if (!s.standalone) {
    lines.push(
      `failover:`,
      `  - name: lab-pair`,
      `    role: ${primary ? "primary" : "secondary"}`,
    );
    if (primary) {
      lines.push(
        `    peer: { address: "${FAILOVER_ADDRESSES.s2}", port: 647 }`,
        `    mclt: ${s.mclt}s`,
        `    allocation: { addresses: independent, prefixes: proportional, proportion: 0.5 }`,
      );
    } else {
      lines.push(
        `    peer: { address: "${FAILOVER_ADDRESSES.s1}" }`,
        `    local: { address: "${FAILOVER_ADDRESSES.s2}", port: 647 }`,
      );
    }
    lines.push(
      `    keepalive: ${s.keepalive}s`,
      `    maxUnacked: 100`,
      `    autoPartnerDown: ${apd === "off" ? "off" : `${apd}s`}`,
      `    insecure: true`,
      `    subnets: [lan]`,
    );
  }
  return lines.join("\n") + "\n";
}

/** One endpoint of a status answer (the fields the tests read). */
export interface EndpointView {
  /** Own state. */
  state: string;
  /** When it began, ms (NaN when unknown). */
  since: number;
  /** The partner's state, if known. */
  partnerState: string | null;
  /** BNDUPDs sent and not yet acknowledged plus queued. */
  backlog: number;
}

/** The failover endpoints in a `/v1/status` answer (empty when it has none). */
export function endpointsOf(status: Record<string, unknown>): EndpointView[] {
  const f = status.failover as unknown;
  const list: unknown[] = Array.isArray(f)
    ? f
    : f !== null && typeof f === "object" && Array.isArray((f as { endpoints?: unknown }).endpoints)
    ? (f as { endpoints: unknown[] }).endpoints
    : f !== null && typeof f === "object" &&
        Array.isArray((f as { relationships?: unknown }).relationships)
    ? (f as { relationships: unknown[] }).relationships
    : [];
  const out: EndpointView[] = [];
  for (const e of list) {
    if (e === null || typeof e !== "object") continue;
    const r = e as Record<string, unknown>;
    if (typeof r.state !== "string") continue;
    const partner = r.partner as Record<string, unknown> | undefined;
    const b = r.bndupd as Record<string, unknown> | undefined;
    const n = (v: unknown) => (typeof v === "number" ? v : 0);
    out.push({
      state: r.state,
      since: typeof r.stateSince === "string" ? Date.parse(r.stateSince) : NaN,
      partnerState: typeof partner?.state === "string" ? partner.state : null,
      backlog: n(b?.unacked) + n(b?.queued) + n(b?.pendingInStore),
    });
  }
  return out;
}

/** One poll of a server's status. */
interface Poll {
  at: number;
  status?: Record<string, unknown>;
  error?: string;
}

/** A server of the lab pair. */
export class LabServer {
  /** `s1` (primary) or `s2` (secondary). */
  readonly name: ServerName;
  /** The configuration file. */
  readonly config: string;
  /** The lease database. */
  readonly database: string;
  readonly #lab: Lab;
  #proc?: LabProcess;
  #poller?: LabProcess;
  readonly #pollFile: string;
  #starts = 0;

  /** @param lab the lab @param name s1 or s2 @param settings the pair settings */
  constructor(lab: Lab, name: ServerName, settings: PairSettings) {
    this.#lab = lab;
    this.name = name;
    this.config = `${lab.dir}/${name}.yaml`;
    this.database = `${lab.dir}/${name}-leases.db`;
    this.#pollFile = `${lab.dir}/${name}-status.jsonl`;
    Deno.writeTextFileSync(this.config, serverYaml(name, lab.dir, settings));
  }

  /** The serve process (undefined before start). */
  get process(): LabProcess | undefined {
    return this.#proc;
  }

  /** Starts `failover6 serve` and the status poller; waits for the control API. */
  async start(): Promise<void> {
    this.#starts++;
    this.#proc = this.#lab.spawn(
      this.name,
      ["deno", "run", "-A", MAIN, "serve", "--config", this.config],
      `${this.name}-serve.log`,
    );
    if (this.#poller === undefined || !this.#poller.running) {
      this.#poller = this.#lab.spawn(
        this.name,
        [
          "deno",
          "run",
          "-A",
          `${REPO}tests/faults/lib/poll_status.ts`,
          CONTROL_URL,
          LAB_TOKEN,
          "200",
          this.#pollFile,
        ],
        `${this.name}-poller.log`,
      );
    }
    const started = Date.now();
    await waitFor(`${this.name} control API`, async () => {
      if (!this.#proc!.running) {
        throw new Error(`${this.name} exited at start:\n${await this.#proc!.output()}`);
      }
      const p = this.#polls().filter((x) => x.at >= started && x.status !== undefined);
      return p.length > 0 ? true : undefined;
    }, 30_000);
  }

  /** `kill -9` (no drain). */
  async kill9(): Promise<void> {
    const p = this.#proc;
    if (p === undefined) return;
    p.kill("SIGKILL");
    await p.exited;
  }

  /** SIGTERM (drain) and wait. */
  async stop(): Promise<void> {
    await this.#proc?.stop(10_000);
  }

  /** Deletes the lease database and its WAL files (the server must be stopped). */
  async deleteDatabase(): Promise<void> {
    for (const f of [this.database, `${this.database}-wal`, `${this.database}-shm`]) {
      await Deno.remove(f).catch(() => {});
    }
  }

  /** Stops the poller. */
  async stopPoller(): Promise<void> {
    await this.#poller?.stop(3000);
  }

  #polls(): Poll[] {
    let text = "";
    try {
      text = Deno.readTextFileSync(this.#pollFile);
    } catch {
      return [];
    }
    const out: Poll[] = [];
    for (const line of text.split("\n")) {
      if (line === "") continue;
      try {
        out.push(JSON.parse(line));
      } catch { /* a line being written */ }
    }
    return out;
  }

  /** The latest status answered (undefined when none since `after`). */
  latest(after = 0): Record<string, unknown> | undefined {
    const polls = this.#polls();
    for (let i = polls.length - 1; i >= 0; i--) {
      if (polls[i].at < after) return undefined;
      if (polls[i].status !== undefined) return polls[i].status;
    }
    return undefined;
  }

  /** The latest endpoint view (undefined when the server does not answer or has no failover). */
  endpoint(after = 0): EndpointView | undefined {
    const s = this.latest(after);
    return s === undefined ? undefined : endpointsOf(s)[0];
  }

  /** Every state observation from the polls. */
  stateSamples(): StateSample[] {
    const out: StateSample[] = [];
    for (const p of this.#polls()) {
      if (p.status === undefined) continue;
      const e = endpointsOf(p.status)[0];
      if (e === undefined) continue;
      out.push({ at: p.at, state: e.state, since: Number.isNaN(e.since) ? undefined : e.since });
    }
    return out;
  }

  /** Waits until the own state is one of `states` (seen after `after`). */
  async waitState(states: readonly string[], timeoutMs: number, after = 0): Promise<EndpointView> {
    return await waitFor(`${this.name} in ${states.join(" or ")}`, () => {
      const e = this.endpoint(after);
      return e !== undefined && states.includes(e.state) ? e : undefined;
    }, timeoutMs);
  }

  /** Every lease the server holds, through `failover6 ctl leases --json`. */
  async leases(): Promise<HeldLease[]> {
    const out: HeldLease[] = [];
    let page: string | undefined;
    for (let i = 0; i < 100; i++) {
      const args = [
        "deno",
        "run",
        "-A",
        MAIN,
        "ctl",
        "--url",
        CONTROL_URL,
        "--token",
        LAB_TOKEN,
        "--json",
        "leases",
        "--limit",
        "10000",
      ];
      if (page !== undefined) args.push("--page", page);
      const r = await this.#lab.exec(this.name, args, 60_000);
      if (r.code !== 0) throw new Error(`${this.name}: ctl leases: ${r.stderr.trim()}`);
      const body = JSON.parse(r.stdout) as { leases: Record<string, unknown>[]; next?: string };
      for (const l of body.leases) {
        const kind = l.kind === "pd" ? "pd" : "na";
        out.push({
          kind,
          lease: kind === "pd" ? `${l.address}/${l.prefixLength}` : String(l.address),
          status: String(l.status),
          clientDuid: String(l.clientDuid ?? "").toLowerCase(),
          iaid: Number(l.iaid),
          detail: recordDetail(l),
        });
      }
      if (body.next === undefined) return out;
      page = body.next;
    }
    throw new Error(`${this.name}: ctl leases: too many pages`);
  }

  /** `failover6 ctl` with arbitrary arguments (after the common options). */
  ctl(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return this.#lab.exec(this.name, [
      "deno",
      "run",
      "-A",
      MAIN,
      "ctl",
      "--url",
      CONTROL_URL,
      "--token",
      LAB_TOKEN,
      ...args,
    ]);
  }
}

/**
 * A lease record of `ctl leases --json` as one line: its times as seconds from now (the moment
 * of reading), the update and ack flags and the owner.
 */
function recordDetail(l: Record<string, unknown>): string {
  const now = Date.now();
  const t = (name: string) => {
    const v = l[name];
    if (typeof v !== "string") return `${name}=-`;
    return `${name}=${((Date.parse(v) - now) / 1000).toFixed(1)}s`;
  };
  return [
    t("cltTime"),
    t("startTimeOfState"),
    t("stateExpirationTime"),
    t("expirationTime"),
    t("partnerLifetime"),
    t("ackedPartnerLifetime"),
    `pending=${l.updatePending}`,
    `owner=${l.owner}`,
  ].join(" ");
}

/** The pair: both servers with the same settings. */
export class LabPair {
  /** Primary. */
  readonly s1: LabServer;
  /** Secondary. */
  readonly s2: LabServer;

  /** @param lab the lab @param settings the pair settings */
  constructor(lab: Lab, settings: PairSettings) {
    this.s1 = new LabServer(lab, "s1", settings);
    this.s2 = new LabServer(lab, "s2", settings);
  }

  /** Starts both and waits until both are in NORMAL (on a timeout, says where each one is). */
  async startNormal(timeoutMs = 60_000): Promise<void> {
    await Promise.all([this.s1.start(), this.s2.start()]);
    try {
      await Promise.all([
        this.s1.waitState(["NORMAL"], timeoutMs),
        this.s2.waitState(["NORMAL"], timeoutMs),
      ]);
    } catch (e) {
      const where = (s: LabServer) => {
        const e = s.endpoint();
        return `${s.name} ${e ? `${e.state} (partner ${e.partnerState})` : "not answering"}`;
      };
      throw new Error(`${(e as Error).message}: ${where(this.s1)}, ${where(this.s2)}`);
    }
  }

  /** Waits until neither server has BNDUPDs unacked, queued or pending in its store. */
  async drained(timeoutMs: number): Promise<void> {
    const since = Date.now();
    await waitFor("the BNDUPD queues to drain", () => {
      const a = this.s1.endpoint(since);
      const b = this.s2.endpoint(since);
      return a !== undefined && b !== undefined && a.backlog === 0 && b.backlog === 0
        ? true
        : undefined;
    }, timeoutMs);
  }
}

/** A running capture of the client LAN (br0) and the partner link (br1). */
export class LabCapture {
  /** The pcapng file. */
  readonly file: string;
  readonly #proc: LabProcess;

  private constructor(file: string, proc: LabProcess) {
    this.file = file;
    this.#proc = proc;
  }

  /** Starts `dumpcap -i br0 -i br1` in the switch namespace; waits until it captures. */
  static async start(lab: Lab, name = "run"): Promise<LabCapture> {
    const file = `${lab.dir}/${name}.pcapng`;
    const proc = lab.spawn(
      "sw",
      ["dumpcap", "-q", "-B", "32", "-i", "br0", "-i", "br1", "-w", file],
      `${name}-dumpcap.log`,
    );
    await waitFor(
      "dumpcap to start",
      async () => {
        if (!proc.running) throw new Error(`dumpcap exited: ${await proc.output()}`);
        try {
          return Deno.statSync(file).size > 0 ? true : undefined;
        } catch {
          return undefined;
        }
      },
      15_000,
      100,
    );
    return new LabCapture(file, proc);
  }

  /** Stops the capture (dumpcap flushes on SIGTERM). */
  async stop(): Promise<void> {
    await this.#proc.stop(5000);
  }
}

/** The events of a decoded run capture. */
export interface RunEvents {
  /** Grants seen by clients. */
  grants: ClientGrant[];
  /** Releases and declines answered. */
  ends: ClientEnd[];
  /** Replies seen. */
  replies: number;
  /** Partner lifetimes acknowledged. */
  acks: PartnerAck[];
  /** STATE messages. */
  states: WireState[];
  /** MCLT from CONNECT. */
  mclt?: number;
  /** BNDUPD and BNDREPLY counts. */
  bndupd: number;
  /** BNDREPLY count. */
  bndreply: number;
  /** Failover messages by sender and type, e.g. `s2 UPDREQALL`. */
  sent: Record<string, number>;
  /** Messages decoded. */
  messages: number;
}

/** Decodes a capture with `failover6 decode --json` and extracts the events of the checks. */
export async function decodeRun(file: string): Promise<RunEvents> {
  const r = await run("deno", ["run", "-A", MAIN, "decode", "--json", file], 300_000);
  if (r.code !== 0) throw new Error(`decode --json ${file}: exit ${r.code}: ${r.stderr.trim()}`);
  const messages: DecodedMessage[] = parseDecodeJson(r.stdout);
  const names = new Map<string, string>(
    Object.entries(SERVER_DUIDS).map(([n, d]) => [d.replaceAll(":", ""), n]),
  );
  const addrs = new Map<string, string>(
    Object.entries(FAILOVER_ADDRESSES).map(([n, a]) => [a, n]),
  );
  const c = clientEvents(messages, names);
  const f = failoverEvents(messages, addrs);
  return { ...c, ...f, messages: messages.length };
}

/** A perfdhcp run in the switch namespace. */
export class Perfdhcp {
  readonly #proc: LabProcess;

  private constructor(proc: LabProcess) {
    this.#proc = proc;
  }

  /**
   * Starts `perfdhcp -6 -l br0` at `rate` exchanges/s with `renewRate` Renews/s for
   * `seconds` (0: until stopped), over `clients` simulated clients; with `prefixes` each
   * client asks for an address and a prefix.
   */
  static start(
    lab: Lab,
    o: {
      rate: number;
      renewRate?: number;
      seconds: number;
      clients?: number;
      name?: string;
      prefixes?: boolean;
    },
  ): Perfdhcp {
    const args = [
      "perfdhcp",
      "-6",
      "-l",
      "br0",
      "-r",
      String(o.rate),
      "-R",
      String(o.clients ?? 100000),
    ];
    if (o.renewRate) args.push("-f", String(o.renewRate));
    if (o.prefixes) args.push("-e", "address-and-prefix");
    if (o.seconds > 0) args.push("-p", String(o.seconds));
    return new Perfdhcp(lab.spawn("sw", args, `${o.name ?? "perfdhcp"}.log`));
  }

  /** Stops it (SIGINT makes perfdhcp print its report) and returns its output. */
  async stop(): Promise<string> {
    if (this.#proc.running) {
      this.#proc.kill("SIGINT");
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#proc.exited,
        new Promise((r) => timer = setTimeout(r, 5000)),
      ]);
      clearTimeout(timer);
      if (this.#proc.running) await this.#proc.stop(1000);
    }
    return await this.#proc.output();
  }

  /** Waits for it to finish by itself (bounded) and returns its output. */
  async finish(timeoutMs: number): Promise<string> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.#proc.exited, new Promise((r) => timer = setTimeout(r, timeoutMs))]);
    clearTimeout(timer);
    return await this.stop();
  }
}

/** The figures of a perfdhcp report. */
export interface PerfdhcpFigures {
  /** Achieved 4-way exchanges per second. */
  rate: number;
  /** Solicits sent. */
  solicits: number;
  /** Requests sent. */
  requests: number;
  /** Replies received (to Requests and Renews). */
  replies: number;
  /** Renews sent. */
  renews: number;
  /** Drops (Solicit-Advertise + Request-Reply + Renew-Reply). */
  drops: number;
}

/** Reads perfdhcp's final report. */
export function perfdhcpFigures(text: string): PerfdhcpFigures {
  const rate = Number(/Rate: ([\d.]+)/.exec(text)?.[1] ?? NaN);
  const section = (name: string) => {
    const i = text.lastIndexOf(`Statistics for: ${name}`);
    const s = i < 0 ? "" : text.slice(i, i + 600);
    const num = (k: string) => Number(new RegExp(`${k}: (\\d+)`).exec(s)?.[1] ?? 0);
    return { sent: num("sent packets"), received: num("received packets"), drops: num("drops") };
  };
  const sa = section("SOLICIT-ADVERTISE");
  const rr = section("REQUEST-REPLY");
  const rn = section("RENEW-REPLY");
  return {
    rate,
    solicits: sa.sent,
    requests: rr.sent,
    replies: rr.received + rn.received,
    renews: rn.sent,
    drops: sa.drops + rr.drops + rn.drops,
  };
}
