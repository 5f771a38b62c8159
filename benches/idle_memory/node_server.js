// Node reference servers for the idle-memory measurement (benches/idle_memory/).
//
//   node benches/idle_memory/node_server.js engine.io PORT   # npm's engine.io, echo, /engine.io/
//   node benches/idle_memory/node_server.js socket.io PORT   # npm's socket.io, echo, /socket.io/
//
// Both use the packages pinned in interop/ (engine.io 6.6 is the one socket.io 4.8 runs on)
// with their default options, listen on 127.0.0.1 only, and print "listening" once ready.
'use strict';

const http = require('node:http');
const path = require('node:path');
const { createRequire } = require('node:module');

const interop = createRequire(path.join(__dirname, '..', '..', 'interop', 'package.json'));
const [kind, port] = process.argv.slice(2);

const httpServer = http.createServer();
if (kind === 'engine.io') {
  const { Server } = interop('engine.io');
  const engine = new Server();
  engine.attach(httpServer);
  engine.on('connection', (socket) => {
    socket.on('message', (data) => socket.send(data));
  });
} else if (kind === 'socket.io') {
  const { Server } = interop('socket.io');
  const io = new Server(httpServer);
  io.on('connection', (socket) => {
    socket.on('message', (...args) => socket.emit('message', ...args));
  });
} else {
  console.error('usage: node_server.js engine.io|socket.io PORT');
  process.exit(2);
}
httpServer.listen(Number(port), '127.0.0.1', () => console.log('listening'));
