/**
 * Polls a `failover6 serve` control API from inside its namespace and appends one JSON line
 * per poll to a file: `{"at": ms, "status": {...}}` or `{"at": ms, "error": "..."}`. When
 * `/v1/status` has no `failover` member, the answer of `GET /v1/failover` is put there.
 * Started by the fault tests (`deno run -A poll_status.ts URL TOKEN EVERY_MS FILE`), stopped
 * with SIGTERM.
 *
 * @module
 */

import { ControlClient } from "../../../lib/server/shell/control_client.ts";

if (import.meta.main) {
  const [url, token, every, file] = Deno.args;
  if (file === undefined) {
    console.error("usage: poll_status.ts URL TOKEN EVERY_MS FILE");
    Deno.exit(2);
  }
  const client = new ControlClient(url, token, 2000);
  const out = await Deno.open(file, { append: true, create: true });
  const enc = new TextEncoder();
  let stop = false;
  Deno.addSignalListener("SIGTERM", () => stop = true);
  while (!stop) {
    const at = Date.now();
    let line: string;
    try {
      const status = await client.status();
      if (status.failover === undefined) {
        const r = await fetch(`${client.url}/v1/failover`, {
          headers: { authorization: `Bearer ${token}` },
          signal: AbortSignal.timeout(2000),
        });
        const body = await r.text();
        if (r.ok) status.failover = JSON.parse(body);
      }
      line = JSON.stringify({ at, status });
    } catch (e) {
      line = JSON.stringify({ at, error: (e as Error).message });
    }
    await out.write(enc.encode(line + "\n"));
    await new Promise((r) => setTimeout(r, Math.max(10, Number(every) - (Date.now() - at))));
  }
  out.close();
}
