#!/usr/bin/env node
// Drives npm's socket.io-client 4.8 against a Halyard Socket.IO test server (the app of
// `halyard::test_support::socketio`), one scenario per run.
//
//   node interop/socketio-client-scenarios.js http://127.0.0.1:PORT MODE SCENARIO
//
// MODE: "polling" (long-polling only), "websocket" (WebSocket only) or "upgrade"
// (polling, then the upgrade to WebSocket; scenarios start once upgraded).
// SCENARIO: namespaces | middleware | binary | acks | rooms | disconnect | reconnect |
// server | recovery | listeners | sails | refused. Exits 0 on success, 1 with the failing check on stderr (15 s at most).
"use strict";

const { io, Manager } = require("socket.io-client");

const [url, mode, scenario] = process.argv.slice(2);
const transportOptions = {
  polling: { transports: ["polling"] },
  websocket: { transports: ["websocket"] },
  upgrade: { transports: ["polling", "websocket"], upgrade: true },
}[mode];
if (!url || !transportOptions || !scenario) {
  console.error("usage: socketio-client-scenarios.js URL polling|websocket|upgrade SCENARIO");
  process.exit(2);
}

const label = `socketio-client-scenarios (${scenario}, ${mode})`;
const fail = (message) => {
  console.error(`${label}: ${message}`);
  process.exit(1);
};
const timer = setTimeout(() => fail("timed out"), 15000);
const check = (ok, message) => {
  if (!ok) fail(message);
};
const same = (a, b, what) =>
  check(JSON.stringify(a) === JSON.stringify(b), `${what}: got ${JSON.stringify(a)}, want ${JSON.stringify(b)}`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/// The next `event` on `emitter` (its arguments as an array), at most `ms`.
const next = (emitter, event, ms = 5000) =>
  new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    emitter.once(event, (...args) => {
      clearTimeout(t);
      resolve(args);
    });
  });

/// Waits until the connection runs on the transport the mode ends on.
const settled = async (socket) => {
  const engine = socket.io.engine;
  if (mode === "upgrade" && engine.transport.name !== "websocket") {
    await next(engine, "upgrade");
  }
  const want = mode === "polling" ? "polling" : "websocket";
  check(engine.transport.name === want, `transport is ${engine.transport.name}, want ${want}`);
};

/// A connected socket of its own Manager.
const client = async (nsp = "/", options = {}) => {
  const socket = io(url + nsp, { forceNew: true, reconnectionDelay: 100, randomizationFactor: 0, ...transportOptions, ...options });
  await next(socket, "connect");
  await settled(socket);
  return socket;
};

/// Collects every `event` on `socket`.
const record = (socket, event) => {
  const got = [];
  socket.on(event, (...args) => got.push(args));
  return got;
};

const scenarios = {
  // Namespaces over one Manager: main, static with auth, dynamic, unknown.
  async namespaces() {
    const manager = new Manager(url, { reconnectionDelay: 100, ...transportOptions });
    const main = manager.socket("/");
    const welcomeMain = next(main, "welcome");
    await next(main, "connect");
    await settled(main);
    same((await welcomeMain)[0], "/", "welcome on /");
    const admin = manager.socket("/admin", { auth: { token: "secret", user: "ana" } });
    const [nsp, auth] = await next(admin, "welcome");
    same([nsp, auth], ["/admin", { token: "secret", user: "ana" }], "welcome on /admin");
    check(admin.connected && admin.id !== main.id, "a second socket with its own id");
    const dynamic = manager.socket("/dyn-42");
    same(await next(dynamic, "welcome"), ["/dyn-42"], "welcome on the dynamic namespace");
    const otherDynamic = manager.socket("/dyn-7");
    await next(otherDynamic, "welcome");
    const allDyn = [dynamic, otherDynamic].map((s) => next(s, "all-dyn"));
    await dynamic.emitWithAck("dyn-broadcast", "children");
    same((await Promise.all(allDyn)).map((args) => args[0]), ["children", "children"], "a broadcast on the dynamic parent");
    const unknown = manager.socket("/nope");
    const [err] = await next(unknown, "connect_error");
    same(err.message, "Invalid namespace", "unknown namespace");
    same(await admin.emitWithAck("sum", 1, 2), 3, "an ack on /admin");
    manager.engine.close();
  },

  // A middleware refuses with a message and data; the client does not retry.
  async middleware() {
    const socket = io(url + "/admin", { forceNew: true, auth: { token: "wrong" }, ...transportOptions });
    const [err] = await next(socket, "connect_error");
    same(err.message, "unauthorized", "refusal message");
    same(err.data, { code: 401, reason: "bad token" }, "refusal data");
    check(!socket.active, "a refused socket is not active");
    const ok = await client("/admin", { auth: { token: "secret" } });
    same(await ok.emitWithAck("sum", 20, 22), 42, "an accepted socket works");
    ok.disconnect();
  },

  // Binary attachments both ways, at depth.
  async binary() {
    const socket = await client();
    const back = next(socket, "bin-back");
    const data = Buffer.from([1, 2, 3, 255, 0]);
    const length = await socket.emitWithAck("bin", "file.bin", data);
    same(length, 5, "acked length");
    const [name, reversed, nested] = await back;
    same(name, "file.bin", "name");
    check(Buffer.isBuffer(reversed), "a Buffer comes back");
    same([...reversed], [0, 255, 3, 2, 1], "reversed bytes");
    same([...nested.inner.bytes], [1, 2, 3, 255, 0], "nested bytes");
    same(nested.inner.label, "orig", "nested label");
    // A binary ack.
    const bytes = await socket.emitWithAck("bin-ack", Buffer.alloc(3000, 9));
    check(Buffer.isBuffer(bytes) && bytes.length === 3000 && bytes[2999] === 9, "binary ack");
    socket.disconnect();
  },

  // Acks both ways, timeouts, bad arguments, broadcast acks.
  async acks() {
    const socket = await client();
    same(await socket.emitWithAck("sum", 2, 40), 42, "client → server ack");
    const bad = await socket.emitWithAck("sum", "a", "b");
    check(bad && typeof bad.error === "string" && bad.error.includes("invalid arguments"), `bad arguments: ${JSON.stringify(bad)}`);
    let timedOut = false;
    try {
      await socket.timeout(200).emitWithAck("unhandled");
    } catch (e) {
      timedOut = e.message === "operation has timed out";
    }
    check(timedOut, "client-side timeout");
    socket.on("question", (q, callback) => callback(`answer to ${q}`));
    socket.on("no-answer", () => {});
    socket.on("poll", (callback) => callback(`pong ${socket.id}`));
    const answer = next(socket, "answer-was");
    const timeout = next(socket, "timed-out");
    socket.emit("ask");
    same(await answer, ["answer to life"], "server → client ack");
    console.log("server → client ack ok");
    same(await timeout, ["operation has timed out"], "server-side timeout");
    console.log("server-side timeout ok");
    const answers = await socket.emitWithAck("poll-all");
    same(answers, [`pong ${socket.id}`], "broadcast with acks");
    socket.disconnect();
  },

  // Rooms: to/except, io.to, socketsJoin with except, fetchSockets.
  async rooms() {
    const [a, b, c] = [await client(), await client(), await client()];
    for (const s of [a, b, c]) await s.emitWithAck("join", "r");
    await c.emitWithAck("join", "muted");
    const shouts = [a, b, c].map((s) => record(s, "shout"));
    const announces = [a, b, c].map((s) => record(s, "announce"));
    await a.emitWithAck("shout", "r", "muted", "hi");
    await sleep(150);
    same(shouts.map((g) => g.length), [0, 1, 0], "socket.to(r).except(muted) reaches b only");
    same(shouts[1][0], ["hi"], "shout payload");
    await a.emitWithAck("gather", "r", "muted", "vip");
    await a.emitWithAck("announce", "vip", "to vips");
    await sleep(150);
    same(announces.map((g) => g.length), [1, 1, 0], "socketsJoin(vip) with except");
    same(await a.emitWithAck("count"), 3, "fetchSockets");
    same(await a.emitWithAck("my-rooms"), [a.id, "r", "vip"].sort(), "socket.rooms");
    await a.emitWithAck("leave", "vip");
    await a.emitWithAck("announce", "vip", "vips again");
    await sleep(150);
    same(announces.map((g) => g.length), [1, 2, 0], "socket.leave");
    await a.emitWithAck("scatter", "r");
    await a.emitWithAck("announce", "r", "nobody");
    await sleep(150);
    same(announces.map((g) => g.length), [1, 2, 0], "socketsLeave");
    // A panicking handler ends its own run, not the connection.
    a.emit("panic");
    same(await a.emitWithAck("sum", 1, 2), 3, "alive after a handler panicked");
    for (const s of [a, b, c]) s.disconnect();
  },

  // Disconnect reasons on both sides.
  async disconnect() {
    const observer = await client();
    await observer.emitWithAck("join", "observers");
    const left = record(observer, "left");
    const leftOf = async (id) => {
      for (let i = 0; i < 100 && !left.some(([sid]) => sid === id); i++) await sleep(20);
      const found = left.find(([sid]) => sid === id);
      check(found, `no "left" for ${id}`);
      return found[1];
    };
    const kicked = await client();
    const kickedId = kicked.id;
    const kickedReason = next(kicked, "disconnect");
    kicked.emit("kick", false);
    same((await kickedReason)[0], "io server disconnect", "client reason for socket.disconnect()");
    same(await leftOf(kickedId), "server namespace disconnect", "server reason for socket.disconnect()");
  },

  // The server drops the transport; the client reconnects by itself.
  async reconnect() {
    const socket = await client();
    const firstId = socket.id;
    const reason = next(socket, "disconnect");
    socket.emit("drop");
    same((await reason)[0], "transport close", "client reason when the server drops the transport");
    await next(socket, "connect");
    check(socket.id !== firstId, "a new session after reconnection");
    check(!socket.recovered, "no recovery when it is off");
    same(await socket.emitWithAck("sum", 1, 1), 2, "works after reconnection");
    socket.disconnect();
  },

  // Server-wide operations and the handshake.
  async server() {
    const a = await client("/", { query: { lang: "fr" }, extraHeaders: { "x-halyard": "yes" } });
    const b = await client();
    same(await a.emitWithAck("whoami"), { lang: "fr", header: "yes", address: true, recovered: false }, "handshake");
    const everyone = [a, b].map((s) => next(s, "everyone"));
    await a.emitWithAck("io-emit", "hello all");
    same((await Promise.all(everyone)).map((args) => args[0]), ["hello all", "hello all"], "io.emit");
    const volatiles = record(a, "v");
    await a.emitWithAck("volatile", 3);
    await sleep(100);
    if (mode !== "polling") same(volatiles.map((args) => args[0]), [0, 1, 2], "volatile emits over WebSocket");
    check(volatiles.length <= 3, "volatile emits are never duplicated");
    await b.emitWithAck("join", "doomed");
    const bReason = next(b, "disconnect");
    await a.emitWithAck("disconnect-room", "doomed");
    same((await bReason)[0], "io server disconnect", "io.in(room).disconnectSockets()");
    same(await a.emitWithAck("count"), 1, "one socket left");
    const aReason = next(a, "disconnect");
    a.emit("shutdown");
    same((await aReason)[0], "transport close", "io.close()");
    const [err] = await next(a, "connect_error");
    check(err instanceof Error, "a closed server refuses new connections");
    a.close();
  },

  // Connection state recovery: same id, rooms kept, missed events delivered.
  async recovery() {
    const socket = await client();
    const firstId = socket.id;
    await socket.emitWithAck("join", "r");
    const first = next(socket, "announce");
    await socket.emitWithAck("announce", "r", "before");
    const [before, offset] = await first;
    same(before, "before", "an event");
    check(typeof offset === "string", "with recovery on, events carry their offset as a last argument");
    const missed = record(socket, "missed");
    socket.emit("drop-and-emit", "r");
    same((await next(socket, "disconnect"))[0], "transport close", "dropped");
    await next(socket, "connect");
    check(socket.recovered, "socket.recovered");
    same(socket.id, firstId, "the same id");
    await sleep(50);
    same(missed.map((args) => args[0]), ["while away"], "the missed event");
    const again = next(socket, "announce");
    await socket.emitWithAck("announce", "r", "after");
    same((await again)[0], "after", "rooms kept");
    socket.disconnect();
  },

  // Handler management on the server: once, several handlers, off(handler), off(event)
  // (rooms kept), catch-alls in and out, compress, per-socket data.
  async listeners() {
    const s = await client();
    // Handlers of one connection run in arrival order: an ack is a barrier.
    const settle = async () => {
      await s.emitWithAck("sum", 0, 0);
      await sleep(50);
    };
    const onceFired = record(s, "once-fired");
    s.emit("once");
    s.emit("once");
    await settle();
    same(onceFired.length, 1, "socket.once runs once");
    const multi = record(s, "multi");
    s.emit("multi");
    await settle();
    same(multi, [["first"], ["second"]], "two handlers of one event, in order");
    same(await s.emitWithAck("drop-second"), true, "off_handler(id)");
    s.emit("multi");
    await settle();
    same(multi.slice(2), [["first"]], "the other handler stays");
    await s.emitWithAck("join", "kept");
    await s.emitWithAck("drop-multi");
    s.emit("multi");
    await settle();
    same(multi.length, 3, "off(event) removes every handler");
    same(await s.emitWithAck("my-rooms"), [s.id, "kept"].sort(), "removing handlers never leaves rooms");
    const compressed = next(s, "compressed");
    s.emit("compress");
    await compressed;
    await s.emitWithAck("io-emit", "to all");
    const log = await s.emitWithAck("log");
    for (const entry of ["pre:once", "any:once", "pre:multi", "any:multi", "out:once-fired", "out:multi", "out:compressed", "out:everyone", "any:log"]) {
      check(log.includes(entry), `catch-all log has ${entry}: ${JSON.stringify(log)}`);
    }
    check(log.indexOf("pre:once") < log.indexOf("any:once"), `prepend_any runs first: ${JSON.stringify(log)}`);
    check(log.filter((e) => e === "any:once").length === 2, "on_any sees an event with no handler left");
    same(await s.emitWithAck("off-any"), true, "off_any / off_any_outgoing");
    s.emit("compress");
    await settle();
    const after = await s.emitWithAck("log");
    check(after.includes("pre:compress"), `prepend_any stays: ${JSON.stringify(after)}`);
    // (off-any itself was seen before its handler removed the catch-alls)
    const late = after.filter((e) => e !== "any:off-any");
    check(!late.some((e) => e.startsWith("any:") || e.startsWith("out:")), `removed catch-alls: ${JSON.stringify(after)}`);
    s.disconnect();
  },

  // The server's allow_request refuses the handshake (403): connect_error, no socket.
  async refused() {
    const socket = io(url, { forceNew: true, reconnection: false, query: { refuse: "1" }, ...transportOptions });
    const [err] = await next(socket, "connect_error");
    check(err instanceof Error, "connect_error when allow_request refuses");
    check(!socket.connected, "not connected");
    if (mode !== "websocket") same(err.context && err.context.status, 403, "the refusal's HTTP status");
    socket.close();
    const ok = await client();
    same(await ok.emitWithAck("sum", 1, 2), 3, "other handshakes pass");
    ok.disconnect();
  },

  // Sails' room operations (sails.sockets.*), each through its Halyard call.
  async sails() {
    const [a, b, c] = [await client(), await client(), await client()];
    const roomsOf = (s) => a.emitWithAck("rooms-of", s.id);
    await a.emitWithAck("sails-join", b.id, "r1");
    same(await roomsOf(b), [b.id, "r1"].sort(), "join(socketId, room)");
    await a.emitWithAck("sails-join", c.id, "r1");
    await a.emitWithAck("sails-join", c.id, "r2");
    await a.emitWithAck("sails-leave", c.id, "r2");
    same(await roomsOf(c), [c.id, "r1"].sort(), "leave(socketId, room)");
    await a.emitWithAck("sails-add", "r1", "r3");
    same(await roomsOf(b), [b.id, "r1", "r3"].sort(), "addRoomMembersToRooms (b)");
    same(await roomsOf(c), [c.id, "r1", "r3"].sort(), "addRoomMembersToRooms (c)");
    same(await roomsOf(a), [a.id], "addRoomMembersToRooms leaves non-members alone");
    await a.emitWithAck("sails-remove", "r1", "r3");
    same(await roomsOf(b), [b.id, "r1"].sort(), "removeRoomMembersFromRooms");
    const news = [a, b, c].map((s) => record(s, "news"));
    const counts = async (want, what) => {
      await sleep(150);
      same(news.map((g) => g.length), want, what);
    };
    await a.emitWithAck("sails-broadcast", "r1", "news", "hello", c.id);
    await counts([0, 1, 0], "broadcast(room, event, data, socketToOmit)");
    same(news[1][0], ["hello"], "broadcast payload");
    await b.emitWithAck("sails-socket-broadcast", "news", { from: "b" });
    await counts([1, 1, 1], "socket.broadcast() reaches everyone but the sender");
    await a.emitWithAck("sails-blast", "news", "all", "");
    await counts([2, 2, 2], "blast(event, data)");
    await a.emitWithAck("sails-blast", "news", "all but b", b.id);
    await counts([3, 2, 3], "blast(event, data, socketToOmit)");
    await a.emitWithAck("sails-join", b.id, "r4");
    await a.emitWithAck("sails-leave-all", "r1");
    same(await roomsOf(b), [b.id], "leaveAll(room) (b)");
    same(await roomsOf(c), [c.id], "leaveAll(room) (c)");
    same(await a.emitWithAck("rooms-of", "nobody"), null, "an unknown socket id");
    for (const s of [a, b, c]) s.disconnect();
  },
};

// The disconnect scenario continues with the other reasons (kept apart for clarity).
const moreDisconnects = async () => {
  const observer = await client();
  await observer.emitWithAck("join", "observers");
  const left = record(observer, "left");
  const leftOf = async (id) => {
    for (let i = 0; i < 100 && !left.some(([sid]) => sid === id); i++) await sleep(20);
    const found = left.find(([sid]) => sid === id);
    check(found, `no "left" for ${id}`);
    return found[1];
  };
  const closer = await client();
  const closerId = closer.id;
  const closerReason = next(closer, "disconnect");
  closer.emit("kick", true);
  same((await closerReason)[0], "io server disconnect", "client reason for socket.disconnect(true)");
  same(await leftOf(closerId), "server namespace disconnect", "server reason for socket.disconnect(true)");

  const leaving = record(observer, "leaving");
  const leaver = await client();
  const leaverId = leaver.id;
  await leaver.emitWithAck("join", "some-room");
  leaver.disconnect();
  same(await leftOf(leaverId), "client namespace disconnect", "server reason for client disconnect()");
  same(leaving.find(([sid]) => sid === leaverId), [leaverId, [leaverId, "some-room"].sort()], "rooms at disconnecting");

  const gone = await client("/", { reconnection: false });
  const goneId = gone.id;
  gone.io.engine.close();
  same(await leftOf(goneId), "transport close", "server reason when the client closes the transport");
  observer.disconnect();
};

(async () => {
  const run = scenarios[scenario];
  if (!run) fail(`unknown scenario ${scenario}`);
  await run();
  if (scenario === "disconnect") await moreDisconnects();
  clearTimeout(timer);
  console.log(`${label}: ok`);
  process.exit(0);
})().catch((e) => fail(e && e.stack ? e.stack : String(e)));
