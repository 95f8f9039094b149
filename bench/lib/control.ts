/**
 * Shared by the in-process benchmarks (bench/serve_cpu.ts, bench/pair_load.ts): waiting for a
 * `failover6 serve` child to answer on its control API.
 *
 * @module
 */

/**
 * Polls `GET /v1/status` on 127.0.0.1:`port` with bearer `token` every 100 ms until it answers
 * 2xx; throws `Error(failure)` once `timeoutMs` has passed without an answer.
 */
export async function waitForControl(
  port: number,
  token: string,
  timeoutMs: number,
  failure: string,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/v1/status`, {
        headers: { authorization: `Bearer ${token}` },
      });
      await r.body?.cancel();
      if (r.ok) return;
    } catch { /* not yet */ }
    if (Date.now() > end) throw new Error(failure);
    await new Promise((r) => setTimeout(r, 100));
  }
}
