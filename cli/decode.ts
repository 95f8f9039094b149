/**
 * `failover6 decode FILE|-`: the DHCPv6 and DHCPv6-failover (RFC 8156) messages of a pcap or
 * pcapng capture.
 *
 * - text (default): per message its frame, ISO time, transport, addresses and ports, TCP
 *   stream facts, then the message tree (`wire.renderMessage`) and its errors;
 * - `--json`: one JSON object per message and line (the `shared/captures/*.expect.json`
 *   fields plus `time`, `conn`, `pairedFrame`, `rttMs`);
 * - `--summary`: counts per message type, conversations, errors and gaps, BNDUPD/BNDREPLY
 *   pairing with round-trip times (`--summary --json`: one JSON object);
 * - filters `--type BNDUPD,STATE` (names, aliases or numbers) and `--port N`;
 * - `--failover-port N` moves the failover port from 647.
 *
 * Exit status: 0 when messages were decoded (also when the capture's tail is truncated or
 * broken: what was read is shown and stderr says where it stopped); 2 for usage errors and
 * for inputs where nothing could be decoded (not a capture, empty, truncated before the first
 * record, no DHCPv6 or failover message).
 *
 * @module
 */
import type { Command } from "@commander-js/extra-typings";
import { UsageError } from "./main.ts";
import { type Clock, systemClock } from "../lib/util/clock.ts";
import {
  CaptureDecoder,
  type CaptureDecoderStats,
  type MessageError,
  type MessageEvent,
  MessageSummary,
  type PacketErrorEvent,
  type PipelineEvent,
  type StreamNoteEvent,
  type SummaryJson,
  timestampToIso,
} from "../lib/capture/messages.ts";
import type { CaptureError } from "../lib/capture/errors.ts";
import { errorToJson, formatWireError, type WireError } from "../lib/wire/errors.ts";
import { messageTypeFromName, messageTypeName } from "../lib/wire/names.ts";
import { messageToJson, renderMessage } from "../lib/wire/render.ts";
import { FAILOVER_PORT } from "../lib/wire/types.ts";

/** What `decode` talks to; tests pass their own. */
export interface DecodeIo {
  /** Writes text to standard output (may buffer). */
  write(text: string): Promise<void>;
  /** Flushes buffered standard output. */
  flush(): Promise<void>;
  /** Writes raw text to standard error (progress bar; no newline added). */
  stderr(text: string): void;
  /** True when standard error is a terminal. */
  stderrIsTerminal(): boolean;
  /** Standard input, for `-`. */
  stdin(): ReadableStream<Uint8Array>;
  /** Time source for the progress bar. */
  clock: Clock;
}

/** Standard output closed under us (e.g. `| head`): stop quietly. */
class OutputClosed extends Error {}

/** The process's stdout (buffered in 64 KiB writes), stderr and stdin. */
export function denoIo(): DecodeIo {
  const enc = new TextEncoder();
  let parts: string[] = [];
  let size = 0;
  let closed = false;
  const flush = async () => {
    if (size === 0 || closed) return;
    const bytes = enc.encode(parts.join(""));
    parts = [];
    size = 0;
    try {
      let off = 0;
      while (off < bytes.length) off += await Deno.stdout.write(bytes.subarray(off));
    } catch (e) {
      if (e instanceof Deno.errors.BrokenPipe) {
        closed = true;
        throw new OutputClosed();
      }
      throw e;
    }
  };
  return {
    async write(text) {
      if (closed) throw new OutputClosed();
      parts.push(text);
      size += text.length;
      if (size >= 65536) await flush();
    },
    flush,
    stderr(text) {
      Deno.stderr.writeSync(enc.encode(text));
    },
    stderrIsTerminal: () => Deno.stderr.isTerminal(),
    stdin: () => Deno.stdin.readable,
    clock: systemClock,
  };
}

/** Options of one `decode` run, as parsed from the command line. */
export interface DecodeCommandOptions {
  /** One JSON object per message (or the summary as one object). */
  json?: boolean;
  /** Counts instead of messages. */
  summary?: boolean;
  /** Message types to show: names, aliases or numbers, comma-separated. */
  type?: string;
  /** Show only messages from or to this port. */
  port?: string;
  /** TCP port of the failover connection (default 647). */
  failoverPort?: string;
  /** `false` turns the progress bar off. */
  progress?: boolean;
  /** Smallest file that gets a progress bar (default {@linkcode PROGRESS_MIN_BYTES}; for tests). */
  progressMinBytes?: number;
}

/** Files larger than this get a progress bar (when stderr is a terminal). */
export const PROGRESS_MIN_BYTES = 50 * 1024 * 1024;

// ---------------------------------------------------------------------------------------
// Option parsing
// ---------------------------------------------------------------------------------------

/** Parses `--type`: names (any case, `_` or `-`), aliases BNDACK/CONNECTACK, or numbers. */
export function parseTypeFilter(text: string): Set<number> {
  const out = new Set<number>();
  for (const raw of text.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    if (/^\d+$/.test(item)) {
      const n = Number(item);
      if (n > 255) throw new UsageError(`decode: --type: ${item} is not a message type (0-255)`);
      out.add(n);
      continue;
    }
    const n = messageTypeFromName(item);
    if (n === undefined) {
      throw new UsageError(`decode: --type: unknown message type "${item}"`);
    }
    out.add(n);
  }
  if (out.size === 0) throw new UsageError(`decode: --type: no message type given`);
  return out;
}

/** Parses a port option (1-65535). */
export function parsePort(option: string, text: string): number {
  const t = text.trim();
  const n = Number(t);
  if (!/^\d+$/.test(t) || n < 1 || n > 65535) {
    throw new UsageError(`decode: ${option}: "${text}" is not a port (1-65535)`);
  }
  return n;
}

// ---------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------

/** The oracle shape of an error: `kind` and its figures (no path, offset or text). */
export function messageErrorToJson(e: MessageError): Record<string, unknown> {
  if (e.kind === "tcp-gap") {
    return { kind: e.kind, streamOffset: e.streamOffset, missingBytes: e.missingBytes };
  }
  if (e.kind === "ip-fragment") {
    return { kind: e.kind, capturedLength: e.capturedLength, originalLength: e.originalLength };
  }
  return errorToJson(e);
}

/**
 * The `--json` object of a message: the expect.json fields (frame, timestamp, section,
 * interface, vlanIds, transport, src, dst, sport, dport, msgType, msgName, transactionId,
 * sentTime or the relay fields, options, messageSize, tcpStreamOffset, firstFrame, errors)
 * plus `time` (ISO), `conn` (TCP), `pairedFrame` and `rttMs` (BNDREPLY).
 */
export function messageEventToJson(ev: MessageEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {
    frame: ev.frame,
    timestamp: ev.timestamp,
    time: timestampToIso(ev.timestamp),
  };
  if (ev.section !== undefined) out.section = ev.section;
  if (ev.interface !== undefined) out.interface = ev.interface;
  if (ev.vlanIds.length > 0) out.vlanIds = ev.vlanIds;
  out.transport = ev.transport;
  out.src = ev.src;
  out.dst = ev.dst;
  out.sport = ev.sport;
  out.dport = ev.dport;
  if (ev.conn !== undefined) out.conn = ev.conn;
  if (ev.message !== undefined) Object.assign(out, messageToJson(ev.message));
  else {
    out.msgType = ev.msgType;
    out.msgName = ev.msgType === null ? null : messageTypeName(ev.msgType);
    out.transactionId = null;
    out.options = [];
  }
  if (ev.messageSize !== undefined) out.messageSize = ev.messageSize;
  if (ev.tcpStreamOffset !== undefined) out.tcpStreamOffset = ev.tcpStreamOffset;
  if (ev.firstFrame !== undefined) out.firstFrame = ev.firstFrame;
  if (ev.pairedFrame !== undefined) out.pairedFrame = ev.pairedFrame;
  if (ev.rttMs !== undefined) out.rttMs = ev.rttMs;
  out.errors = ev.errors.map(messageErrorToJson);
  return out;
}

// ---------------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------------

function endpoint(addr: string, port: number): string {
  return addr.includes(":") ? `[${addr}]:${port}` : `${addr}:${port}`;
}

function place(
  ev: { frame: number; timestamp: string | null; section?: number; interface?: number },
): string {
  let s = `#${ev.frame}  ${timestampToIso(ev.timestamp) ?? "(no time)"}`;
  if (ev.section !== undefined) s += `  section ${ev.section}`;
  if (ev.interface !== undefined) s += `  if ${ev.interface}`;
  return s;
}

/** One line for an error attached to a message. */
export function formatMessageError(e: MessageError): string {
  if (e.kind === "tcp-gap" || e.kind === "ip-fragment") return `${e.kind}: ${e.message}`;
  return formatWireError(e as WireError);
}

function rtt(ms: number): string {
  return `${Number(ms.toFixed(3))}ms`;
}

/** The text block of a message (no trailing newline). */
export function messageEventText(ev: MessageEvent): string {
  let head = `${place(ev)}`;
  if (ev.vlanIds.length > 0) head += `  vlan ${ev.vlanIds.join(".")}`;
  head += `  ${ev.transport} ${endpoint(ev.src, ev.sport)} -> ${endpoint(ev.dst, ev.dport)}`;
  if (ev.transport === "tcp") {
    head += `  conn ${ev.conn} offset ${ev.tcpStreamOffset}`;
    if (ev.messageSize !== undefined) head += ` size ${ev.messageSize}`;
    if (ev.firstFrame !== undefined && ev.firstFrame !== ev.frame) {
      head += ` (from #${ev.firstFrame})`;
    }
  }
  if (ev.pairedFrame !== undefined) {
    head += `  rtt ${ev.rttMs === undefined ? "?" : rtt(ev.rttMs)} (BNDUPD #${ev.pairedFrame})`;
  }
  let body: string;
  if (ev.message !== undefined) body = renderMessage(ev.message);
  else if (ev.msgType !== null) {
    body = `${messageTypeName(ev.msgType)} (${ev.msgType}): header not captured`;
  } else body = "(no message octets captured)";
  const errors = ev.errors.map((e) => `  ! ${formatMessageError(e)}`);
  return [head, body, ...errors].join("\n");
}

/** The text line of a stream note. */
export function noteText(ev: StreamNoteEvent): string {
  return `${place(ev)}  tcp ${endpoint(ev.src, ev.sport)} -> ${endpoint(ev.dst, ev.dport)}` +
    `  conn ${ev.conn}\n  * ${ev.note}: ${ev.text}`;
}

/** The text line of a record with broken headers. */
export function packetErrorText(ev: PacketErrorEvent): string {
  return `${place(ev)}  malformed packet\n  ! ${ev.layer} ${ev.field}: ${ev.detail}` +
    (ev.truncated ? " (record cut by the snapshot length)" : "");
}

function table(rows: string[][], indent = "  "): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => widths[i] = Math.max(widths[i] ?? 0, c.length));
  return rows.map((r) =>
    indent + r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i])).join("  ").trimEnd()
  );
}

/** The `--summary` text. */
export function summaryText(s: SummaryJson, file: string): string {
  const lines: string[] = [];
  const span = s.firstTimestamp === null
    ? ""
    : `, ${timestampToIso(s.firstTimestamp)} .. ${timestampToIso(s.lastTimestamp)}`;
  lines.push(
    `${file}: ${s.records} records (${s.format ?? "?"}), ${s.messages} messages${span}`,
  );
  lines.push("messages by type:");
  lines.push(
    ...table(s.byType.map((t) => [
      t.msgType === null ? "(none)" : `${messageTypeName(t.msgType)} (${t.msgType})`,
      String(t.count),
    ])),
  );
  lines.push(
    `conversations: ${s.tcpConnections} TCP connections, ${
      s.conversations.filter((c) => c.transport === "udp").length
    } UDP pairs`,
  );
  const convs = [...s.conversations].sort((x, y) => y.messages - x.messages);
  const shown = convs.slice(0, 20);
  lines.push(
    ...table(shown.map((c) => [
      c.transport === "tcp" ? `tcp #${c.conn}` : "udp",
      `${endpoint(c.a, c.aPort)} <-> ${endpoint(c.b, c.bPort)}`,
      `${c.messages} messages`,
      `frames ${c.firstFrame}-${c.lastFrame}`,
      [
        c.errors > 0 ? `${c.errors} with errors` : "",
        c.gaps > 0 ? `${c.gaps} gaps` : "",
        c.tls ? "TLS" : "",
      ].filter((x) => x !== "").join(", "),
    ])),
  );
  const more = convs.length - shown.length + s.conversationsNotListed;
  if (more > 0) lines.push(`  ... and ${more} more`);
  const errs = Object.entries(s.errors);
  lines.push(
    `errors: ${s.messagesWithErrors} messages with errors` +
      (errs.length > 0 ? ` (${errs.map(([k, n]) => `${k} ${n}`).join(", ")})` : "") +
      (s.packetErrors > 0 ? `; ${s.packetErrors} malformed packets` : ""),
  );
  lines.push(
    `gaps: ${s.gaps} (${s.gapOctets} octets missing)` +
      (s.resyncOctets > 0 ? `; ${s.resyncOctets} captured octets skipped to resynchronise` : ""),
  );
  const notes = Object.entries(s.notes);
  if (notes.length > 0) lines.push(`notes: ${notes.map(([k, n]) => `${k} ${n}`).join(", ")}`);
  if (s.tlsOctets > 0) lines.push(`TLS: ${s.tlsOctets} octets not decoded`);
  const p = s.pairing;
  let pairing =
    `BNDUPD/BNDREPLY: ${p.bndupd} BNDUPD, ${p.paired} paired, ${p.unansweredBndupd} unanswered, ` +
    `${p.unpairedReplies} BNDREPLY without BNDUPD`;
  if (p.rttMs !== null) {
    const r = p.rttMs;
    pairing += `\n  rtt ms: min ${r.min} mean ${r.mean} p50 ${r.p50} p95 ${r.p95} p99 ${r.p99} ` +
      `max ${r.max} (${r.count} pairs)`;
  }
  lines.push(pairing);
  if (s.captureError !== null) {
    lines.push(`capture error: ${s.captureError.kind}: ${s.captureError.message}`);
  }
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

function mb(n: number): string {
  return `${(n / 1048576).toFixed(0)} MB`;
}

/** What a run found (for tests and the bench). */
export interface DecodeRunResult {
  /** The decoder's counters. */
  stats: CaptureDecoderStats;
  /** Messages written (after filters). */
  shown: number;
}

/**
 * Runs `failover6 decode` on `file` (`-` for stdin). Throws {@linkcode UsageError} for
 * usage errors and for inputs where nothing could be decoded (exit status 2).
 */
export async function runDecode(
  file: string,
  options: DecodeCommandOptions,
  io: DecodeIo,
): Promise<DecodeRunResult> {
  const types = options.type === undefined ? undefined : parseTypeFilter(options.type);
  const port = options.port === undefined ? undefined : parsePort("--port", options.port);
  const failoverPort = options.failoverPort === undefined
    ? FAILOVER_PORT
    : parsePort("--failover-port", options.failoverPort);
  const where = `decode: ${file}`;

  let source: ReadableStream<Uint8Array>;
  let size = 0;
  let handle: Deno.FsFile | undefined;
  if (file === "-") source = io.stdin();
  else {
    try {
      const st = await Deno.stat(file);
      if (st.isDirectory) throw new UsageError(`${where}: is a directory, not a capture file`);
      size = st.size;
      handle = await Deno.open(file);
    } catch (e) {
      if (e instanceof UsageError) throw e;
      if (e instanceof Deno.errors.NotFound) throw new UsageError(`${where}: no such file`);
      if (e instanceof Deno.errors.PermissionDenied) {
        throw new UsageError(`${where}: permission denied`);
      }
      throw new UsageError(`${where}: cannot open: ${(e as Error).message}`);
    }
    source = handle.readable;
  }

  const first = new Uint8Array(4);
  let firstLen = 0;
  let read = 0;
  const decoder = new CaptureDecoder({ failoverPort });
  const bar = options.progress !== false &&
    size > (options.progressMinBytes ?? PROGRESS_MIN_BYTES) &&
    io.stderrIsTerminal();
  let lastDraw = 0;
  const draw = (final: boolean) => {
    if (!bar) return;
    if (final) {
      io.stderr("\r\x1b[K");
      return;
    }
    const now = io.clock.now();
    if (now - lastDraw < 200) return;
    lastDraw = now;
    const f = Math.min(1, read / size);
    const n = Math.round(f * 30);
    io.stderr(
      `\r[${"#".repeat(n)}${".".repeat(30 - n)}] ${(f * 100).toFixed(0).padStart(3)}% ` +
        `${mb(read)}/${mb(size)} ${decoder.stats.messages} messages\x1b[K`,
    );
  };
  async function* tapped(): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      if (firstLen < 4) {
        const k = Math.min(4 - firstLen, chunk.length);
        first.set(chunk.subarray(0, k), firstLen);
        firstLen += k;
      }
      read += chunk.length;
      draw(false);
      yield chunk;
    }
  }

  const summary = new MessageSummary();
  let shown = 0;
  let fault: CaptureError | undefined;
  const wantMessage = (ev: MessageEvent) =>
    (types === undefined || (ev.msgType !== null && types.has(ev.msgType))) &&
    (port === undefined || ev.sport === port || ev.dport === port);
  /** What an event adds to standard output ("" for nothing); summary and filters applied. */
  const render = (ev: PipelineEvent): string => {
    switch (ev.kind) {
      case "message":
        if (!wantMessage(ev)) {
          if (options.summary && ev.rttMs !== undefined) summary.addRtt(ev.rttMs);
          return "";
        }
        shown++;
        if (options.summary) {
          summary.add(ev);
          return "";
        }
        return options.json
          ? JSON.stringify(messageEventToJson(ev)) + "\n"
          : messageEventText(ev) + "\n\n";
      case "note":
        if (port !== undefined && ev.sport !== port && ev.dport !== port) return "";
        if (options.summary) summary.add(ev);
        return options.summary || options.json ? "" : noteText(ev) + "\n\n";
      case "packet-error":
        if (port !== undefined) return "";
        if (options.summary) summary.add(ev);
        return options.summary || options.json ? "" : packetErrorText(ev) + "\n\n";
      case "capture-error":
        fault = ev.error;
        summary.add(ev);
        return "";
    }
  };

  try {
    for await (const batch of decoder.decodeBatches(tapped())) {
      let text = "";
      for (const ev of batch) text += render(ev);
      if (text !== "") await io.write(text);
    }
  } catch (e) {
    draw(true);
    if (e instanceof OutputClosed) return { stats: decoder.stats, shown };
    if (!Object.values(Deno.errors).some((c) => e instanceof c)) throw e;
    throw new UsageError(`${where}: read error: ${(e as Error).message}`);
  } finally {
    try {
      handle?.close();
    } catch { /* already closed */ }
  }
  draw(true);
  const stats = decoder.stats;

  if (fault !== undefined && stats.records === 0) {
    if (fault.kind === "not-a-capture") {
      if (firstLen === 0) {
        throw new UsageError(`${where}: empty file, not a pcap or pcapng capture`);
      }
      if (firstLen < 4) {
        throw new UsageError(
          `${where}: not a pcap or pcapng file (only ${firstLen} octets: 0x${
            hex(first.subarray(0, firstLen))
          })`,
        );
      }
      throw new UsageError(
        `${where}: not a pcap or pcapng file (magic 0x${hex(first)} at offset 0)`,
      );
    }
    throw new UsageError(
      `${where}: ${fault.kind} capture, no record could be read: ${fault.message}`,
    );
  }
  if (stats.messages === 0) {
    const tail = fault === undefined ? "" : `; then ${fault.kind}: ${fault.message}`;
    throw new UsageError(
      `${where}: no DHCPv6 or failover messages in ${stats.records} records ` +
        `(looked at UDP 546/547, TCP ${failoverPort} and 547)${tail}`,
    );
  }
  try {
    if (options.summary) {
      const s = summary.toJson(stats);
      await io.write(options.json ? JSON.stringify(s) + "\n" : summaryText(s, file) + "\n");
    }
    await io.flush();
  } catch (e) {
    if (!(e instanceof OutputClosed)) throw e;
  }
  if (fault !== undefined) {
    io.stderr(
      `failover6: ${where}: ${fault.kind}: ${fault.message}; ` +
        `decoded the ${stats.records} records before it\n`,
    );
  }
  return { stats, shown };
}

/** Registers `decode` on the program. */
export function register(program: Command, io: DecodeIo = denoIo()): void {
  program
    .command("decode")
    .description(
      "decode the DHCPv6 and DHCPv6-failover messages of a pcap/pcapng capture (- = stdin)",
    )
    .argument("<file>", "capture file (pcap or pcapng), or - for standard input")
    .option("--json", "one JSON object per message and line (with --summary: one object)")
    .option("--summary", "counts per message type, conversations, errors, gaps, BNDUPD RTTs")
    .option("--type <list>", "only these message types: names, aliases or numbers (BNDUPD,STATE)")
    .option("--port <n>", "only messages from or to this port")
    .option("--failover-port <n>", `TCP port of the failover connection (default ${FAILOVER_PORT})`)
    .option("--no-progress", "no progress bar on stderr")
    .action(async (file, opts) => {
      await runDecode(file, opts, io);
    });
}
