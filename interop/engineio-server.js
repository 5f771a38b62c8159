#!/usr/bin/env node
// An echo server on npm's engine.io 6.6 (the server our raw Engine.IO client is tested
// against): every message comes back as it was sent; the text "close" makes the server
// close the connection.
//
//   node interop/engineio-server.js [--port N] [--transports polling,websocket] [--tls]
//
// Prints `listening <port>` once listening (port 0: any free port) and exits when stdin
// closes. With --tls it serves HTTPS with the test certificate in interop/tls/
// (self-signed for 127.0.0.1 and localhost).
"use strict";

const fs = require("fs");
const path = require("path");
const http = require("http");
const https = require("https");
const { attach } = require("engine.io");

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const port = Number(option("--port", "0"));
const transports = option("--transports", "polling,websocket").split(",");
const tls = args.includes("--tls");

const server = tls
  ? https.createServer({
      cert: fs.readFileSync(path.join(__dirname, "tls", "cert.pem")),
      key: fs.readFileSync(path.join(__dirname, "tls", "key.pem")),
    })
  : http.createServer();
const engine = attach(server, { transports, pingInterval: 1000, pingTimeout: 2000 });
engine.on("connection", (socket) => {
  socket.on("message", (data) => {
    if (data === "close") socket.close();
    else socket.send(data);
  });
});
server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
