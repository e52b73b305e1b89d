// The supervisor console end to end in headless Chromium against a real fieldnote-server
// (started by scripts/console-tests with the demo agency) and a real device (the fieldnote
// CLI): sign in with a password and an authenticator code; see an alarm raised by the device
// arrive live without reloading, acknowledge it, and see the acknowledgement reach the
// device; keep hearing alarms past the idle limit and on every page, with what a responder
// needs on the row, typed answers kept across live refreshes, reportable resolutions kept
// with their deadline, who is out now, and a lost stream announced and replaced by polling; return a note the device finalized with a comment and see the comment reach the
// device; co-sign a plan and see the signature reach the device; export the member's record
// (FHIR validated with the `fhir` package, PDF, Part 2 consent honoured); and check every
// page with axe-core. Saves screenshots. Prints "console e2e: N passed, M failed".
import { chromium } from "playwright-core";
import * as OTPAuth from "otpauth";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateBundle } from "./fhir-validate.mjs";

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
/** Runs axe-core (WCAG 2 A and AA rules) on the current page; returns the violations. */
async function accessibilityViolations(page) {
  await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const r = await globalThis.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] });
    // A run that checked nothing proves nothing: every page has text whose contrast was
    // checked.
    const passed = new Set(r.passes.map((p) => p.id));
    const missing = ["color-contrast"].filter((id) => !passed.has(id) && !r.violations.some((v) => v.id === id));
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.length} node(s), e.g. ${v.nodes[0]?.html.slice(0, 120)}`)
      .concat(missing.map((id) => `axe did not check ${id}`));
  });
}

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
    check(await page.locator("#live-banner #new-alarm").isVisible(), "the banner shows");
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
  await step("the alarm page left idle past the console's idle limit still hears a new alarm", async () => {
    // scripts/console-tests starts the server with a 12-second idle limit.
    await page.goto(`${url}/console/alarms`);
    await page.locator("#live-status", { hasText: "Live:" }).waitFor({ timeout: 10000 });
    await page.waitForTimeout(20000); // no request from the person, well past the limit
    check((await page.locator("#live-status").textContent()).startsWith("Live:"), "still live");
    const out = fieldnote(phone, "alarm", "raise", "panic");
    const id = out.match(/alarm (\S+) recorded/)[1];
    await page.locator(`tr[data-alarm="${id}"]`).waitFor({ timeout: 10000 });
    check(await page.locator("#live-banner #new-alarm").isVisible(), "announced");
    const team = await page.request.get(`${url}/console/team`, { maxRedirects: 0 });
    check(team.status() === 200, `the session is still signed in: ${team.status()}`);
  });

  await step("an alarm raised while another console page is open is announced on it", async () => {
    await page.goto(`${url}/console/team`);
    await page.locator("#alarm-count").waitFor({ state: "attached" });
    const before = Number(await page.locator("#alarm-count").getAttribute("data-count"));
    await page.waitForTimeout(1500); // the page's stream is open
    fieldnote(phone, "alarm", "raise", "panic");
    await page.locator("#live-banner #new-alarm").waitFor({ timeout: 10000 });
    check((await page.locator("#live-banner").textContent()).includes("Open Alarms"), "links to the alarms");
    await page.waitForFunction((n) => Number(document.getElementById("alarm-count").dataset.count) === n + 1,
      before, { timeout: 10000 });
    check((await page.title()).includes("New alarm"), `title: ${await page.title()}`);
    await page.screenshot({ path: join(shots, "console-alarm-elsewhere.png"), fullPage: true });
  });

  let visitAlarm;
  await step("the alarm row gives a responder the member, phone, place, age and next tier", async () => {
    fieldnote(phone, "sync");
    const caseload = JSON.parse(fieldnote(phone, "--json", "member", "list"));
    const member = caseload[0].member_id;
    fieldnote(phone, "session", "start", "--member", member, "--place", "Home visit, Dorchester", "--minutes", "30");
    const out = fieldnote(phone, "alarm", "raise", "panic");
    visitAlarm = out.match(/alarm (\S+) recorded/)[1];
    await page.goto(`${url}/console/alarms`);
    const row = page.locator(`tr[data-alarm="${visitAlarm}"]`);
    const text = await row.textContent();
    check(text.includes("Visiting") && !text.includes(member), `the member by name, not id: ${text}`);
    check(text.includes("Home visit, Dorchester"), "the visit's place");
    check(/Call 617-555-01\d\d/.test(text), `the worker's phone: ${text}`);
    check(/Raised \d+ s ago \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d E[SD]T\)/.test(text), `age in local time: ${text}`);
    check(/Next tier in \d+ (s|min)/.test(text), `countdown to the next tier: ${text}`);
    const discreet = fieldnote(phone, "alarm", "raise", "discreet").match(/alarm (\S+) recorded/)[1];
    const silent = page.locator(`tr[data-alarm="${discreet}"]`);
    await silent.waitFor({ timeout: 10000 });
    check((await silent.textContent()).includes("Do not call: silent alarm"), "the silent warning");
    check(await silent.locator("a.phone").count() === 0, "no call link on a silent alarm");
    await page.screenshot({ path: join(shots, "console-alarm-row.png"), fullPage: true });
  });

  await step("a live refresh keeps a ticked box, typed outcome and focus", async () => {
    const row = page.locator(`tr[data-alarm="${visitAlarm}"]`);
    await row.getByLabel("Reportable incident").check();
    const outcome = row.getByLabel("Outcome");
    await outcome.fill("Police called; worker safe in car");
    await outcome.focus();
    const another = fieldnote(phone, "alarm", "raise", "panic").match(/alarm (\S+) recorded/)[1];
    await page.locator(`tr[data-alarm="${another}"]`).waitFor({ timeout: 10000 }); // rows replaced
    const fresh = page.locator(`tr[data-alarm="${visitAlarm}"]`);
    check(await fresh.getByLabel("Reportable incident").isChecked(), "the box stays ticked");
    check(await fresh.getByLabel("Outcome").inputValue() === "Police called; worker safe in car", "the outcome stays");
    check(await page.evaluate((id) => document.activeElement?.id === `outcome-${id}`, visitAlarm), "focus stays");
    await page.keyboard.type(" now");
    check((await fresh.getByLabel("Outcome").inputValue()).endsWith("car now"), "typing goes on where it was");
  });

  await step("a reportable resolution shows the report's deadline in the closed alarms", async () => {
    await page.locator(`tr[data-alarm="${visitAlarm}"]`).getByRole("button", { name: "Resolve" }).click();
    await page.waitForURL("**/console/alarms");
    const closed = page.locator(`#closed-alarms tr[data-alarm="${visitAlarm}"]`);
    await closed.waitFor();
    const text = await closed.textContent();
    check(text.includes("Police called; worker safe in car now"), `the outcome: ${text}`);
    check(/Reportable: report due (in|due)/.test(text), `the incident report's deadline: ${text}`);
    await page.screenshot({ path: join(shots, "console-closed-alarms.png"), fullPage: true });
  });

  await step("out now: visits in progress, updated live", async () => {
    // The visit of the steps above ended on the phone when the alarm was raised in it.
    await page.goto(`${url}/console/visits`);
    await page.locator("#live-status", { hasText: "Live:" }).waitFor({ timeout: 10000 });
    const out = fieldnote(phone, "session", "start", "--place", "Court, Brockton", "--minutes", "45");
    const session = out.match(/session (\S+) started/)[1];
    const row = page.locator(`tr[data-session="${session}"]`);
    await row.waitFor({ timeout: 10000 }); // no reload
    const text = await row.textContent();
    check(text.includes("worker1 north") && text.includes("Court, Brockton"), `worker and place: ${text}`);
    check(/Missed check-in in \d+ min/.test(text), `time to the missed check-in: ${text}`);
    await page.screenshot({ path: join(shots, "console-out-now.png"), fullPage: true });
    fieldnote(phone, "session", "end");
    await row.waitFor({ state: "detached", timeout: 10000 });
  });

  await step("a lost live stream is loud and falls back to polling until it is back", async () => {
    await page.route("**/console/events", (route) => route.abort());
    await page.goto(`${url}/console/alarms`);
    await page.locator("#live-banner #live-trouble").waitFor({ timeout: 30000 });
    check((await page.title()).includes("Live updates down"), `title: ${await page.title()}`);
    const id = fieldnote(phone, "alarm", "raise", "panic").match(/alarm (\S+) recorded/)[1];
    await page.locator(`tr[data-alarm="${id}"]`).waitFor({ timeout: 15000 }); // by polling
    await page.screenshot({ path: join(shots, "console-live-lost.png"), fullPage: true });
    await page.unroute("**/console/events");
    await page.locator("#live-banner #live-trouble").waitFor({ state: "detached", timeout: 30000 });
    check((await page.locator("#live-status").textContent()).startsWith("Live:"), "live again");
  });

  // The phone (worker1.north) documents a visit with a CSP-JI member and signs a plan.
  let noteId, planId, memberId;
  const comment = "Please add who else attended & the next appointment.";
  await step("a note finalized on the phone waits in the review queue", async () => {
    fieldnote(phone, "sync");
    const caseload = JSON.parse(fieldnote(phone, "--json", "member", "list"));
    const ji = caseload.find((m) => m.enrollments.some(([code]) => /ji/i.test(code)));
    check(ji, "the demo caseload has a CSP-JI member");
    memberId = ji.member_id;
    const program = ji.enrollments.find(([code]) => /ji/i.test(code))[0];
    noteId = fieldnote(phone, "note", "write", "--member", memberId, "--program", program, "--minutes", "45",
      "--narrative", "Met at the library to look at housing applications <b>together</b>.").trim();
    fieldnote(phone, "note", "finalize", noteId, "--name", "worker1 north");
    planId = fieldnote(phone, "plan", "create", "--member", memberId, "--program", program,
      "--goal", "Keep a stable place to live").trim();
    fieldnote(phone, "plan", "sign", planId, "--role", "worker", "--name", "worker1 north");
    fieldnote(phone, "sync");
    await page.getByRole("link", { name: "Review" }).click();
    await page.waitForURL("**/console/review");
    check(await page.locator(`tr[data-record="${noteId}"]`).count() === 1, "the note is queued");
    check(await page.locator(`tr[data-record="${planId}"]`).count() === 1, "the plan is queued");
    await page.screenshot({ path: join(shots, "console-review.png"), fullPage: true });
  });

  await step("returning the note with a comment reaches the phone", async () => {
    await page.locator(`tr[data-record="${noteId}"]`).getByRole("link").first().click();
    const content = await page.locator("main").textContent();
    check(content.includes("<b>together</b>"), "note text shown as text, not markup");
    await page.getByLabel("Comment to the worker").fill(comment);
    await page.getByRole("button", { name: "Return to worker" }).click();
    await page.locator("#review-state", { hasText: "returned" }).waitFor();
    await page.screenshot({ path: join(shots, "console-returned.png"), fullPage: true });
    fieldnote(phone, "sync");
    const shown = JSON.parse(fieldnote(phone, "--json", "show", noteId));
    check(shown.review.state === "returned", `device sees ${shown.review.state}`);
    check(shown.review.review.comment === comment, `comment on the device: ${shown.review.review.comment}`);
    check(shown.review.review.signer.name === "supervisor north", "signed by the supervisor");
  });

  await step("co-signing the plan reaches the phone", async () => {
    await page.goto(`${url}/console/records/${planId}`);
    await page.getByRole("button", { name: "Co-sign plan" }).click();
    await page.waitForURL(`**/console/records/${planId}?done=cosigned`);
    fieldnote(phone, "sync");
    const signatures = JSON.parse(fieldnote(phone, "--json", "plan", "show", planId));
    const supervisor = signatures.roles.find(([role]) => role === "supervisor");
    check(supervisor && supervisor[1].state === "current", `supervisor signature on the device: ${JSON.stringify(supervisor)}`);
  });

  await step("text typed into a form is kept when the session ended before it was sent", async () => {
    await page.goto(`${url}/console/records/${noteId}`);
    const cookies = await page.context().cookies();
    const typed = "Typed just before the session ended";
    await page.getByLabel("Comment to the worker").fill(typed);
    await page.context().clearCookies(); // as an automatic sign-out would
    await page.getByRole("button", { name: "Approve" }).click();
    await page.locator("#refused").waitFor();
    check((await page.locator("#refused").textContent()).includes("sign in again"), "the refusal says why");
    await page.context().addCookies(cookies);
    await page.goto(`${url}/console/records/${noteId}`);
    const kept = await page.getByLabel("Comment to the worker").inputValue();
    check(kept === typed, `kept: ${kept}`);
    await page.getByLabel("Comment to the worker").fill("");
  });

  await step("export: FHIR validates, PDF is a PDF, Part 2 records only under consent", async () => {
    await page.goto(`${url}/console/members/${memberId}`);
    const consentOption = page.locator("#consent option").nth(1);
    const consentId = await consentOption.getAttribute("value");
    check(consentId, "the member's Part 2 consent is offered");
    const base = `${url}/console/members/${memberId}/export`;
    const withheld = await page.request.get(`${base}?format=fhir&consent=`);
    check(withheld.ok(), `fhir export: ${withheld.status()}`);
    const bundle = await withheld.json();
    const errors = validateBundle(bundle);
    check(errors.length === 0, `FHIR validation:\n${errors.join("\n")}`);
    check(!JSON.stringify(bundle).includes("Outpatient substance use treatment"), "withheld without consent");
    const disclosed = await (await page.request.get(`${base}?format=fhir&consent=${consentId}`)).json();
    check(validateBundle(disclosed).length === 0, "the disclosed bundle validates");
    check(JSON.stringify(disclosed).includes("42 CFR part 2"), "the redisclosure notice travels with it");
    const pdf = await page.request.get(`${base}?format=pdf&consent=`);
    check((await pdf.body()).subarray(0, 5).toString() === "%PDF-", "a PDF");
    await page.reload();
    check((await page.locator("#disclosures tbody tr").count()) >= 3, "each export is accounted");
    await page.screenshot({ path: join(shots, "console-member.png"), fullPage: true });
  });

  await step("accessibility: no WCAG 2.1 A/AA violations on the console's pages", async () => {
    const pages = ["/console/alarms", "/console/visits", "/console/team", "/console/review", `/console/records/${noteId}`,
      `/console/records/${planId}`, `/console/members/${memberId}`];
    const found = [];
    for (const path of pages) {
      await page.goto(`${url}${path}`);
      for (const v of await accessibilityViolations(page)) found.push(`${path}: ${v}`);
    }
    // The record page's review form: its text box is labelled and reachable by keyboard.
    await page.goto(`${url}/console/records/${planId}`);
    await page.keyboard.press("Tab"); // the skip link comes first
    check(await page.evaluate(() => document.activeElement?.textContent) === "Skip to content", "skip link first");
    const box = page.getByLabel("Comment to the worker");
    await box.focus();
    check(await box.evaluate((b) => document.activeElement === b), "the comment box takes focus");
    await page.goto(`${url}/console/team`);
    await page.screenshot({ path: join(shots, "console-team.png"), fullPage: true });
    check(found.length === 0, found.join("\n"));
  });
} catch (_) {
  // Reported by step(); the summary below counts it.
} finally {
  await browser.close();
}
const passed = results.filter(([, ok]) => ok).length;
const failed = results.length - passed;
console.log(`console e2e: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed === 20 ? 0 : 1);
