/**
 * The control API of `failover6 serve`: HTTP with JSON bodies, bound to localhost, every
 * request authenticated with `Authorization: Bearer <token>`.
 *
 * | method and path | answer |
 * |---|---|
 * | `GET /v1/status` | server status |
 * | `GET /v1/lease/{address, prefix/len or DUID}` | `{leases: [...]}` (404 when none) |
 * | `GET /v1/leases?limit=&after=&status=&kind=&duid=` | one page `{leases, next?}` |
 * | `POST /v1/lease/{address or prefix/len}/release` | `{released: lease}`; 404, 409 |
 * | `POST /v1/shutdown` | 202 `{shutdown: true}`, then the server drains and exits |
 * | `POST /v1/reload` | re-read the configuration file: 200 `{reload: "applied", applied, needsRestart}`; 422 `{reload: "invalid", errors}` (nothing changed); 409 no file |
 * | `GET /v1/failover` | `{relationships: [...]}`: each failover endpoint's status (404 without failover) |
 * | `POST /v1/failover/partner-down?relationship=` | `{partnerDown: "done" or "already", status}`; 409 refused, 400, 404 |
 * | `GET /metrics` | Prometheus text exposition |
 *
 * {@linkcode handleControlRequest} is the whole routing, over a {@linkcode ControlBackend},
 * testable without sockets; {@linkcode startControlServer} puts it on `Deno.serve`.
 *
 * @module
 */

import type { BindingStatus, Lease, LeaseKey, LeasePage, LeaseQuery } from "../../store/types.ts";
import { BINDING_STATUSES } from "../../store/types.ts";
import { canonicalIPv6 } from "../../util/ipv6.ts";
import { PROMETHEUS_CONTENT_TYPE } from "./metrics.ts";
import type { EndpointStatus, PartnerDownOutcome } from "./failover_status.ts";
import type { ReloadOutcome } from "./reload.ts";

/** What a lease lookup asks for. */
export type LeaseLookup =
  | { kind: "address"; address: string }
  | { kind: "prefix"; address: string; prefixLength: number }
  | { kind: "duid"; duid: string };

/** The outcome of an operator release. */
export type ReleaseOutcome =
  | { kind: "released"; lease: Lease }
  | { kind: "not-found" }
  | { kind: "not-active"; lease: Lease };

/** What the control API needs from the server. */
export interface ControlBackend {
  /** The status document (JSON-serialisable). */
  status(): Record<string, unknown>;
  /** Leases matching a lookup (an address also matches the delegated prefix holding it). */
  lookup(query: LeaseLookup): Lease[];
  /** One page of leases. */
  list(query: LeaseQuery): LeasePage;
  /** Releases an ACTIVE lease (durable before it resolves). */
  release(key: LeaseKey): Promise<ReleaseOutcome>;
  /** Starts a clean shutdown (drain); returns at once. */
  shutdown(reason: string): void;
  /** The Prometheus text exposition. */
  metrics(): string;
  /** Re-reads and applies the configuration file (absent: reload is not offered). */
  reload?(): Promise<ReloadOutcome>;
  /** The status of each failover relationship (absent: the server has none). */
  failover?(): EndpointStatus[];
  /** The operator's "partner is down" command (RFC 8156 §8.4). */
  partnerDown?(relationship: string | undefined): PartnerDownOutcome;
}

/** Parses a lookup: `duid:HEX`, `ADDR/LEN` (prefix), an IPv6 address, else a hex DUID. */
export function parseLeaseLookup(text: string): LeaseLookup | { error: string } {
  const t = text.trim();
  if (t === "") return { error: "empty lease query" };
  const forced = /^duid[:=]/i.test(t);
  if (!forced) {
    const slash = t.indexOf("/");
    if (slash >= 0) {
      const addr = canonicalIPv6(t.slice(0, slash));
      const lenText = t.slice(slash + 1);
      const len = /^\d{1,3}$/.test(lenText) ? Number(lenText) : NaN;
      if (addr === undefined || !(len >= 1 && len <= 128)) {
        return { error: `"${text}" is not a prefix (use ADDRESS/LENGTH, e.g. fd00:f6:1::/56)` };
      }
      return { kind: "prefix", address: addr, prefixLength: len };
    }
    const addr = canonicalIPv6(t);
    if (addr !== undefined) return { kind: "address", address: addr };
  }
  const hex = (forced ? t.slice(5) : t).replace(/[:\-\s]/g, "").toLowerCase();
  if (/^[0-9a-f]+$/.test(hex) && hex.length % 2 === 0 && hex.length >= 6 && hex.length <= 260) {
    return { kind: "duid", duid: hex };
  }
  return {
    error: `"${text}" is neither an IPv6 address, a prefix (ADDRESS/LENGTH) nor a hex DUID`,
  };
}

function iso(ms: number): string | null {
  return ms > 0 && Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

/** A lease as JSON: times as ISO 8601 (null for "none"), a `prefix` text for `pd`. */
export function leaseToJson(l: Lease): Record<string, unknown> {
  return {
    kind: l.kind,
    address: l.address,
    prefixLength: l.prefixLength,
    ...(l.kind === "pd" ? { prefix: `${l.address}/${l.prefixLength}` } : {}),
    status: l.status,
    clientDuid: l.clientDuid,
    iaid: l.iaid,
    preferredLifetime: l.preferredLifetime,
    validLifetime: l.validLifetime,
    expirationTime: iso(l.expirationTime),
    cltTime: iso(l.cltTime),
    startTimeOfState: iso(l.startTimeOfState),
    stateExpirationTime: iso(l.stateExpirationTime),
    partnerLifetime: iso(l.partnerLifetime),
    ackedPartnerLifetime: iso(l.ackedPartnerLifetime),
    updatePending: l.updatePending,
    ackPending: l.ackPending,
    owner: l.owner,
    relationship: l.relationship,
    pool: l.pool,
  };
}

/** Compares two strings in time that does not depend on where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const ea = new TextEncoder().encode(a);
  const eb = new TextEncoder().encode(b);
  let diff = ea.length ^ eb.length;
  const n = Math.max(ea.length, eb.length);
  for (let i = 0; i < n; i++) diff |= (ea[i] ?? 0) ^ (eb[i] ?? 0);
  return diff === 0;
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body, null, 2) + "\n", {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

function problem(status: number, error: string, headers: Record<string, string> = {}): Response {
  return json(status, { error }, headers);
}

function leaseKeyOf(q: LeaseLookup): LeaseKey | undefined {
  if (q.kind === "address") return { kind: "na", address: q.address, prefixLength: 128 };
  if (q.kind === "prefix") return { kind: "pd", address: q.address, prefixLength: q.prefixLength };
  return undefined;
}

function parseListQuery(params: URLSearchParams): LeaseQuery | { error: string } {
  const q: LeaseQuery = {};
  const limit = params.get("limit");
  if (limit !== null) {
    if (!/^\d{1,5}$/.test(limit) || Number(limit) < 1 || Number(limit) > 10000) {
      return { error: `limit: "${limit}" is not a number from 1 to 10000` };
    }
    q.limit = Number(limit);
  }
  const after = params.get("after");
  if (after !== null && after !== "") q.after = after;
  const kind = params.get("kind");
  if (kind !== null) {
    if (kind !== "na" && kind !== "pd") return { error: `kind: "${kind}" is not na or pd` };
    q.kind = kind;
  }
  const statuses = params.getAll("status").flatMap((s) => s.split(",")).filter((s) => s !== "");
  if (statuses.length > 0) {
    const bad = statuses.find((s) => !BINDING_STATUSES.includes(s.toUpperCase() as BindingStatus));
    if (bad !== undefined) {
      return { error: `status: "${bad}" is not one of ${BINDING_STATUSES.join(", ")}` };
    }
    q.status = statuses.map((s) => s.toUpperCase() as BindingStatus);
  }
  const duid = params.get("duid");
  if (duid !== null) {
    const hex = duid.replace(/[:\-]/g, "").toLowerCase();
    if (!/^([0-9a-f]{2})+$/.test(hex)) return { error: `duid: "${duid}" is not hex` };
    q.clientDuid = hex;
  }
  const pool = params.get("pool");
  if (pool !== null) q.pool = pool;
  return q;
}

/**
 * Answers one control request. Never throws: backend failures become 500 with one line.
 *
 * @param token the bearer token every request must carry
 */
export async function handleControlRequest(
  req: Request,
  backend: ControlBackend,
  token: string,
): Promise<Response> {
  const url = new URL(req.url);
  const auth = req.headers.get("authorization") ?? "";
  const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
  if (!m || !constantTimeEqual(m[1], token)) {
    return problem(401, "missing or wrong bearer token", {
      "www-authenticate": 'Bearer realm="failover6"',
    });
  }
  const path = url.pathname.replace(/\/+$/, "") || "/";
  const method = req.method.toUpperCase();
  const allow = (methods: string) =>
    problem(405, `${method} is not allowed on ${path}`, { allow: methods });
  try {
    if (path === "/metrics") {
      if (method !== "GET" && method !== "HEAD") return allow("GET");
      return new Response(backend.metrics(), {
        headers: { "content-type": PROMETHEUS_CONTENT_TYPE },
      });
    }
    if (path === "/v1/status") {
      if (method !== "GET") return allow("GET");
      return json(200, backend.status());
    }
    if (path === "/v1/leases") {
      if (method !== "GET") return allow("GET");
      const q = parseListQuery(url.searchParams);
      if ("error" in q) return problem(400, q.error);
      const page = backend.list(q);
      return json(200, {
        leases: page.leases.map(leaseToJson),
        ...(page.next !== undefined ? { next: page.next } : {}),
      });
    }
    if (path === "/v1/failover") {
      if (method !== "GET") return allow("GET");
      if (!backend.failover) return problem(404, "no failover relationship is configured");
      return json(200, { relationships: backend.failover() });
    }
    if (path === "/v1/failover/partner-down") {
      if (method !== "POST") return allow("POST");
      if (!backend.partnerDown) return problem(404, "no failover relationship is configured");
      const r = backend.partnerDown(url.searchParams.get("relationship") ?? undefined);
      switch (r.kind) {
        case "done":
          return json(200, { partnerDown: "done", status: r.status });
        case "already":
          return json(200, { partnerDown: "already", reason: r.reason, status: r.status });
        case "refused":
          return json(409, { error: r.reason, status: r.status });
        case "ambiguous":
          return problem(400, r.reason);
        case "unknown-relationship":
          return problem(404, r.reason);
      }
    }
    if (path === "/v1/reload") {
      if (method !== "POST") return allow("POST");
      if (!backend.reload) return problem(404, "this server does not reload its configuration");
      const r = await backend.reload();
      switch (r.result) {
        case "applied":
          return json(200, {
            reload: "applied",
            file: r.file,
            loadedAt: new Date(r.loadedAt).toISOString(),
            applied: r.applied,
            needsRestart: r.needsRestart,
          });
        case "invalid":
          return json(422, {
            error: `${r.file}: ${r.errors.length} error(s); still running on the previous ` +
              "configuration",
            reload: "invalid",
            errors: r.errors,
          });
        case "no-file":
          return json(409, { error: r.message, reload: "no-file" });
      }
    }
    if (path === "/v1/shutdown") {
      if (method !== "POST") return allow("POST");
      backend.shutdown("control API");
      return json(202, { shutdown: true });
    }
    const lm = /^\/v1\/lease\/(.+?)(\/release)?$/.exec(path);
    if (lm) {
      let raw: string;
      try {
        raw = decodeURIComponent(lm[1]);
      } catch {
        return problem(400, "bad percent-encoding in the lease query");
      }
      // "/v1/lease/fd00::/56" arrives as two segments when the slash was not encoded.
      const q = parseLeaseLookup(raw);
      if ("error" in q) return problem(400, q.error);
      if (lm[2] !== undefined) {
        if (method !== "POST") return allow("POST");
        const key = leaseKeyOf(q);
        if (key === undefined) return problem(400, "release needs an address or a prefix");
        const r = await backend.release(key);
        if (r.kind === "not-found") return problem(404, `no lease for ${raw}`);
        if (r.kind === "not-active") {
          return json(409, {
            error: `lease ${raw} is ${r.lease.status}, not ACTIVE`,
            lease: leaseToJson(r.lease),
          });
        }
        return json(200, { released: leaseToJson(r.lease) });
      }
      if (method !== "GET") return allow("GET");
      const leases = backend.lookup(q);
      if (leases.length === 0) return json(404, { error: `no lease for ${raw}`, leases: [] });
      return json(200, { leases: leases.map(leaseToJson) });
    }
    return problem(404, `no such endpoint: ${path}`);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return problem(500, why.split("\n")[0]);
  }
}

/** A running control server. */
export interface ControlServer {
  /** The bound address. */
  readonly hostname: string;
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number;
  /** The base URL, e.g. `http://127.0.0.1:10548`. */
  readonly url: string;
  /** Stops accepting and waits for open requests. */
  close(): Promise<void>;
}

/** Options of {@linkcode startControlServer}. */
export interface ControlServerOptions {
  /** Bind address (default 127.0.0.1). */
  hostname?: string;
  /** TCP port (0 for any). */
  port: number;
  /** The bearer token. */
  token: string;
  /** The server behind it. */
  backend: ControlBackend;
}

/** Formats `host:port` for a URL (brackets for IPv6). */
export function hostPort(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/** Starts the control API on `Deno.serve`. Throws (one line) when the port cannot be bound. */
export function startControlServer(options: ControlServerOptions): Promise<ControlServer> {
  const hostname = options.hostname ?? "127.0.0.1";
  return new Promise((resolve, reject) => {
    const ac = new AbortController();
    try {
      const server = Deno.serve({
        hostname,
        port: options.port,
        signal: ac.signal,
        onListen: (addr) => {
          const port = (addr as Deno.NetAddr).port;
          resolve({
            hostname,
            port,
            url: `http://${hostPort(hostname, port)}`,
            close: async () => {
              ac.abort();
              await server.finished;
            },
          });
        },
        onError: (e) => problem(500, e instanceof Error ? e.message : String(e)),
      }, (req) => handleControlRequest(req, options.backend, options.token));
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      reject(
        new Error(`cannot start the control API on ${hostPort(hostname, options.port)}: ${why}`),
      );
    }
  });
}

/**
 * Name of the token file `serve` writes next to its lease database when the configuration
 * gives no token; `ctl` reads it from the working directory when no token is given.
 */
export const TOKEN_FILE_NAME = "failover6-control.token";

/** A new random bearer token: 32 random octets as hex. */
export function generateToken(): string {
  const b = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
