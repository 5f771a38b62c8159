#!/usr/bin/env node
// The Socket.IO fixture server on npm's socket.io 4.8: the reference the Rust client's
// interop tests run against. `halyard::fixture_server` (feature `test-support`) is the
// same server on Halyard; `interop/fixture-check.js` checks that both behave alike.
//
//   node interop/socketio-server.js [--port N] [--transports polling,websocket]
//
// Listens on 127.0.0.1 (port 0, the default, picks a free one), prints exactly
// `listening <port>\n` on stdout once listening, and exits when stdin closes (a test
// that spawns it with a piped stdin stops it by dropping the pipe).
//
// Options: connection state recovery (maxDisconnectionDuration 60 s, skipMiddlewares),
// pingInterval 1000 ms, pingTimeout 2000 ms, path /socket.io/, both transports unless
// --transports restricts them. Namespaces `/` and `/custom` have the same handlers;
// `/custom` admits only `auth.token === "secret"` (else the error `not authorized` with
// data `{reason: "bad token"}`). See interop/README.md for the events.
"use strict";

const http = require("http");
const { Server } = require("socket.io");

function parseArgs(argv) {
  const options = { port: 0, transports: ["polling", "websocket"] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === "--port") {
      options.port = Number(value());
      if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
        usage(`bad port: ${argv[i]}`);
      }
    } else if (arg === "--transports") {
      options.transports = value().split(",").filter((t) => t !== "");
      const bad = options.transports.filter((t) => t !== "polling" && t !== "websocket");
      if (options.transports.length === 0 || bad.length > 0) {
        usage(`bad transports: ${argv[i]}`);
      }
    } else {
      usage(`unknown argument: ${arg}`);
    }
  }
  return options;
}

function usage(message) {
  process.stderr.write(
    `${message}\nusage: node interop/socketio-server.js [--port N] [--transports polling,websocket]\n`,
  );
  process.exit(2);
}

// Query keys Engine.IO and its transports add; the rest is the application's.
const TRANSPORT_QUERY_KEYS = ["EIO", "transport", "t", "sid", "j", "b64"];

function welcome(socket) {
  const query = { ...socket.handshake.query };
  for (const key of TRANSPORT_QUERY_KEYS) delete query[key];
  const header = socket.handshake.headers["x-test"];
  return {
    id: socket.id,
    nsp: socket.nsp.name,
    recovered: socket.recovered,
    auth: socket.handshake.auth || {},
    query,
    header: header === undefined ? null : header,
    engine: socket.conn.id,
    transport: socket.conn.transport.name,
  };
}

function handlers(io, socket) {
  const nsp = socket.nsp.name;
  // The last argument, when it is the client's ack callback.
  const splitAck = (args) =>
    args.length > 0 && typeof args[args.length - 1] === "function"
      ? [args.slice(0, -1), args[args.length - 1]]
      : [args, () => {}];

  socket.on("echo", (...args) => {
    socket.emit("echo", ...splitAck(args)[0]);
  });
  socket.on("echo_ack", (...args) => {
    const [rest, ack] = splitAck(args);
    ack(...rest);
  });
  socket.on("ask", (question) => {
    socket
      .timeout(2000)
      .emitWithAck("question", question)
      .then(
        (answer) => socket.emit("answer", answer),
        (error) => socket.emit("answer_error", error.message),
      );
  });
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack();
  });
  socket.on("to_room", (room, msg, ack) => {
    socket.to(room).emit("room_msg", msg);
    if (typeof ack === "function") ack();
  });
  socket.on("broadcast_except", (room, exceptRoom, msg, ack) => {
    io.of(nsp).to(room).except(exceptRoom).emit("room_msg", msg);
    if (typeof ack === "function") ack();
  });
  socket.on("no_ack", () => {
    // Never answers.
  });
  socket.on("kill", () => {
    socket.conn.close();
  });
  socket.on("server_disconnect", () => {
    socket.disconnect();
  });
  socket.on("kill_then_broadcast", (room, n) => {
    socket.join(room);
    socket.conn.close();
    setTimeout(() => {
      for (let i = 0; i < n; i++) io.of(nsp).to(room).emit("missed", i);
    }, 100);
  });
  socket.on("binary", () => {
    socket.emit("binary", Buffer.from([1, 2, 3, 4]), { nested: Buffer.from([5, 6]) });
  });
}

function main() {
  const options = parseArgs(process.argv.slice(2));
  const httpServer = http.createServer();
  const io = new Server(httpServer, {
    path: "/socket.io/",
    transports: options.transports,
    pingInterval: 1000,
    pingTimeout: 2000,
    connectionStateRecovery: {
      maxDisconnectionDuration: 60 * 1000,
      skipMiddlewares: true,
    },
  });

  for (const name of ["/", "/custom"]) {
    const nsp = io.of(name);
    if (name === "/custom") {
      nsp.use((socket, next) => {
        const auth = socket.handshake.auth || {};
        if (auth.token === "secret") return next();
        const error = new Error("not authorized");
        error.data = { reason: "bad token" };
        next(error);
      });
    }
    nsp.on("connection", (socket) => {
      handlers(io, socket);
      socket.emit("welcome", welcome(socket));
    });
  }

  process.stdin.on("end", () => process.exit(0));
  process.stdin.on("close", () => process.exit(0));
  process.stdin.on("error", () => process.exit(0));
  process.stdin.resume();

  httpServer.listen(options.port, "127.0.0.1", () => {
    process.stdout.write(`listening ${httpServer.address().port}\n`);
  });
}

main();
