/**
 * A small Prometheus metrics registry (counters, gauges, histograms with labels) and its text
 * exposition format (version 0.0.4), plus {@linkcode ServeMetrics}: the metrics of
 * `failover6 serve` (packets by type, replies, drops by reason, pool utilisation, commit
 * latency).
 *
 * @module
 */

/** Label names to values. */
export type Labels = Readonly<Record<string, string>>;

/** The Content-Type of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Escapes a label value: backslash, double quote and newline. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** Escapes HELP text: backslash and newline. */
function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** Formats a sample value the way Prometheus reads it (`+Inf`, `-Inf`, `NaN`). */
export function formatSampleValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

function labelText(names: readonly string[], values: readonly string[]): string {
  if (names.length === 0) return "";
  return `{${names.map((n, i) => `${n}="${escapeLabelValue(values[i])}"`).join(",")}}`;
}

abstract class Metric {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  abstract readonly type: "counter" | "gauge" | "histogram";

  constructor(name: string, help: string, labelNames: readonly string[]) {
    if (!NAME_RE.test(name)) throw new RangeError(`bad metric name ${JSON.stringify(name)}`);
    for (const l of labelNames) {
      if (!LABEL_RE.test(l) || l.startsWith("__")) {
        throw new RangeError(`bad label name ${JSON.stringify(l)} of ${name}`);
      }
    }
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  protected key(labels: Labels | undefined): { key: string; values: string[] } {
    const values = this.labelNames.map((n) => {
      const v = labels?.[n];
      if (v === undefined) throw new RangeError(`${this.name}: label ${n} missing`);
      return v;
    });
    return { key: values.join("\u0000"), values };
  }

  header(): string {
    return `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`;
  }

  abstract samples(): string;
}

/** A counter: only goes up. */
export class Counter extends Metric {
  readonly type = "counter" as const;
  readonly #series = new Map<string, { values: string[]; value: number }>();

  /** Adds `n` (default 1, must be ≥ 0) to the series of `labels`. */
  inc(labels?: Labels, n = 1): void {
    if (!(n >= 0)) throw new RangeError(`${this.name}: a counter cannot go down`);
    const { key, values } = this.key(labels);
    const s = this.#series.get(key);
    if (s) s.value += n;
    else this.#series.set(key, { values, value: n });
  }

  /** The current value of a series (0 when never incremented). */
  get(labels?: Labels): number {
    return this.#series.get(this.key(labels).key)?.value ?? 0;
  }

  /** The sum over every series. */
  total(): number {
    let t = 0;
    for (const s of this.#series.values()) t += s.value;
    return t;
  }

  /** Every series as label values and value. */
  entries(): { labels: Labels; value: number }[] {
    return [...this.#series.values()].map((s) => ({
      labels: Object.fromEntries(this.labelNames.map((n, i) => [n, s.values[i]])),
      value: s.value,
    }));
  }

  samples(): string {
    let out = "";
    for (const s of this.#series.values()) {
      out += `${this.name}${labelText(this.labelNames, s.values)} ${formatSampleValue(s.value)}\n`;
    }
    return out;
  }
}

/** A gauge: set to any value; optionally filled by a callback at each scrape. */
export class Gauge extends Metric {
  readonly type = "gauge" as const;
  #series = new Map<string, { values: string[]; value: number }>();
  /** Called before each rendering; may `set`/`reset` the series. */
  collect?: (g: Gauge) => void;

  /** Sets the series of `labels`. */
  set(labels: Labels | undefined, value: number): void {
    const { key, values } = this.key(labels);
    this.#series.set(key, { values, value });
  }

  /** The current value (undefined when not set). */
  get(labels?: Labels): number | undefined {
    return this.#series.get(this.key(labels).key)?.value;
  }

  /** Forgets every series. */
  reset(): void {
    this.#series = new Map();
  }

  samples(): string {
    this.collect?.(this);
    let out = "";
    for (const s of this.#series.values()) {
      out += `${this.name}${labelText(this.labelNames, s.values)} ${formatSampleValue(s.value)}\n`;
    }
    return out;
  }
}

/** Default buckets of commit and reply latency, in seconds (0.1 ms … 1 s). */
export const COMMIT_SECONDS_BUCKETS: readonly number[] = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
];

/** A histogram with fixed upper bounds (`le`), cumulative in the exposition. */
export class Histogram extends Metric {
  readonly type = "histogram" as const;
  /** Upper bounds, ascending, without +Inf. */
  readonly buckets: readonly number[];
  readonly #series = new Map<
    string,
    { values: string[]; counts: number[]; sum: number; count: number }
  >();

  /** @param buckets ascending finite upper bounds */
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: readonly number[],
  ) {
    super(name, help, labelNames);
    if (labelNames.includes("le")) throw new RangeError(`${name}: "le" is reserved`);
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i] > buckets[i - 1])) throw new RangeError(`${name}: buckets not ascending`);
    }
    this.buckets = buckets.filter((b) => Number.isFinite(b));
  }

  /** Records one observation. */
  observe(value: number, labels?: Labels): void {
    const { key, values } = this.key(labels);
    let s = this.#series.get(key);
    if (!s) {
      s = { values, counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.#series.set(key, s);
    }
    // Count in the first bucket that holds it; the exposition makes them cumulative.
    const i = this.buckets.findIndex((b) => value <= b);
    if (i >= 0) s.counts[i]++;
    s.sum += value;
    s.count++;
  }

  /** Count and sum of a series. */
  get(labels?: Labels): { count: number; sum: number } {
    const s = this.#series.get(this.key(labels).key);
    return { count: s?.count ?? 0, sum: s?.sum ?? 0 };
  }

  samples(): string {
    let out = "";
    for (const s of this.#series.values()) {
      let cumulative = 0;
      const names = [...this.labelNames, "le"];
      this.buckets.forEach((b, i) => {
        cumulative += s.counts[i];
        out += `${this.name}_bucket${
          labelText(names, [...s.values, formatSampleValue(b)])
        } ${cumulative}\n`;
      });
      out += `${this.name}_bucket${labelText(names, [...s.values, "+Inf"])} ${s.count}\n`;
      out += `${this.name}_sum${labelText(this.labelNames, s.values)} ${
        formatSampleValue(s.sum)
      }\n`;
      out += `${this.name}_count${labelText(this.labelNames, s.values)} ${s.count}\n`;
    }
    return out;
  }
}

/** A set of metrics rendered together. */
export class MetricsRegistry {
  readonly #metrics = new Map<string, Metric>();

  #add<M extends Metric>(m: M): M {
    if (this.#metrics.has(m.name)) throw new RangeError(`metric ${m.name} registered twice`);
    this.#metrics.set(m.name, m);
    return m;
  }

  /** Registers a counter. */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#add(new Counter(name, help, labelNames));
  }

  /** Registers a gauge. */
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#add(new Gauge(name, help, labelNames));
  }

  /** Registers a histogram. */
  histogram(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: readonly number[],
  ): Histogram {
    return this.#add(new Histogram(name, help, labelNames, buckets));
  }

  /** The text exposition of every metric, in registration order. */
  render(): string {
    let out = "";
    for (const m of this.#metrics.values()) out += m.header() + m.samples();
    return out;
  }
}

/** One pool's figures for the utilisation gauges. */
export interface PoolFigures {
  /** Pool name. */
  pool: string;
  /** `na` (addresses) or `pd` (delegated prefixes). */
  kind: "na" | "pd";
  /** Addresses or delegable prefixes in the pool (may be astronomically large: /64 pools). */
  size: number;
  /** Leases per binding status. */
  byStatus: Readonly<Record<string, number>>;
}

/**
 * The metrics of `failover6 serve`. Names start with `failover6_`. Packet and drop counters
 * are incremented by the shell; pool gauges are filled at scrape time from `poolFigures`.
 */
export class ServeMetrics {
  /** The registry to render. */
  readonly registry: MetricsRegistry = new MetricsRegistry();
  /** Datagrams received, by message type name (`SOLICIT`, … or `unknown`). */
  readonly packets: Counter;
  /** Messages sent, by type (`ADVERTISE`, `REPLY`) and the request type answered. */
  readonly replies: Counter;
  /** Datagrams dropped, by reason (wire error kinds and handler drop reasons). */
  readonly drops: Counter;
  /** Sends the operating system refused. */
  readonly sendErrors: Counter;
  /** Leases moved by expiry processing, by the status they moved to. */
  readonly expired: Counter;
  /** Group-commit latency (seconds), by outcome. */
  readonly commitSeconds: Histogram;
  /** Writers (client transactions) per grouped commit. */
  readonly commitWriters: Histogram;
  /**
   * Time in the server of each answered message (seconds): from handling the datagram to the
   * operating system taking the answer (a Reply that hands out or extends a lease includes its
   * commit), by answer and request type.
   */
  readonly replySeconds: Histogram;
  /** Leases per pool and binding status. */
  readonly poolLeases: Gauge;
  /** Size of each pool. */
  readonly poolSize: Gauge;
  /** Fraction of each pool that is ACTIVE or ABANDONED. */
  readonly poolUtilisation: Gauge;
  /** Seconds since the server started. */
  readonly uptime: Gauge;
  /** Configuration reloads, by result (`ok`, `invalid`). */
  readonly configReloads: Counter;
  /** When the running configuration was loaded (start or last applied reload), Unix seconds. */
  readonly configLastReloadSuccess: Gauge;

  /**
   * @param poolFigures current figures per pool (called at each scrape)
   * @param uptimeSeconds seconds since start (called at each scrape)
   */
  constructor(poolFigures: () => PoolFigures[] = () => [], uptimeSeconds: () => number = () => 0) {
    const r = this.registry;
    this.packets = r.counter(
      "failover6_packets_received_total",
      "DHCPv6 datagrams received, by message type (the inner one for relayed traffic)",
      ["type"],
    );
    this.replies = r.counter(
      "failover6_replies_sent_total",
      "Advertise and Reply messages sent, by type and the request type they answer",
      ["type", "request"],
    );
    this.drops = r.counter(
      "failover6_packets_dropped_total",
      "Datagrams dropped without an answer, by reason",
      ["reason"],
    );
    this.sendErrors = r.counter(
      "failover6_send_errors_total",
      "Replies the operating system refused to send",
    );
    this.expired = r.counter(
      "failover6_leases_expired_total",
      "Leases moved by expiry processing, by new binding status",
      ["status"],
    );
    this.commitSeconds = r.histogram(
      "failover6_commit_seconds",
      "Time of one grouped lease-database transaction (durable on return)",
      ["outcome"],
      COMMIT_SECONDS_BUCKETS,
    );
    this.commitWriters = r.histogram(
      "failover6_commit_batch_writers",
      "Client transactions committed together in one grouped transaction",
      [],
      [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
    );
    this.replySeconds = r.histogram(
      "failover6_reply_seconds",
      "Time from handling a client message to sending its answer (commit included), by type",
      ["type", "request"],
      COMMIT_SECONDS_BUCKETS,
    );
    this.poolLeases = r.gauge(
      "failover6_pool_leases",
      "Leases in the database per pool and binding status",
      ["pool", "kind", "status"],
    );
    this.poolSize = r.gauge(
      "failover6_pool_size",
      "Addresses (na) or delegable prefixes (pd) in each pool",
      ["pool", "kind"],
    );
    this.poolUtilisation = r.gauge(
      "failover6_pool_utilisation_ratio",
      "Fraction of each pool held by clients (ACTIVE) or unusable (ABANDONED)",
      ["pool", "kind"],
    );
    this.uptime = r.gauge("failover6_uptime_seconds", "Seconds since the server started");
    this.configReloads = r.counter(
      "failover6_config_reloads_total",
      "Configuration reloads (SIGHUP or control API), by result: ok (applied) or invalid",
      ["result"],
    );
    this.configLastReloadSuccess = r.gauge(
      "failover6_config_last_reload_success_timestamp_seconds",
      "Unix time the running configuration was loaded (start-up or the last applied reload)",
    );
    let cache: PoolFigures[] | undefined;
    const figures = () => (cache ??= poolFigures());
    this.poolLeases.collect = (g) => {
      g.reset();
      cache = undefined;
      for (const p of figures()) {
        for (const [status, n] of Object.entries(p.byStatus)) {
          g.set({ pool: p.pool, kind: p.kind, status }, n);
        }
      }
    };
    this.poolSize.collect = (g) => {
      g.reset();
      for (const p of figures()) g.set({ pool: p.pool, kind: p.kind }, p.size);
    };
    this.poolUtilisation.collect = (g) => {
      g.reset();
      for (const p of figures()) {
        const held = (p.byStatus["ACTIVE"] ?? 0) + (p.byStatus["ABANDONED"] ?? 0);
        g.set({ pool: p.pool, kind: p.kind }, p.size > 0 ? held / p.size : 0);
      }
    };
    this.uptime.collect = (g) => g.set(undefined, uptimeSeconds());
  }

  /** The text exposition. */
  render(): string {
    return this.registry.render();
  }
}
