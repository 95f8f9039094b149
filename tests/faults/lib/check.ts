/**
 * The safety checks of the fault tests, as pure functions over what a run leaves behind:
 * the client-side capture and the partner-link capture (both decoded by
 * `failover6 decode --json`), the endpoint-state timeline of each server, and the leases each
 * server holds at the end.
 *
 * - **lost**: a lease a client got a Reply for, still unexpired when a server's lease list was
 *   read to its end, that this server does not hold ACTIVE for that client (a lease whose
 *   lifetime ends while the lists are read may rightly be gone: it is counted apart, see
 *   {@linkcode CheckInput.heldReadEnd});
 * - **double-held**: an address or prefix that two clients hold at once, by the Replies on the
 *   wire (each grant lasts from its Reply for its valid lifetime, ended early by a Reply to the
 *   client's Release or Decline or a valid lifetime of 0), or ACTIVE for different clients on
 *   the two servers at the end;
 * - **MCLT**: outside PARTNER-DOWN, a Reply's valid lifetime never reaches past
 *   `max(acked partner lifetime, now) + MCLT` (RFC 8156 §4.4, digest R1), where the acked
 *   partner lifetime is the largest OPTION_F_PARTNER_LIFETIME_SENT the partner returned in an
 *   accepting BNDREPLY to this server for this lease before the Reply;
 * - **bindings differ**: ACTIVE leases not held alike (same client and IAID) by every server.
 *
 * Times are Unix milliseconds unless a name says seconds.
 *
 * @module
 */

import { EPOCH_2000_UNIX_SECONDS } from "../../../lib/util/clock.ts";
import { mcltBound } from "../../../lib/failover/mclt.ts";

/** One option of a decoded message, as `decode --json` prints it. */
export interface JsonOption {
  /** Option code. */
  code: number;
  /** Option name. */
  name?: string;
  /** Encapsulated options. */
  options?: JsonOption[];
  /** Typed fields (address, prefix, lifetimes, duid, statusCode, ...). */
  [field: string]: unknown;
}

/** One line of `failover6 decode --json`. */
export interface DecodedMessage {
  /** Frame number in the capture. */
  frame: number;
  /** `seconds.micros` since the Unix epoch, or null. */
  timestamp: string | null;
  /** `udp` or `tcp`. */
  transport: string;
  /** Source address. */
  src: string;
  /** Destination address. */
  dst: string;
  /** Source port. */
  sport: number;
  /** Destination port. */
  dport: number;
  /** Message name (SOLICIT, REPLY, BNDUPD, ...). */
  msgName: string | null;
  /** Transaction id. */
  transactionId: number | null;
  /** Top-level options. */
  options: JsonOption[];
  /** For a BNDREPLY: the frame of its BNDUPD. */
  pairedFrame?: number;
}

/** Parses the output of `decode --json` (one object per line; other lines are refused). */
export function parseDecodeJson(text: string): DecodedMessage[] {
  const out: DecodedMessage[] = [];
  let n = 0;
  for (const line of text.split("\n")) {
    n++;
    if (line.trim() === "") continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new Error(`decode --json line ${n}: not JSON: ${line.slice(0, 80)}`);
    }
    if (v === null || typeof v !== "object" || !Array.isArray((v as DecodedMessage).options)) {
      throw new Error(`decode --json line ${n}: not a message object`);
    }
    out.push(v as DecodedMessage);
  }
  return out;
}

/** The capture time of a message in ms (NaN when the capture has none). */
export function messageTime(m: DecodedMessage): number {
  return m.timestamp === null ? NaN : Number(m.timestamp) * 1000;
}

/** A lease's key: the address, or `prefix/length`. */
export type LeaseKey = string;

/** An address or prefix given to a client in a Reply. */
export interface ClientGrant {
  /** Capture time of the Reply, ms. */
  at: number;
  /** Server name (from the Server Identifier), or `?` and the DUID when unknown. */
  server: string;
  /** Client DUID, lower-case hex. */
  clientDuid: string;
  /** IAID of the IA holding it. */
  iaid: number;
  /** `na` or `pd`. */
  kind: "na" | "pd";
  /** The lease key. */
  lease: LeaseKey;
  /** Valid lifetime, seconds (0: the server takes it back). */
  valid: number;
  /** The client message answered (REQUEST, RENEW, REBIND, SOLICIT with Rapid Commit, ...). */
  answers: string;
}

/** A client giving a lease up (a Reply to its Release or Decline). */
export interface ClientEnd {
  /** Capture time of the Reply, ms. */
  at: number;
  /** Client DUID. */
  clientDuid: string;
  /** The lease key. */
  lease: LeaseKey;
}

/** The distinct states of a server in order, e.g. `NORMAL > COMMUNICATIONS-INTERRUPTED`. */
export function statePath(samples: readonly StateSample[]): string {
  const out: string[] = [];
  for (const s of [...samples].sort((a, b) => a.at - b.at)) {
    if (out.at(-1) !== s.state) out.push(s.state);
  }
  return out.join(" > ");
}

/** A partner lifetime the partner acknowledged to `server` (an accepting BNDREPLY). */
export interface PartnerAck {
  /** Capture time of the BNDREPLY, ms. */
  at: number;
  /** The server that sent the BNDUPD and received this acknowledgement. */
  server: string;
  /** The lease key. */
  lease: LeaseKey;
  /** The acknowledged partner lifetime, Unix seconds. */
  partnerLifetime: number;
}

/** A STATE message seen on the partner link. */
export interface WireState {
  /** Capture time, ms. */
  at: number;
  /** The sender. */
  server: string;
  /** Endpoint state name (RFC 8156 §8), e.g. `NORMAL`. */
  state: string;
  /** OPTION_F_START_TIME_OF_STATE, Unix ms (0 when absent). */
  since: number;
  /** The STARTUP flag was set. */
  startup: boolean;
}

function opt(options: JsonOption[] | undefined, code: number): JsonOption | undefined {
  return options?.find((o) => o.code === code);
}

function opts(options: JsonOption[] | undefined, code: number): JsonOption[] {
  return options?.filter((o) => o.code === code) ?? [];
}

function duidHex(o: JsonOption | undefined): string | undefined {
  const d = o?.duid as { hex?: unknown } | undefined;
  return typeof d?.hex === "string" ? d.hex.toLowerCase() : undefined;
}

/** The status code in an option list (0 = success, also when absent). */
function statusOf(options: JsonOption[] | undefined): number {
  const s = opt(options, 13);
  return typeof s?.statusCode === "number" ? s.statusCode : 0;
}

/** The key of an OPTION_IAADDR or OPTION_IAPREFIX. */
export function leaseKeyOf(o: JsonOption): LeaseKey | undefined {
  if (o.code === 5 && typeof o.address === "string") return o.address;
  if (o.code === 26 && typeof o.prefix === "string" && typeof o.prefixLength === "number") {
    return `${o.prefix}/${o.prefixLength}`;
  }
  return undefined;
}

const CLIENT_REQUESTS = new Set([
  "SOLICIT",
  "REQUEST",
  "CONFIRM",
  "RENEW",
  "REBIND",
  "RELEASE",
  "DECLINE",
  "INFORMATION-REQUEST",
]);

/**
 * The grants and give-ups in the client-side capture. `serverNames` maps server DUIDs (hex) to
 * names. Replies are matched to the client message they answer by transaction id and client
 * DUID; a Reply to a Release or Decline ends the leases that message named.
 */
export function clientEvents(
  messages: readonly DecodedMessage[],
  serverNames: ReadonlyMap<string, string>,
): { grants: ClientGrant[]; ends: ClientEnd[]; replies: number } {
  const asked = new Map<string, DecodedMessage>();
  const grants: ClientGrant[] = [];
  const ends: ClientEnd[] = [];
  let replies = 0;
  for (const m of messages) {
    if (m.transport !== "udp" || m.msgName === null) continue;
    const client = duidHex(opt(m.options, 1));
    if (client === undefined || m.transactionId === null) continue;
    const key = `${m.transactionId}/${client}`;
    if (CLIENT_REQUESTS.has(m.msgName)) {
      asked.set(key, m);
      continue;
    }
    if (m.msgName !== "REPLY") continue;
    replies++;
    const at = messageTime(m);
    const question = asked.get(key);
    const answers = question?.msgName ?? "?";
    if (answers === "RELEASE" || answers === "DECLINE") {
      for (const ia of [...opts(question!.options, 3), ...opts(question!.options, 25)]) {
        for (const l of ia.options ?? []) {
          const lease = leaseKeyOf(l);
          if (lease !== undefined) ends.push({ at, clientDuid: client, lease });
        }
      }
      continue;
    }
    const sd = duidHex(opt(m.options, 2)) ?? "";
    const server = serverNames.get(sd) ?? `?${sd}`;
    for (const ia of [...opts(m.options, 3), ...opts(m.options, 25)]) {
      if (statusOf(ia.options) !== 0) continue;
      for (const l of ia.options ?? []) {
        const lease = leaseKeyOf(l);
        if (lease === undefined || statusOf(l.options) !== 0) continue;
        const valid = typeof l.validLifetime === "number" ? l.validLifetime : 0;
        if (valid === 0) {
          ends.push({ at, clientDuid: client, lease });
          continue;
        }
        grants.push({
          at,
          server,
          clientDuid: client,
          iaid: typeof ia.iaid === "number" ? ia.iaid : -1,
          kind: ia.code === 25 ? "pd" : "na",
          lease,
          valid,
          answers,
        });
      }
    }
  }
  return { grants, ends, replies };
}

function failoverTimeMs(v: unknown): number | undefined {
  return typeof v === "number" ? (v + EPOCH_2000_UNIX_SECONDS) * 1000 : undefined;
}

/** Every IAADDR/IAPREFIX inside a CLIENT_DATA, with the status found on the way down. */
function leasesInClientData(cd: JsonOption): { lease: JsonOption; status: number }[] {
  const out: { lease: JsonOption; status: number }[] = [];
  const top = statusOf(cd.options);
  for (const ia of [...opts(cd.options, 3), ...opts(cd.options, 4), ...opts(cd.options, 25)]) {
    const iaStatus = statusOf(ia.options);
    for (const l of ia.options ?? []) {
      if (l.code !== 5 && l.code !== 26) continue;
      out.push({ lease: l, status: top || iaStatus || statusOf(l.options) });
    }
  }
  return out;
}

/**
 * The partner lifetimes acknowledged on the partner link and the STATE messages, from the
 * partner-link capture. `serverAddresses` maps each server's failover address to its name.
 */
export function failoverEvents(
  messages: readonly DecodedMessage[],
  serverAddresses: ReadonlyMap<string, string>,
): {
  acks: PartnerAck[];
  states: WireState[];
  mclt?: number;
  bndupd: number;
  bndreply: number;
  sent: Record<string, number>;
} {
  const acks: PartnerAck[] = [];
  const sent: Record<string, number> = {};
  const states: WireState[] = [];
  const byFrame = new Map<number, DecodedMessage>();
  let mclt: number | undefined;
  let bndupd = 0;
  let bndreply = 0;
  for (const m of messages) {
    if (m.transport !== "tcp" || m.msgName === null) continue;
    byFrame.set(m.frame, m);
    const at = messageTime(m);
    const who = `${serverAddresses.get(m.src) ?? m.src} ${m.msgName}`;
    sent[who] = (sent[who] ?? 0) + 1;
    if (m.msgName === "CONNECT") {
      const o = opt(m.options, 122);
      if (typeof o?.mclt === "number") mclt = o.mclt;
    } else if (m.msgName === "STATE") {
      const s = opt(m.options, 132);
      const flags = opt(m.options, 131);
      if (typeof s?.serverStateName !== "string") continue;
      states.push({
        at,
        server: serverAddresses.get(m.src) ?? m.src,
        state: s.serverStateName,
        since: failoverTimeMs(opt(m.options, 133)?.startTimeOfState) ?? 0,
        startup: flags?.startup === true,
      });
    } else if (m.msgName === "BNDUPD") {
      bndupd++;
    } else if (m.msgName === "BNDREPLY") {
      bndreply++;
      const server = serverAddresses.get(m.dst) ?? m.dst;
      const paired = m.pairedFrame === undefined ? undefined : byFrame.get(m.pairedFrame);
      const sentLifetimes = new Map<LeaseKey, number>();
      for (const cd of opts(paired?.options, 45)) {
        for (const { lease } of leasesInClientData(cd)) {
          const key = leaseKeyOf(lease);
          const pl = opt(lease.options, 123)?.partnerLifetime;
          if (key !== undefined && typeof pl === "number") sentLifetimes.set(key, pl);
        }
      }
      for (const cd of opts(m.options, 45)) {
        for (const { lease, status } of leasesInClientData(cd)) {
          const key = leaseKeyOf(lease);
          if (key === undefined || status !== 0) continue;
          const echoed = opt(lease.options, 124)?.partnerLifetimeSent;
          const pl = typeof echoed === "number" ? echoed : sentLifetimes.get(key);
          if (pl === undefined || pl === 0) continue;
          acks.push({ at, server, lease: key, partnerLifetime: pl + EPOCH_2000_UNIX_SECONDS });
        }
      }
    }
  }
  return { acks, states, mclt, bndupd, bndreply, sent };
}

/** An observation of a server's endpoint state. */
export interface StateSample {
  /** When it was observed, ms. */
  at: number;
  /** The state name. */
  state: string;
  /** When the state began, ms, when known (more exact than `at`). */
  since?: number;
}

/** A stretch of time in one endpoint state: `[from, to)`. */
export interface StateSpan {
  /** Start, ms. */
  from: number;
  /** End, ms (Infinity for the last). */
  to: number;
  /** The state name. */
  state: string;
}

/** Turns observations into spans: each state starts at its `since` (or first sighting). */
export function stateSpans(samples: readonly StateSample[]): StateSpan[] {
  const starts: { at: number; state: string }[] = [];
  for (const s of [...samples].sort((a, b) => a.at - b.at)) {
    const last = starts.at(-1);
    if (last !== undefined && last.state === s.state) continue;
    const at = s.since !== undefined && s.since > 0 && s.since <= s.at ? s.since : s.at;
    starts.push({ at: last === undefined ? at : Math.max(at, last.at), state: s.state });
  }
  return starts.map((s, i) => ({
    from: s.at,
    to: i + 1 < starts.length ? starts[i + 1].at : Infinity,
    state: s.state,
  }));
}

/**
 * Whether the server may have been in PARTNER-DOWN when a Reply captured at `at` was decided:
 * any PARTNER-DOWN span touching `[at - graceMs, at]` (a decision precedes its capture).
 */
export function inPartnerDown(spans: readonly StateSpan[], at: number, graceMs: number): boolean {
  return spans.some((s) => s.state === "PARTNER-DOWN" && s.from <= at && s.to >= at - graceMs);
}

/** The state at a time, or undefined before the first observation. */
export function stateAt(spans: readonly StateSpan[], at: number): string | undefined {
  return spans.find((s) => s.from <= at && at < s.to)?.state;
}

/** A lease a server holds at the end (the control API's lease list). */
export interface HeldLease {
  /** `na` or `pd`. */
  kind: "na" | "pd";
  /** The lease key. */
  lease: LeaseKey;
  /** Binding status. */
  status: string;
  /** Client DUID hex ("" when none). */
  clientDuid: string;
  /** IAID. */
  iaid: number;
  /** The record's times and flags as one line, for the examples of a failed check. */
  detail?: string;
}

/** Everything the checks look at. */
export interface CheckInput {
  /** Replies seen by the clients. */
  grants: readonly ClientGrant[];
  /** Releases and declines answered. */
  ends: readonly ClientEnd[];
  /** Partner lifetimes acknowledged on the partner link. */
  acks: readonly PartnerAck[];
  /** Endpoint-state spans per server name. */
  spans: Readonly<Record<string, readonly StateSpan[]>>;
  /** The MCLT, seconds. */
  mclt: number;
  /** The leases each server holds at the end, by server name. */
  held: Readonly<Record<string, readonly HeldLease[]>>;
  /** When the reading of `held` began, ms. */
  checkAt: number;
  /**
   * When each server's list in `held` was read to its end, ms (default `checkAt`). Reading
   * takes seconds (one `failover6 ctl leases` process per page of 10,000): a lease whose
   * valid lifetime ends between `checkAt` and the end of its server's read may have expired
   * (and gone EXPIRED on that server) before the page holding it was read, so it is not
   * counted as lost there but in {@linkcode CheckReport.expiredWhileRead}.
   */
  heldReadEnd?: Readonly<Record<string, number>>;
  /** Tolerance for rounding and capture latency, seconds (default 2). */
  slackSeconds?: number;
  /** How far before a Reply a PARTNER-DOWN span still counts (default 1000 ms). */
  partnerDownGraceMs?: number;
  /**
   * Leases whose last grant on the wire ends this close to the reading of `held` (seconds,
   * default 5; from `checkAt` to the last of `heldReadEnd`) are left out of the "bindings
   * differ" count: the two servers expire them on their own timers.
   */
  settleSeconds?: number;
  /**
   * Which server's half a lease belongs to (independent allocation, RFC 8156 §4.2.1), or
   * undefined when it has no fixed owner (proportional prefixes). When given, a lease granted
   * to a client for the first time by the server that does not own it is counted.
   */
  owner?: (kind: "na" | "pd", lease: LeaseKey) => string | undefined;
}

/**
 * The owner of an address under independent allocation: the primary (`s1`) has the addresses
 * whose low-order bit is 1, the secondary (`s2`) those where it is 0; prefixes have none.
 */
export function lowBitOwner(kind: "na" | "pd", lease: LeaseKey): string | undefined {
  if (kind !== "na") return undefined;
  const last = lease.split(":").at(-1) ?? "";
  return (parseInt(last === "" ? "0" : last, 16) & 1) === 1 ? "s1" : "s2";
}

/** Counts (and a few examples) of everything checked. */
export interface CheckReport {
  /** Leases granted in Replies (addresses + prefixes). */
  grants: number;
  /** Of which addresses. */
  addresses: number;
  /** Of which prefixes. */
  prefixes: number;
  /** Distinct clients granted something. */
  clients: number;
  /** Grants by server name. */
  byServer: Record<string, number>;
  /** New leases (first grant to that client) handed out by the server that does not own them. */
  partnerHalfNew: number;
  /** Grants decided in PARTNER-DOWN (not bound by the MCLT). */
  partnerDownGrants: number;
  /** Grants checked against the MCLT rule. */
  mcltChecked: number;
  /** Grants beyond `max(acked partner lifetime, now) + MCLT` outside PARTNER-DOWN. */
  mcltViolations: number;
  /** The largest excess over the MCLT bound seen, seconds (0 when none). */
  mcltWorstExcess: number;
  /** Leases still valid at the check. */
  unexpired: number;
  /** Unexpired leases a server does not hold ACTIVE for the client, by server name. */
  lost: Record<string, number>;
  /**
   * Leases valid at `checkAt` whose lifetime ended before their server's list was read to its
   * end, and that this server no longer held ACTIVE (not lost: they expired), by server name.
   */
  expiredWhileRead: Record<string, number>;
  /** Times a lease was granted while another client still held it. */
  doubleHeldOnWire: number;
  /** Leases ACTIVE for different clients on different servers at the end. */
  doubleHeldAtEnd: number;
  /** ACTIVE leases not held alike by every server at the end. */
  bindingsDiffer: number;
  /** ACTIVE leases left out of the comparison because they expire around the check. */
  settling: number;
  /** ACTIVE leases per server at the end. */
  activeAtEnd: Record<string, number>;
  /** Up to 5 examples per problem. */
  examples: string[];
}

/** Runs every check. */
export function checkRun(input: CheckInput): CheckReport {
  const slack = input.slackSeconds ?? 2;
  const grace = input.partnerDownGraceMs ?? 1000;
  const examples: string[] = [];
  const example = (kind: string, text: string) => {
    if (examples.filter((e) => e.startsWith(kind)).length < 5) examples.push(`${kind}: ${text}`);
  };
  const byServer: Record<string, number> = {};
  let partnerDownGrants = 0;
  let mcltChecked = 0;
  let mcltViolations = 0;
  let mcltWorstExcess = 0;

  // Acked partner lifetimes per server and lease, in time order.
  const acks = new Map<string, PartnerAck[]>();
  for (const a of [...input.acks].sort((x, y) => x.at - y.at)) {
    const k = `${a.server} ${a.lease}`;
    const list = acks.get(k) ?? [];
    list.push(a);
    acks.set(k, list);
  }
  const ackedBefore = (server: string, lease: string, at: number): number | null => {
    let best: number | null = null;
    for (const a of acks.get(`${server} ${lease}`) ?? []) {
      if (a.at > at) break;
      if (best === null || a.partnerLifetime > best) best = a.partnerLifetime;
    }
    return best;
  };

  let partnerHalfNew = 0;
  const granted = new Set<string>();
  for (const g of [...input.grants].sort((a, b) => a.at - b.at)) {
    const first = !granted.has(`${g.clientDuid} ${g.lease}`);
    granted.add(`${g.clientDuid} ${g.lease}`);
    const owner = input.owner?.(g.kind, g.lease);
    if (first && owner !== undefined && owner !== g.server) {
      partnerHalfNew++;
      example(
        "half",
        `${g.server} gave ${g.lease} (${owner}'s half) to new client ${g.clientDuid}`,
      );
    }
  }
  for (const g of input.grants) {
    byServer[g.server] = (byServer[g.server] ?? 0) + 1;
    const spans = input.spans[g.server] ?? [];
    if (inPartnerDown(spans, g.at, grace)) {
      partnerDownGrants++;
      continue;
    }
    mcltChecked++;
    const now = g.at / 1000;
    const bound = mcltBound(ackedBefore(g.server, g.lease, g.at), now, input.mclt);
    const excess = now + g.valid - bound;
    if (excess > slack) {
      mcltViolations++;
      mcltWorstExcess = Math.max(mcltWorstExcess, excess);
      example(
        "mclt",
        `${g.server} gave ${g.lease} to ${g.clientDuid} for ${g.valid}s at ${
          new Date(g.at).toISOString()
        } in ${stateAt(spans, g.at) ?? "an unknown state"}: ${excess.toFixed(1)}s past the bound`,
      );
    }
  }

  // Who holds what over time, from the wire.
  type Ev = {
    at: number;
    client: string;
    lease: string;
    until: number;
    iaid: number;
    from: string;
  };
  const events: Ev[] = [
    ...input.grants.map((g) => ({
      at: g.at,
      client: g.clientDuid,
      lease: g.lease,
      until: g.at + g.valid * 1000,
      iaid: g.iaid,
      from: `${g.server} (${g.answers})`,
    })),
    ...input.ends.map((e) => ({
      at: e.at,
      client: e.clientDuid,
      lease: e.lease,
      until: e.at,
      iaid: -1,
      from: "",
    })),
  ].sort((a, b) => a.at - b.at);
  const history = new Map<string, string[]>();
  const rel = (t: number) => `${((t - input.checkAt) / 1000).toFixed(1)}s`;
  for (const e of events) {
    const h = history.get(e.lease) ?? [];
    h.push(
      e.until > e.at
        ? `${rel(e.at)} ${e.from} to ${e.client}/${e.iaid} until ${rel(e.until)}`
        : `${rel(e.at)} ended by ${e.client}`,
    );
    history.set(e.lease, h);
  }
  const holders = new Map<string, Map<string, { until: number; iaid: number; from: string }>>();
  let doubleHeldOnWire = 0;
  for (const e of events) {
    let h = holders.get(e.lease);
    if (h === undefined) holders.set(e.lease, h = new Map());
    if (e.until > e.at) {
      for (const [other, o] of h) {
        if (other !== e.client && o.until > e.at + slack * 1000) {
          doubleHeldOnWire++;
          example(
            "double",
            `${e.lease} granted by ${e.from} to ${e.client} at ${new Date(e.at).toISOString()} ` +
              `while ${other} held it (granted by ${o.from}) until ${
                new Date(o.until).toISOString()
              }`,
          );
          break;
        }
      }
      h.set(e.client, { until: e.until, iaid: e.iaid, from: e.from });
    } else {
      const mine = h.get(e.client);
      if (mine !== undefined) mine.until = Math.min(mine.until, e.at);
    }
  }

  // Leases still valid at the check must be ACTIVE for their client on every server.
  const servers = Object.keys(input.held);
  const active: Record<string, Map<string, HeldLease>> = {};
  const record: Record<string, Map<string, HeldLease>> = {};
  const activeAtEnd: Record<string, number> = {};
  for (const s of servers) {
    active[s] = new Map();
    record[s] = new Map();
    for (const l of input.held[s]) {
      record[s].set(l.lease, l);
      if (l.status === "ACTIVE") active[s].set(l.lease, l);
    }
    activeAtEnd[s] = active[s].size;
  }
  const lost: Record<string, number> = Object.fromEntries(servers.map((s) => [s, 0]));
  const expiredWhileRead: Record<string, number> = Object.fromEntries(servers.map((s) => [s, 0]));
  const readEnd = (s: string) => Math.max(input.checkAt, input.heldReadEnd?.[s] ?? input.checkAt);
  let unexpired = 0;
  const clients = new Set<string>();
  for (const [lease, h] of holders) {
    for (const [client, o] of h) {
      clients.add(client);
      if (o.until <= input.checkAt + slack * 1000) continue;
      unexpired++;
      for (const s of servers) {
        const l = active[s].get(lease);
        if (l === undefined || l.clientDuid !== client) {
          if (o.until <= readEnd(s) + slack * 1000) {
            expiredWhileRead[s]++;
            continue;
          }
          lost[s]++;
          example(
            "lost",
            `${s} does not hold ${lease} for ${client} (valid until ${
              new Date(o.until).toISOString()
            }; ${l === undefined ? "no ACTIVE lease" : `ACTIVE for ${l.clientDuid}`})`,
          );
        }
      }
    }
  }

  // The servers' views at the end.
  let doubleHeldAtEnd = 0;
  let bindingsDiffer = 0;
  const allLeases = new Set<string>();
  for (const s of servers) for (const k of active[s].keys()) allLeases.add(k);
  const settle = (input.settleSeconds ?? 5) * 1000;
  const lastRead = Math.max(input.checkAt, ...servers.map(readEnd));
  let settling = 0;
  for (const k of allLeases) {
    const views = servers.map((s) => active[s].get(k));
    const owners = new Set(views.filter((v) => v !== undefined).map((v) => v!.clientDuid));
    if (owners.size > 1) {
      doubleHeldAtEnd++;
      example("double-at-end", `${k} is ACTIVE for ${[...owners].join(" and ")}`);
    }
    const ends = [...(holders.get(k)?.values() ?? [])].map((o) => o.until);
    if (ends.some((u) => u >= input.checkAt - settle && u <= lastRead + settle)) {
      settling++;
      continue;
    }
    const same = views.every((v) =>
      v !== undefined && v.clientDuid === views[0]!.clientDuid && v.iaid === views[0]!.iaid
    );
    if (!same) {
      bindingsDiffer++;
      example(
        "differ",
        `${k}: ${
          servers.map((s, i) =>
            `${s} ${views[i] ? `${views[i]!.clientDuid}/${views[i]!.iaid}` : "-"}`
          )
            .join(", ")
        }; records (times from their reading): ${
          servers.map((s) => {
            const r = record[s].get(k);
            return `${s} ${r ? `${r.status} ${r.clientDuid}/${r.iaid} ${r.detail ?? ""}` : "none"}`;
          }).join("; ")
        }; on the wire: ${(history.get(k) ?? ["nothing"]).slice(-6).join("; ")}`,
      );
    }
  }

  return {
    grants: input.grants.length,
    addresses: input.grants.filter((g) => g.kind === "na").length,
    prefixes: input.grants.filter((g) => g.kind === "pd").length,
    clients: clients.size,
    byServer,
    partnerHalfNew,
    partnerDownGrants,
    mcltChecked,
    mcltViolations,
    mcltWorstExcess,
    unexpired,
    lost,
    expiredWhileRead,
    doubleHeldOnWire,
    doubleHeldAtEnd,
    bindingsDiffer,
    settling,
    activeAtEnd,
    examples,
  };
}

/** The counts on one line, for test output. */
export function reportLine(name: string, r: CheckReport): string {
  const kv = (o: Record<string, number>) =>
    Object.entries(o).map(([k, v]) => `${k}=${v}`).join(" ");
  return `${name}: grants ${r.grants} (${r.addresses} addresses, ${r.prefixes} prefixes, ` +
    `${r.clients} clients; ${kv(r.byServer)}), new from the partner's half ${r.partnerHalfNew}, ` +
    `PARTNER-DOWN grants ${r.partnerDownGrants}, ` +
    `MCLT checked ${r.mcltChecked} violations ${r.mcltViolations}, unexpired ${r.unexpired} ` +
    `(expired while read {${kv(r.expiredWhileRead)}}) ` +
    `lost {${kv(r.lost)}}, double-held wire ${r.doubleHeldOnWire} end ${r.doubleHeldAtEnd}, ` +
    `ACTIVE {${kv(r.activeAtEnd)}} differ ${r.bindingsDiffer}`;
}
