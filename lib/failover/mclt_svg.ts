/**
 * A timeline picture of a lease-time schedule (from `mclt_schedule.ts`) as an SVG document:
 * the client's expiry, the acked partner lifetime and the MCLT bound `max(acked, now) + MCLT`
 * against time, with the communications-lost and PARTNER-DOWN moments marked. Pure: rows in,
 * text out; the caller writes the file.
 *
 * @module
 */

import { formatDuration } from "../util/duration.ts";
import type { ScheduleRow } from "./mclt_schedule.ts";

/** Options for {@linkcode scheduleSvg}. */
export interface ScheduleSvgOptions {
  /** The schedule's start (absolute seconds); axes count from here. */
  start: number;
  /** The MCLT in seconds (to draw the bound between rows). */
  mclt: number;
  /** A title line at the top. */
  title?: string;
  /** Picture width in pixels; default 960. */
  width?: number;
  /** Picture height in pixels; default 540. */
  height?: number;
}

const COLORS = {
  expiry: "#1f77b4",
  acked: "#2ca02c",
  bound: "#d62728",
  now: "#888888",
  comms: "#ff7f0e",
  partnerDown: "#9467bd",
  grid: "#e5e5e5",
  text: "#222222",
};

/** Escapes text for use in XML character data and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

const NICE_STEPS = [
  60,
  300,
  600,
  900,
  1800,
  3600,
  7200,
  3 * 3600,
  6 * 3600,
  12 * 3600,
  86400,
  2 * 86400,
  7 * 86400,
  14 * 86400,
  30 * 86400,
];

/** A tick spacing (seconds) giving at most about `maxTicks` ticks over `span` seconds. */
export function tickStep(span: number, maxTicks = 8): number {
  for (const step of NICE_STEPS) if (span / step <= maxTicks) return step;
  let step = NICE_STEPS[NICE_STEPS.length - 1];
  while (span / step > maxTicks) step *= 2;
  return step;
}

function num(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/**
 * Renders the schedule as a standalone SVG document (UTF-8 text).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scheduleSvg, simulateSchedule } from "@failover6/failover6";
 *
 * const params = { start: 600000000, desired: 259200, mclt: 3600, t1Fraction: 0.5 };
 * const svg = scheduleSvg(simulateSchedule(params), {
 *   start: params.start,
 *   mclt: params.mclt,
 *   title: "MCLT 1h, 3 days desired",
 * });
 * assert.ok(svg.startsWith("<svg "));
 * assert.ok(svg.includes("MCLT 1h, 3 days desired"));
 * ```
 */
export function scheduleSvg(rows: readonly ScheduleRow[], options: ScheduleSvgOptions): string {
  const width = options.width ?? 960;
  const height = options.height ?? 540;
  const { start, mclt } = options;
  const left = 90, right = 270, top = 56, bottom = 64;
  const plotW = width - left - right;
  const plotH = height - top - bottom;

  const lastTime = rows.length ? rows[rows.length - 1].time : start;
  const xEnd = Math.max(lastTime, start + 1);
  const commsLost = rows.find((r) => r.event === "comms-lost")?.time ?? null;
  const partnerDown = rows.find((r) => r.event === "partner-down")?.time ?? null;

  // Client expiry as horizontal segments while the lease is held.
  const expirySegs: { from: number; to: number; value: number }[] = [];
  const grants: { time: number; value: number }[] = [];
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    if ((r.event !== "request" && r.event !== "renew") || r.clientExpiry === null) continue;
    grants.push({ time: r.time, value: r.clientExpiry });
    let to = Math.min(r.clientExpiry, xEnd);
    for (let j = i + 1; j < rows.length; j++) {
      const n = rows[j];
      if (n.event === "request" || n.event === "renew" || n.event === "expire") {
        to = n.time;
        break;
      }
    }
    expirySegs.push({ from: r.time, to, value: r.clientExpiry });
  }

  // Acked partner lifetime as a step function from its first value to the end.
  const ackedSegs: { from: number; to: number; value: number }[] = [];
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    if (r.ackedPartnerLifetime === null) continue;
    const prev = ackedSegs[ackedSegs.length - 1];
    if (prev && prev.value === r.ackedPartnerLifetime) continue;
    if (prev) prev.to = r.time;
    ackedSegs.push({ from: r.time, to: xEnd, value: r.ackedPartnerLifetime });
  }

  // The bound max(acked, t) + MCLT, exact between rows (acked is constant between rows).
  const boundPts: { t: number; v: number; applies: boolean }[] = [];
  const breaks = new Set<number>([start, xEnd]);
  for (const r of rows) breaks.add(r.time);
  for (const s of ackedSegs) breaks.add(s.value); // where t overtakes acked, the slope changes
  const times = [...breaks].filter((t) => t >= start && t <= xEnd).sort((a, b) => a - b);
  let seg = -1; // ackedSegs[seg] is the last segment starting strictly before t
  for (const t of times) {
    while (seg + 1 < ackedSegs.length && ackedSegs[seg + 1].from < t) seg++;
    const ackedBefore = seg >= 0 ? ackedSegs[seg].value : 0;
    let at = seg;
    while (at + 1 < ackedSegs.length && ackedSegs[at + 1].from === t) at++;
    const ackedAfter = at >= 0 ? ackedSegs[at].value : 0;
    const applies = partnerDown === null || t <= partnerDown;
    const before = Math.max(ackedBefore, t) + mclt;
    const after = Math.max(ackedAfter, t) + mclt;
    boundPts.push({ t, v: before, applies });
    if (after !== before) boundPts.push({ t, v: after, applies });
  }

  let yEnd = Math.max(xEnd, start + 1);
  for (const s of expirySegs) yEnd = Math.max(yEnd, s.value);
  for (const s of ackedSegs) yEnd = Math.max(yEnd, s.value);
  for (const p of boundPts) yEnd = Math.max(yEnd, p.v);
  const xStep = tickStep(xEnd - start);
  const yStep = tickStep(yEnd - start);
  const yTop = start + Math.ceil((yEnd - start) / yStep) * yStep;
  const xTop = start + Math.ceil((xEnd - start) / xStep) * xStep;

  const X = (t: number) => left + ((t - start) / (xTop - start)) * plotW;
  const Y = (t: number) => top + plotH - ((t - start) / (yTop - start)) * plotH;
  const pt = (t: number, v: number) => `${num(X(t))},${num(Y(v))}`;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  if (options.title) {
    out.push(
      `<text x="${left}" y="26" font-size="15" font-weight="bold" fill="${COLORS.text}">${
        escapeXml(options.title)
      }</text>`,
    );
  }
  if (partnerDown !== null) {
    out.push(
      `<rect x="${num(X(partnerDown))}" y="${top}" width="${num(X(xTop) - X(partnerDown))}" ` +
        `height="${plotH}" fill="${COLORS.partnerDown}" fill-opacity="0.08"/>`,
    );
  }
  // Grid and ticks.
  for (let t = start; t <= xTop; t += xStep) {
    out.push(
      `<line x1="${num(X(t))}" y1="${top}" x2="${num(X(t))}" y2="${top + plotH}" ` +
        `stroke="${COLORS.grid}"/>`,
    );
    out.push(
      `<text x="${num(X(t))}" y="${top + plotH + 18}" text-anchor="middle" fill="${COLORS.text}">${
        formatDuration(t - start)
      }</text>`,
    );
  }
  for (let v = start; v <= yTop; v += yStep) {
    out.push(
      `<line x1="${left}" y1="${num(Y(v))}" x2="${left + plotW}" y2="${num(Y(v))}" ` +
        `stroke="${COLORS.grid}"/>`,
    );
    out.push(
      `<text x="${left - 8}" y="${num(Y(v) + 4)}" text-anchor="end" fill="${COLORS.text}">${
        formatDuration(v - start)
      }</text>`,
    );
  }
  out.push(
    `<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" ` +
      `stroke="#999999"/>`,
  );
  out.push(
    `<text x="${left + plotW / 2}" y="${height - 18}" text-anchor="middle" ` +
      `fill="${COLORS.text}">time since start</text>`,
  );
  out.push(
    `<text transform="translate(22 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" ` +
      `fill="${COLORS.text}">lease time (since start)</text>`,
  );

  // "now" diagonal: a time below it is in the past.
  const diagEnd = Math.min(xTop, yTop);
  out.push(
    `<line x1="${num(X(start))}" y1="${num(Y(start))}" x2="${num(X(diagEnd))}" ` +
      `y2="${num(Y(diagEnd))}" stroke="${COLORS.now}" stroke-dasharray="2 4"/>`,
  );

  // Event markers.
  const marker = (t: number, color: string, label: string, dy: number) => {
    out.push(
      `<line x1="${num(X(t))}" y1="${top}" x2="${num(X(t))}" y2="${top + plotH}" ` +
        `stroke="${color}" stroke-width="1.5" stroke-dasharray="6 4"/>`,
    );
    out.push(
      `<text x="${num(X(t) + 4)}" y="${top + plotH - 8 - dy}" fill="${color}">${
        escapeXml(label)
      }</text>`,
    );
  };
  if (commsLost !== null) {
    marker(
      commsLost,
      COLORS.comms,
      `communications lost (${formatDuration(commsLost - start)})`,
      0,
    );
  }
  if (partnerDown !== null) {
    marker(
      partnerDown,
      COLORS.partnerDown,
      `PARTNER-DOWN (${formatDuration(partnerDown - start)})`,
      16,
    );
  }

  // The bound: solid while it applies, faint after PARTNER-DOWN lifts it.
  const boundApplied = boundPts.filter((p) => p.applies);
  const boundLifted = boundPts.filter((p) => partnerDown !== null && p.t >= partnerDown);
  if (boundApplied.length > 1) {
    out.push(
      `<polyline fill="none" stroke="${COLORS.bound}" stroke-width="2" stroke-dasharray="8 4" ` +
        `points="${boundApplied.map((p) => pt(p.t, p.v)).join(" ")}"/>`,
    );
  }
  if (boundLifted.length > 1) {
    out.push(
      `<polyline fill="none" stroke="${COLORS.bound}" stroke-width="1" stroke-opacity="0.35" ` +
        `stroke-dasharray="2 4" points="${boundLifted.map((p) => pt(p.t, p.v)).join(" ")}"/>`,
    );
  }
  for (const s of ackedSegs) {
    out.push(
      `<line x1="${num(X(s.from))}" y1="${num(Y(s.value))}" x2="${num(X(s.to))}" ` +
        `y2="${num(Y(s.value))}" stroke="${COLORS.acked}" stroke-width="2.5"/>`,
    );
  }
  for (const s of expirySegs) {
    out.push(
      `<line x1="${num(X(s.from))}" y1="${num(Y(s.value))}" x2="${num(X(s.to))}" ` +
        `y2="${num(Y(s.value))}" stroke="${COLORS.expiry}" stroke-width="3"/>`,
    );
  }
  for (const g of grants) {
    out.push(
      `<circle cx="${num(X(g.time))}" cy="${num(Y(g.value))}" r="4" fill="${COLORS.expiry}"/>`,
    );
  }

  // Legend.
  const lx = left + plotW + 18;
  let ly = top + 10;
  const legend = (color: string, dash: string, width: number, label: string) => {
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 28}" y2="${ly}" stroke="${color}" ` +
        `stroke-width="${width}"${dash ? ` stroke-dasharray="${dash}"` : ""}/>`,
    );
    out.push(`<text x="${lx + 36}" y="${ly + 4}" fill="${COLORS.text}">${escapeXml(label)}</text>`);
    ly += 22;
  };
  legend(COLORS.expiry, "", 3, "client expiry (dot = Reply)");
  legend(COLORS.acked, "", 2.5, "acked partner lifetime");
  legend(COLORS.bound, "8 4", 2, "bound max(acked, now) + MCLT");
  legend(COLORS.now, "2 4", 1, "now");
  if (commsLost !== null) legend(COLORS.comms, "6 4", 1.5, "communications lost");
  if (partnerDown !== null) legend(COLORS.partnerDown, "6 4", 1.5, "PARTNER-DOWN (no cap)");
  out.push(
    `<text x="${lx}" y="${ly + 10}" fill="${COLORS.text}">MCLT ${
      escapeXml(formatDuration(mclt))
    }</text>`,
  );
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
