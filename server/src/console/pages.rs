//! The console's markup. maud escapes every interpolated value, so record text (a place, a
//! name, an outcome) can never become markup or script; the pages load one script file and
//! one stylesheet from the server itself, as the Content-Security-Policy demands.

use fieldnote_protocol::safety::{AlarmState, AlarmView};
use maud::{DOCTYPE, Markup, html};

use crate::audit::Stored;

/// A whole page: title, navigation for a signed-in user, and `body`.
pub fn layout(title: &str, user: Option<(&str, &str)>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Fieldnote" }
                link rel="stylesheet" href="/console/static/console.css";
                script src="/console/static/console.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    span.brand { "Fieldnote console" }
                    @if let Some((name, csrf)) = user {
                        nav aria-label="Main" {
                            a href="/console/alarms" { "Alarms" }
                            " "
                            a href="/console/team" { "Team" }
                        }
                        form.signout method="post" action="/console/logout" {
                            input type="hidden" name="csrf" value=(csrf);
                            span { (name) }
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A message at the top of a page (`role="alert"` so screen readers announce it).
pub fn notice(text: Option<&str>) -> Markup {
    html! {
        @if let Some(t) = text {
            p.notice role="alert" { (t) }
        }
    }
}

/// The sign-in form.
pub fn login(message: Option<&str>) -> Markup {
    layout(
        "Sign in",
        None,
        html! {
            (notice(message))
            form method="post" action="/console/login" {
                label for="username" { "User name" }
                input id="username" name="username" autocomplete="username" required autofocus;
                label for="password" { "Password" }
                input id="password" name="password" type="password" autocomplete="current-password" required;
                button type="submit" { "Continue" }
            }
            p.hint { "The console is for supervisors, program directors and administrators. Signing in takes a password and a code from your authenticator app." }
        },
    )
}

/// The second-factor form; with `enroll`, the secret to add to an authenticator first.
pub fn mfa(csrf: &str, enroll: Option<(&str, &str)>, message: Option<&str>) -> Markup {
    layout(
        "Verification code",
        None,
        html! {
            (notice(message))
            @if let Some((secret, url)) = enroll {
                p { "Add Fieldnote to your authenticator app, then enter the code it shows." }
                dl {
                    dt { "Key (type it in)" }
                    dd { code id="totp-secret" { (secret) } }
                    dt { "Or open this link on the phone with the app" }
                    dd { a href=(url) { "otpauth link" } }
                }
            }
            form method="post" action="/console/mfa" {
                input type="hidden" name="csrf" value=(csrf);
                label for="code" { "6-digit code" }
                input id="code" name="code" inputmode="numeric" autocomplete="one-time-code"
                    pattern="[0-9 ]{6,8}" required autofocus;
                button type="submit" { "Verify" }
            }
        },
    )
}

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// The rows of the alarms table (also served alone, for live updates).
pub fn alarm_rows(alarms: &[AlarmView], csrf: &str) -> Markup {
    html! {
        tbody id="alarm-rows" data-open=(alarms.iter().filter(|a| a.state == AlarmState::Raised).count()) {
            @if alarms.is_empty() {
                tr { td colspan="7" { "No open alarms." } }
            }
            @for a in alarms {
                tr class=(a.state.as_str()) data-alarm=(a.id) {
                    td { (a.state.as_str()) }
                    td { (a.kind.as_str().replace('_', " ")) }
                    td { (a.worker_name) }
                    td {
                        @if let Some(p) = &a.place { (p) br; }
                        @if let Some(l) = &a.location {
                            a href=(format!("https://www.openstreetmap.org/?mlat={}&mlon={}", l.latitude, l.longitude))
                                rel="noreferrer" target="_blank" {
                                (format!("{:.5}, {:.5}", l.latitude, l.longitude))
                            }
                        }
                        @if let Some(m) = &a.member_id { br; span.member { "member " (m) } }
                    }
                    td { (when(a.raised_at)) }
                    td { (a.tier_label) @if a.exhausted { " (ladder exhausted)" } }
                    td.actions {
                        @if a.state == AlarmState::Raised {
                            form method="post" action=(format!("/console/alarms/{}/acknowledge", a.id)) {
                                input type="hidden" name="csrf" value=(csrf);
                                button type="submit" { "Acknowledge" }
                            }
                        } @else if let Some(by) = &a.acknowledged_by_name {
                            "Acknowledged by " (by) br;
                        }
                        @if a.state != AlarmState::Resolved {
                            form method="post" action=(format!("/console/alarms/{}/resolve", a.id)) {
                                input type="hidden" name="csrf" value=(csrf);
                                label for=(format!("outcome-{}", a.id)) { "Outcome" }
                                input id=(format!("outcome-{}", a.id)) name="outcome" required maxlength="2000";
                                label.check { input type="checkbox" name="reportable" value="yes"; "Reportable incident" }
                                button type="submit" { "Resolve" }
                            }
                        }
                        a href=(format!("/console/alarms/{}", a.id)) { "Audit trail" }
                    }
                }
            }
        }
    }
}

/// The alarms panel: open alarms, pushed live.
pub fn alarms(name: &str, csrf: &str, alarms: &[AlarmView], message: Option<&str>) -> Markup {
    layout(
        "Alarms",
        Some((name, csrf)),
        html! {
            (notice(message))
            div id="alarm-banner" class="banner" role="alert" hidden {}
            p.live { span id="live-status" { "Connecting to live updates…" } }
            table aria-describedby="live-status" {
                thead { tr {
                    th scope="col" { "State" } th scope="col" { "Kind" } th scope="col" { "Worker" }
                    th scope="col" { "Where" } th scope="col" { "Raised" } th scope="col" { "Escalation" }
                    th scope="col" { "Answer" }
                } }
                (alarm_rows(alarms, csrf))
            }
        },
    )
}

/// One alarm and its audit trail.
pub fn alarm_trail(name: &str, csrf: &str, alarm: &AlarmView, trail: &[Stored]) -> Markup {
    layout(
        "Alarm audit trail",
        Some((name, csrf)),
        html! {
            p { (alarm.kind.as_str()) " alarm of " (alarm.worker_name) ", " (alarm.state.as_str()) "." }
            table {
                thead { tr { th scope="col" { "Server time" } th scope="col" { "Who" } th scope="col" { "What" } th scope="col" { "Detail" } } }
                tbody {
                    @for e in trail {
                        tr { td { (when(e.at)) } td { (e.actor) } td { (e.action) } td { code { (e.detail) } } }
                    }
                }
            }
            p { a href="/console/alarms" { "Back to alarms" } }
        },
    )
}

/// One worker on the team view.
pub struct TeamRow {
    /// Name.
    pub name: String,
    /// Members on the caseload.
    pub members: usize,
    /// Overdue obligations.
    pub overdue: usize,
    /// Obligations due this week.
    pub due_this_week: usize,
    /// CSP-JI members below the case rate.
    pub case_rate_unmet: usize,
    /// The last sync of any of the worker's devices.
    pub last_sync: Option<i64>,
    /// No device has synced in a day (or ever).
    pub stale: bool,
}

/// The team view: workers with overdue obligations first, then those whose phones have not
/// synced in a day.
pub fn team(name: &str, csrf: &str, rows: &[TeamRow]) -> Markup {
    layout(
        "Team",
        Some((name, csrf)),
        html! {
            table {
                thead { tr {
                    th scope="col" { "Worker" } th scope="col" { "Members" } th scope="col" { "Overdue" }
                    th scope="col" { "Due this week" } th scope="col" { "Below CSP-JI case rate" }
                    th scope="col" { "Last sync" }
                } }
                tbody {
                    @if rows.is_empty() { tr { td colspan="6" { "No workers on this team." } } }
                    @for r in rows {
                        tr class=[r.stale.then_some("stale")] {
                            td { (r.name) }
                            td { (r.members) }
                            td class=[(r.overdue > 0).then_some("overdue")] { (r.overdue) }
                            td { (r.due_this_week) }
                            td { (r.case_rate_unmet) }
                            td {
                                @match r.last_sync {
                                    Some(t) => { (when(t)) }
                                    None => { "never" }
                                }
                                @if r.stale { strong { " — no sync in over a day" } }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// An error page.
pub fn error(title: &str, message: &str) -> Markup {
    layout(
        title,
        None,
        html! {
            (notice(Some(message)))
            p { a href="/console/alarms" { "Back to the console" } }
        },
    )
}
