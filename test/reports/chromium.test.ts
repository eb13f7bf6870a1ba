// Opens the report page and the comparison page in headless Chromium (Debian's `chromium`) and checks that it loads with
// no console message at all and that its inline script ran. Skips when /usr/bin/chromium is absent.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { LOADED_TITLE, writeComparison, writeReport } from "../../src/reports/index.js";
import { writeFixtureRun } from "../helpers/reportFixture.js";

const CHROMIUM = process.env.METANAS_CHROMIUM ?? "/usr/bin/chromium";
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed (apt-get install chromium)`;
const root = mkdtempSync(join(tmpdir(), "metanas-report-chromium-"));
after(() => rmSync(root, { recursive: true, force: true }));

/** Loads a page headless; returns the serialised DOM and Chromium's console lines. */
function openPage(file: string): Promise<{ dom: string; console: string[] }> {
  const profile = mkdtempSync(join(root, "profile-"));
  const args = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    `--user-data-dir=${profile}`,
    "--enable-logging=stderr",
    "--v=0",
    "--dump-dom",
    pathToFileURL(file).href,
  ];
  return new Promise((resolve, reject) => {
    execFile(CHROMIUM, args, { timeout: 30_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`chromium failed: ${err.message}\n${stderr.slice(-2000)}`));
      // Console messages of every level are logged as ...:CONSOLE(...)] or ...:CONSOLE:N] lines.
      const consoleLines = stderr.split("\n").filter((l) => /CONSOLE|Uncaught/.test(l));
      resolve({ dom: stdout, console: consoleLines });
    });
  });
}

describe("report page in headless Chromium", { skip }, () => {
  it("the detector sees console errors and blocked loads (negative control)", async () => {
    const bad = join(root, "bad.html");
    writeFileSync(
      bad,
      `<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'"></head><body><script>console.error("boom"); notDefined();</script></body></html>`,
    );
    const { console: lines } = await openPage(bad);
    assert.ok(
      lines.some((l) => l.includes('"boom"')),
      lines.join("\n"),
    );
    assert.ok(
      lines.some((l) => l.includes("Uncaught ReferenceError")),
      lines.join("\n"),
    );
  });

  it("the report loads, runs its script and logs nothing to the console", async () => {
    const dir = writeFixtureRun(join(root, "run"), { epochs: 60 });
    const { html } = await writeReport(dir);
    const { dom, console: lines } = await openPage(html);
    assert.deepEqual(lines, []);
    assert.ok(dom.includes(`<title>${LOADED_TITLE}</title>`), "inline script ran");
    assert.match(dom, /data-loaded="1"/);
    assert.match(dom, /id="cell-normal"><svg/);
  });

  it("the comparison page loads, runs its script and logs nothing to the console", async () => {
    const a = writeFixtureRun(join(root, "run-a"), { epochs: 30 });
    const b = writeFixtureRun(join(root, "run-b"), { epochs: 50, genotype: false, config: { model: "conv4" } });
    const { html } = await writeComparison([a, b], join(root, "compare"));
    const { dom, console: lines } = await openPage(html);
    assert.deepEqual(lines, []);
    assert.ok(dom.includes(`<title>${LOADED_TITLE}</title>`), "inline script ran");
    assert.match(dom, /id="cells-0-normal"><svg/);
    assert.match(dom, /id="curves"><svg/);
    assert.match(dom, /class="diff genotype"/);
  });
});
