// The console's only script. It keeps what a person typed across an automatic sign-out
// (in this tab's sessionStorage, never sent anywhere). On every page of a user who answers
// alarms it keeps the live stream open: a new alarm is announced on whatever page is open
// (banner, title, sound, the count beside "Alarms"); the alarm and "Out now" tables refresh
// the moment something changes, keeping whatever is typed, ticked or focused; and a stream
// that fails, is refused or goes silent past its heartbeat is announced just as loudly and
// replaced by polling until it is back. Every action still works as a plain form without it.
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

(function live() {
  const banner = document.getElementById("live-banner");
  if (!banner) return; // signed out, or a user who never receives alarms
  const status = document.getElementById("live-status");
  const count = document.getElementById("alarm-count");
  const onAlarmPage = document.getElementById("alarm-rows") !== null;
  const baseTitle = document.title;
  const POLL_MS = 10000;
  let known = null; // ids of the alarms waiting for acknowledgement, once first read
  let fresh = new Set(); // alarms raised while this page was open, still waiting
  let lastHeard = Date.now();
  let silenceMs = 45000; // replaced by the server's heartbeat interval
  let trouble = null; // null, "stream" (live updates down) or "session" (signed out)
  let source = null;
  let poller = null;

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

  function say(text) {
    if (status) status.textContent = text;
  }

  // The banner and title say everything that needs a person: new alarms, and trouble.
  function render() {
    banner.replaceChildren();
    const lines = [];
    if (fresh.size > 0) {
      const p = document.createElement("p");
      p.id = "new-alarm";
      p.textContent = (fresh.size === 1 ? "New alarm" : fresh.size + " new alarms") +
        (onAlarmPage ? ": answer below. " : ". ");
      if (!onAlarmPage) {
        const a = document.createElement("a");
        a.href = "/console/alarms";
        a.textContent = "Open Alarms";
        p.append(a);
      }
      lines.push(p);
    }
    if (trouble) {
      const p = document.createElement("p");
      p.id = "live-trouble";
      if (trouble === "session") {
        p.textContent = "Your console session has ended: new alarms cannot reach this page. ";
        const a = document.createElement("a");
        a.href = "/console/login";
        a.target = "_blank";
        a.textContent = "Sign in again (opens a new tab; this page keeps what you typed)";
        p.append(a);
      } else {
        p.textContent = "Live alarm updates are down. This page checks for alarms every " +
          POLL_MS / 1000 + " seconds until they are back; reload it if this stays.";
      }
      lines.push(p);
    }
    banner.append(...lines);
    banner.hidden = lines.length === 0;
    document.body.classList.toggle("alerting", fresh.size > 0 || trouble !== null);
    const waiting = known ? known.size : 0;
    document.title = (trouble ? "⚠ Live updates down · " : "") +
      (waiting > 0 ? "(" + waiting + ") " + (fresh.size > 0 ? "New alarm · " : "") : "") + baseTitle;
  }

  function setTrouble(kind) {
    const before = trouble;
    trouble = kind;
    if (kind) {
      say(kind === "session" ? "Signed out: sign in again to receive alarms."
        : "Live updates lost; checking every " + POLL_MS / 1000 + " seconds…");
      if (before === null) sound();
      if (!poller) {
        poller = setInterval(poll, POLL_MS);
        poll();
      }
    } else {
      say(onAlarmPage ? "Live: alarms appear here the moment they are raised."
        : "Live: changes appear here the moment they happen.");
      clearInterval(poller);
      poller = null;
    }
    if (before !== kind) render();
  }

  // Replaces a table body with the server's fresh one, keeping what the person typed,
  // ticked and focused (and where the caret was).
  function swap(id, html) {
    const current = document.getElementById(id);
    const template = document.createElement("template");
    template.innerHTML = html; // markup from this server, values escaped there
    const next = template.content.getElementById(id);
    if (!current || !next) return;
    const kept = [];
    for (const el of current.querySelectorAll("input[id], textarea[id], select[id]")) {
      if (el.type === "hidden") continue;
      kept.push([el.id, el.type === "checkbox" ? el.checked : el.value, el.type === "checkbox"]);
    }
    for (const [elId, value, box] of kept) {
      const el = next.querySelector("#" + CSS.escape(elId));
      if (!el) continue;
      if (box) el.checked = value;
      else el.value = value;
    }
    let focus = null;
    const active = document.activeElement;
    if (active && current.contains(active)) {
      const row = active.closest("tr");
      const inRow = row ? Array.from(row.querySelectorAll("input, button, a, textarea, select")) : [];
      focus = {
        id: active.id,
        row: row ? row.dataset.alarm || row.dataset.session : null,
        index: inRow.indexOf(active),
        start: typeof active.selectionStart === "number" ? active.selectionStart : null,
        end: typeof active.selectionEnd === "number" ? active.selectionEnd : null,
      };
    }
    current.replaceWith(next);
    if (!focus) return;
    let target = focus.id ? document.getElementById(focus.id) : null;
    if (!target && focus.row && focus.index >= 0) {
      const row = next.querySelector('tr[data-alarm="' + CSS.escape(focus.row) + '"], tr[data-session="' +
        CSS.escape(focus.row) + '"]');
      target = row ? row.querySelectorAll("input, button, a, textarea, select")[focus.index] : null;
    }
    if (target) {
      target.focus();
      if (focus.start !== null && typeof target.setSelectionRange === "function") {
        try { target.setSelectionRange(focus.start, focus.end); } catch (_) { /* not a text box */ }
      }
    }
  }

  async function fetchOk(path) {
    let response;
    try {
      response = await fetch(path, { credentials: "same-origin", redirect: "manual" });
    } catch (_) {
      setTrouble(trouble || "stream");
      return null;
    }
    if (response.status !== 200) {
      setTrouble("session");
      return null;
    }
    return response;
  }

  async function checkWaiting() {
    const response = await fetchOk("/console/alarms/waiting");
    if (!response) return;
    const ids = (await response.json()).raised;
    if (trouble === "session") setTrouble(source ? null : "stream");
    const added = known ? ids.filter((i) => !known.has(i)) : [];
    known = new Set(ids);
    if (count) {
      count.dataset.count = String(ids.length);
      count.firstChild.textContent = String(ids.length);
      count.hidden = ids.length === 0;
    }
    fresh = new Set([...fresh, ...added].filter((i) => known.has(i)));
    if (added.length > 0) sound();
    render();
  }

  async function refreshRows() {
    for (const [id, path] of [["alarm-rows", "/console/alarms/rows"], ["visit-rows", "/console/visits/rows"]]) {
      if (!document.getElementById(id)) continue;
      const response = await fetchOk(path);
      if (response) swap(id, await response.text());
    }
    tick();
  }

  async function poll() {
    await checkWaiting();
    await refreshRows();
  }

  function heard() {
    lastHeard = Date.now();
    if (trouble === "stream") {
      setTrouble(null);
      poll();
    }
  }

  function connect() {
    source = new EventSource("/console/events");
    source.onopen = () => {
      lastHeard = Date.now();
      setTrouble(null);
      poll();
    };
    source.addEventListener("heartbeat", (ev) => {
      try {
        silenceMs = 2 * JSON.parse(ev.data).every_ms + 5000;
      } catch (_) {
        // Keep the last bound.
      }
      heard();
    });
    for (const name of ["alarm", "session"]) {
      source.addEventListener(name, () => {
        heard();
        poll();
      });
    }
    source.onerror = () => {
      if (source && source.readyState === EventSource.CLOSED) {
        // Refused (the session ended, or the server answered with an error): ask again
        // shortly; the polling says which it was.
        source = null;
        setTrouble(trouble || "stream");
        setTimeout(connect, 5000);
      } else if (trouble === null) {
        say("Live updates interrupted; reconnecting…");
      }
    };
  }

  // Counts "N ago" up and "in N" down between refreshes.
  function span(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min";
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  }
  function tick() {
    const now = Date.now();
    for (const t of document.querySelectorAll("time[data-since]")) t.textContent = span(now - Number(t.dataset.since)) + " ago";
    for (const t of document.querySelectorAll("time[data-until]")) {
      const left = Number(t.dataset.until) - now;
      t.textContent = left > 0 ? "in " + span(left) : "due now";
    }
  }

  // A stream that says nothing past its heartbeat is as good as dead, however it looks; one
  // that cannot connect for six seconds is down.
  setInterval(() => {
    tick();
    if (trouble !== null) return;
    const quiet = Date.now() - lastHeard;
    const open = source !== null && source.readyState === EventSource.OPEN;
    if ((open && quiet > silenceMs) || (!open && quiet > 6000)) {
      setTrouble("stream");
      if (open) {
        source.close();
        source = null;
        connect();
      }
    }
  }, 1000);

  connect();
  checkWaiting();
})();
