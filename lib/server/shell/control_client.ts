/**
 * A client of the `failover6 serve` control API (see `control.ts`), used by `failover6 ctl`
 * and the tests. Every failure is a {@linkcode ControlError} with a kind and one line.
 *
 * @module
 */

/** Why a control call failed. */
export type ControlErrorKind =
  | "unreachable" // no connection (refused, timeout, bad URL host)
  | "unauthorized" // 401: missing or wrong token
  | "bad-request" // 400: the server did not accept the query
  | "not-found" // 404
  | "conflict" // 409: e.g. releasing a lease that is not ACTIVE
  | "invalid" // 422: e.g. a configuration reload that found errors (body.errors)
  | "server"; // 5xx or an answer that is not JSON

/** A failed control call. */
export class ControlError extends Error {
  override name = "ControlError";
  /** Why. */
  readonly kind: ControlErrorKind;
  /** HTTP status, when there was an answer. */
  readonly status?: number;
  /** The JSON body of the answer, when there was one. */
  readonly body?: Record<string, unknown>;
  /** @param kind why @param message one line @param status HTTP status @param body answer */
  constructor(
    kind: ControlErrorKind,
    message: string,
    status?: number,
    body?: Record<string, unknown>,
  ) {
    super(message);
    this.kind = kind;
    this.status = status;
    this.body = body;
  }
}

/** The default control API URL (the embedded default configuration's). */
export const DEFAULT_CONTROL_URL = "http://127.0.0.1:10548";

/** Options of the lease list. */
export interface ListOptions {
  /** Cursor from a previous page's `next`. */
  after?: string;
  /** Page size 1–10000. */
  limit?: number;
  /** Only these binding statuses. */
  status?: string[];
  /** Only `na` or `pd`. */
  kind?: "na" | "pd";
  /** Only this client. */
  duid?: string;
}

/** A lease as the API renders it (see `leaseToJson`). */
export type LeaseJson = Record<string, unknown> & {
  kind: "na" | "pd";
  address: string;
  prefixLength: number;
  status: string;
  clientDuid: string;
  iaid: number;
  validLifetime: number;
  preferredLifetime: number;
  expirationTime: string | null;
  pool: string;
};

/** An applied configuration reload, as the API reports it. */
export interface ReloadAnswer {
  /** The file read. */
  file: string;
  /** When it was applied (ISO 8601). */
  loadedAt: string;
  /** Changes applied, one line each. */
  applied: string[];
  /** Changes kept until a restart, one line each (`listen: changed; restart to apply`). */
  needsRestart: string[];
}

/** The strings of a JSON list (anything else: none). */
export function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

/** Talks to one server's control API. */
export class ControlClient {
  /** Base URL without a trailing slash. */
  readonly url: string;
  readonly #token: string;
  readonly #timeoutMs: number;

  /** @param url base URL @param token bearer token @param timeoutMs per request (default 10 s) */
  constructor(url: string, token: string, timeoutMs = 10_000) {
    this.url = url.replace(/\/+$/, "");
    this.#token = token;
    this.#timeoutMs = timeoutMs;
  }

  async #call(method: string, path: string): Promise<{ status: number; text: string }> {
    let res: Response;
    try {
      res = await fetch(this.url + path, {
        method,
        headers: { authorization: `Bearer ${this.#token}` },
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (e) {
      const why = e instanceof Error ? e.message.split("\n")[0] : String(e);
      throw new ControlError("unreachable", `cannot reach the control API at ${this.url}: ${why}`);
    }
    return { status: res.status, text: await res.text() };
  }

  async #json(method: string, path: string): Promise<Record<string, unknown>> {
    const { status, text } = await this.#call(method, path);
    let body: Record<string, unknown> | undefined;
    try {
      const parsed = JSON.parse(text);
      if (parsed !== null && typeof parsed === "object") body = parsed;
    } catch { /* not JSON */ }
    if (status >= 200 && status < 300 && body !== undefined) return body;
    const said = typeof body?.error === "string" ? body.error : `HTTP ${status}`;
    const kind: ControlErrorKind = status === 401
      ? "unauthorized"
      : status === 400
      ? "bad-request"
      : status === 404
      ? "not-found"
      : status === 409
      ? "conflict"
      : status === 422
      ? "invalid"
      : "server";
    throw new ControlError(kind, said, status, body);
  }

  /** `GET /v1/status`. */
  status(): Promise<Record<string, unknown>> {
    return this.#json("GET", "/v1/status");
  }

  /** `GET /v1/lease/{query}`: leases for an address, a prefix or a DUID. */
  async lease(query: string): Promise<LeaseJson[]> {
    const body = await this.#json("GET", `/v1/lease/${encodeURIComponent(query)}`);
    return (body.leases ?? []) as LeaseJson[];
  }

  /** `GET /v1/leases`: one page. */
  async leases(opts: ListOptions = {}): Promise<{ leases: LeaseJson[]; next?: string }> {
    const p = new URLSearchParams();
    if (opts.after !== undefined) p.set("after", opts.after);
    if (opts.limit !== undefined) p.set("limit", String(opts.limit));
    if (opts.kind !== undefined) p.set("kind", opts.kind);
    if (opts.duid !== undefined) p.set("duid", opts.duid);
    for (const s of opts.status ?? []) p.append("status", s);
    const q = p.toString();
    const body = await this.#json("GET", `/v1/leases${q ? `?${q}` : ""}`);
    return {
      leases: (body.leases ?? []) as LeaseJson[],
      ...(typeof body.next === "string" ? { next: body.next } : {}),
    };
  }

  /** `POST /v1/lease/{address or prefix}/release`. */
  async release(query: string): Promise<LeaseJson> {
    const body = await this.#json("POST", `/v1/lease/${encodeURIComponent(query)}/release`);
    return body.released as LeaseJson;
  }

  /** `GET /v1/failover`: the status of each failover relationship. */
  async failover(): Promise<{ relationships: Record<string, unknown>[] }> {
    const body = await this.#json("GET", "/v1/failover");
    return { relationships: (body.relationships ?? []) as Record<string, unknown>[] };
  }

  /**
   * `POST /v1/failover/partner-down`: the operator's "partner is down" command. Refused
   * (`conflict`) while the partner is reachable.
   */
  partnerDown(relationship?: string): Promise<Record<string, unknown>> {
    const q = relationship === undefined ? "" : `?relationship=${encodeURIComponent(relationship)}`;
    return this.#json("POST", `/v1/failover/partner-down${q}`);
  }

  /**
   * `POST /v1/reload`: the server re-reads its configuration file. Resolves with
   * `{reload: "applied", file, loadedAt, applied: string[], needsRestart: string[]}`; an
   * invalid file is a {@linkcode ControlError} of kind `invalid` whose `body.errors` holds one
   * line per error; a server without a file answers `conflict`.
   */
  async reload(): Promise<ReloadAnswer> {
    const body = await this.#json("POST", "/v1/reload");
    return {
      file: String(body.file ?? ""),
      loadedAt: String(body.loadedAt ?? ""),
      applied: stringList(body.applied),
      needsRestart: stringList(body.needsRestart),
    };
  }

  /** `POST /v1/shutdown`. */
  async shutdown(): Promise<void> {
    await this.#json("POST", "/v1/shutdown");
  }

  /** `GET /metrics`: the Prometheus text. */
  async metrics(): Promise<string> {
    const { status, text } = await this.#call("GET", "/metrics");
    if (status === 401) {
      throw new ControlError("unauthorized", "missing or wrong bearer token", 401);
    }
    if (status !== 200) throw new ControlError("server", `HTTP ${status}`, status);
    return text;
  }
}
