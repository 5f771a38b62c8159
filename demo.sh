#!/usr/bin/env bash
# The chat demo: installs socket.io-client's browser bundle from npm (once), then runs the
# chat example. Open http://localhost:3000 in two tabs.
#
#   ./demo.sh                       # http://localhost:3000, this machine only
#   PORT=8080 ./demo.sh             # another port
#   HOST=0.0.0.0 ./demo.sh          # reachable from other machines too
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -f interop/node_modules/socket.io-client/dist/socket.io.js ]; then
  npm ci --prefix interop --no-audit --no-fund --loglevel=error
fi
exec cargo run --release -p halyard-tokio --example chat
