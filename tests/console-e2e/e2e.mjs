// The supervisor console end to end in headless Chromium against a real fieldnote-server
// (started by scripts/console-tests with the demo agency) and a real device (the fieldnote
// CLI): sign in with a password and an authenticator code, see an alarm raised by the device
// arrive live without reloading, acknowledge it, and see the acknowledgement reach the
// device. Saves screenshots. Prints "console e2e: N passed, M failed".
import { chromium } from "playwright-core";
import * as OTPAuth from "otpauth";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const url = process.env.FIELDNOTE_URL;
const cli = process.env.FIELDNOTE_CLI;
const shots = process.env.FIELDNOTE_SHOTS;
const password = "fieldnote-demo-password";
if (!url || !cli || !shots) throw new Error("FIELDNOTE_URL, FIELDNOTE_CLI and FIELDNOTE_SHOTS must be set");

const results = [];
async function step(name, fn) {
  try {
    await fn();
    results.push([name, true]);
    console.log(`ok   ${name}`);
  } catch (e) {
    results.push([name, false]);
    console.log(`FAIL ${name}: ${e.stack || e}`);
    console.log(`  at ${page.url()}: ${(await page.locator("main").textContent().catch(() => "")).slice(0, 300)}`);
    await page.screenshot({ path: join(shots, "failure.png") }).catch(() => {});
    throw e;
  }
}
function check(cond, what) {
  if (!cond) throw new Error(what);
}
function fieldnote(store, ...args) {
  return execFileSync(cli, ["--store", store, ...args], {
    env: { ...process.env, FIELDNOTE_PASSWORD: password },
    encoding: "utf8",
  }).trim();
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
const phone = mkdtempSync(join(tmpdir(), "fieldnote-e2e-phone-"));
let alarmId;
try {
  await step("sign-in page is served with a strict Content-Security-Policy", async () => {
    const response = await page.goto(`${url}/console/alarms`);
    check(page.url().endsWith("/console/login"), `redirected to sign-in, at ${page.url()}`);
    const csp = response.headers()["content-security-policy"] || "";
    check(csp.includes("script-src 'self'"), `CSP: ${csp}`);
  });

  await step("password, then authenticator enrollment and code", async () => {
    await page.getByLabel("User name").fill("supervisor.north");
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Continue" }).click();
    await page.waitForURL("**/console/mfa");
    const secret = (await page.locator("#totp-secret").textContent()).trim();
    const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30 });
    await page.screenshot({ path: join(shots, "console-mfa.png") });
    await page.getByLabel("6-digit code").fill(totp.generate());
    await page.getByRole("button", { name: "Verify" }).click();
    await page.waitForURL("**/console/alarms");
    await page.locator("#live-status", { hasText: "Live:" }).waitFor({ timeout: 10000 });
  });

  await step("an alarm raised on a phone appears at once, with a visible cue", async () => {
    fieldnote(phone, "login", "--server", url, "--user", "worker1.north");
    const out = fieldnote(phone, "alarm", "raise", "panic", "--latitude", "42.3601", "--longitude", "-71.0589");
    alarmId = out.match(/alarm (\S+) recorded/)[1];
    const row = page.locator(`tr[data-alarm="${alarmId}"]`);
    await row.waitFor({ timeout: 10000 }); // no reload: pushed through the live stream
    check(await page.locator("#alarm-banner").isVisible(), "the banner shows");
    check((await page.title()).includes("New alarm"), `title: ${await page.title()}`);
    check((await row.textContent()).includes("42.36010"), "the location is shown");
    await page.screenshot({ path: join(shots, "console-alarms.png"), fullPage: true });
  });

  await step("keyboard: the Acknowledge button is reachable and labelled", async () => {
    const button = page.locator(`tr[data-alarm="${alarmId}"]`).getByRole("button", { name: "Acknowledge" });
    await button.focus();
    check(await button.evaluate((b) => document.activeElement === b), "focusable");
  });

  await step("acknowledging reaches the device", async () => {
    await page.locator(`tr[data-alarm="${alarmId}"]`).getByRole("button", { name: "Acknowledge" }).click();
    await page.waitForURL("**/console/alarms");
    await page.locator(`tr[data-alarm="${alarmId}"]`, { hasText: "Acknowledged by" }).waitFor({ timeout: 10000 });
    const status = JSON.parse(fieldnote(phone, "--json", "alarm", "status", alarmId));
    check(status.state === "acknowledged", `device sees ${status.state}`);
    check(status.acknowledged_by_name === "supervisor north", `by ${status.acknowledged_by_name}`);
    await page.screenshot({ path: join(shots, "console-acknowledged.png"), fullPage: true });
  });

  await step("typed text survives leaving the page (as after an automatic sign-out)", async () => {
    const outcome = page.locator(`#outcome-${alarmId}`);
    await outcome.fill("Called the worker; on the way");
    await page.reload();
    const kept = await page.locator(`#outcome-${alarmId}`).inputValue();
    check(kept === "Called the worker; on the way", `kept: ${kept}`);
  });

  await step("the alarm's audit trail lists raise and acknowledgement", async () => {
    await page.locator(`tr[data-alarm="${alarmId}"]`).getByRole("link", { name: "Audit trail" }).click();
    const text = await page.locator("main").textContent();
    check(text.includes("alarm.raise.panic") && text.includes("alarm.acknowledge"), "trail entries");
  });
} catch (_) {
  // Reported by step(); the summary below counts it.
} finally {
  await browser.close();
}
const passed = results.filter(([, ok]) => ok).length;
const failed = results.length - passed;
console.log(`console e2e: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed === 7 ? 0 : 1);
