#!/usr/bin/env node
// Test vectors from npm's socket.io-msgpack-parser (the MessagePack Socket.IO codec).
//
//   node msgpack-vectors.js encode   prints one JSON line per vector, encoded by the
//                                    reference encoder
//   node msgpack-vectors.js decode   reads JSON lines on stdin, decodes each frame with the
//                                    reference decoder, re-encodes it, prints the result
//
// Line format: {"name", "frame": "<base64>", "packet", "canonical"} where `packet` is the
// decoded packet as {"type", "nsp", "id"?, "data"?} with every byte buffer as
// {"$binary": "<base64>"}, and `canonical` says whether the frame is written the way
// Halyard writes it (keys type, nsp, data, id; no `undefined`; no other keys), so that a
// re-encoding must give the same bytes.
// decode prints {"name", "ok": true, "frame", "packet"} or {"name", "ok": false, "error"}.
"use strict";

const readline = require("readline");
const parser = require("socket.io-msgpack-parser");

const isBinary = (v) =>
  Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v);

const toBuffer = (v) => {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
};

// Replaces every byte buffer by {"$binary": "<base64>"}; everything else as JSON would see it.
function mapBinary(value) {
  if (isBinary(value)) return { $binary: toBuffer(value).toString("base64") };
  if (Array.isArray(value)) return value.map(mapBinary);
  if (value !== null && typeof value === "object") {
    const out = {};
    for (const key of Object.keys(value)) out[key] = mapBinary(value[key]);
    return out;
  }
  return value;
}

function canonical(packet) {
  const out = { type: packet.type, nsp: packet.nsp };
  if (packet.id !== undefined) out.id = packet.id;
  if (packet.data !== undefined) out.data = mapBinary(packet.data);
  return out;
}

function encode(packet) {
  const frames = new parser.Encoder().encode(packet);
  if (frames.length !== 1) throw new Error(`${frames.length} frames, not 1`);
  return frames[0];
}

function decode(frame) {
  const decoder = new parser.Decoder();
  const decoded = [];
  decoder.on("decoded", (p) => decoded.push(p));
  decoder.add(frame);
  if (decoded.length !== 1) throw new Error(`${decoded.length} packets, not 1`);
  return decoded[0];
}

// ---------------------------------------------------------------------------------------
// Vectors: packets as socket.io builds them, in Halyard's key order unless marked.
// No integral number of 2^64 or more: notepack.io writes those (1e21, 1e300) as a wrapped
// uint 64 (its own bug); Halyard writes them as float 64.

const big = {};
for (let i = 0; i < 20; i++) big[`k${i}`] = i * 1000;

const vectors = [
  ["connect main", { type: 0, nsp: "/" }],
  ["connect with auth", { type: 0, nsp: "/admin", data: { token: "abc", n: 1 } }],
  ["connect answer", { type: 0, nsp: "/", data: { sid: "oSO0OpakMV_3jnilAAAA", pid: "p" } }],
  ["disconnect", { type: 1, nsp: "/chat" }],
  ["event", { type: 2, nsp: "/", data: ["message", { text: "hi" }] }],
  [
    "event with ack and every scalar",
    {
      type: 2,
      nsp: "/chat",
      data: [
        "ask", 0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296,
        Number.MAX_SAFE_INTEGER, -1, -32, -33, -128, -129, -32768, -32769,
        -2147483648, -2147483649, Number.MIN_SAFE_INTEGER, 1e19, 1.5, 0.1, -2.5e-300,
        5e-324, true, false, null, "", "é🎉\u2028\"\\\n\u0001", "x".repeat(31),
        "x".repeat(32), "y".repeat(300), "z".repeat(70000),
      ],
      id: 42,
    },
  ],
  [
    "event with buffers",
    {
      type: 2,
      nsp: "/",
      data: [
        "upload",
        Buffer.from([1, 2, 3]),
        { nested: [Buffer.alloc(0), Buffer.alloc(300, 7)], n: 1 },
        Buffer.alloc(70000, 9),
      ],
      id: 4294967296,
    },
  ],
  ["event with a 20-element array and a 20-key map",
    { type: 2, nsp: "/", data: ["bulk", Array.from({ length: 20 }, (_, i) => i), big] }],
  ["numeric event name", { type: 2, nsp: "/", data: [7, "x"] }],
  ["ack without arguments", { type: 3, nsp: "/", data: [], id: 0 }],
  ["ack with a buffer", { type: 3, nsp: "/files", data: [null, Buffer.from("ok")], id: 9 }],
  [
    "connect_error object",
    { type: 4, nsp: "/", data: { message: "Not authorized", data: { code: 1 } } },
  ],
  ["connect_error string", { type: 4, nsp: "/admin", data: "Invalid namespace" }],
  // Not Halyard's form: decoded to the same packet, but re-encoded differently.
  [
    "socket.io-client key order with options",
    { type: 2, data: ["e", 1], options: { compress: true }, id: 3, nsp: "/" },
    false,
  ],
  ["undefined arguments and fields",
    { type: 2, nsp: "/", data: ["e", undefined, { a: undefined, b: 1 }], id: undefined }, false],
];

function encodeMode() {
  for (const [name, packet, isCanonical = true] of vectors) {
    const frame = encode(packet);
    const line = {
      name,
      frame: frame.toString("base64"),
      packet: canonical(decode(frame)),
      canonical: isCanonical,
    };
    process.stdout.write(JSON.stringify(line) + "\n");
  }
}

async function decodeMode() {
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const text of lines) {
    if (!text.trim()) continue;
    const { name, frame } = JSON.parse(text);
    let out;
    try {
      const packet = decode(Buffer.from(frame, "base64"));
      out = {
        name,
        ok: true,
        frame: encode(packet).toString("base64"),
        packet: canonical(packet),
      };
    } catch (e) {
      out = { name, ok: false, error: String(e && e.message ? e.message : e) };
    }
    process.stdout.write(JSON.stringify(out) + "\n");
  }
}

const mode = process.argv[2];
if (mode === "encode") encodeMode();
else if (mode === "decode") decodeMode();
else {
  process.stderr.write("usage: node msgpack-vectors.js encode|decode\n");
  process.exit(2);
}
