// The chat demo in a real browser: headless Chromium (Debian's /usr/bin/chromium, driven by
// npm's playwright-core, which downloads no browser) opens two pages of the chat, both join
// one room, each sends a message, and both must see both messages over a WebSocket
// (socket.io-client's polling, then its upgrade).
//
//   node interop/browser-chat.js http://127.0.0.1:3000 [SCREENSHOT_DIR]
//
// CHROMIUM=/path/to/chromium overrides the browser. Exits non-zero with the reason on failure.
"use strict";

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { chromium } = require("playwright-core");

const [url, shotDir] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
if (!url) {
  console.error("usage: browser-chat.js URL [SCREENSHOT_DIR]");
  process.exit(2);
}
if (!fs.existsSync(executablePath)) {
  console.error(`browser-chat: no Chromium at ${executablePath} (apt-get install -y chromium)`);
  process.exit(1);
}

const room = "rust";
const people = [
  { name: "Ana", text: "hello from Ana" },
  { name: "Ben", text: "hi from Ben" },
];

async function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "halyard-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 900, height: 560 },
  });
  context.setDefaultTimeout(15000);
  try {
    const pages = [];
    for (const person of people) {
      const page = await context.newPage();
      page.on("pageerror", (error) => console.error(`${person.name}'s page: ${error}`));
      await page.goto(url);
      await page.waitForFunction(() => socket.connected);
      await page.fill("#name", person.name);
      await page.fill("#room", room);
      await page.click("#join button");
      await page.waitForSelector("#chat", { state: "visible" });
      pages.push(page);
    }
    // Ana sees Ben in the room's member list.
    await pages[0].waitForFunction(
      () => document.querySelector("#members").textContent.includes("Ben"),
    );
    for (const [i, person] of people.entries()) {
      await pages[i].fill("#text", person.text);
      await pages[i].click("#send button");
    }
    for (const [i, person] of people.entries()) {
      const texts = people.map((p) => p.text);
      await pages[i]
        .waitForFunction(
          (texts) => texts.every((t) => document.querySelector("#messages").textContent.includes(t)),
          texts,
        )
        .catch(() => {
          throw new Error(`${person.name} did not see both messages`);
        });
      await pages[i]
        .waitForFunction(() => socket.io.engine.transport.name === "websocket")
        .catch(async () => {
          const name = await pages[i].evaluate(() => socket.io.engine.transport.name);
          throw new Error(`${person.name}'s transport is ${name}, not websocket`);
        });
    }
    const dir = shotDir || fs.mkdtempSync(path.join(os.tmpdir(), "halyard-chat-shot-"));
    const shot = path.join(dir, "chat.png");
    await pages[0].screenshot({ path: shot });
    console.log(`browser-chat: ok (2 pages in #${room}, both messages seen, websocket); screenshot ${shot}`);
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(`browser-chat: ${error.stack || error}`);
  process.exit(1);
});
