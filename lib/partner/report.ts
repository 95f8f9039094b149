/**
 * Reports of a partner run: JSON (`--json FILE`) and JUnit XML (`--junit FILE`, one testcase
 * per scenario, the failing step as the failure message, every step verdict in system-out), and
 * the text lines of a step list. Pure: report in, text out.
 *
 * @module
 */

import type { RunReport, ScenarioResult, StepResult } from "./types.ts";

/** The JSON form: the report with ISO times added. */
export function reportToJson(report: RunReport): string {
  const iso = (ms: number) => new Date(ms).toISOString();
  const out = {
    ...report,
    startedAtIso: iso(report.startedAt),
    scenarios: report.scenarios.map((s) => ({
      ...s,
      startedAtIso: iso(s.startedAt),
    })),
  };
  return JSON.stringify(out, null, 2) + "\n";
}

/** XML text escaping (also for attributes); strips characters XML 1.0 cannot hold. */
export function xmlEscape(text: string): string {
  return text
    // deno-lint-ignore no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "?")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/** One line per step: `ok [2] expect CONNECTREPLY (line 7): …`, details indented below. */
export function stepLines(steps: readonly StepResult[]): string[] {
  const out: string[] = [];
  for (const r of steps) {
    const where = r.line !== undefined ? ` (line ${r.line})` : "";
    out.push(
      `${r.verdict.padEnd(5)} [${r.index}] ${r.title}${where}${r.message ? `: ${r.message}` : ""}`,
    );
    for (const d of r.detail ?? []) out.push(`        ${d}`);
  }
  return out;
}

function firstBad(s: ScenarioResult): StepResult | undefined {
  return s.steps.find((x) => x.verdict === "fail" || x.verdict === "error");
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);

/** The JUnit XML form. */
export function reportToJunit(report: RunReport): string {
  const tests = report.scenarios.length;
  const failures = report.failed;
  const errors = report.errors;
  const suiteName = `${report.title} (partner as ${report.role}${
    report.peer ? `, ${report.peer}` : ""
  })`;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${
      xmlEscape(report.title)
    }" tests="${tests}" failures="${failures}" errors="${errors}" time="${
      seconds(report.durationMs)
    }">`,
    `  <testsuite name="${
      xmlEscape(suiteName)
    }" tests="${tests}" failures="${failures}" errors="${errors}" skipped="0" time="${
      seconds(report.durationMs)
    }" timestamp="${new Date(report.startedAt).toISOString().replace(/\.\d+Z$/, "")}">`,
  ];
  for (const s of report.scenarios) {
    const cls = `failover6.partner.${report.role}`;
    lines.push(
      `    <testcase classname="${xmlEscape(cls)}" name="${xmlEscape(s.name)}" time="${
        seconds(s.durationMs)
      }">`,
    );
    const bad = firstBad(s);
    if (bad) {
      const tag = s.verdict === "error" ? "error" : "failure";
      const msg = `step ${bad.index} ${bad.title}: ${bad.message ?? bad.verdict}`;
      const body = [msg, ...(bad.detail ?? [])].join("\n");
      lines.push(
        `      <${tag} message="${xmlEscape(msg)}" type="${bad.verdict}">${
          xmlEscape(body)
        }</${tag}>`,
      );
    }
    const out = [
      ...(s.description ? [s.description] : []),
      ...(s.reference ? [`reference: ${s.reference}`] : []),
      ...stepLines(s.steps),
    ];
    lines.push(`      <system-out>${xmlEscape(out.join("\n"))}</system-out>`);
    lines.push("    </testcase>");
  }
  lines.push("  </testsuite>", "</testsuites>", "");
  return lines.join("\n");
}
