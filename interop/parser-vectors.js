#!/usr/bin/env node
// Test vectors from the reference parsers (socket.io-parser, engine.io-parser).
//
//   node parser-vectors.js encode   prints one JSON line per vector, encoded by the
//                                   reference encoders
//   node parser-vectors.js decode   reads JSON lines on stdin, decodes each with the
//                                   reference decoders, re-encodes it, prints the result
//
// Line format: {"name", "layer", "frames", "packet"} where
//   layer  "socketio": frames are the Socket.IO packet text (no Engine.IO "4") then its
//                      binary attachments;
//          "engineio": one frame, as on a WebSocket (text, or binary for a binary message);
//          "payload":  one text frame, a long-polling body;
//   frames [{"text": "..."} | {"binary": "<base64>"}, ...];
//   packet the canonical description of the decoded packet (see `canonical*` below).
// decode prints {"name", "ok": true, "frames", "packet"} or {"name", "ok": false, "error"}.
"use strict";

const readline = require("readline");
const sio = require("socket.io-parser");
const eio = require("engine.io-parser");

// ---------------------------------------------------------------------------------------
// Canonical descriptions, comparable from Rust

const isBinary = (v) =>
  Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v);

const toBuffer = (v) => {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
};

const b64 = (v) => toBuffer(v).toString("base64");

// Replaces every byte buffer by {"$binary": "<base64>"}; everything else as JSON would see it.
function mapBinary(value) {
  if (isBinary(value)) return { $binary: b64(value) };
  if (Array.isArray(value)) return value.map(mapBinary);
  if (value !== null && typeof value === "object") {
    const out = {};
    for (const key of Object.keys(value)) out[key] = mapBinary(value[key]);
    return out;
  }
  return value;
}

// A decoded Socket.IO packet: {"type", "nsp", "id"?, "data"?}, type 2/3 for binary
// events/acks too (the reference decoder reports them so once reassembled).
function canonicalSocketIo(packet) {
  const out = { type: packet.type, nsp: packet.nsp };
  if (packet.id !== undefined) out.id = packet.id;
  if (packet.data !== undefined) out.data = mapBinary(packet.data);
  return out;
}

// A decoded Engine.IO packet: {"type": "open"|"close"|..., "data"?}; the open packet's
// handshake JSON is parsed, a binary message's data is {"$binary": "<base64>"}.
function canonicalEngineIo(packet) {
  const out = { type: packet.type };
  if (packet.data !== undefined) {
    let data = packet.data;
    if (packet.type === "open" && typeof data === "string") {
      try {
        data = JSON.parse(data);
      } catch (_) {
        // keep the raw text
      }
    }
    out.data = mapBinary(data);
  }
  return out;
}

const frameOf = (f) => (typeof f === "string" ? { text: f } : { binary: b64(f) });

const frameValue = (f) => {
  if (typeof f.text === "string") return f.text;
  if (typeof f.binary === "string") return Buffer.from(f.binary, "base64");
  throw new Error("a frame is {\"text\": ...} or {\"binary\": \"<base64>\"}");
};

// ---------------------------------------------------------------------------------------
// Reference round trips

function sioEncode(packet) {
  return new sio.Encoder().encode(packet);
}

function sioDecode(frames) {
  const decoder = new sio.Decoder();
  const decoded = [];
  decoder.on("decoded", (p) => decoded.push(p));
  for (const f of frames) decoder.add(f);
  if (decoder.reconstructor) {
    throw new Error("the packet still waits for binary attachments");
  }
  if (decoded.length !== 1) {
    throw new Error(`the frames decoded to ${decoded.length} packets, not 1`);
  }
  return decoded[0];
}

function eioEncode(packet) {
  let out;
  eio.encodePacket(packet, true, (encoded) => (out = encoded));
  return out;
}

function eioDecode(frame) {
  const packet = eio.decodePacket(frame);
  if (packet.type === "error") throw new Error(`engine.io-parser: ${packet.data}`);
  return packet;
}

function payloadEncode(packets) {
  let out;
  eio.encodePayload(packets, (encoded) => (out = encoded));
  return out;
}

function payloadDecode(body) {
  const packets = eio.decodePayload(body);
  if (packets.some((p) => p.type === "error")) throw new Error("engine.io-parser: parser error");
  return packets;
}

const LAYERS = {
  socketio: {
    encode: sioEncode,
    // Decodes, describes, then re-encodes (the encoder rewrites the packet's data, so
    // the description comes first).
    roundTrip(frames) {
      const packet = sioDecode(frames);
      const canonical = canonicalSocketIo(packet);
      return { canonical, frames: sioEncode(packet) };
    },
  },
  engineio: {
    encode: (packet) => [eioEncode(packet)],
    roundTrip(frames) {
      if (frames.length !== 1) throw new Error("an Engine.IO packet is one frame");
      const packet = eioDecode(frames[0]);
      return { canonical: canonicalEngineIo(packet), frames: [eioEncode(packet)] };
    },
  },
  payload: {
    encode: (packets) => [payloadEncode(packets)],
    roundTrip(frames) {
      if (frames.length !== 1 || typeof frames[0] !== "string") {
        throw new Error("a polling payload is one text frame");
      }
      const packets = payloadDecode(frames[0]);
      return { canonical: packets.map(canonicalEngineIo), frames: [payloadEncode(packets)] };
    },
  },
};

// ---------------------------------------------------------------------------------------
// The vectors

const bytes = (...b) => Buffer.from(b);
const range = (n) => Buffer.from(Array.from({ length: n }, (_, i) => i % 256));
const B1234 = bytes(1, 2, 3, 4);

const OPEN = JSON.stringify({
  sid: "lv_VI97HAXpY6yYWAAAC",
  upgrades: ["websocket"],
  pingInterval: 25000,
  pingTimeout: 20000,
  maxPayload: 1000000,
});

function vectors() {
  const v = [];
  const s = (name, packet) => v.push({ name: `sio/${name}`, layer: "socketio", input: packet });
  const e = (name, packet) => v.push({ name: `eio/${name}`, layer: "engineio", input: packet });
  const p = (name, packets) => v.push({ name: `payload/${name}`, layer: "payload", input: packets });

  // PROTOCOL.md's examples, in order.
  s("md-connect", { type: 0, nsp: "/" });
  s("md-connect-admin-token", { type: 0, nsp: "/admin", data: { token: "123" } });
  s("md-connect-admin-sid", { type: 0, nsp: "/admin", data: { sid: "oSO0OpakMV_3jnilAAAA" } });
  s("md-connect-error-random", { type: 4, nsp: "/random", data: { message: "Invalid namespace" } });
  s("md-event-foo", { type: 2, nsp: "/", data: ["foo"] });
  s("md-event-admin-bar", { type: 2, nsp: "/admin", data: ["bar"] });
  s("md-event-ack-12", { type: 2, nsp: "/", id: 12, data: ["foo"] });
  s("md-ack-admin-13", { type: 3, nsp: "/admin", id: 13, data: ["bar"] });
  s("md-disconnect-admin", { type: 1, nsp: "/admin" });
  s("md-binary-event-baz", { type: 2, nsp: "/", data: ["baz", B1234] });
  s("md-binary-ack-15", { type: 3, nsp: "/", id: 15, data: ["bar", B1234] });

  // Connect, disconnect, connect error.
  s("connect-auth-main", { type: 0, nsp: "/", data: { token: "abc", n: 1, nested: { ok: true } } });
  s("connect-empty-auth", { type: 0, nsp: "/custom", data: {} });
  s("connect-sid-pid", { type: 0, nsp: "/", data: { sid: "a-B_c", pid: "p-Q_r" } });
  s("connect-recovery", { type: 0, nsp: "/", data: { pid: "p1", offset: "MzQ1", token: "t" } });
  s("disconnect-main", { type: 1, nsp: "/" });
  s("connect-error-with-data", {
    type: 4,
    nsp: "/",
    data: { message: "Not authorized", data: { content: "Please retry later", code: 401 } },
  });
  s("connect-error-string", { type: 4, nsp: "/admin", data: "some error" });

  // Events and acks: names, unicode, escapes, nesting, several arguments, ids.
  s("event-name-only-nsp-ack", { type: 2, nsp: "/chat", id: 1, data: ["ping"] });
  s("event-unicode", {
    type: 2,
    nsp: "/",
    data: ["héllo wörld ✓ 💥", "日本語", "emoji 🎉🏳️‍🌈", "\u00e9\u0301", "\u2028\u2029", "\ufeff"],
  });
  s("event-escapes", {
    type: 2,
    nsp: "/",
    data: [
      'quote " backslash \\ slash /',
      "ctl \n\t\r\b\f \u0000 \u0001 \u001f \u007f \u0080",
      "<script>&amp;</script>",
      "",
    ],
  });
  s("event-escaped-name", { type: 2, nsp: "/", data: ['na"me\\\n\u0000é', 1] });
  s("event-unicode-nsp", { type: 2, nsp: "/ünï-cødé", id: 3, data: ["x"] });
  s("event-nested", {
    type: 2,
    nsp: "/",
    data: ["nested", { a: { b: { c: [1, 2, { d: null }] } }, e: true, f: false }, [[], [[]], {}], null],
  });
  s("event-multi-args", { type: 2, nsp: "/", data: ["multi", 1, "two", { three: 3 }, [4], true, false, null] });
  s("event-numbers", {
    type: 2,
    nsp: "/",
    data: [
      "numbers", 0, -0, 1, -1, 42, -42, 1.5, -2.25, 0.1, 0.30000000000000004, 1e21, 1e-7, 1.5e-10,
      123456789.123, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53, 5e-324, 1.7976931348623157e308,
      1e20, 1.5e300, -1e-300, NaN, Infinity, -Infinity,
    ],
  });
  s("event-numeric-name", { type: 2, nsp: "/", data: [42, "x"] });
  s("event-object-key-order", { type: 2, nsp: "/", data: ["keys", { b: 1, 2: 2, 1: 1, a: 0, "": "" }] });
  s("event-long-string", { type: 2, nsp: "/", data: ["long", "x".repeat(10000) + "é".repeat(1000)] });
  s("event-placeholder-lookalike", {
    type: 2,
    nsp: "/",
    data: ["fake", { _placeholder: true, num: 0 }, { _placeholder: false, num: 9 }],
  });
  s("ack-empty", { type: 3, nsp: "/", id: 1, data: [] });
  s("ack-id-zero", { type: 3, nsp: "/", id: 0, data: ["zero"] });
  s("ack-multi-nsp", { type: 3, nsp: "/admin", id: 77, data: [null, { ok: true }, "done"] });
  s("event-big-ack-id-2^32", { type: 2, nsp: "/", id: 4294967296, data: ["big"] });
  s("ack-max-safe-id", { type: 3, nsp: "/big", id: 2 ** 53 - 1, data: ["max"] });

  // Binary attachments: depth-first numbering, objects inside arrays, several, empty.
  s("binary-deep", {
    type: 2,
    nsp: "/",
    data: [
      "upload",
      {
        files: [
          { name: "a.bin", data: bytes(1, 2) },
          { name: "empty", data: Buffer.alloc(0) },
        ],
        meta: { thumb: bytes(255), sizes: [2, 0] },
      },
      [range(256), [bytes(9, 8, 7)]],
      "tail",
    ],
  });
  s("binary-ack-nsp-deep", { type: 3, nsp: "/admin", id: 7, data: [bytes(0), { x: { y: [bytes(1, 1)] } }] });
  s("binary-event-nsp-ack", { type: 2, nsp: "/files", id: 99, data: ["chunk", range(1000)] });
  s("binary-ten", {
    type: 2,
    nsp: "/",
    data: ["ten", ...Array.from({ length: 10 }, (_, i) => bytes(i))],
  });
  s("binary-same-buffer-twice", { type: 2, nsp: "/", data: ["twice", B1234, B1234] });
  s("binary-arraybuffer-uint8array", {
    type: 2,
    nsp: "/",
    data: ["views", new Uint8Array([5, 6, 7]).buffer, new Uint8Array([8, 9])],
  });
  s("binary-unicode-name", { type: 2, nsp: "/ü", data: ["fïlé 💾", { blob: bytes(0xde, 0xad, 0xbe, 0xef) }] });

  // Engine.IO packets, one WebSocket frame each.
  e("open", { type: "open", data: OPEN });
  e("open-websocket", {
    type: "open",
    data: JSON.stringify({ sid: "ws-sid", upgrades: [], pingInterval: 300, pingTimeout: 200, maxPayload: 100 }),
  });
  e("close", { type: "close" });
  e("ping", { type: "ping" });
  e("pong", { type: "pong" });
  e("ping-probe", { type: "ping", data: "probe" });
  e("pong-probe", { type: "pong", data: "probe" });
  e("message", { type: "message", data: "hello" });
  e("message-empty", { type: "message", data: "" });
  e("message-unicode", { type: "message", data: "héllo 💥 \u0000 \u001e" });
  e("message-socketio", { type: "message", data: '2/admin,12["foo",{"a":1}]' });
  e("binary", { type: "message", data: B1234 });
  e("binary-empty", { type: "message", data: Buffer.alloc(0) });
  e("binary-all-bytes", { type: "message", data: range(256) });
  e("upgrade", { type: "upgrade" });
  e("noop", { type: "noop" });

  // Long-polling payloads.
  p("md-text", [
    { type: "message", data: "hello" },
    { type: "ping" },
    { type: "message", data: "world" },
  ]);
  p("md-binary", [{ type: "message", data: B1234 }]);
  p("open", [{ type: "open", data: OPEN }]);
  p("noop", [{ type: "noop" }]);
  p("close", [{ type: "close" }]);
  p("mixed-socketio-binary", [
    { type: "message", data: '451-["baz",{"_placeholder":true,"num":0}]' },
    { type: "message", data: B1234 },
    { type: "message", data: '42["x"]' },
    { type: "ping" },
    { type: "message", data: bytes(1) },
    { type: "message", data: bytes(1, 2) },
    { type: "message", data: bytes(1, 2, 3) },
    { type: "message", data: Buffer.alloc(0) },
    { type: "pong", data: "probe" },
    { type: "close" },
  ]);
  p("unicode-and-all-bytes", [
    { type: "message", data: "héllo 💥" },
    { type: "message", data: range(256) },
    { type: "message", data: "" },
    { type: "upgrade" },
  ]);
  return v;
}

// ---------------------------------------------------------------------------------------
// Modes

const print = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

function encodeMode() {
  for (const { name, layer, input } of vectors()) {
    const frames = LAYERS[layer].encode(input);
    // Describe what the reference decoder makes of the reference encoding.
    const { canonical, frames: again } = LAYERS[layer].roundTrip(frames);
    const out = frames.map(frameOf);
    if (JSON.stringify(again.map(frameOf)) !== JSON.stringify(out)) {
      throw new Error(`${name}: the reference does not round-trip its own encoding`);
    }
    print({ name, layer, frames: out, packet: canonical });
  }
}

async function decodeMode() {
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === "") continue;
    let name = null;
    try {
      const vector = JSON.parse(line);
      name = vector.name;
      const layer = LAYERS[vector.layer];
      if (!layer) throw new Error(`unknown layer ${JSON.stringify(vector.layer)}`);
      const { canonical, frames } = layer.roundTrip(vector.frames.map(frameValue));
      print({ name, ok: true, frames: frames.map(frameOf), packet: canonical });
    } catch (err) {
      print({ name, ok: false, error: String(err && err.message ? err.message : err) });
    }
  }
}

const mode = process.argv[2];
if (mode === "encode") {
  encodeMode();
} else if (mode === "decode") {
  decodeMode().catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  console.error("usage: node parser-vectors.js encode|decode");
  process.exit(2);
}
