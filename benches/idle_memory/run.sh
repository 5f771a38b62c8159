#!/usr/bin/env bash
# Server memory per idle WebSocket connection: builds the servers and the load tool in
# release, then runs the measurement (see benches/README.md, "Idle memory per WebSocket
# connection"). Arguments go to the tool, for example:
#
#   benches/idle_memory/run.sh                                   # 2000 and 5000, 3 runs, 6 servers
#   benches/idle_memory/run.sh --connections 1000 --runs 1 --servers halyard-tokio-sio
#
# A measurement, not a test: neither test.sh nor CI runs it. Loopback only; every server
# it starts is killed at the end of its run.
set -euo pipefail
cd "$(dirname "$0")/../.."

# Each side holds one descriptor per connection (the tool raises its soft limit to the
# hard one too; the servers it starts inherit it).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# The Halyard servers (idle_memory/server.rs: the same one-handler echo app as
# node_server.js, on tokio or smol) and the load tool.
cargo build --release --quiet -p halyard-benches --bin idle_memory --bin idle_memory_server
if [ ! -d interop/node_modules/socket.io ]; then
  npm ci --prefix interop --no-audit --no-fund --loglevel=error
fi
exec target/release/idle_memory "$@"
