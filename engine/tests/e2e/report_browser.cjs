// Opens a LoadPilot HTML report in Debian's headless Chromium (driven by
// playwright-core) and reports what a person would see, as JSON on stdout:
//   node report_browser.cjs REPORT.html SCREENSHOT.png [TASK_TO_FILTER]
// Screenshots: SCREENSHOT.png at 1400 px in the light scheme, then
// SCREENSHOT-dark.png (dark scheme) and SCREENSHOT-400px.png (a 400 px wide
// window). Used by test_report.py; all verdicts are made there. Bounded in time: every
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
      Array.from(document.querySelectorAll("#task-filter label")).map((o) => o.textContent));
    // Before any hover: each chart's legend values (the last value of each
    // series), its axis labels and its threshold lines.
    out.legends = await page.evaluate(() => Object.fromEntries(
      Array.from(document.querySelectorAll(".chart")).map((c) => [c.id,
        Array.from(c.querySelectorAll(".u-legend .u-series")).map((s) => {
          const l = s.querySelector(".u-label"), v = s.querySelector(".u-value");
          return [l ? l.textContent : "", v ? v.textContent : null];
        })])));
    out.axes = await page.evaluate(() => Object.fromEntries(
      Array.from(document.querySelectorAll(".chart")).map((c) => [c.id, c.dataset.axes || null])));
    out.limits = await page.evaluate(() => Object.fromEntries(
      Array.from(document.querySelectorAll(".chart")).map((c) => [c.id, c.dataset.limits || null])));
    // Each chart's y-scale minimum, the p99 gauge's colour step and the
    // headline cards, as the page shows them.
    out.ymin = await page.evaluate(() => Object.fromEntries(
      Array.from(document.querySelectorAll(".chart")).map((c) => [c.id,
        c.dataset.ymin === undefined ? null : Number(c.dataset.ymin)])));
    out.gauge_level = await page.evaluate(() => document.getElementById("gauge-p99").dataset.level || null);
    out.gauge_arc = await page.evaluate(() => {
      // The colour of the value arc: the pixel a little inside the arc's start.
      const c = document.querySelector("#gauge-p99 canvas");
      if (!c) return null;
      const r = c.width / 260;
      const px = c.getContext("2d").getImageData(Math.round((130 - 95 + 1) * r), Math.round(140 * r), 1, 1).data;
      return [px[0], px[1], px[2]];
    });
    out.gauge_colors = await page.evaluate(() => {
      const css = (n) => getComputedStyle(document.documentElement).getPropertyValue(n).trim();
      return { green: css("--ok"), orange: css("--orange"), red: css("--bad") };
    });
    out.cards = await page.evaluate(() => Object.fromEntries(
      Array.from(document.querySelectorAll("#headline .card")).map((c) => [
        c.querySelector(".label").textContent,
        [c.querySelector(".value").textContent, c.querySelector(".sub") ? c.querySelector(".sub").textContent : ""]])));
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
      const index = await page.evaluate((name) =>
        Array.from(document.querySelectorAll("#task-filter label")).findIndex((x) => x.textContent === name),
      filterTask);
      if (index >= 0) {
        await page.locator("#task-filter label").nth(index).click();
        await page.waitForTimeout(300);
        out.after_filter = await page.evaluate(canvasState);
        out.filter_selected = await page.evaluate(() =>
          Array.from(document.querySelectorAll("#task-filter label"))
            .filter((o) => o.querySelector("input").checked).map((o) => o.textContent));
      }
    }
    const shot = (suffix) => screenshotPath.replace(/\.png$/, "") + suffix + ".png";
    // Dark scheme: the report redraws its charts in the dark palette.
    await page.emulateMedia({ colorScheme: "dark" });
    await page.waitForTimeout(300);
    out.dark_background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.screenshot({ path: shot("-dark"), fullPage: true });
    await page.emulateMedia({ colorScheme: "light" });
    // A 400 px window: nothing may be wider than the page, and no column of
    // a table or panel may be squeezed to a letter per line.
    await page.setViewportSize({ width: 400, height: 900 });
    await page.waitForTimeout(500);
    out.narrow = await page.evaluate(() => {
      const narrowest = (sel) => Math.min(...Array.from(document.querySelectorAll(sel))
        .filter((e) => e.textContent.length > 1).map((e) => e.getBoundingClientRect().width), 1e9);
      const charts = Array.from(document.querySelectorAll(".chart canvas, .gauge canvas"))
        .map((c) => c.getBoundingClientRect().right);
      return {
        scroll_width: document.documentElement.scrollWidth,
        client_width: document.documentElement.clientWidth,
        narrowest_text_cell: narrowest("td.text, th.text"),
        chart_right: Math.max(...charts),
      };
    });
    await page.screenshot({ path: shot("-400px"), fullPage: true });
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
