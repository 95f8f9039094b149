import assert from "node:assert/strict";
import {
  escapeLabelValue,
  formatSampleValue,
  MetricsRegistry,
  ServeMetrics,
} from "../../lib/server/shell/metrics.ts";

Deno.test("counters render with HELP, TYPE and escaped labels", () => {
  const r = new MetricsRegistry();
  const c = r.counter("x_total", "things\ncounted", ["reason"]);
  c.inc({ reason: 'a"b\\c' });
  c.inc({ reason: 'a"b\\c' }, 2);
  c.inc({ reason: "plain" });
  assert.equal(
    r.render(),
    "# HELP x_total things\\ncounted\n# TYPE x_total counter\n" +
      'x_total{reason="a\\"b\\\\c"} 3\nx_total{reason="plain"} 1\n',
  );
  assert.equal(c.total(), 4);
  assert.throws(() => c.inc({ reason: "x" }, -1), RangeError);
  assert.throws(() => c.inc({}), RangeError, "a missing label is a bug");
});

Deno.test("histograms are cumulative with +Inf, _sum and _count", () => {
  const r = new MetricsRegistry();
  const h = r.histogram("lat_seconds", "latency", ["outcome"], [0.001, 0.01, 0.1]);
  for (const v of [0.0005, 0.002, 0.003, 0.05, 5]) h.observe(v, { outcome: "ok" });
  const text = r.render();
  assert.match(text, /lat_seconds_bucket\{outcome="ok",le="0.001"\} 1\n/);
  assert.match(text, /lat_seconds_bucket\{outcome="ok",le="0.01"\} 3\n/);
  assert.match(text, /lat_seconds_bucket\{outcome="ok",le="0.1"\} 4\n/);
  assert.match(text, /lat_seconds_bucket\{outcome="ok",le="\+Inf"\} 5\n/);
  assert.match(text, /lat_seconds_count\{outcome="ok"\} 5\n/);
  assert.equal(h.get({ outcome: "ok" }).count, 5);
  assert.ok(Math.abs(h.get({ outcome: "ok" }).sum - 5.0555) < 1e-9);
});

Deno.test("gauges are refilled at each scrape from their callback", () => {
  let held = 3;
  const m = new ServeMetrics(
    () => [{ pool: "p", kind: "na", size: 10, byStatus: { ACTIVE: held, RELEASED: 1 } }],
    () => 42,
  );
  let text = m.render();
  assert.match(text, /failover6_pool_leases\{pool="p",kind="na",status="ACTIVE"\} 3\n/);
  assert.match(text, /failover6_pool_size\{pool="p",kind="na"\} 10\n/);
  assert.match(text, /failover6_pool_utilisation_ratio\{pool="p",kind="na"\} 0.3\n/);
  assert.match(text, /failover6_uptime_seconds 42\n/);
  held = 5;
  text = m.render();
  assert.match(text, /failover6_pool_utilisation_ratio\{pool="p",kind="na"\} 0.5\n/);
});

Deno.test("names and values follow the exposition format", () => {
  const r = new MetricsRegistry();
  assert.throws(() => r.counter("bad-name", "x"), RangeError);
  assert.throws(() => r.counter("ok", "x", ["__reserved"]), RangeError);
  r.counter("dup", "x");
  assert.throws(() => r.counter("dup", "x"), RangeError);
  assert.equal(formatSampleValue(Infinity), "+Inf");
  assert.equal(formatSampleValue(NaN), "NaN");
  assert.equal(escapeLabelValue("a\nb"), "a\\nb");
});
