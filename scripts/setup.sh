#!/usr/bin/env bash
# Set up netnb on a Debian machine: the system tools labs use, and a virtual environment in .venv.
# Run as root (labs can also run rootless; see README). Safe to run again: it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=()
browser=0
tshark=0
pyodide=0
frr=0
services=0
for arg in "$@"; do
  case "$arg" in
    --test) extras+=(test) ;;                                   # what the test suite needs
    --notebook) extras+=(notebook) ;;                           # JupyterLab, to open the tutorials
    --browser) browser=1; extras+=(test notebook browser) ;;   # the widget's browser test: Chromium + JupyterLab
    --tshark) tshark=1 ;;                                      # pcaps are also read back by Wireshark's tshark
    --pyodide) pyodide=1 ;;                                    # Pyodide (npm) under Node: the simulation in Wasm
    --docs) pyodide=1; extras+=(docs) ;;                       # the documentation site and its JupyterLite
    --frr) frr=1 ;;                                            # FRR routing daemons, for RIP/OSPF/BGP labs
    --services) services=1 ;;                                  # DNS (bind9, dig) and radvd, for course labs
    *) echo "usage: $0 [--test] [--notebook] [--browser] [--tshark] [--pyodide] [--docs] [--frr] [--services]" >&2; exit 2 ;;
  esac
done

need=()
command -v iptables >/dev/null 2>&1 || need+=(iptables)
command -v ping >/dev/null 2>&1 || need+=(iputils-ping)
command -v tcpdump >/dev/null 2>&1 || need+=(tcpdump)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v traceroute >/dev/null 2>&1 || need+=(traceroute)        # what course labs run in their nodes
command -v nc >/dev/null 2>&1 || need+=(netcat-openbsd)
command -v conntrack >/dev/null 2>&1 || need+=(conntrack)
command -v ifconfig >/dev/null 2>&1 || need+=(net-tools)           # ifconfig/route, in older labs' startup files
command -v brctl >/dev/null 2>&1 || need+=(bridge-utils)
[ -e /usr/lib/x86_64-linux-gnu/libpcap.so.0.8 ] || [ -e /usr/lib/aarch64-linux-gnu/libpcap.so.0.8 ] || need+=(libpcap0.8)
[ "$browser" = 1 ] && { command -v chromium >/dev/null 2>&1 || need+=(chromium); }
[ "$tshark" = 1 ] && { command -v tshark >/dev/null 2>&1 || need+=(tshark); }
[ "$frr" = 1 ] && { [ -x /usr/lib/frr/frrinit.sh ] || need+=(frr); }
[ "$services" = 1 ] && { [ -x /etc/init.d/named ] || need+=(bind9); command -v dig >/dev/null 2>&1 || need+=(bind9-dnsutils)
                         [ -x /etc/init.d/radvd ] || need+=(radvd); }
[ "$pyodide" = 1 ] && { command -v node >/dev/null 2>&1 || need+=(nodejs); command -v npm >/dev/null 2>&1 || need+=(npm); }
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing ${need[*]}"
    apt-get update -qq
    # Packages with services (frr, bind9, radvd) must not start them on the machine: labs start them in
    # their nodes.
    guard=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      guard=/usr/sbin/policy-rc.d
      printf '#!/bin/sh\nexit 101\n' > "$guard" && chmod 755 "$guard"
    fi
    status=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || status=$?
    [ -z "$guard" ] || rm -f "$guard"
    [ "$status" = 0 ] || exit "$status"
  else
    echo "missing ${need[*]}: install them as root (apt-get install ${need[*]})" >&2
  fi
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
spec="."
if [ ${#extras[@]} -gt 0 ]; then
  spec=".[$(printf '%s\n' "${extras[@]}" | sort -u | paste -sd, -)]"
fi
echo "installing netnb into .venv: pip install -e '$spec' (a minute or two on a fresh machine)"
# pip's own progress: one line per package it collects, so a long first install is visibly alive.
# The whole log is kept in .venv/pip-install.log; a failing pip fails this script (pipefail).
.venv/bin/python -m pip install --disable-pip-version-check --progress-bar off -e "$spec" 2>&1 \
  | tee .venv/pip-install.log | { grep --line-buffered -E '^(Collecting|Successfully installed|ERROR)' || true; }
if [ "$pyodide" = 1 ]; then
  if [ ! -e .cache/pyodide/node_modules/pyodide/pyodide.mjs ]; then
    # Pyodide's core (the interpreter in WebAssembly, no extra packages) from npm, for tests/pyodide.
    echo "installing pyodide@314.0.6 (npm) into .cache/pyodide"
    npm install --silent --no-audit --no-fund --prefix .cache/pyodide pyodide@314.0.6
  fi
  # An offline distribution: the core plus the pure-Python wheels the browser needs (scapy, IPython...).
  .venv/bin/python scripts/pyodide_dist.py .cache/pyodide/node_modules/pyodide .cache/pyodide/dist
fi
echo "netnb is set up: .venv/bin/netnb doctor tells what this machine allows"
