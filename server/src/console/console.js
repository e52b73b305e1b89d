// The console's only script. It keeps what a person typed across an automatic sign-out
// (in this tab's sessionStorage, never sent anywhere), and on the alarms page it opens the
// live stream and refreshes the rows the moment an alarm changes, with a sound and a
// visible banner for new alarms. Every action still works as a plain form without it.
"use strict";

(function keepTypedInput() {
  const key = (el) => "fieldnote:" + location.pathname + ":" + el.id;
  const fields = () =>
    document.querySelectorAll("input[id]:not([type=password]):not([type=hidden]):not([name=code]), textarea[id]");
  for (const el of fields()) {
    const saved = sessionStorage.getItem(key(el));
    if (saved !== null && !el.value) el.value = saved;
  }
  document.addEventListener("input", (ev) => {
    const el = ev.target;
    if (el.id && (el.tagName === "TEXTAREA" || el.type === "text" || el.type === "")) {
      sessionStorage.setItem(key(el), el.value);
    }
  });
  // A submitted form's text is set aside until the next page says how it went: kept when
  // the server refused it (the session had ended, a field was wrong), dropped otherwise.
  const pending = "fieldnote:pending:";
  const refused = document.getElementById("refused") !== null;
  for (let i = sessionStorage.length - 1; i >= 0; i--) {
    const k = sessionStorage.key(i);
    if (!k || !k.startsWith(pending)) continue;
    if (refused) sessionStorage.setItem(k.slice(pending.length), sessionStorage.getItem(k));
    sessionStorage.removeItem(k);
  }
  document.addEventListener("submit", (ev) => {
    for (const el of ev.target.querySelectorAll("[id]")) {
      const saved = sessionStorage.getItem(key(el));
      if (saved !== null) sessionStorage.setItem(pending + key(el), saved);
      sessionStorage.removeItem(key(el));
    }
  });
})();

(function liveAlarms() {
  let rows = document.getElementById("alarm-rows");
  if (!rows) return;
  const status = document.getElementById("live-status");
  const banner = document.getElementById("alarm-banner");
  const raisedIds = (tbody) =>
    Array.from(tbody.querySelectorAll("tr.raised[data-alarm]"), (r) => r.dataset.alarm);
  let known = new Set(raisedIds(rows));

  function sound() {
    try {
      const ctx = new AudioContext();
      for (let i = 0; i < 3; i++) {
        const osc = ctx.createOscillator();
        osc.frequency.value = 880;
        osc.connect(ctx.destination);
        osc.start(ctx.currentTime + i * 0.4);
        osc.stop(ctx.currentTime + i * 0.4 + 0.25);
      }
    } catch (_) {
      // No audio device or autoplay blocked: the banner and title still show it.
    }
  }

  function cue(count) {
    banner.textContent = count === 1 ? "New alarm: answer it below." : count + " new alarms: answer them below.";
    banner.hidden = false;
    document.title = "(" + count + ") New alarm · Fieldnote";
    document.body.classList.add("alerting");
    sound();
  }

  async function refresh() {
    const typed = {};
    for (const el of rows.querySelectorAll("input[id]")) typed[el.id] = el.value;
    let response;
    try {
      response = await fetch("/console/alarms/rows", { credentials: "same-origin", redirect: "manual" });
    } catch (_) {
      status.textContent = "Live updates interrupted; retrying…";
      return;
    }
    if (response.status !== 200) {
      status.textContent = "Signed out after inactivity. Sign in again to keep answering alarms.";
      return;
    }
    const template = document.createElement("template");
    template.innerHTML = await response.text(); // markup from this server, values escaped there
    const fresh = template.content.getElementById("alarm-rows");
    if (!fresh) return;
    for (const [id, value] of Object.entries(typed)) {
      const el = fresh.querySelector("#" + CSS.escape(id));
      if (el) el.value = value;
    }
    rows.replaceWith(fresh);
    rows = fresh;
    const now = raisedIds(rows);
    const added = now.filter((id) => !known.has(id));
    known = new Set(now);
    if (added.length > 0) cue(added.length);
    if (now.length === 0) {
      banner.hidden = true;
      document.title = "Alarms · Fieldnote";
      document.body.classList.remove("alerting");
    }
  }

  const events = new EventSource("/console/events");
  events.onopen = () => {
    status.textContent = "Live: alarms appear here the moment they are raised.";
    refresh();
  };
  events.addEventListener("alarm", refresh);
  events.addEventListener("session", refresh);
  events.onerror = () => {
    status.textContent = "Live updates interrupted; reconnecting…";
  };
})();
