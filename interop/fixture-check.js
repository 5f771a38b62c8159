#!/usr/bin/env node
// Checks a Socket.IO fixture server (interop/socketio-server.js on npm's socket.io, or
// `halyard::fixture_server` on Halyard) with npm's socket.io-client 4.8, so that both
// are known to behave alike before the Rust client's tests rely on them.
//
//   node interop/fixture-check.js <url> [polling|websocket|upgrade ...]
//
// Runs every check in each transport mode given (default: all three), prints one line
// per check (`ok <mode> <check>` or `FAIL <mode> <check>: <why>`, plus `info` lines with
// what was observed), and exits 1 if any check failed, 0 otherwise.
"use strict";

const assert = require("assert");
const { Manager } = require("socket.io-client");

const MODES = {
  polling: { transports: ["polling"], upgrade: false },
  websocket: { transports: ["websocket"], upgrade: false },
  upgrade: { transports: ["polling", "websocket"], upgrade: true },
};

// What socket.io-client reports when the server closes the Engine.IO connection
// (socket.conn.close() on socket.io) and when it disconnects the socket.
const LOST_TRANSPORT_REASON = "transport close";
const SERVER_DISCONNECT_REASON = "io server disconnect";
const TIMEOUT_MESSAGE = "operation has timed out";

let failures = 0;

function log(line) {
  process.stdout.write(line + "\n");
}

async function check(mode, name, fn) {
  try {
    await fn();
    log(`ok ${mode} ${name}`);
  } catch (error) {
    failures++;
    const why = error && error.message ? error.message : String(error);
    log(`FAIL ${mode} ${name}: ${why.replace(/\n/g, " ")}`);
  }
}

function info(mode, what) {
  log(`info ${mode} ${what}`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function onceEvent(emitter, event, ms) {
  return withTimeout(
    new Promise((resolve) => emitter.once(event, (...args) => resolve(args))),
    ms,
    `"${event}"`,
  );
}

// Every event a socket receives, in order, so that checks can wait for the next one of a
// name (including events that arrived before the check started to wait).
class Inbox {
  constructor(socket) {
    this.socket = socket;
    this.events = [];
    this.taken = 0;
    this.waiters = [];
    socket.onAny((event, ...args) => {
      // With connection state recovery on, the server appends its offset to every event
      // sent without an ack (socket.io-client reads it as the last string argument and
      // hands the event to the listeners with it). Take it off, and remember when it is
      // missing.
      let offset = null;
      const withAck = args.length > 0 && typeof args[args.length - 1] === "function";
      if (socket._pid && !withAck) {
        offset = args.length > 0 && typeof args[args.length - 1] === "string" ? args.pop() : null;
      }
      const missingOffset = Boolean(socket._pid) && !withAck && offset === null;
      this.events.push({ event, args, offset, missingOffset });
      this.wake();
    });
  }

  wake() {
    for (const waiter of [...this.waiters]) waiter();
  }

  // The next event named `event` after the ones already taken (earlier events of other
  // names stay for later waits).
  next(event, ms = 3000) {
    return withTimeout(
      new Promise((resolve, reject) => {
        const look = () => {
          const index = this.events.findIndex((e) => !e.taken && e.event === event);
          if (index === -1) return false;
          const found = this.events[index];
          found.taken = true;
          if (found.missingOffset) {
            reject(new Error(`"${event}" came without the recovery offset as its last argument`));
          } else {
            resolve(found.args);
          }
          return true;
        };
        if (look()) return;
        const waiter = () => {
          if (look()) this.waiters.splice(this.waiters.indexOf(waiter), 1);
        };
        this.waiters.push(waiter);
      }),
      ms,
      `"${event}" on ${this.socket.nsp}`,
    );
  }

  // Fails if an event named `event` (not yet taken) arrives within `ms`.
  async none(event, ms) {
    await sleep(ms);
    const got = this.events.find((e) => !e.taken && e.event === event);
    if (got) throw new Error(`unexpected "${event}" ${JSON.stringify(got.args)}`);
  }
}

function managerFor(url, mode, extra = {}) {
  return new Manager(url, {
    transports: MODES[mode].transports,
    reconnectionDelay: 500,
    reconnectionDelayMax: 1000,
    timeout: 5000,
    ...extra,
  });
}

// The transport of the connection when the namespace's connection handler ran. In the
// upgrade mode it is nearly always polling, but socket.io may finish the upgrade before
// an async middleware lets a CONNECT through (seen on /custom), so both are accepted.
function checkTransport(mode, welcome) {
  if (mode === "upgrade") {
    assert.ok(
      welcome.transport === "polling" || welcome.transport === "websocket",
      `transport ${welcome.transport}`,
    );
  } else {
    assert.strictEqual(welcome.transport, mode);
  }
}

async function connected(socket, ms = 5000) {
  if (socket.connected) return;
  const [error] = await withTimeout(
    new Promise((resolve) => {
      socket.once("connect", () => resolve([null]));
      socket.once("connect_error", (e) => resolve([e]));
    }),
    ms,
    `connect on ${socket.nsp}`,
  );
  if (error) throw new Error(`connect_error on ${socket.nsp}: ${error.message}`);
}

async function runMode(url, mode) {
  const cleanup = [];
  try {
    await runChecks(url, mode, cleanup);
  } finally {
    for (const fn of cleanup) fn();
  }
}

async function runChecks(url, mode, cleanup) {
  // Client A: both namespaces multiplexed on one manager, with a query and a header.
  const manager = managerFor(url, mode, {
    query: { q: "1", lang: "fr é" },
    extraHeaders: { "x-test": "hello" },
  });
  const main = manager.socket("/");
  const custom = manager.socket("/custom", { auth: { token: "secret" } });
  cleanup.push(() => {
    main.disconnect();
    custom.disconnect();
    manager.engine && manager.engine.close();
  });
  const mainIn = new Inbox(main);
  const customIn = new Inbox(custom);
  main.connect();
  custom.connect();

  let mainWelcome;
  let customWelcome;
  await check(mode, "connect to / and /custom on one manager", async () => {
    await connected(main);
    await connected(custom);
    [mainWelcome] = await mainIn.next("welcome");
    [customWelcome] = await customIn.next("welcome");
  });
  if (!mainWelcome || !customWelcome) return;
  info(mode, `welcome / ${JSON.stringify(mainWelcome)}`);
  info(mode, `welcome /custom ${JSON.stringify(customWelcome)}`);

  await check(mode, "welcome on /", () => {
    checkTransport(mode, mainWelcome);
    assert.deepStrictEqual(
      { ...mainWelcome, engine: undefined, transport: undefined },
      {
        id: main.id,
        nsp: "/",
        recovered: false,
        auth: {},
        query: { q: "1", lang: "fr é" },
        header: "hello",
        engine: undefined,
        transport: undefined,
      },
    );
  });
  await check(mode, "welcome on /custom", () => {
    checkTransport(mode, customWelcome);
    assert.deepStrictEqual(
      { ...customWelcome, engine: undefined, transport: undefined },
      {
        id: custom.id,
        nsp: "/custom",
        recovered: false,
        auth: { token: "secret" },
        query: { q: "1", lang: "fr é" },
        header: "hello",
        engine: undefined,
        transport: undefined,
      },
    );
  });
  await check(mode, "one Engine.IO session for both namespaces", () => {
    assert.strictEqual(typeof mainWelcome.engine, "string");
    assert.strictEqual(mainWelcome.engine, customWelcome.engine);
    assert.strictEqual(mainWelcome.engine, manager.engine.id);
    assert.notStrictEqual(main.id, custom.id);
    assert.notStrictEqual(main.id, mainWelcome.engine);
  });

  await check(mode, "Engine.IO handshake values", () => {
    const engine = manager.engine;
    info(
      mode,
      `handshake pingInterval ${engine._pingInterval} pingTimeout ${engine._pingTimeout} maxPayload ${engine._maxPayload}`,
    );
    assert.strictEqual(engine._pingInterval, 1000);
    assert.strictEqual(engine._pingTimeout, 2000);
    assert.strictEqual(engine._maxPayload, 1000000);
  });

  if (MODES[mode].upgrade) {
    await check(mode, "upgrade to websocket", async () => {
      if (manager.engine.transport.name !== "websocket") {
        await onceEvent(manager.engine, "upgrade", 5000);
      }
      assert.strictEqual(manager.engine.transport.name, "websocket");
    });
  }

  // Refusals by /custom's middleware: wrong token, then no auth at all.
  for (const [label, auth] of [
    ["wrong token", { token: "wrong" }],
    ["no auth", undefined],
  ]) {
    await check(mode, `/custom refuses ${label}`, async () => {
      const other = managerFor(url, mode, { reconnection: false });
      const refused = other.socket("/custom", auth ? { auth } : {});
      try {
        const [error] = await onceEvent(refused, "connect_error", 5000);
        assert.strictEqual(error.message, "not authorized");
        assert.deepStrictEqual(error.data, { reason: "bad token" });
        assert.strictEqual(refused.connected, false);
      } finally {
        refused.disconnect();
        other.engine && other.engine.close();
      }
    });
  }

  await check(mode, "echo with binary", async () => {
    const sent = ["text", 42, { a: [1, null], b: "é" }, Buffer.from([9, 8, 7]), [Buffer.from([0])]];
    main.emit("echo", ...sent);
    const got = await mainIn.next("echo");
    assert.deepStrictEqual(got, sent);
  });
  await check(mode, "echo without arguments", async () => {
    main.emit("echo");
    const got = await mainIn.next("echo");
    assert.deepStrictEqual(got, []);
  });
  await check(mode, "echo on /custom", async () => {
    custom.emit("echo", "nsp");
    const got = await customIn.next("echo");
    assert.deepStrictEqual(got, ["nsp"]);
    await mainIn.none("echo", 100);
  });

  await check(mode, "echo_ack (client asks, server acks)", async () => {
    const sent = ["a", { n: 1 }, Buffer.from([1, 2])];
    const got = await withTimeout(
      new Promise((resolve) => main.emit("echo_ack", ...sent, (...args) => resolve(args))),
      3000,
      "the ack",
    );
    assert.deepStrictEqual(got, sent);
  });
  await check(mode, "echo_ack with no arguments acks with none", async () => {
    const got = await withTimeout(
      new Promise((resolve) => main.emit("echo_ack", (...args) => resolve(args))),
      3000,
      "the ack",
    );
    assert.deepStrictEqual(got, []);
  });
  await check(mode, "echo_ack with timeout and emitWithAck", async () => {
    const got = await main.timeout(3000).emitWithAck("echo_ack", "x");
    assert.strictEqual(got, "x");
  });

  await check(mode, "ask (server asks, client acks)", async () => {
    main.once("question", (question, ack) => ack(`${question}!`));
    main.emit("ask", "life");
    const [answer] = await mainIn.next("answer");
    assert.strictEqual(answer, "life!");
  });
  await check(mode, "ask without an answer times out on the server", async () => {
    main.once("question", () => {
      // No answer.
    });
    main.emit("ask", "silence");
    const [message] = await mainIn.next("answer_error", 4000);
    assert.strictEqual(message, TIMEOUT_MESSAGE);
    await mainIn.none("answer", 0);
  });

  await check(mode, "no_ack times out on the client", async () => {
    const started = Date.now();
    await assert.rejects(main.timeout(300).emitWithAck("no_ack", 1), (error) => {
      assert.strictEqual(error.message, TIMEOUT_MESSAGE);
      return true;
    });
    assert.ok(Date.now() - started >= 290, "the timeout came too early");
  });

  await check(mode, "binary from the server", async () => {
    main.emit("binary");
    const got = await mainIn.next("binary");
    assert.deepStrictEqual(got, [Buffer.from([1, 2, 3, 4]), { nested: Buffer.from([5, 6]) }]);
  });

  await check(mode, "rooms: to_room excludes the sender, broadcast_except", async () => {
    const room = `room-${mode}`;
    const except = `except-${mode}`;
    // B and C: other clients on /; custom (A's /custom socket) joins the same room name in
    // its own namespace and must see nothing from /.
    const mb = managerFor(url, mode);
    const mc = managerFor(url, mode);
    const b = mb.socket("/");
    const c = mc.socket("/");
    const bIn = new Inbox(b);
    const cIn = new Inbox(c);
    try {
      await connected(b);
      await connected(c);
      await main.timeout(3000).emitWithAck("join", room);
      await b.timeout(3000).emitWithAck("join", room);
      await c.timeout(3000).emitWithAck("join", room);
      await b.timeout(3000).emitWithAck("join", except);
      await custom.timeout(3000).emitWithAck("join", room);

      const acked = await main.timeout(3000).emitWithAck("to_room", room, "hi");
      assert.strictEqual(acked, undefined);
      assert.deepStrictEqual(await bIn.next("room_msg"), ["hi"]);
      assert.deepStrictEqual(await cIn.next("room_msg"), ["hi"]);

      await main.timeout(3000).emitWithAck("broadcast_except", room, except, "m2");
      assert.deepStrictEqual(await mainIn.next("room_msg"), ["m2"]);
      assert.deepStrictEqual(await cIn.next("room_msg"), ["m2"]);

      await custom.timeout(3000).emitWithAck("to_room", room, "in custom");
      await Promise.all([
        mainIn.none("room_msg", 300),
        bIn.none("room_msg", 300),
        cIn.none("room_msg", 300),
        customIn.none("room_msg", 300),
      ]);
    } finally {
      b.disconnect();
      c.disconnect();
      mb.engine && mb.engine.close();
      mc.engine && mc.engine.close();
    }
  });

  await check(mode, "kill: lost transport, reconnection, welcome again", async () => {
    const oldEngine = manager.engine.id;
    const mainReason = onceEvent(main, "disconnect", 5000);
    const customReason = onceEvent(custom, "disconnect", 5000);
    main.emit("kill");
    const [reason] = await mainReason;
    const [reason2] = await customReason;
    info(mode, `kill: client reasons / ${JSON.stringify(reason)}, /custom ${JSON.stringify(reason2)}`);
    assert.strictEqual(reason, LOST_TRANSPORT_REASON);
    assert.strictEqual(reason2, LOST_TRANSPORT_REASON);
    await connected(main, 8000);
    await connected(custom, 8000);
    const [again] = await mainIn.next("welcome", 5000);
    const [againCustom] = await customIn.next("welcome", 5000);
    info(mode, `kill: welcome / ${JSON.stringify(again)}`);
    info(mode, `kill: welcome /custom ${JSON.stringify(againCustom)}`);
    assert.strictEqual(again.nsp, "/");
    assert.strictEqual(again.recovered, true);
    assert.strictEqual(again.id, mainWelcome.id);
    assert.strictEqual(main.recovered, true);
    assert.strictEqual(main.id, mainWelcome.id);
    assert.strictEqual(againCustom.recovered, true);
    assert.strictEqual(againCustom.id, customWelcome.id);
    assert.strictEqual(again.engine, againCustom.engine);
    assert.strictEqual(again.engine, manager.engine.id);
    assert.notStrictEqual(again.engine, oldEngine);
    checkTransport(mode, again);
    checkTransport(mode, againCustom);
    assert.deepStrictEqual(again.query, { q: "1", lang: "fr é" });
    assert.strictEqual(again.header, "hello");
    // socket.io-client sends its session id and offset with the auth when it reconnects.
    assert.deepStrictEqual(Object.keys(again.auth).sort(), ["offset", "pid"]);
    assert.strictEqual(typeof again.auth.pid, "string");
    assert.strictEqual(typeof again.auth.offset, "string");
    assert.strictEqual(againCustom.auth.token, "secret");
    assert.deepStrictEqual(Object.keys(againCustom.auth).sort(), ["offset", "pid", "token"]);
    // The rooms came back with the session.
    const acked = await custom.timeout(3000).emitWithAck("echo_ack", "still here");
    assert.strictEqual(acked, "still here");
  });

  await check(mode, "kill_then_broadcast: recovery replays missed events", async () => {
    const n = 5;
    const room = `missed-${mode}`;
    const reason = onceEvent(main, "disconnect", 5000);
    main.emit("kill_then_broadcast", room, n);
    const [why] = await reason;
    assert.strictEqual(why, LOST_TRANSPORT_REASON);
    await connected(main, 8000);
    assert.strictEqual(main.recovered, true, "socket.recovered");
    const got = [];
    for (let i = 0; i < n; i++) got.push((await mainIn.next("missed", 5000))[0]);
    assert.deepStrictEqual(got, [...Array(n).keys()]);
    const [again] = await mainIn.next("welcome", 5000);
    assert.strictEqual(again.recovered, true);
    assert.strictEqual(again.id, mainWelcome.id);
    await customIn.next("welcome", 5000);
    const order = mainIn.events
      .filter((e) => e.event === "missed" || e.event === "welcome")
      .slice(-(n + 1))
      .map((e) => (e.event === "welcome" ? "welcome" : `missed(${e.args[0]})`));
    info(mode, `kill_then_broadcast: order received ${order.join(" ")}`);
    await mainIn.none("missed", 200);
  });

  await check(mode, "a disconnect by the server or by the client is not recovered", async () => {
    const other = managerFor(url, mode);
    const socket = other.socket("/");
    const inbox = new Inbox(socket);
    try {
      await connected(socket);
      const [first] = await inbox.next("welcome");
      const reason = onceEvent(socket, "disconnect", 5000);
      socket.emit("server_disconnect");
      assert.strictEqual((await reason)[0], SERVER_DISCONNECT_REASON);
      socket.connect();
      await connected(socket);
      const [second] = await inbox.next("welcome");
      assert.strictEqual(second.recovered, false);
      assert.strictEqual(socket.recovered, false);
      assert.notStrictEqual(second.id, first.id);
      // The client still sends its previous session id and offset.
      assert.deepStrictEqual(Object.keys(second.auth).sort(), ["offset", "pid"]);
      socket.disconnect();
      socket.connect();
      await connected(socket);
      const [third] = await inbox.next("welcome");
      assert.strictEqual(third.recovered, false);
      assert.notStrictEqual(third.id, second.id);
    } finally {
      socket.disconnect();
      other.engine && other.engine.close();
    }
  });

  {
    const other = managerFor(url, mode);
    const socket = other.socket("/custom", { auth: { token: "secret" } });
    const inbox = new Inbox(socket);
    let first;
    try {
      await check(mode, "recovery skips /custom's middleware", async () => {
        await connected(socket);
        [first] = await inbox.next("welcome");
        // A recovered CONNECT skips the middleware, so a bad token gets through.
        socket.auth = { token: "wrong" };
        const reason = onceEvent(socket, "disconnect", 5000);
        socket.emit("kill");
        assert.strictEqual((await reason)[0], LOST_TRANSPORT_REASON);
        await connected(socket, 8000);
        const [again] = await inbox.next("welcome");
        assert.strictEqual(again.recovered, true);
        assert.strictEqual(again.id, first.id);
        assert.strictEqual(again.auth.token, "wrong");
      });
      // socket.io 4.8 keeps a session in its store when it resumes it (the in-memory
      // adapter's restoreSession does not delete it), so the same pid resumes it again
      // until it expires, even after a disconnect that is not recoverable. Halyard takes
      // a session out when it resumes it (a pid resumes at most one socket; documented on
      // its RecoveryStore), so this is reported, not checked.
      if (first) {
        socket.disconnect();
        socket.connect();
        try {
          await connected(socket, 5000);
          const [again] = await inbox.next("welcome");
          info(
            mode,
            again.recovered
              ? "a resumed session is resumed again by its pid (socket.io's behaviour)"
              : "a resumed session is not resumed twice (Halyard's behaviour)",
          );
        } catch (error) {
          info(mode, `a second resume by the same pid failed: ${error.message}`);
        }
      }
    } finally {
      socket.disconnect();
      other.engine && other.engine.close();
    }
  }

  await check(mode, "server_disconnect", async () => {
    const reason = onceEvent(main, "disconnect", 5000);
    main.emit("server_disconnect");
    const [why] = await reason;
    assert.strictEqual(why, SERVER_DISCONNECT_REASON);
    await sleep(1200);
    assert.strictEqual(main.connected, false, "no reconnection after io server disconnect");
    // The other namespace of the connection stays.
    assert.strictEqual(custom.connected, true);
    const acked = await custom.timeout(3000).emitWithAck("echo_ack", "custom");
    assert.strictEqual(acked, "custom");
  });
}

async function main() {
  const [url, ...modes] = process.argv.slice(2);
  if (!url) {
    process.stderr.write("usage: node interop/fixture-check.js <url> [polling|websocket|upgrade ...]\n");
    process.exit(2);
  }
  const selected = modes.length > 0 ? modes : Object.keys(MODES);
  for (const mode of selected) {
    if (!MODES[mode]) {
      process.stderr.write(`unknown mode: ${mode}\n`);
      process.exit(2);
    }
  }
  for (const mode of selected) {
    try {
      await runMode(url, mode);
    } catch (error) {
      failures++;
      log(`FAIL ${mode} (aborted): ${error && error.stack ? error.stack : error}`);
    }
  }
  log(failures === 0 ? "all checks passed" : `${failures} check(s) failed`);
  process.exit(failures === 0 ? 0 : 1);
}

setTimeout(() => {
  log("FAIL: the checks did not finish within 120 s");
  process.exit(1);
}, 120000).unref();

main();
