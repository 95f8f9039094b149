#!/usr/bin/env bash
# perfdhcp report parsing for the failover6 benchmarks (bench/serve-perfdhcp.sh,
# bench/pair-perfdhcp.sh). Source it (`. bench/lib/perfdhcp.sh`) for the function.
#
# perfdhcp_summary FILE [RATE-FORMAT]
#   Reads a `perfdhcp -6` report and prints one line:
#     "rate drops% sa_avg_ms rr_avg_ms rr_received"
#   rate: the `Rate:` figure, printed with RATE-FORMAT (an awk printf format, default %s);
#   drops%: exchanges started (SOLICIT-ADVERTISE sent) and not completed (REQUEST-REPLY
#   received), 100 when nothing was sent; the averages are the `avg delay:` lines of the
#   SOLICIT-ADVERTISE and REQUEST-REPLY sections.
#   The report lines it reads (perfdhcp's own format):
#     Rate: 1998.5 4-way exchanges/second, expected rate: 2000
#     ***Statistics for: SOLICIT-ADVERTISE***
#     sent packets: 20000
#     received packets: 19990
#     avg delay: 0.412 ms
#     ***Statistics for: REQUEST-REPLY***
#     ...
#   Check: `. bench/lib/perfdhcp.sh; perfdhcp_summary bench/lib/perfdhcp-sample.txt` prints
#   "1998.53 0.10 0.412 0.977 19980" (with '%.0f': "1999 0.10 ...").
perfdhcp_summary() {
  awk -v ratefmt="${2:-%s}" '
    /^Rate:/ { rate = $2 }
    /Statistics for: SOLICIT-ADVERTISE/ { sec = "sa" }
    /Statistics for: REQUEST-REPLY/ { sec = "rr" }
    /^sent packets:/ { sent[sec] = $3 }
    /^received packets:/ { recv[sec] = $3 }
    /^avg delay:/ { avg[sec] = $3 }
    END {
      drops = sent["sa"] > 0 ? 100 * (sent["sa"] - recv["rr"]) / sent["sa"] : 100
      printf ratefmt " %.2f %s %s %d\n", rate, drops, avg["sa"], avg["rr"], recv["rr"]
    }' "$1"
}
