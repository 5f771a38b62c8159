#!/usr/bin/env node
// Connects npm's engine.io-client to an Engine.IO echo server (a Halyard test server),
// sends text and binary messages and checks that each comes back unchanged.
//
//   node interop/engineio-client-echo.js http://127.0.0.1:PORT MODE
//
// MODE: "polling" (long-polling only), "websocket" (WebSocket only) or "upgrade"
// (polling first, then the upgrade to WebSocket; the echoes are checked after it).
// Exits 0 on success, 1 with a message on stderr otherwise (10 s at most).
"use strict";

const { Socket } = require("engine.io-client");

const [url, mode] = process.argv.slice(2);
const options = {
  polling: { transports: ["polling"], upgrade: false },
  websocket: { transports: ["websocket"] },
  upgrade: { transports: ["polling", "websocket"], upgrade: true },
}[mode];
if (!url || !options) {
  console.error("usage: engineio-client-echo.js URL polling|websocket|upgrade");
  process.exit(2);
}

const fail = (message) => {
  console.error(`engineio-client-echo (${mode}): ${message}`);
  process.exit(1);
};
const timer = setTimeout(() => fail("timed out"), 10000);

const expected = [
  "hello",
  "héllo wörld ✓ 🚀",
  "",
  Buffer.from([0, 1, 2, 253, 254, 255]),
  "x".repeat(10000),
  Buffer.alloc(5000, 7),
];

const same = (a, b) => {
  // engine.io-parser decodes an empty message ("4") as `undefined`.
  if (a === "" && b === undefined) return true;
  if (typeof a === "string") return a === b;
  if (typeof b === "string") return false;
  return Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
};
const show = (m) =>
  typeof m === "string"
    ? JSON.stringify(m.slice(0, 40))
    : m === undefined
      ? "undefined"
      : `<${m.byteLength} bytes>`;

const socket = new Socket(url, options);
let received = 0;
let sent = false;

const sendAll = () => {
  if (sent) return;
  sent = true;
  for (const message of expected) socket.send(message);
};

socket.on("open", () => {
  if (mode !== "upgrade") sendAll();
});
socket.on("upgrade", (transport) => {
  if (mode === "upgrade") {
    if (transport.name !== "websocket") fail(`upgraded to ${transport.name}`);
    sendAll();
  }
});
socket.on("message", (data) => {
  const want = expected[received];
  if (!same(want, data)) fail(`message ${received}: got ${show(data)}, want ${show(want)}`);
  received += 1;
  if (received === expected.length) {
    const transport = socket.transport.name;
    const wanted = mode === "polling" ? "polling" : "websocket";
    if (transport !== wanted) fail(`ended on ${transport}, want ${wanted}`);
    clearTimeout(timer);
    socket.on("close", () => {
      console.log(`engineio-client-echo (${mode}): ${received} echoes over ${transport}`);
      process.exit(0);
    });
    socket.close();
  }
});
socket.on("error", (err) => fail(`error: ${err && err.message ? err.message : err}`));
socket.on("close", (reason, details) => {
  if (received < expected.length) fail(`closed early: ${reason} ${details ? details.message || "" : ""}`);
});
