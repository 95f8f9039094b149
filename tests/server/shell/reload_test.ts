/** ConfigReloader: one reload at a time, nothing applied from a bad file, counters, logs. */
import assert from "node:assert/strict";
import { defaultConfig } from "../../../lib/config/default.ts";
import type { Config } from "../../../lib/config/types.ts";
import type { ConfigFileResult } from "../../../lib/server/shell/config_file.ts";
import { Logger, MemorySink } from "../../../lib/server/shell/log.ts";
import { ServeMetrics } from "../../../lib/server/shell/metrics.ts";
import { ConfigReloader } from "../../../lib/server/shell/reload.ts";
import { FakeClock } from "../../../lib/util/clock.ts";

function setup(read: (file: string) => Promise<ConfigFileResult>, file: string | undefined) {
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const sink = new MemorySink();
  const log = new Logger({ format: "json", level: "info", sink, clock });
  const metrics = new ServeMetrics();
  let running = defaultConfig();
  const applied: Config[] = [];
  let refuse: string | undefined;
  const reloader = new ConfigReloader({
    file,
    read,
    clock,
    log,
    metrics,
    target: {
      current: () => running,
      apply: (c) => {
        if (refuse !== undefined) throw new Error(refuse);
        applied.push(c);
        running = c;
      },
    },
  });
  return {
    reloader,
    clock,
    metrics,
    applied,
    msgs: () => sink.lines.map((l) => JSON.parse(l)),
    refuse: (why: string) => refuse = why,
  };
}

Deno.test("ConfigReloader: a valid file is applied with its plan; counters and status follow", async () => {
  const next = defaultConfig();
  next.subnets[0].lifetimes = { ...next.subnets[0].lifetimes, valid: 600, preferred: 300 };
  next.listen = [{ kind: "unicast", address: "::1", port: 1 }];
  const t = setup(() => Promise.resolve({ ok: true, config: next }), "f.yaml");
  const start = t.reloader.status().loadedAt;
  t.clock.advance(5000);
  const out = await t.reloader.reload("SIGHUP");
  assert.equal(out.result, "applied");
  if (out.result !== "applied") return;
  assert.deepEqual(out.applied, ["subnets[test].lifetimes: changed"]);
  assert.deepEqual(out.needsRestart, ["listen: changed; restart to apply"]);
  assert.equal(t.applied.length, 1);
  assert.equal(t.applied[0].subnets[0].lifetimes.valid, 600);
  assert.notEqual(t.applied[0].listen, next.listen);
  assert.equal(t.metrics.configReloads.get({ result: "ok" }), 1);
  assert.equal(
    t.metrics.configLastReloadSuccess.get(),
    (Date.UTC(2026, 0, 1) + 5000) / 1000,
  );
  const st = t.reloader.status();
  assert.notEqual(st.loadedAt, start);
  assert.deepEqual(st.reloads, { ok: 1, invalid: 0 });
  assert.equal(st.lastReload?.trigger, "SIGHUP");
  assert.ok(t.msgs().some((m) => m.msg === "configuration reloaded"));
});

Deno.test("ConfigReloader: invalid files and refused configurations change nothing", async () => {
  const t = setup(
    () =>
      Promise.resolve({
        ok: false,
        kind: "invalid",
        errors: ["f.yaml:3: listen: is required", "f.yaml:9: subnets[0].prefix: bad"],
      }),
    "f.yaml",
  );
  const before = t.reloader.status().loadedAt;
  const out = await t.reloader.reload("control API");
  assert.equal(out.result, "invalid");
  assert.equal(t.applied.length, 0);
  assert.equal(t.reloader.status().loadedAt, before);
  const errs = t.msgs().filter((m) => m.level === "error");
  assert.deepEqual(errs.map((m) => m.error ?? m.msg), [
    "f.yaml:3: listen: is required",
    "f.yaml:9: subnets[0].prefix: bad",
    "configuration reload failed; still running on the previous configuration",
  ]);
  assert.equal(t.metrics.configReloads.get({ result: "invalid" }), 1);
  assert.equal(t.metrics.configReloads.get({ result: "ok" }), 0);

  // A file that passes the checks but the server core refuses: invalid as well.
  const u = setup(() => Promise.resolve({ ok: true, config: defaultConfig() }), "g.yaml");
  u.refuse("subnets[0].pools[0]: end is before start");
  const r = await u.reloader.reload("SIGHUP");
  assert.deepEqual(r, {
    result: "invalid",
    file: "g.yaml",
    errors: ["g.yaml: subnets[0].pools[0]: end is before start"],
  });
  assert.deepEqual(u.reloader.status().reloads, { ok: 0, invalid: 1 });
});

Deno.test("ConfigReloader: without a file nothing is read; reloads run one at a time", async () => {
  let reads = 0;
  const none = setup(() => {
    reads++;
    return Promise.resolve({ ok: true, config: defaultConfig() });
  }, undefined);
  const out = await none.reloader.reload("SIGHUP");
  assert.equal(out.result, "no-file");
  assert.equal(reads, 0);
  assert.deepEqual(none.reloader.status().reloads, { ok: 0, invalid: 0 });

  // The first read is held open; a second reload must wait for it, not interleave.
  const order: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  let n = 0;
  const t = setup(async () => {
    const me = ++n;
    order.push(`read ${me} start`);
    if (me === 1) await gate;
    order.push(`read ${me} end`);
    return { ok: true, config: defaultConfig() };
  }, "f.yaml");
  const a = t.reloader.reload("SIGHUP");
  const b = t.reloader.reload("SIGHUP");
  await Promise.resolve();
  await Promise.resolve();
  release();
  await Promise.all([a, b]);
  assert.deepEqual(order, ["read 1 start", "read 1 end", "read 2 start", "read 2 end"]);
  assert.equal(t.applied.length, 2);
});
