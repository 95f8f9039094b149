#!/usr/bin/env bash
# Benchmark (not a test): perfdhcp -6 4-way exchanges (Solicit, Advertise, Request, Reply)
# against `failover6 serve`, then against Kea `kea-dhcp6` with memfile, in the same run on the
# same machine, stepping the offered rate up. Each server runs alone in a network namespace;
# perfdhcp runs in another, joined by a veth pair (ULA fd00:f6::/64 only), multicast ff02::1:2.
#
# Prints one row per server and offered rate: achieved exchanges/s, drops, mean latency of
# Solicit->Advertise and Request->Reply, and (failover6) leases durable in the database
# against Replies received.
#
# Usage (root): bench/serve-perfdhcp.sh            RATES="500 1000 2000" DURATION=10 ...
# Needs: ip (iproute2), perfdhcp (kea-admin), kea-dhcp6 (kea-dhcp6-server), deno.
set -euo pipefail

RATES=${RATES:-"500 1000 2000 3000 4000 6000"}
DURATION=${DURATION:-10}
COMMIT_WINDOW_NOTE="group commit, window 0 (adaptive), SQLite WAL synchronous=FULL"
here=$(cd "$(dirname "$0")/.." && pwd)
main="$here/cli/main.ts"
perms=(--allow-net --allow-read --allow-write --allow-env=LOG_TOKENS,LOG_STREAM)
# shellcheck source=lib/perfdhcp.sh
. "$here/bench/lib/perfdhcp.sh"

for tool in ip perfdhcp kea-dhcp6 deno; do
  command -v "$tool" >/dev/null || { echo "serve-perfdhcp: $tool is not installed" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "serve-perfdhcp: needs root (network namespaces)" >&2; exit 2; }

tag=$(printf '%x' $(( $$ % 65536 )))
ns_s="f6b-s$tag"; ns_c="f6b-c$tag"; v_s="f6bs$tag"; v_c="f6bc$tag"
work=$(mktemp -d /tmp/f6bench.XXXXXX)
server_pid=""

cleanup() {
  set +e
  [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  for ns in "$ns_c" "$ns_s"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  rm -rf "$work"
}
trap cleanup EXIT

# --- namespaces, veth, DAD off ------------------------------------------------------------
ip netns add "$ns_s"; ip netns add "$ns_c"
ip link add "$v_s" type veth peer name "$v_c"
ip link set "$v_s" netns "$ns_s"; ip link set "$v_c" netns "$ns_c"
for pair in "$ns_s:$v_s" "$ns_c:$v_c"; do
  ns=${pair%%:*}; v=${pair#*:}
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
    "net.ipv6.conf.$v.accept_dad=0"
  ip netns exec "$ns" sysctl -qw net.core.rmem_max=8388608 net.core.rmem_default=4194304 2>/dev/null || true
  ip netns exec "$ns" ip link set lo up
done
ip netns exec "$ns_s" ip addr add fd00:f6::1/64 dev "$v_s" nodad
ip netns exec "$ns_s" ip link set "$v_s" up
ip netns exec "$ns_c" ip link set "$v_c" up
for i in $(seq 100); do
  ip netns exec "$ns_c" ip -6 addr show dev "$v_c" scope link | grep -q "fe80::" &&
    ! ip netns exec "$ns_c" ip -6 addr show dev "$v_c" | grep -q tentative && break
  sleep 0.05
done

# --- configurations -----------------------------------------------------------------------
cat >"$work/failover6.yaml" <<EOF
leaseDatabase: $work/failover6-leases.db
listen:
  - interface: $v_s
lifetimes:
  preferred: 1h
  valid: 2h
subnets:
  - name: bench
    prefix: fd00:f6::/64
    link:
      interfaces: [$v_s]
    pools:
      - name: bench-addresses
        range: fd00:f6::1:0 - fd00:f6::ffff:ffff
control:
  address: 127.0.0.1
  port: 10548
  token: bench-token-0123456789abcdef
logging:
  format: text
  level: info
EOF

cat >"$work/kea.json" <<EOF
{ "Dhcp6": {
  "interfaces-config": { "interfaces": [ "$v_s" ] },
  "server-id": { "type": "LLT", "persist": false },
  "lease-database": { "type": "memfile", "persist": true, "name": "$work/kea-leases6.csv",
                      "lfc-interval": 0 },
  "preferred-lifetime": 3600, "valid-lifetime": 7200, "renew-timer": 1800, "rebind-timer": 2880,
  "subnet6": [ { "id": 1, "subnet": "fd00:f6::/64", "interface": "$v_s",
                 "pools": [ { "pool": "fd00:f6::1:0 - fd00:f6::ffff:ffff" } ] } ],
  "loggers": [ { "name": "kea-dhcp6", "severity": "WARN",
                 "output_options": [ { "output": "$work/kea.log" } ] } ]
} }
EOF

# --- helpers ------------------------------------------------------------------------------
start_failover6() {
  ip netns exec "$ns_s" deno run "${perms[@]}" "$main" serve --config "$work/failover6.yaml" \
    2>"$work/failover6.log" &
  server_pid=$!
  for i in $(seq 300); do grep -q "control API listening" "$work/failover6.log" 2>/dev/null && return; sleep 0.1; done
  echo "failover6 did not start:" >&2; cat "$work/failover6.log" >&2; exit 1
}

start_kea() {
  KEA_PIDFILE_DIR="$work" KEA_LOCKFILE_DIR="$work" ip netns exec "$ns_s" kea-dhcp6 -c "$work/kea.json" \
    >"$work/kea.out" 2>&1 &
  server_pid=$!
  sleep 2
  kill -0 "$server_pid" 2>/dev/null || { echo "kea-dhcp6 did not start:" >&2; cat "$work/kea.out" >&2; exit 1; }
}

stop_server() {
  kill -TERM "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

# Active leases in the failover6 database (read by a second connection to the file).
failover6_active() {
  deno eval --quiet "import { DatabaseSync } from 'node:sqlite';
    const d = new DatabaseSync('$work/failover6-leases.db', { readOnly: true });
    console.log(d.prepare(\"SELECT count(*) AS n FROM lease WHERE status = 'ACTIVE'\").get().n);"
}

# Datagrams the kernel dropped in the server's namespace because a socket's receive buffer
# was full (the server did not read for longer than the buffer lasts: a stall).
rcvbuf_errors() {
  ip netns exec "$ns_s" awk '$1 == "Udp6RcvbufErrors" { print $2 }' /proc/net/snmp6
}

# perfdhcp report -> "rate drops% sa_avg_ms rr_avg_ms rr_received"
# Each step gets its own clients: the step number sits in the DUID-LLT time field (perfdhcp
# randomises the trailing link-layer octets) and seeds perfdhcp's generator.
run_perfdhcp() {
  local rate=$1 step=$2 out="$work/perfdhcp-$3-$1.txt"
  ip netns exec "$ns_c" perfdhcp -6 -l "$v_c" -r "$rate" -p "$DURATION" -R 100000000 \
    -s "$step" -b "duid=00010001$(printf '%08x' "$step")000000000000" >"$out" 2>&1 || true
  perfdhcp_summary "$out"
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
printf '%-10s %8s %12s %8s %10s %10s %12s %s\n' server offered "exchanges/s" "drops%" "SA avg ms" \
  "RR avg ms" "rcvbuf-full" "durable"
step=1
for server in ${SERVERS:-failover6 kea}; do
  if [ "$server" = failover6 ]; then start_failover6; else start_kea; fi
  replies=0
  for rate in $RATES; do
    full_before=$(rcvbuf_errors)
    read -r got drops sa rr recv < <(run_perfdhcp "$rate" "$step" "$server")
    full=$(($(rcvbuf_errors) - full_before))
    step=$((step + 1))
    replies=$((replies + recv))
    durable="-"
    if [ "$server" = failover6 ]; then durable="$(failover6_active)/$replies"; fi
    printf '%-10s %8s %12s %8s %10s %10s %12s %s\n' "$server" "$rate" "$got" "$drops" "$sa" "$rr" \
      "$full" "$durable"
  done
  stop_server
done
echo "failover6: $COMMIT_WINDOW_NOTE; kea-dhcp6 $(kea-dhcp6 -v): memfile persist=true (no fsync)"
echo "rcvbuf-full: datagrams dropped by the kernel, server socket receive buffer full" \
  "(SO_RCVBUF $(cat /proc/sys/net/core/rmem_default) octets: net.core.rmem_default, which" \
  "Deno cannot raise per socket and a namespace cannot change)"
echo "machine: $(nproc) CPUs, $(uname -r); ${DURATION}s per step;" \
  "load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
