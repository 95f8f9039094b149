#!/usr/bin/env bash
# Benchmark (not a test): perfdhcp -6 4-way exchanges against
#   1. failover6 alone (failover off)            -- the latency baseline,
#   2. the failover6 pair (RFC 8156, lazy BNDUPD),
#   3. a Kea HA hot-standby pair (libdhcp_ha + libdhcp_lease_cmds, multi-threading and the
#      HA dedicated HTTP listener, no control agent),
#   4. Kea alone (memfile)                       -- Kea's own baseline,
# in the same run on the same machine, stepping the offered rate up. Topology: the namespaces of
# bench/lib/netns.sh (servers s1/s2 on the bridged LAN br0, partner link on br1, perfdhcp in sw),
# ULA addresses only. Clients multicast to ff02::1:2 as real ones do; each step uses new DUIDs.
#
# Prints one row per product and offered rate: achieved exchanges/s, drops (exchanges started
# and not completed), mean Solicit->Advertise and Request->Reply latency (and, for failover6, the
# mean time in the primary per answer, from its failover6_reply_seconds metric); then the latency
# ratio failover on / off, as perfdhcp sees it and inside the server; then, after the sweep (overload included) and once the BNDUPD queue has
# drained, the leases each server of each pair holds and how many differ.
#
# Usage (root): bench/pair-perfdhcp.sh        RATES="500 1000 2000 4000" DURATION=10 PRODUCTS="f6-alone f6-pair kea-ha kea-alone"
# Needs: ip, perfdhcp, kea-dhcp6 (+ hooks), curl, jq, deno.
# WORKDIR=/dev/shm puts the lease databases on tmpfs (no fsync cost): tells the disk apart from the
# rest when reading the latency ratio.
set -euo pipefail

RATES=${RATES:-"500 1000 2000 3000 4000 6000"}
DURATION=${DURATION:-10}
PRODUCTS=${PRODUCTS:-"f6-alone f6-pair kea-ha kea-alone"}
MCLT=${MCLT:-3600}
HOOKS=${KEA_HOOKS:-/usr/lib/x86_64-linux-gnu/kea/hooks}
here=$(cd "$(dirname "$0")/.." && pwd)
main="$here/cli/main.ts"
token="bench-token-0123456789abcdef"

for tool in ip perfdhcp kea-dhcp6 curl jq deno; do
  command -v "$tool" >/dev/null || { echo "pair-perfdhcp: $tool is not installed" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "pair-perfdhcp: needs root (network namespaces)" >&2; exit 2; }
for lib in libdhcp_ha.so libdhcp_lease_cmds.so; do
  [ -f "$HOOKS/$lib" ] || { echo "pair-perfdhcp: no $HOOKS/$lib" >&2; exit 2; }
done

# shellcheck source=lib/netns.sh
. "$here/bench/lib/netns.sh"
# shellcheck source=lib/perfdhcp.sh
. "$here/bench/lib/perfdhcp.sh"
NETNS_PREFIX="f6pb$(printf '%x' $(($$ % 65536)))-"
work=$(mktemp -d "${WORKDIR:-/tmp}/f6pair.XXXXXX")
cleanup() {
  set +e
  netns_down
  [ -n "${KEEP:-}" ] && echo "files kept in $work" || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
netns_pair_up 0
for ns in s1 s2 sw; do
  netns_exec "$ns" sysctl -qw net.core.rmem_max=8388608 net.core.rmem_default=4194304 2>/dev/null || true
done
mkdir -p /run/kea # Kea 2.2 needs it even with KEA_PIDFILE_DIR set

# --- configurations -----------------------------------------------------------------------
f6_config() { # NAME ROLE(primary|secondary|alone)
  local name=$1 role=$2
  cat <<EOF
leaseDatabase: $work/$name-$role-leases.db
server:
  duid: "00:02:00:00:7e:d9:f6:00:00:0${name#s}"
listen:
  - interface: lan0
lifetimes:
  preferred: 1h
  valid: 2h
subnets:
  - name: bench
    prefix: fd00:f6::/64
    link: { interfaces: [lan0] }
    pools:
      - name: bench-addresses
        range: fd00:f6::1:0 - fd00:f6::ffff:ffff
control:
  address: 127.0.0.1
  port: 10548
  token: $token
logging:
  format: text
  level: info
EOF
  case $role in
    primary)
      cat <<EOF
failover:
  - name: bench-pair
    role: primary
    peer: { address: "fd00:f6:f0::2", port: 647 }
    mclt: ${MCLT}s
    insecure: true
    subnets: [bench]
EOF
      ;;
    secondary)
      cat <<EOF
failover:
  - name: bench-pair
    role: secondary
    peer: { address: "fd00:f6:f0::1" }
    local: { address: "fd00:f6:f0::2", port: 647 }
    insecure: true
    subnets: [bench]
EOF
      ;;
  esac
}

kea_config() { # N MODE(ha|alone)
  local n=$1 mode=$2 hooks=""
  if [ "$mode" = ha ]; then
    hooks=$(cat <<EOF
  "hooks-libraries": [
    { "library": "$HOOKS/libdhcp_lease_cmds.so" },
    { "library": "$HOOKS/libdhcp_ha.so",
      "parameters": { "high-availability": [ {
        "this-server-name": "s$n", "mode": "hot-standby",
        "heartbeat-delay": 2000, "max-response-delay": 10000, "max-ack-delay": 5000,
        "max-unacked-clients": 5, "sync-timeout": 60000,
        "multi-threading": { "enable-multi-threading": true, "http-dedicated-listener": true,
                             "http-listener-threads": 2, "http-client-threads": 2 },
        "peers": [
          { "name": "s1", "url": "http://[fd00:f6:f0::1]:8001/", "role": "primary", "auto-failover": true },
          { "name": "s2", "url": "http://[fd00:f6:f0::2]:8001/", "role": "standby", "auto-failover": true }
        ] } ] } }
  ],
EOF
)
  fi
  cat <<EOF
{ "Dhcp6": {
  "interfaces-config": { "interfaces": [ "lan0" ] },
  "server-id": { "type": "EN", "enterprise-id": 32473, "identifier": "f600000000$n$n", "persist": false },
  "lease-database": { "type": "memfile", "persist": true, "name": "$work/kea-$mode-s$n.csv", "lfc-interval": 0 },
  "multi-threading": { "enable-multi-threading": true, "thread-pool-size": 2, "packet-queue-size": 64 },
  "preferred-lifetime": 3600, "valid-lifetime": 7200, "renew-timer": 1800, "rebind-timer": 2880,
$hooks
  "subnet6": [ { "id": 1, "subnet": "fd00:f6::/64", "interface": "lan0",
                 "pools": [ { "pool": "fd00:f6::1:0 - fd00:f6::ffff:ffff" } ] } ],
  "loggers": [ { "name": "kea-dhcp6", "severity": "WARN",
                 "output_options": [ { "output": "$work/kea-$mode-s$n.log" } ] } ]
} }
EOF
}

# --- servers ------------------------------------------------------------------------------
PIDS=()
f6_start() { # NAME ROLE
  f6_config "$1" "$2" >"$work/$1-$2.yaml"
  netns_bg "$1" "$work/$1-$2.log" deno run -A "$main" serve --config "$work/$1-$2.yaml"
  PIDS+=("$NETNS_LAST_PID")
}
f6_ctl() { # NAME ARGS...
  local name=$1
  shift
  netns_exec "$name" deno run -A "$main" ctl --url http://127.0.0.1:10548 --token "$token" "$@"
}
f6_state() { # NAME -> own failover state, or "up" (no failover), or "" (no answer)
  f6_ctl "$1" --json status 2>/dev/null |
    jq -r '(.failover // [] | if type == "array" then . else (.endpoints // .relationships // []) end
            | .[0].state) // "up"' 2>/dev/null || true
}
f6_backlog() { # NAME -> unacked + queued + pending BNDUPDs
  f6_ctl "$1" --json status 2>/dev/null |
    jq -r '(.failover // [] | if type == "array" then . else (.endpoints // .relationships // []) end
            | .[0].bndupd // {}) as $b | (($b.unacked // 0) + ($b.queued // 0) + ($b.pendingInStore // 0))' \
      2>/dev/null || echo "?"
}
kea_start() { # N MODE
  kea_config "$1" "$2" >"$work/kea-$2-s$1.json"
  mkdir -p "$work/kea-run-$2-s$1"
  KEA_PIDFILE_DIR="$work/kea-run-$2-s$1" KEA_LOCKFILE_DIR="$work/kea-run-$2-s$1" \
    netns_bg "s$1" "$work/kea-$2-s$1.out" kea-dhcp6 -c "$work/kea-$2-s$1.json"
  PIDS+=("$NETNS_LAST_PID")
}
kea_ha_state() { # N
  netns_exec "s$1" curl -s -m 2 -X POST -H 'Content-Type: application/json' \
    -d '{"command":"ha-heartbeat","service":["dhcp6"]}' "http://[fd00:f6:f0::$1]:8001/" 2>/dev/null |
    jq -r '(if type == "array" then .[0] else . end).arguments.state // ""' 2>/dev/null || true
}
stop_all() {
  local p
  for p in "${PIDS[@]}"; do netns_stop "$p" 10; done
  PIDS=()
}
wait_until() { # WHAT SECONDS CMD... (CMD succeeds when ready)
  local what=$1 secs=$2 i
  shift 2
  for ((i = 0; i < secs * 2; i++)); do
    "$@" && return 0
    sleep 0.5
  done
  echo "pair-perfdhcp: timed out waiting for $what" >&2
  return 1
}
f6_is() { [ "$(f6_state "$1")" = "$2" ]; }
f6_both_normal() { f6_is s1 NORMAL && f6_is s2 NORMAL; }
f6_alone_up() { [ "$(f6_state s1)" = up ]; }
f6_drained() { [ "$(f6_backlog s1)" = 0 ] && [ "$(f6_backlog s2)" = 0 ]; }
kea_both_standby() { [ "$(kea_ha_state 1)" = hot-standby ] && [ "$(kea_ha_state 2)" = hot-standby ]; }

# --- leases -------------------------------------------------------------------------------
f6_active_list() { # NAME -> "address duid" per ACTIVE lease, sorted
  local name=$1 page="" out
  : >"$work/$name.active"
  for _ in $(seq 1000); do
    if [ -z "$page" ]; then
      out=$(f6_ctl "$name" --json leases --status ACTIVE --limit 10000)
    else
      out=$(f6_ctl "$name" --json leases --status ACTIVE --limit 10000 --page "$page")
    fi
    jq -r '.leases[] | "\(.address)/\(.prefixLength) \(.clientDuid)"' <<<"$out" >>"$work/$name.active"
    page=$(jq -r '.next // ""' <<<"$out")
    [ -z "$page" ] && break
  done
  sort -o "$work/$name.active" "$work/$name.active"
}
kea_active_list() { # MODE N -> "address duid" of unexpired leases (last record per address)
  local now
  now=$(date +%s)
  awk -F, -v now="$now" 'NR > 1 && $7 == 0 { last[$1] = $0 }
    END { for (a in last) { split(last[a], f, ","); if (f[3] > 0 && f[4] > now && f[14] == 0) print a "/128 " f[2] } }' \
    "$work/kea-$1-s$2.csv" | sort >"$work/kea-$1-s$2.active"
}
compare() { # FILE1 FILE2 -> "n1 n2 only1 only2"
  echo "$(wc -l <"$1") $(wc -l <"$2") $(comm -23 "$1" "$2" | wc -l) $(comm -13 "$1" "$2" | wc -l)"
}

# --- perfdhcp -----------------------------------------------------------------------------
step=1
run_perfdhcp() { # PRODUCT RATE STEP -> "achieved drops% sa_ms rr_ms replies"
  # New clients every step: DUID-LLT of the MAC 00:0c:STEP:nn:nn:nn (perfdhcp counts up the
  # low octets) and the current time.
  local out="$work/perfdhcp-$1-$2.txt"
  netns_exec sw perfdhcp -6 -l br0 -r "$2" -p "$DURATION" -R 10000000 \
    -b "mac=00:0c:$(printf '%02x' "$3"):00:00:00" >"$out" 2>&1 || true
  perfdhcp_summary "$out" '%.0f'
}

f6_reply_totals() { # NAME -> "sumA countA sumR countR": failover6_reply_seconds of Advertise, Reply
  f6_ctl "$1" metrics 2>/dev/null |
    awk '/^failover6_reply_seconds_sum\{type="ADVERTISE"/ { sa += $NF }
         /^failover6_reply_seconds_count\{type="ADVERTISE"/ { ca += $NF }
         /^failover6_reply_seconds_sum\{type="REPLY"/ { sr += $NF }
         /^failover6_reply_seconds_count\{type="REPLY"/ { cr += $NF }
         END { printf "%.6f %d %.6f %d\n", sa, ca, sr, cr }'
}

declare -A RESULT SERVER_MS
REPLIES=0
sweep() { # PRODUCT [STATE-COMMAND]: one row per rate; the command's output ends the row
  local rate got drops sa rr recv extra="" a0=0 n0=0 r0=0 m0=0 a1 n1 r1 m1 srv
  REPLIES=0
  for rate in $RATES; do
    [[ $1 == f6-* ]] && read -r a0 n0 r0 m0 < <(f6_reply_totals s1)
    read -r got drops sa rr recv < <(run_perfdhcp "$1" "$rate" "$step")
    step=$((step + 1))
    REPLIES=$((REPLIES + recv))
    RESULT["$1 $rate"]="$got $drops $sa $rr"
    srv=""
    if [[ $1 == f6-* ]]; then
      # Mean time in the (primary) server per answer during the step: its own measure, from
      # taking the datagram to handing the answer to the kernel, commit included.
      read -r a1 n1 r1 m1 < <(f6_reply_totals s1)
      srv=$(awk -v a0="$a0" -v a1="$a1" -v n0="$n0" -v n1="$n1" -v r0="$r0" -v r1="$r1" \
        -v m0="$m0" -v m1="$m1" 'BEGIN { if (n1 > n0 && m1 > m0)
          printf "%.3f %.3f", (a1 - a0) / (n1 - n0) * 1000, (r1 - r0) / (m1 - m0) * 1000 }')
      SERVER_MS["$1 $rate"]=$srv
      srv="in server: Advertise ${srv% *} ms, Reply ${srv#* } ms;"
    fi
    [ -n "${2:-}" ] && extra=$($2)
    printf '%-10s %8s %12s %8s %10s %10s  %s\n' "$1" "$rate" "$got" "$drops" "$sa" "$rr" "$srv${srv:+ }$extra"
  done
}
f6_states() { echo "$(f6_state s1)/$(f6_state s2)"; }
kea_states() { echo "$(kea_ha_state 1)/$(kea_ha_state 2)"; }
transitions() { # LOG... -> "from>to xN, ..." of failover state changes
  grep -h "failover state" "$@" 2>/dev/null | sed -nE 's/.*from=([A-Z-]+) to=([A-Z-]+).*/\1>\2/p' |
    sort | uniq -c | awk '{ printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1 }'
}

# --- the run ------------------------------------------------------------------------------
printf '%-10s %8s %12s %8s %10s %10s  %s\n' product offered "exchanges/s" "drops%" "SA avg ms" "RR avg ms" "failover6: mean time in the server; states after the step"
SUMMARY=()
for product in $PRODUCTS; do
  case $product in
    f6-alone)
      f6_start s1 alone
      wait_until "failover6 to start" 60 f6_alone_up
      sweep "$product"
      stop_all
      ;;
    f6-pair)
      f6_start s1 primary
      f6_start s2 secondary
      wait_until "the failover6 pair in NORMAL" 120 f6_both_normal
      sweep "$product" f6_states
      t0=$(date +%s)
      wait_until "the BNDUPD queues to drain" 300 f6_drained || true
      drain=$(($(date +%s) - t0))
      f6_active_list s1
      f6_active_list s2
      read -r n1 n2 o1 o2 < <(compare "$work/s1.active" "$work/s2.active")
      SUMMARY+=("failover6 pair: $REPLIES Replies in the sweep; primary $n1 ACTIVE, secondary $n2 ACTIVE; only on primary $o1, only on secondary $o2 (drained ${drain}s after the sweep; states $(f6_states))")
      SUMMARY+=("failover6 pair state changes (start-up included): primary: $(transitions "$work/s1-primary.log"); secondary: $(transitions "$work/s2-secondary.log")")
      stop_all
      ;;
    kea-ha)
      kea_start 1 ha
      kea_start 2 ha
      wait_until "Kea HA in hot-standby" 120 kea_both_standby
      sweep "$product" kea_states
      sleep 10
      kea_active_list ha 1
      kea_active_list ha 2
      read -r n1 n2 o1 o2 < <(compare "$work/kea-ha-s1.active" "$work/kea-ha-s2.active")
      SUMMARY+=("Kea HA hot-standby: $REPLIES Replies in the sweep; primary $n1 leases, standby $n2; only on primary $o1, only on standby $o2 (10s after the sweep; states $(kea_states))")
      stop_all
      ;;
    kea-alone)
      kea_start 1 alone
      sleep 3
      sweep "$product"
      stop_all
      ;;
    *) echo "pair-perfdhcp: unknown product $product" >&2; exit 2 ;;
  esac
done

# Best rate under 1% drops, and the latency ratio failover on / off.
echo
for product in $PRODUCTS; do
  best=0
  for rate in $RATES; do
    read -r got drops _ _ <<<"${RESULT["$product $rate"]}"
    if awk -v d="$drops" 'BEGIN { exit !(d < 1) }' && [ "$got" -gt "$best" ]; then best=$got; fi
  done
  echo "$product: best rate under 1% drops: $best exchanges/s"
done
if [[ " $PRODUCTS " == *" f6-alone "* && " $PRODUCTS " == *" f6-pair "* ]]; then
  for rate in $RATES; do
    read -r _ d1 sa1 rr1 <<<"${RESULT["f6-alone $rate"]}"
    read -r _ d2 sa2 rr2 <<<"${RESULT["f6-pair $rate"]}"
    awk -v r="$rate" -v a="$sa1" -v b="$rr1" -v c="$sa2" -v d="$rr2" -v x="$d1" -v y="$d2" 'BEGIN {
      if (a + b > 0) printf "latency failover on/off at %s/s: %.2f (SA+RR %.3f / %.3f ms; drops %s%% / %s%%)\n", r, (c + d) / (a + b), c + d, a + b, y, x }'
    awk -v r="$rate" -v on="${SERVER_MS["f6-pair $rate"]:-}" -v off="${SERVER_MS["f6-alone $rate"]:-}" 'BEGIN {
      split(on, a, " "); split(off, b, " ")
      if (b[1] + b[2] > 0) printf "  in the server (Advertise + Reply) at %s/s: %.3f / %.3f ms, ratio %.2f (Advertise %.3f / %.3f, Reply %.3f / %.3f)\n", r, a[1] + a[2], b[1] + b[2], (a[1] + a[2]) / (b[1] + b[2]), a[1], b[1], a[2], b[2] }'
  done
fi
for line in "${SUMMARY[@]}"; do echo "$line"; done
echo "failover6: MCLT ${MCLT}s, SQLite WAL; Kea $(kea-dhcp6 -v): memfile persist=true, MT 2 threads, HA hot-standby with dedicated listener"
echo "machine: $(nproc) CPUs, $(uname -r); ${DURATION}s per step; perfdhcp multicast from the sw namespace"
