/**
 * The operator view of a pair: `failover6 ctl status` (own and partner state, communications,
 * BNDUPD counts, auto-partner-down, why (not) PARTNER-DOWN), `failover6 ctl partner-down`
 * (refused while the partner is reachable, done once it is not), the control API behind them
 * and the failover-link metrics.
 */
import assert from "node:assert/strict";
import { runCli } from "../serve/helpers.ts";
import { ClientSocket, TestClient } from "../serve/client.ts";
import { ControlClient, ControlError } from "../../lib/server/shell/control_client.ts";
import { renderEndpointStatus } from "../../lib/server/shell/failover_status.ts";
import { REL, TestPair } from "./helpers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const TOKEN = "pair-test-token-0123456789";

function ctl(url: string, ...args: string[]) {
  return runCli(["ctl", "--url", url, "--token", TOKEN, ...args]);
}

Deno.test({
  name:
    "ctl: status shows both states, communications and the BNDUPD queue; partner-down is refused while the partner is reachable",
  ...opts,
  fn: async () => {
    const pair = await TestPair.start({ mclt: 30, autoPartnerDown: null });
    const socket = await ClientSocket.open(pair.primary!.udp);
    try {
      const c = new TestClient(socket, new Uint8Array([0, 3, 0, 1, 2, 0xcc, 0, 0, 0, 1]), {
        timeoutMs: 300,
        attempts: 5,
      });
      await c.solicit({ na: [1] });
      assert.ok((await c.request({ na: [1] }))?.leases.length === 1);
      await pair.drained();

      const st = await ctl(pair.primary!.url, "status");
      assert.equal(st.code, 0, st.stderr);
      assert.match(st.stdout, new RegExp(`failover ${REL} \\(primary\\)`));
      assert.match(st.stdout, /state\s+NORMAL since/);
      assert.match(st.stdout, /partner\s+NORMAL/);
      assert.match(st.stdout, /communications\s+ok/);
      assert.match(st.stdout, /BNDUPD\s+0 unacked \(window 16\), 0 queued, 0 pending/);
      // One for the client's lease, 128 for the FREE-BACKUP half of the 256 delegable /64s.
      assert.match(st.stdout, /BNDUPD totals\s+129 sent, 0 received/);
      assert.match(
        st.stdout,
        /partner-down\s+not in PARTNER-DOWN: communications with the partner are OK/,
      );

      const api = new ControlClient(pair.secondary!.url, TOKEN);
      const f = await api.failover();
      assert.equal(f.relationships.length, 1);
      const rel = f.relationships[0] as Record<string, Record<string, unknown>>;
      assert.equal(rel.relationship, REL);
      assert.equal(rel.role, "secondary");
      assert.equal(rel.communications.status, "ok");
      assert.equal(rel.bndupd.received, 129);

      const refused = await ctl(pair.secondary!.url, "partner-down", "--yes");
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /failover6: ctl: the partner is reachable/);
      assert.equal(pair.state("secondary"), "NORMAL");
      await assert.rejects(
        api.partnerDown("no-such-pair"),
        (e) => e instanceof ControlError && e.kind === "not-found",
      );

      const metrics = await ctl(pair.primary!.url, "metrics");
      assert.match(
        metrics.stdout,
        new RegExp(`failover6_failover_state\\{relationship="${REL}",state="NORMAL"\\} 1`),
      );
      assert.match(
        metrics.stdout,
        /failover6_failover_messages_total\{relationship="test-pair",direction="sent",type="BNDUPD"\} 129/,
      );
      assert.match(
        metrics.stdout,
        /failover6_failover_ack_seconds_count\{relationship="test-pair"\} 129/,
      );
      assert.match(
        metrics.stdout,
        /failover6_failover_communications_ok\{relationship="test-pair"\} 1/,
      );
      assert.match(
        metrics.stdout,
        /failover6_failover_queue_depth\{relationship="test-pair",queue="unacked"\} 0/,
      );
    } finally {
      await socket.close();
      await pair.close();
    }
  },
});

Deno.test({
  name:
    "ctl: with the primary gone, status counts down to auto-partner-down; partner-down asks, then moves to PARTNER-DOWN",
  ...opts,
  fn: async () => {
    const pair = await TestPair.start({ mclt: 30, autoPartnerDown: 120 });
    try {
      await pair.stopNode("primary");
      await pair.waitStates(undefined, "COMMUNICATIONS-INTERRUPTED");
      pair.advance(20_000);
      const st = await ctl(pair.secondary!.url, "status");
      assert.equal(st.code, 0, st.stderr);
      assert.match(st.stdout, /state\s+COMMUNICATIONS-INTERRUPTED/);
      assert.match(st.stdout, /communications\s+down/);
      assert.match(st.stdout, /auto partner-down\s+120s, 100s left/);
      assert.match(st.stdout, /partner-down\s+not yet: auto-partner-down in 100s/);

      // Not a terminal and no --yes: a usage error, nothing done.
      const asked = await ctl(pair.secondary!.url, "partner-down");
      assert.equal(asked.code, 2);
      assert.match(asked.stderr, /confirm with --yes/);
      assert.equal(pair.state("secondary"), "COMMUNICATIONS-INTERRUPTED");

      const done = await ctl(pair.secondary!.url, "partner-down", "--yes");
      assert.equal(done.code, 0, done.stderr);
      assert.match(done.stdout, /now in PARTNER-DOWN/);
      assert.equal(pair.state("secondary"), "PARTNER-DOWN");
      const again = await ctl(pair.secondary!.url, "partner-down", "--yes");
      assert.equal(again.code, 0);
      assert.match(again.stdout, /already in PARTNER-DOWN/);

      const after = pair.secondary!.failover.status()[0];
      assert.equal(after.partnerDown.active, true);
      assert.match(after.partnerDown.why, /operator command partner-down/);
      const text = renderEndpointStatus(after).join("\n");
      assert.match(text, /last change\s+COMMUNICATIONS-INTERRUPTED -> PARTNER-DOWN/);
    } finally {
      await pair.close();
    }
  },
});
