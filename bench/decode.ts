/**
 * Decode benchmark (a script, not a `deno bench` file):
 *
 *   deno run -A bench/decode.ts [--size-mb 100] [--tshark-mb 10] [--file F] [--keep]
 *                               [--no-tshark] [--no-cli]
 *
 * 1. makes a capture of at least `--size-mb` MiB with our encoder and pcapng writer
 *    (`bench/make_capture.ts`, in a subprocess: failover TCP sessions and DHCPv6 UDP), or
 *    uses `--file`;
 * 2. decodes it in-process with `CaptureDecoder`: messages/s by wall-clock and by CPU time,
 *    MiB/s, peak RSS (sampled with `Deno.memoryUsage()` every 2000 records) and the live heap
 *    after a full GC at each quarter of the file (memory must stay flat); then again through
 *    the `--json` rendering into a discarding sink;
 * 3. runs the CLI (`failover6 decode --summary --json`) in a subprocess under
 *    `/usr/bin/time` (wall, CPU, max RSS);
 * 4. when `tshark` is installed, runs `tshark -n -r SLICE -V` (output discarded) on a
 *    `--tshark-mb` MiB capture made by the same generator (a prefix of the same traffic;
 *    `-V` takes minutes on the full file: the rate is scaled per message), and prints the
 *    ratios. Wall-clock ratios suffer when other processes share the CPUs; CPU-time ratios
 *    less so. Both are printed.
 *
 * @module
 */
import process from "node:process";
import { CaptureDecoder } from "../lib/capture/messages.ts";
import { type DecodeIo, runDecode } from "../cli/decode.ts";
import { systemClock } from "../lib/util/clock.ts";

const here = (p: string) => new URL(p, import.meta.url).pathname;

// A full GC is needed to show the live heap; re-run with it exposed.
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined && !Deno.args.includes("--no-reexec")) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--expose-gc", here("./decode.ts"), ...Deno.args, "--no-reexec"],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  Deno.exit(r.code);
}

function arg(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}
const flag = (name: string) => Deno.args.includes(name);

const sizeMb = Number(arg("--size-mb") ?? 100);
const sliceMb = Number(arg("--tshark-mb") ?? 10);
const MB = 1048576;
const dir = await Deno.makeTempDir({ prefix: "failover6-bench-decode-" });
const fmt = (n: number, d = 0) => n.toLocaleString("en-US", { maximumFractionDigits: d });
const mib = (n: number) => `${(n / MB).toFixed(1)} MiB`;
const hasTime = await Deno.stat("/usr/bin/time").then(() => true, () => false);

/** Runs a command; wall seconds, and CPU seconds and max RSS when /usr/bin/time exists. */
async function timed(cmd: string, args: string[], stdout: "null" | "piped" = "null") {
  const t = performance.now();
  const out = await new Deno.Command(hasTime ? "/usr/bin/time" : cmd, {
    args: hasTime ? ["-f", "TIME %U %S %M", cmd, ...args] : args,
    stdout,
    stderr: "piped",
  }).output();
  const wall = (performance.now() - t) / 1000;
  const err = new TextDecoder().decode(out.stderr);
  const m = /TIME ([\d.]+) ([\d.]+) (\d+)\s*$/.exec(err);
  return {
    code: out.code,
    stdout: stdout === "piped" ? new TextDecoder().decode(out.stdout) : "",
    stderr: err,
    wall,
    cpu: m ? Number(m[1]) + Number(m[2]) : undefined,
    maxRss: m ? Number(m[3]) * 1024 : undefined,
  };
}

async function make(path: string, mb: number): Promise<string> {
  const r = await timed(Deno.execPath(), [
    "run",
    "-A",
    here("./make_capture.ts"),
    path,
    "--size-mb",
    String(mb),
  ], "piped");
  if (r.code !== 0) throw new Error(`make_capture failed: ${r.stderr}`);
  return r.stdout.trim();
}

let path = arg("--file");
if (path === undefined) {
  path = `${dir}/bench.pcapng`;
  console.log(`capture: ${await make(path, sizeMb)}`);
}
const size = (await Deno.stat(path)).size;
console.log(
  `deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs, load average ${
    Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
  }`,
);

// ---- 1. in-process pipeline -------------------------------------------------------------
/** Passes chunks through, counting octets read. */
async function* counted(stream: ReadableStream<Uint8Array>, progress: { read: number }) {
  for await (const c of stream) {
    progress.read += c.length;
    yield c;
  }
}

let ours = { wall: 0, cpu: 0 };
{
  const progress = { read: 0 };
  gc?.();
  let peak = Deno.memoryUsage().rss;
  const startRss = peak;
  const heaps: number[] = [];
  let n = 0;
  const decoder = new CaptureDecoder({
    onRecord: (r) => {
      if (r.frame % 2000 !== 0) return;
      const rss = Deno.memoryUsage().rss;
      if (rss > peak) peak = rss;
      if (progress.read >= ((heaps.length + 1) / 4) * size && heaps.length < 3) {
        gc?.();
        heaps.push(Deno.memoryUsage().heapUsed);
      }
    },
  });
  using file = await Deno.open(path);
  const cpu0 = process.cpuUsage();
  const t = performance.now();
  for await (const batch of decoder.decodeBatches(counted(file.readable, progress))) {
    for (const ev of batch) if (ev.kind === "message") n++;
  }
  const wall = (performance.now() - t) / 1000;
  const c = process.cpuUsage(cpu0);
  const cpu = (c.user + c.system) / 1e6;
  gc?.();
  heaps.push(Deno.memoryUsage().heapUsed);
  peak = Math.max(peak, Deno.memoryUsage().rss);
  ours = { wall: n / wall, cpu: n / cpu };
  console.log(
    `in-process decode: ${fmt(n)} messages in ${wall.toFixed(2)} s wall (${
      cpu.toFixed(2)
    } s CPU) = ` +
      `${fmt(n / wall)} messages/s wall, ${fmt(n / cpu)} messages/s CPU, ` +
      `${(size / MB / wall).toFixed(1)} MiB/s`,
  );
  console.log(
    `  memory: RSS ${mib(startRss)} at start, peak ${
      mib(peak)
    }; live heap after GC at 25/50/75/100%: ` +
      heaps.map(mib).join(" / "),
  );
}

// ---- 2. in-process --json rendering ------------------------------------------------------
{
  let chars = 0;
  const io: DecodeIo = {
    write: (t) => {
      chars += t.length;
      return Promise.resolve();
    },
    flush: () => Promise.resolve(),
    stderr: () => {},
    stderrIsTerminal: () => false,
    stdin: () => ReadableStream.from([]),
    clock: systemClock,
  };
  const cpu0 = process.cpuUsage();
  const t = performance.now();
  const r = await runDecode(path, { json: true }, io);
  const wall = (performance.now() - t) / 1000;
  const c = process.cpuUsage(cpu0);
  console.log(
    `in-process decode --json: ${fmt(r.shown)} messages in ${wall.toFixed(2)} s wall ` +
      `(${((c.user + c.system) / 1e6).toFixed(2)} s CPU) = ${fmt(r.shown / wall)} messages/s ` +
      `(${mib(chars)} of JSON text, discarded)`,
  );
}

// ---- 3. the CLI, --summary ------------------------------------------------------------------
let cli: { wall: number; cpu?: number } | undefined;
if (!flag("--no-cli")) {
  const r = await timed(Deno.execPath(), [
    "run",
    "-A",
    here("../cli/main.ts"),
    "decode",
    "--summary",
    "--json",
    path,
  ], "piped");
  if (r.code !== 0) console.log(`CLI failed (${r.code}): ${r.stderr}`);
  else {
    const s = JSON.parse(r.stdout);
    cli = { wall: s.messages / r.wall, cpu: r.cpu ? s.messages / r.cpu : undefined };
    console.log(
      `CLI decode --summary: ${fmt(s.messages)} messages in ${r.wall.toFixed(2)} s wall` +
        (r.cpu ? ` (${r.cpu.toFixed(2)} s CPU)` : "") + ` = ${fmt(cli.wall)} messages/s wall` +
        (cli.cpu ? `, ${fmt(cli.cpu)} messages/s CPU` : "") +
        (r.maxRss ? `; max RSS ${mib(r.maxRss)}` : "") +
        ` (process start included); ${fmt(s.pairing.paired)} BNDUPD/BNDREPLY pairs, ` +
        `${s.messagesWithErrors} messages with errors`,
    );
  }
}

// ---- 4. tshark -------------------------------------------------------------------------------
const tshark = await Deno.stat("/usr/bin/tshark").then(() => "/usr/bin/tshark", () => undefined);
if (flag("--no-tshark")) {
  console.log("tshark: skipped (--no-tshark)");
} else if (tshark === undefined) {
  console.log("tshark: not installed (/usr/bin/tshark missing), no comparison");
} else {
  const slice = `${dir}/slice.pcapng`;
  const made = await make(slice, sliceMb);
  let n = 0;
  for await (const batch of new CaptureDecoder().decodeBatches((await Deno.open(slice)).readable)) {
    for (const ev of batch) if (ev.kind === "message") n++;
  }
  const r = await timed(tshark, ["-n", "-r", slice, "-V"]);
  const wallRate = n / r.wall;
  const cpuRate = r.cpu ? n / r.cpu : undefined;
  console.log(
    `tshark -n -r SLICE -V: slice ${made}; ${fmt(n)} messages in ${r.wall.toFixed(2)} s wall` +
      (r.cpu ? ` (${r.cpu.toFixed(2)} s CPU)` : "") + ` = ${fmt(wallRate)} messages/s wall` +
      (cpuRate ? `, ${fmt(cpuRate)} messages/s CPU` : "") + ` (exit ${r.code})`,
  );
  const x = (a: number, b: number) => `${(a / b).toFixed(1)}x`;
  console.log(
    `ratio vs tshark (target 20x): in-process ${x(ours.wall, wallRate)} wall` +
      (cpuRate ? `, ${x(ours.cpu, cpuRate)} CPU` : "") +
      (cli ? `; CLI --summary ${x(cli.wall, wallRate)} wall` : "") +
      (cli?.cpu && cpuRate ? `, ${x(cli.cpu, cpuRate)} CPU` : ""),
  );
}
if (!flag("--keep")) await Deno.remove(dir, { recursive: true });
else console.log(`kept ${dir}`);
