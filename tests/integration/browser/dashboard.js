// Drives Debian's Chromium (headless, through playwright-core) against fox's dashboard for
// tests/integration/test_dashboard.py. Talks to the test over stdin/stdout, one line each:
//   node dashboard.js URL SESSION_CELLS RETAINED_PREFIX RETAINED_TOPIC RETAINED_VALUE SCREENSHOT
// (SESSION_CELLS: a JSON array of texts one row of the sessions table must show; DASH_LOGIN=
// user:secret in the environment: the login form the page shows when it cannot join anonymously
// is filled in) prints "SESSION_SHOWN", then "QUIET" once the received rate shows 0 (the test starts
// publishing then), "RATE <n>" when the rate moved, "RETAINED_FOUND" when the search showed the
// value, and last a JSON line {"console_errors": [...]} ; exits 0, or 1 with "FAIL <why>".
"use strict";
const { chromium } = require("playwright-core");

const [url, sessionCells, prefix, topic, value, screenshot] = process.argv.slice(2);
const say = (line) => process.stdout.write(line + "\n");

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  const errors = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1100 } });
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(url);
    const connected = () => document.getElementById("status").textContent.startsWith("connected");
    if (process.env.DASH_LOGIN) {
      await page.waitForSelector("#login", { state: "visible", timeout: 10000 });
      const [user, secret] = process.env.DASH_LOGIN.split(":");
      await page.fill("#login-authid", user);
      await page.fill("#login-ticket", secret);
      await page.click("#login button");
    }
    await page.waitForFunction(connected, null, { timeout: 10000 });
    // The session the test opened is in the table.
    await page.waitForFunction((cells) => [...document.querySelectorAll("#sessions tbody tr")]
      .some((tr) => cells.every((c) => [...tr.cells].some((td) => td.textContent === c))),
                               JSON.parse(sessionCells), { timeout: 10000 });
    say("SESSION_SHOWN");
    // Quiet: two rate samples, the last one 0 (nothing published during it).
    const quiet = await page.waitForFunction(() => {
      const r = document.getElementById("rate-in");
      const n = Number(r.dataset.samples || 0);
      return n >= 2 && parseFloat(r.textContent) === 0 ? n : false;
    }, null, { timeout: 15000 });
    const samples = await quiet.jsonValue();
    say("QUIET");
    // Then the rate of a later sample is above 0.
    await page.waitForFunction((n) => {
      const r = document.getElementById("rate-in");
      return Number(r.dataset.samples) > n && parseFloat(r.textContent) > 0;
    }, samples, { timeout: 15000 });
    say("RATE " + await page.textContent("#rate-in"));
    await page.fill("#search-text", prefix);
    await page.click("#search button");
    await page.waitForFunction(([t, v]) => [...document.querySelectorAll("#retained tbody tr")]
      .some((tr) => tr.cells[0].textContent === t && tr.cells[1].textContent === v), [topic, value],
                               { timeout: 10000 });
    say("RETAINED_FOUND");
    await page.screenshot({ path: screenshot, fullPage: true });
  } finally {
    await browser.close();
  }
  say(JSON.stringify({ console_errors: errors }));
}

main().then(() => process.exit(0), (e) => { say("FAIL " + String(e).split("\n")[0]); process.exit(1); });
