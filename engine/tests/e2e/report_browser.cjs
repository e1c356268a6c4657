// Opens a LoadPilot HTML report in Debian's headless Chromium (driven by
// playwright-core) and reports what a person would see, as JSON on stdout:
//   node report_browser.cjs REPORT.html SCREENSHOT.png [TASK_TO_FILTER]
// Used by test_report.py; all verdicts are made there. Bounded in time: every
// Playwright call has a timeout and the whole script gives up after 60 s.
"use strict";
const path = require("path");

const webDir = process.env.LOADPILOT_WEB_DIR;
if (!webDir) {
  console.error("LOADPILOT_WEB_DIR is not set (the build's web/ folder with node_modules)");
  process.exit(2);
}
const { chromium } = require(require.resolve("playwright-core", { paths: [webDir] }));
const [reportPath, screenshotPath, filterTask] = process.argv.slice(2);
const watchdog = setTimeout(() => {
  console.error("report_browser: gave up after 60 s");
  process.exit(3);
}, 60000);

// Pixels of every canvas under each chart host, with a count of drawn
// (non-transparent) pixels; used before and after the filter changes.
function canvasState() {
  const hosts = Array.from(document.querySelectorAll(".chart, .gauge"));
  return hosts.map((host) => {
    const canvases = Array.from(host.querySelectorAll("canvas"));
    let drawn = 0, hash = 0;
    for (const c of canvases) {
      if (!c.width || !c.height) continue;
      const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      for (let i = 0; i < px.length; i += 4) {
        if (px[i + 3] !== 0) drawn++;
        hash = (hash * 31 + px[i] + 7 * px[i + 1] + 13 * px[i + 2] + 17 * px[i + 3]) | 0;
      }
    }
    return { id: host.id, canvases: canvases.length, drawn: drawn, hash: hash };
  });
}

(async () => {
  const userDataDir = require("fs").mkdtempSync(path.join(require("os").tmpdir(), "lp-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    timeout: 30000,
    viewport: { width: 1400, height: 1000 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const out = { console_errors: [], page_errors: [], requests: [], dialogs: [] };
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(15000);
    page.on("console", (m) => { if (m.type() === "error") out.console_errors.push(m.text()); });
    page.on("pageerror", (e) => out.page_errors.push(String(e)));
    page.on("request", (r) => out.requests.push(r.url()));
    page.on("dialog", async (d) => { out.dialogs.push(d.message()); await d.dismiss(); });
    const url = "file://" + path.resolve(reportPath);
    out.url = url;
    const t0 = Date.now();
    await page.goto(url, { waitUntil: "load" });
    // The footer is filled last: the report's script has run to the end.
    await page.waitForFunction(() => document.getElementById("footer").textContent.length > 0);
    out.load_ms = Date.now() - t0;
    await page.waitForTimeout(300);
    out.before = await page.evaluate(canvasState);
    out.text = await page.evaluate(() => document.body.innerText);
    out.title = await page.title();
    out.section_titles = await page.evaluate(() =>
      Array.from(document.querySelectorAll("h2, figcaption")).map((e) => e.textContent));
    out.filter_options = await page.evaluate(() =>
      Array.from(document.querySelectorAll("#task-filter option")).map((o) => o.textContent));
    out.injected = await page.evaluate(() => document.querySelectorAll("#hostile, .hostile, img, iframe").length);
    // Shared cursor: hover the middle of the first chart and read the time
    // each chart's legend shows.
    const over = page.locator("#chart-rps .u-over");
    const box = (await over.count()) ? await over.boundingBox() : null;
    if (box) {
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.waitForTimeout(200);
      out.hover = await page.evaluate(() => Object.fromEntries(
        Array.from(document.querySelectorAll(".chart")).map((c) => {
          const v = c.querySelector(".u-legend .u-series:nth-child(1) .u-value");
          return [c.id, v ? v.textContent : null];
        })));
      await page.mouse.move(0, 0);
    }
    await page.screenshot({ path: screenshotPath, fullPage: true });
    if (filterTask) {
      const value = await page.evaluate((name) => {
        const o = Array.from(document.querySelectorAll("#task-filter option")).find((x) => x.textContent === name);
        return o ? o.value : null;
      }, filterTask);
      if (value !== null) {
        await page.selectOption("#task-filter", [value]);
        await page.waitForTimeout(300);
        out.after_filter = await page.evaluate(canvasState);
        out.filter_selected = await page.evaluate(() =>
          Array.from(document.querySelectorAll("#task-filter option")).filter((o) => o.selected).map((o) => o.textContent));
      }
    }
  } finally {
    await context.close();
    require("fs").rmSync(userDataDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    clearTimeout(watchdog);
  }
  process.stdout.write(JSON.stringify(out));
})().catch((e) => {
  console.error("report_browser: " + (e && e.stack ? e.stack : e));
  process.exit(1);
});
