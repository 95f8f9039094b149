#!/usr/bin/env bash
# Network-namespace helpers for the failover6 system tests and benchmarks (root only).
#
# Source it (`. bench/lib/netns.sh`) for the functions, or run it:
#   bash bench/lib/netns.sh up-pair PREFIX [CLIENTS]   build the pair topology below
#   bash bench/lib/netns.sh down PREFIX                stop what runs in PREFIX* namespaces, delete them
#   bash bench/lib/netns.sh list PREFIX                the namespaces of PREFIX
#
# The pair topology (every address a ULA inside these namespaces; nothing touches the host's
# own network namespace except creating and deleting namespaces):
#
#   ${PREFIX}sw   switch + load generator: bridge br0 (the client LAN; multicast snooping
#                 off so ff02::1:2 reaches every port) and bridge br1 (the partner link);
#                 perfdhcp and the capture (`dumpcap -i br0 -i br1`) run here
#   ${PREFIX}s1   server 1 (primary): lan0 on br0 (port p-s1), fo0 on br1 (port p-f1),
#                 lan0 = fd00:f6::1/64, fo0 = fd00:f6:f0::1/64
#   ${PREFIX}s2   server 2 (secondary): lan0 on br0 (p-s2), fo0 on br1 (p-f2),
#                 lan0 = fd00:f6::2/64, fo0 = fd00:f6:f0::2/64
#   ${PREFIX}cN   dhclient client N (N = 1..CLIENTS): eth0 on br0 (p-cN)
#
# Cut the partner link with `ip -n ${PREFIX}sw link set p-f2 down` (the secondary's veth; the
# servers keep their addresses) and heal it with `... up`; the capture on br1 goes on.
#
# Every function names a namespace by its short name (sw, s1, ...); NETNS_PREFIX makes it
# unique. Duplicate address detection is off in every namespace so addresses work at once.

NETNS_PREFIX=${NETNS_PREFIX:-f6n$$-}
NETNS_PIDS=()

# netns_name SHORT: the full namespace name.
netns_name() { printf '%s%s' "$NETNS_PREFIX" "$1"; }

# netns_add SHORT: create a namespace with lo up and DAD off.
netns_add() {
  local ns
  ns=$(netns_name "$1")
  ip netns add "$ns" || return 1
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
    net.ipv6.conf.all.keep_addr_on_down=1 net.ipv6.conf.default.keep_addr_on_down=1 \
    net.ipv6.conf.all.forwarding=0 >/dev/null
  ip -n "$ns" link set lo up
}

# netns_veth A IFA B IFB: a veth pair A:IFA <-> B:IFB, both up.
netns_veth() {
  local a b
  a=$(netns_name "$1")
  b=$(netns_name "$3")
  ip -n "$a" link add "$2" type veth peer name "$4" netns "$b" || return 1
  ip -n "$a" link set "$2" up
  ip -n "$b" link set "$4" up
}

# netns_bridge NS BR: a bridge that forwards at once and floods all multicast.
netns_bridge() {
  local ns
  ns=$(netns_name "$1")
  ip -n "$ns" link add "$2" type bridge forward_delay 0 stp_state 0 mcast_snooping 0 || return 1
  ip -n "$ns" link set "$2" up
}

# netns_port NS IF BRNS BR PORT: NS:IF joined to bridge BRNS:BR through the port PORT.
netns_port() {
  netns_veth "$1" "$2" "$3" "$5" || return 1
  ip -n "$(netns_name "$3")" link set "$5" master "$4"
}

# netns_addr NS IF CIDR: a static address, usable at once.
netns_addr() { ip -n "$(netns_name "$1")" addr add "$3" dev "$2" nodad; }

# netns_exec NS CMD...: run CMD in NS (foreground).
netns_exec() {
  local ns
  ns=$(netns_name "$1")
  shift
  ip netns exec "$ns" "$@"
}

# netns_bg NS LOG CMD...: run CMD in NS in the background, output to LOG; NETNS_LAST_PID is its id.
netns_bg() {
  local ns log
  ns=$(netns_name "$1")
  log=$2
  shift 2
  ip netns exec "$ns" "$@" >"$log" 2>&1 &
  NETNS_LAST_PID=$!
  NETNS_PIDS+=("$NETNS_LAST_PID")
}

# netns_stop PID [SECONDS]: SIGTERM, then SIGKILL after SECONDS (default 5).
netns_stop() {
  local pid=$1 wait=${2:-5} i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < wait * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

# netns_wait_ll NS IF [SECONDS]: wait until IF has a usable link-local address.
netns_wait_ll() {
  local ns i
  ns=$(netns_name "$1")
  for ((i = 0; i < ${3:-5} * 10; i++)); do
    if ip -n "$ns" -6 addr show dev "$2" scope link 2>/dev/null | grep -q 'inet6' &&
      ! ip -n "$ns" -6 addr show dev "$2" scope link | grep -q tentative; then
      return 0
    fi
    sleep 0.1
  done
  echo "netns: no link-local address on $ns:$2" >&2
  return 1
}

# netns_list [PREFIX]: the namespaces whose names start with PREFIX (default NETNS_PREFIX).
netns_list() {
  local p=${1:-$NETNS_PREFIX}
  [ ${#p} -ge 3 ] || { echo "netns: refusing the short prefix '$p'" >&2; return 1; }
  ip netns list 2>/dev/null | awk '{print $1}' | while read -r n; do
    [[ $n == "$p"* ]] && echo "$n"
  done
}

# netns_down [PREFIX]: stop the processes this shell started, then every process left in the
# PREFIX namespaces (by id, TERM then KILL), then delete the namespaces.
netns_down() {
  local p=${1:-$NETNS_PREFIX} pid ns left i
  for pid in "${NETNS_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for ns in $(netns_list "$p"); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null; done
  done
  for ((i = 0; i < 30; i++)); do
    left=0
    for ns in $(netns_list "$p"); do
      [ -n "$(ip netns pids "$ns" 2>/dev/null)" ] && left=1
    done
    [ $left = 0 ] && break
    sleep 0.1
  done
  for ns in $(netns_list "$p"); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
  done
  for pid in "${NETNS_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  NETNS_PIDS=()
  for ns in $(netns_list "$p"); do ip netns del "$ns" 2>/dev/null; done
  return 0
}

# netns_trap: clean up on exit or interrupt.
netns_trap() {
  trap 'netns_down' EXIT
  trap 'exit 130' INT TERM
}

# netns_pair_up [CLIENTS]: the pair topology described at the top of this file.
netns_pair_up() {
  local n=${1:-0} i
  netns_add sw && netns_add s1 && netns_add s2 || return 1
  netns_bridge sw br0 && netns_bridge sw br1 || return 1
  netns_port s1 lan0 sw br0 p-s1 && netns_port s2 lan0 sw br0 p-s2 || return 1
  netns_port s1 fo0 sw br1 p-f1 && netns_port s2 fo0 sw br1 p-f2 || return 1
  netns_addr s1 fo0 fd00:f6:f0::1/64 && netns_addr s2 fo0 fd00:f6:f0::2/64 || return 1
  netns_addr s1 lan0 fd00:f6::1/64 && netns_addr s2 lan0 fd00:f6::2/64 || return 1
  netns_addr sw br0 fd00:f6::ff/64 || return 1
  for ((i = 1; i <= n; i++)); do
    netns_add "c$i" && netns_port "c$i" eth0 sw br0 "p-c$i" || return 1
  done
  netns_wait_ll sw br0 && netns_wait_ll sw br1 && netns_wait_ll s1 lan0 && netns_wait_ll s2 lan0 || return 1
  for ((i = 1; i <= n; i++)); do netns_wait_ll "c$i" eth0 || return 1; done
}

# Run as a script: subcommands.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -u
  if [ "$(id -u)" != 0 ]; then
    echo "netns.sh: needs root" >&2
    exit 2
  fi
  case "${1:-}" in
    up-pair)
      [ -n "${2:-}" ] || { echo "usage: netns.sh up-pair PREFIX [CLIENTS]" >&2; exit 2; }
      NETNS_PREFIX=$2
      if ! netns_pair_up "${3:-0}"; then
        netns_down "$2"
        exit 1
      fi
      ;;
    down)
      [ -n "${2:-}" ] || { echo "usage: netns.sh down PREFIX" >&2; exit 2; }
      NETNS_PREFIX=$2
      netns_down "$2"
      ;;
    list)
      [ -n "${2:-}" ] || { echo "usage: netns.sh list PREFIX" >&2; exit 2; }
      netns_list "$2"
      ;;
    *)
      echo "usage: netns.sh up-pair PREFIX [CLIENTS] | down PREFIX | list PREFIX" >&2
      exit 2
      ;;
  esac
fi
