// The chat page: join a room under a name, talk to the room, see who comes and goes.
const socket = io();
const $ = (id) => document.getElementById(id);

function show(joined) {
  $("join").hidden = joined;
  $("chat").hidden = !joined;
  (joined ? $("text") : $("name")).focus();
}

function add(className, ...parts) {
  const item = document.createElement("li");
  item.className = className;
  for (const [tag, text] of parts) {
    const span = document.createElement(tag);
    span.textContent = text;
    item.append(span);
  }
  $("messages").append(item);
  item.scrollIntoView({ block: "end" });
}

function status() {
  $("status").textContent = socket.connected
    ? `connected (${socket.io.engine.transport.name})`
    : "disconnected";
  $("status").classList.toggle("online", socket.connected);
}

socket.on("connect", () => {
  status();
  socket.io.engine.on("upgrade", status);
  // After a reconnection, join the room again.
  if (!$("chat").hidden) $("join").requestSubmit();
});
socket.on("disconnect", status);

$("join").addEventListener("submit", async (event) => {
  event.preventDefault();
  const answer = await socket.emitWithAck("join", $("name").value, $("room").value);
  if (answer.error) {
    $("error").textContent = answer.error;
    return;
  }
  $("error").textContent = "";
  $("room").value = answer.room;
  $("room-name").textContent = `#${answer.room}`;
  $("messages").replaceChildren();
  add("notice", ["span", `You joined #${answer.room}`]);
  showMembers(answer.members);
  show(true);
});

$("leave").addEventListener("click", () => {
  socket.emit("leave");
  show(false);
});

$("send").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("text").value.trim();
  if (text) socket.emit("message", text);
  $("text").value = "";
});

function showMembers(names) {
  $("members").replaceChildren(
    ...names.map((name) => Object.assign(document.createElement("li"), { textContent: name })),
  );
}

socket.on("message", ({ name, text }) => add("message", ["b", name], ["span", text]));
socket.on("notice", (text) => add("notice", ["span", text]));
socket.on("members", showMembers);
