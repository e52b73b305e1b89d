//! The console's markup. maud escapes every interpolated value, so record text (a place, a
//! name, an outcome) can never become markup or script; the pages load one script file and
//! one stylesheet from the server itself, as the Content-Security-Policy demands.

use fieldnote_core::Record;
use fieldnote_core::attest::AttestationKind;
use fieldnote_protocol::ServerRole;
use fieldnote_protocol::safety::{AlarmState, AlarmView};
use maud::{DOCTYPE, Markup, html};

use crate::audit::Stored;

/// The signed-in user as the navigation shows them.
pub struct Nav {
    /// Their name.
    pub name: String,
    /// The session's CSRF token, for the sign-out form and every other form.
    pub csrf: String,
    /// Their role (which links show).
    pub role: ServerRole,
    /// Alarms in their scope that nobody has acknowledged, for users who answer alarms
    /// (`None` for administrators, who never see alarms).
    pub raised_alarms: Option<usize>,
}

/// A whole page: title, navigation for a signed-in user (by role), and `body`.
pub fn layout(title: &str, user: Option<&Nav>, body: Markup) -> Markup {
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
                    @if let Some(nav) = user {
                        nav aria-label="Main" {
                            @if let Some(raised) = nav.raised_alarms {
                                a href="/console/alarms" id="nav-alarms" {
                                    "Alarms"
                                    span.count id="alarm-count" data-count=(raised) hidden[raised == 0] {
                                        (raised) span.visually-hidden { " waiting" }
                                    }
                                }
                                a href="/console/visits" { "Out now" }
                            }
                            @if matches!(nav.role, ServerRole::Supervisor | ServerRole::ProgramDirector) {
                                a href="/console/team" { "Team" }
                                a href="/console/review" { "Review" }
                            }
                            @if nav.role == ServerRole::Administrator {
                                a href="/console/admin" { "Administration" }
                                a href="/console/audit" { "Audit log" }
                            }
                        }
                        form.signout method="post" action="/console/logout" {
                            input type="hidden" name="csrf" value=(nav.csrf);
                            span { (nav.name) }
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main id="main" tabindex="-1" {
                    @if user.is_some_and(|n| n.raised_alarms.is_some()) {
                        // Filled by console.js on every page: a new alarm, or live updates
                        // lost.
                        div id="live-banner" class="banner" role="alert" hidden {}
                    }
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

/// An instant in Massachusetts wall-clock time, to the second (`2026-11-25 17:00:05 EST`).
fn when(ms: i64) -> String {
    fieldnote_core::rules::calendar::local_display_secs(fieldnote_core::Timestamp::from_millis(ms))
}

/// A span of time for people: `45 s`, `12 min`, `3 h 5 min`.
fn span(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

/// An instant as the `datetime` attribute of `<time>` wants it (RFC 3339, UTC).
fn machine_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// A past instant as "N ago" that console.js keeps counting, with the local time beside it.
fn ago(at: i64, now: i64) -> Markup {
    html! {
        time datetime=(machine_time(at)) data-since=(at) { (span(now - at)) " ago" }
        " (" (when(at)) ")"
    }
}

/// A future instant as "in N" that console.js counts down, with the local time beside it.
fn countdown(at: i64, now: i64) -> Markup {
    html! {
        time datetime=(machine_time(at)) data-until=(at) {
            @if at > now { "in " (span(at - now)) } @else { "due now" }
        }
        " (" (when(at)) ")"
    }
}

/// An alarm as the console shows it: the alarm and its member's name.
pub struct AlarmRow {
    /// The alarm.
    pub alarm: AlarmView,
    /// The member's name as their record gives it, when the alarm names a member.
    pub member_name: Option<String>,
}

/// The rows of the open alarms table (also served alone, for live updates).
pub fn alarm_rows(alarms: &[AlarmRow], csrf: &str, now: i64) -> Markup {
    html! {
        tbody id="alarm-rows" data-open=(alarms.iter().filter(|a| a.alarm.state == AlarmState::Raised).count()) {
            @if alarms.is_empty() {
                tr { td colspan="5" { "No open alarms." } }
            }
            @for row in alarms {
                @let a = &row.alarm;
                tr class=(a.state.as_str()) data-alarm=(a.id) data-kind=(a.kind.as_str()) {
                    td {
                        strong.state { (a.state.as_str()) }
                        br; (a.kind.as_str().replace('_', " ")) " alarm"
                        @if a.kind.is_silent() {
                            p.silent role="note" {
                                strong { "Do not call: silent alarm." }
                                " The worker may be with someone who must not know. Send help or text only as your agency's plan says."
                            }
                        }
                    }
                    td {
                        strong { (a.worker_name) }
                        @if let Some(phone) = &a.worker_phone {
                            br;
                            @if a.kind.is_silent() {
                                span.phone { "Phone " (phone) " (do not call)" }
                            } @else {
                                a.phone href=(format!("tel:{}", phone.replace([' ', '(', ')', '.'], ""))) { "Call " (phone) }
                            }
                        } @else {
                            br; span.hint { "No phone number on file" }
                        }
                    }
                    td {
                        @if let Some(name) = &row.member_name {
                            "Visiting " strong.member { (name) } br;
                        }
                        @if let Some(p) = &a.place { (p) br; }
                        @if let Some(l) = &a.location {
                            a href=(format!("https://www.openstreetmap.org/?mlat={}&mlon={}", l.latitude, l.longitude))
                                rel="noreferrer" target="_blank" {
                                (format!("{:.5}, {:.5}", l.latitude, l.longitude))
                            }
                        }
                        @if a.place.is_none() && a.location.is_none() && row.member_name.is_none() {
                            span.hint { "No place or location sent" }
                        }
                    }
                    td {
                        "Raised " (ago(a.raised_at, now))
                        @if a.state == AlarmState::Raised {
                            br; "Now alerting: " (a.tier_label)
                            @if a.exhausted { strong { " (ladder exhausted: everyone alerted)" } }
                        }
                        @if let Some(next) = a.escalates_at {
                            br; "Next tier " (countdown(next, now))
                        }
                    }
                    td.actions {
                        @if a.state == AlarmState::Raised {
                            form method="post" action=(format!("/console/alarms/{}/acknowledge", a.id)) {
                                input type="hidden" name="csrf" value=(csrf);
                                button type="submit" { "Acknowledge" }
                            }
                        } @else if let Some(by) = &a.acknowledged_by_name {
                            "Acknowledged by " (by) br;
                        }
                        form method="post" action=(format!("/console/alarms/{}/resolve", a.id)) {
                            input type="hidden" name="csrf" value=(csrf);
                            label for=(format!("outcome-{}", a.id)) { "Outcome" }
                            input id=(format!("outcome-{}", a.id)) name="outcome" required maxlength="2000";
                            label.check for=(format!("reportable-{}", a.id)) {
                                input id=(format!("reportable-{}", a.id)) type="checkbox" name="reportable" value="yes";
                                "Reportable incident"
                            }
                            button type="submit" { "Resolve" }
                        }
                        a href=(format!("/console/alarms/{}", a.id)) { "Audit trail" }
                    }
                }
            }
        }
    }
}

/// The alarms closed in the last week, newest first, with the incident report's deadline
/// for reportable ones.
fn closed_alarms(alarms: &[AlarmRow], now: i64) -> Markup {
    html! {
        section aria-labelledby="closed-heading" {
            h2 id="closed-heading" { "Closed in the last 7 days" }
            @if alarms.is_empty() {
                p { "None." }
            } @else {
                table id="closed-alarms" {
                    thead { tr {
                        th scope="col" { "Alarm" } th scope="col" { "Worker" } th scope="col" { "Raised" }
                        th scope="col" { "Resolved" } th scope="col" { "Outcome" } th scope="col" { "Incident report" }
                        th scope="col" { "Details" }
                    } }
                    tbody {
                        @for row in alarms {
                            @let a = &row.alarm;
                            tr data-alarm=(a.id) {
                                td { (a.kind.as_str().replace('_', " ")) }
                                td { (a.worker_name) @if let Some(m) = &row.member_name { br; "visiting " (m) } }
                                td { (when(a.raised_at)) }
                                td { @if let Some(at) = a.resolved_at { (when(at)) } @if let Some(by) = &a.acknowledged_by_name { br; "by " (by) } }
                                td { (a.outcome.as_deref().unwrap_or("")) }
                                td.incident {
                                    @if let Some(due) = a.incident_report_due {
                                        strong { "Reportable: report due " } (countdown(due, now))
                                    } @else { "Not reportable" }
                                }
                                td { a href=(format!("/console/alarms/{}", a.id)) { "Audit trail" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The alarms panel: open alarms, pushed live, and the last week's closed ones.
pub fn alarms(
    nav: &Nav,
    open: &[AlarmRow],
    closed: &[AlarmRow],
    message: Option<&str>,
    now: i64,
) -> Markup {
    let csrf = nav.csrf.as_str();
    layout(
        "Alarms",
        Some(nav),
        html! {
            (notice(message))
            p.live { span id="live-status" { "Connecting to live updates…" } }
            table aria-describedby="live-status" {
                thead { tr {
                    th scope="col" { "Alarm" } th scope="col" { "Worker" } th scope="col" { "Where" }
                    th scope="col" { "When and who is alerted" } th scope="col" { "Answer" }
                } }
                (alarm_rows(open, csrf, now))
            }
            (closed_alarms(closed, now))
        },
    )
}

/// A visit session as the "Out now" view shows it.
pub struct VisitRow {
    /// The session.
    pub session: fieldnote_protocol::safety::SessionView,
    /// The worker's name.
    pub worker_name: String,
    /// The member's name, when the visit is to one.
    pub member_name: Option<String>,
}

/// The rows of the "Out now" table (also served alone, for live updates).
pub fn visit_rows(visits: &[VisitRow], now: i64) -> Markup {
    use fieldnote_protocol::safety::SessionState;
    html! {
        tbody id="visit-rows" {
            @if visits.is_empty() {
                tr { td colspan="6" { "Nobody is out on a visit." } }
            }
            @for v in visits {
                @let s = &v.session;
                tr class=(s.state.as_str()) data-session=(s.id) {
                    td { strong { (v.worker_name) } }
                    td { (s.place) }
                    td { (v.member_name.as_deref().unwrap_or("—")) }
                    td { (ago(s.started_at, now)) }
                    td {
                        (when(s.expected_end))
                        @if let Some(at) = s.last_check_in { br; "Last check-in " (ago(at, now)) }
                    }
                    td {
                        @match (s.state, s.deadline) {
                            (SessionState::Alarm, _) => strong.alarm { "In alarm: see Alarms" },
                            (SessionState::Missed, _) => strong.alarm { "Missed check-in raised" },
                            (_, Some(deadline)) => { "Missed check-in " (countdown(deadline, now)) },
                            _ => "—",
                        }
                    }
                }
            }
        }
    }
}

/// "Out now": every visit session under way in the user's scope, updated live.
pub fn visits(nav: &Nav, visits: &[VisitRow], now: i64) -> Markup {
    layout(
        "Out now",
        Some(nav),
        html! {
            p.live { span id="live-status" { "Connecting to live updates…" } }
            table aria-describedby="live-status" {
                thead { tr {
                    th scope="col" { "Worker" } th scope="col" { "Place" } th scope="col" { "Member" }
                    th scope="col" { "Started" } th scope="col" { "Expected end" }
                    th scope="col" { "Missed check-in" }
                } }
                (visit_rows(visits, now))
            }
        },
    )
}

/// One alarm and its audit trail.
pub fn alarm_trail(nav: &Nav, alarm: &AlarmView, trail: &[Stored]) -> Markup {
    layout(
        "Alarm audit trail",
        Some(nav),
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

/// The team view's content.
pub struct TeamView {
    /// The team shown.
    pub team: String,
    /// The teams a director may choose from (id, name); empty for a supervisor.
    pub teams: Vec<(String, String)>,
    /// Its workers.
    pub rows: Vec<TeamRow>,
    /// Its weekly charts.
    pub charts: super::charts::Charts,
    /// The user's notices (time, text).
    pub notices: Vec<(i64, String)>,
}

/// A director's team chooser (a GET form, so it works without script).
fn team_choice(action: &str, current: &str, teams: &[(String, String)]) -> Markup {
    html! {
        @if !teams.is_empty() {
            form.inline method="get" action=(action) {
                label for="team" { "Team" }
                select id="team" name="team" {
                    @for (id, name) in teams {
                        option value=(id) selected[id == current] { (name) }
                    }
                }
                button type="submit" { "Show" }
            }
        }
    }
}

fn notices(list: &[(i64, String)]) -> Markup {
    html! {
        @if !list.is_empty() {
            section.notices aria-labelledby="notices-heading" {
                h2 id="notices-heading" { "Notices" }
                ul { @for (at, text) in list { li { (when(*at)) ": " (text) } } }
            }
        }
    }
}

/// The team view: workers with overdue obligations first, then those whose phones have not
/// synced in a day; the team's charts; the user's notices.
pub fn team(nav: &Nav, view: &TeamView) -> Markup {
    let rows = &view.rows;
    layout(
        "Team",
        Some(nav),
        html! {
            (notices(&view.notices))
            (team_choice("/console/team", &view.team, &view.teams))
            table {
                caption { "Workers, most overdue first" }
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
            (super::charts::render(&view.charts))
        },
    )
}

/// One record waiting for review.
pub struct QueueRow {
    /// The record.
    pub id: String,
    /// Its kind (`contact_note`, `plan`).
    pub kind: String,
    /// The member.
    pub member_id: String,
    /// The member's name.
    pub member: String,
    /// The assigned worker.
    pub worker: String,
    /// The record's title.
    pub title: String,
    /// When it happened.
    pub at: i64,
    /// When it last changed on the server.
    pub synced_at: i64,
}

/// The review queue's content.
pub struct QueueView {
    /// The team.
    pub team: String,
    /// A director's teams.
    pub teams: Vec<(String, String)>,
    /// Records waiting, oldest change first.
    pub rows: Vec<QueueRow>,
}

/// The review queue.
pub fn queue(nav: &Nav, view: &QueueView) -> Markup {
    layout(
        "Review",
        Some(nav),
        html! {
            (team_choice("/console/review", &view.team, &view.teams))
            p { "Finalized notes and plans synced since they were last reviewed. Plans also wait here until a supervisor co-signs them." }
            table {
                caption { (view.rows.len()) " waiting" }
                thead { tr {
                    th scope="col" { "Record" } th scope="col" { "Member" } th scope="col" { "Worker" }
                    th scope="col" { "Date" } th scope="col" { "Synced" }
                } }
                tbody {
                    @if view.rows.is_empty() { tr { td colspan="5" { "Nothing waits for review." } } }
                    @for r in &view.rows {
                        tr data-record=(r.id) {
                            td { a href=(format!("/console/records/{}", r.id)) { (r.title) } " " span.kind { "(" (r.kind.replace('_', " ")) ")" } }
                            td { a href=(format!("/console/members/{}", r.member_id)) { (r.member) } }
                            td { (r.worker) }
                            td { (when(r.at)) }
                            td { (when(r.synced_at)) }
                        }
                    }
                }
            }
        },
    )
}

/// One record's page content.
pub struct RecordView {
    /// The record.
    pub record: Record,
    /// Its fields, labelled.
    pub content: Markup,
    /// The member.
    pub member_id: String,
    /// Their name.
    pub member: String,
    /// The user may review it (their team's note or plan).
    pub can_review: bool,
    /// A finalized note.
    pub finalized: bool,
    /// Its review state's name.
    pub review: &'static str,
    /// It waits for review.
    pub awaits: bool,
}

fn attestation_word(kind: AttestationKind) -> &'static str {
    match kind {
        AttestationKind::Finalize => "finalized",
        AttestationKind::Sign => "signed",
        AttestationKind::Approve => "approved",
        AttestationKind::Return => "returned",
    }
}

/// One record, its signatures and reviews, and the review forms.
pub fn record(nav: &Nav, v: &RecordView, message: Option<&str>) -> Markup {
    let r = &v.record;
    let is_plan = matches!(r.body, fieldnote_core::RecordBody::Plan(_));
    layout(
        &r.body.title(),
        Some(nav),
        html! {
            (notice(message))
            p {
                "Member: " a href=(format!("/console/members/{}", v.member_id)) { (v.member) }
                " · " (r.body.kind().as_str().replace('_', " "))
                " · review: " strong id="review-state" { (v.review) }
                @if v.awaits { " (waiting)" }
            }
            section aria-labelledby="content-heading" {
                h2 id="content-heading" { "Content" }
                (v.content)
            }
            section aria-labelledby="trail-heading" {
                h2 id="trail-heading" { "Signatures and reviews" }
                table {
                    thead { tr { th scope="col" { "When" } th scope="col" { "What" } th scope="col" { "Who" } th scope="col" { "Role" } th scope="col" { "Covers the content shown" } th scope="col" { "Comment" } } }
                    tbody {
                        @if r.attestations.is_empty() { tr { td colspan="6" { "None yet." } } }
                        @for a in &r.attestations {
                            tr {
                                td { (when(a.signed_at.millis())) }
                                td { (attestation_word(a.kind)) }
                                td { (a.signer.name) }
                                td { (format!("{:?}", a.signer.role)) }
                                td { (if a.verify() && !a.is_stale(&r.body) { "yes" } else { "no, changed since" }) }
                                td { @if let Some(c) = &a.comment { (c) } }
                            }
                        }
                    }
                }
            }
            @if v.can_review && (v.finalized || is_plan) {
                section aria-labelledby="review-heading" {
                    h2 id="review-heading" { "Review" }
                    form method="post" action=(format!("/console/records/{}/review", r.id)) {
                        input type="hidden" name="csrf" value=(nav.csrf);
                        label for="comment" { "Comment to the worker (required to return)" }
                        textarea id="comment" name="comment" rows="3" maxlength="4000" {}
                        div.buttons {
                            @if is_plan {
                                button type="submit" name="decision" value="cosign" { "Co-sign plan" }
                            } @else {
                                button type="submit" name="decision" value="approve" { "Approve" }
                            }
                            button type="submit" name="decision" value="return" { "Return to worker" }
                        }
                    }
                }
            } @else if v.can_review {
                p.hint { "This note is still a draft; it can be reviewed once its author finalizes it." }
            }
        },
    )
}

/// A member's page content.
pub struct MemberView {
    /// The member.
    pub member_id: String,
    /// Their name.
    pub name: String,
    /// Set when seen through emergency access: until when (ms).
    pub emergency_until: Option<i64>,
    /// Their records, newest first.
    pub records: Vec<Record>,
    /// Each record's review state, in the same order.
    pub reviews: Vec<&'static str>,
    /// Past exports of the record (the accounting of disclosures).
    pub disclosures: Vec<Stored>,
}

/// A member's timeline, the export form and the accounting of disclosures.
pub fn member(nav: &Nav, v: &MemberView, message: Option<&str>) -> Markup {
    let consents = super::records::part2_consents(&v.records, crate::app::now_ms());
    layout(
        &v.name,
        Some(nav),
        html! {
            (notice(message))
            @if let Some(until) = v.emergency_until {
                p.banner.emergency role="status" { "Emergency access, read-only, until " (when(until)) ". Everything you open is recorded." }
            }
            section aria-labelledby="timeline-heading" {
                h2 id="timeline-heading" { "Timeline" }
                table {
                    thead { tr { th scope="col" { "Date" } th scope="col" { "Record" } th scope="col" { "Kind" } th scope="col" { "Review" } } }
                    tbody {
                        @for (r, review) in v.records.iter().zip(&v.reviews) {
                            tr {
                                td { (when(r.body.timeline_at().millis())) }
                                td { a href=(format!("/console/records/{}", r.id)) { (r.body.title()) } }
                                td { (r.body.kind().as_str().replace('_', " ")) }
                                td { (review) }
                            }
                        }
                    }
                }
            }
            @if v.emergency_until.is_none() {
                section aria-labelledby="export-heading" {
                    h2 id="export-heading" { "Export" }
                    form method="get" action=(format!("/console/members/{}/export", v.member_id)) {
                        label for="format" { "Format" }
                        select id="format" name="format" {
                            option value="html" { "Printable page (HTML)" }
                            option value="pdf" { "PDF" }
                            option value="csv" { "Spreadsheet (CSV)" }
                            option value="fhir" { "FHIR R4 (JSON)" }
                        }
                        label for="consent" { "Substance-use (42 CFR Part 2) records" }
                        select id="consent" name="consent" {
                            option value="" { "Leave out (no Part 2 consent)" }
                            @for (id, recipient) in &consents {
                                option value=(id) { "Include under the consent to disclose to " (recipient) }
                            }
                        }
                        button type="submit" { "Export" }
                    }
                    p.hint { "Every export is recorded below and in the audit log. Substance-use records leave only under a Part 2 consent in force, with the redisclosure notice." }
                }
                section aria-labelledby="disclosures-heading" {
                    h2 id="disclosures-heading" { "Accounting of disclosures" }
                    table id="disclosures" {
                        thead { tr { th scope="col" { "When" } th scope="col" { "By" } th scope="col" { "Detail" } } }
                        tbody {
                            @if v.disclosures.is_empty() { tr { td colspan="3" { "No exports yet." } } }
                            @for d in &v.disclosures {
                                tr { td { (when(d.at)) } td { (d.actor) } td { code { (d.detail) } } }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// The emergency-access form for a member of another team (with the reason typed so far,
/// when it was refused).
pub fn break_glass(nav: &Nav, member_id: &str, reason: &str, message: Option<&str>) -> Markup {
    layout(
        "Emergency access",
        Some(nav),
        html! {
            (notice(message))
            p { "This member belongs to another team. In an emergency you may read their record for a limited time. Your reason and every page you open are recorded, and the member's team supervisor is told." }
            form method="post" action=(format!("/console/members/{member_id}/emergency")) {
                input type="hidden" name="csrf" value=(nav.csrf);
                label for="reason" { "Why you need this record now" }
                textarea id="reason" name="reason" rows="3" required minlength="10" maxlength="2000" { (reason) }
                label for="minutes" { "For how long (minutes)" }
                input id="minutes" name="minutes" type="number" min="1" max="240" value="60";
                button type="submit" { "Open the record in an emergency" }
            }
        },
    )
}

/// A user on the administration page.
pub struct UserRow {
    /// Id.
    pub id: String,
    /// Sign-in name.
    pub username: String,
    /// Name shown.
    pub name: String,
    /// Role.
    pub role: String,
    /// Team name.
    pub team: String,
    /// Disabled.
    pub disabled: bool,
    /// The number the people answering their alarms call (empty when none).
    pub phone: String,
}

/// A device on the administration page.
pub struct DeviceRow {
    /// Id.
    pub id: String,
    /// Its user's sign-in name.
    pub user: String,
    /// Its name.
    pub name: String,
    /// Last sync.
    pub last_sync: Option<i64>,
    /// Revoked (wiped at its next contact).
    pub revoked: bool,
}

/// The administration page's content.
pub struct AdminView {
    /// Teams (id, name).
    pub teams: Vec<(String, String)>,
    /// Users.
    pub users: Vec<UserRow>,
    /// Devices.
    pub devices: Vec<DeviceRow>,
}

fn csrf_field(nav: &Nav) -> Markup {
    html! { input type="hidden" name="csrf" value=(nav.csrf); }
}

/// Teams, users and roles, devices.
pub fn admin(nav: &Nav, v: &AdminView) -> Markup {
    layout(
        "Administration",
        Some(nav),
        html! {
            section aria-labelledby="teams-heading" {
                h2 id="teams-heading" { "Teams" }
                ul { @for (id, name) in &v.teams { li { (name) " · " a href=(format!("/console/teams/{id}/safety")) { "escalation ladder" } } } }
                form.inline method="post" action="/console/admin/teams" {
                    (csrf_field(nav))
                    label for="team-name" { "New team" }
                    input id="team-name" name="name" required maxlength="100";
                    button type="submit" { "Create team" }
                }
            }
            section aria-labelledby="users-heading" {
                h2 id="users-heading" { "Users" }
                table {
                    thead { tr { th scope="col" { "User name" } th scope="col" { "Name" } th scope="col" { "Role" } th scope="col" { "Team" } th scope="col" { "Phone for alarms" } th scope="col" { "State" } } }
                    tbody {
                        @for u in &v.users {
                            tr {
                                td { (u.username) } td { (u.name) } td { (u.role.replace('_', " ")) } td { (u.team) }
                                td {
                                    form.inline method="post" action=(format!("/console/admin/users/{}/phone", u.id)) {
                                        (csrf_field(nav))
                                        input type="tel" name="phone" value=(u.phone) maxlength="32"
                                            aria-label=(format!("Phone of {}", u.username));
                                        button type="submit" aria-label=(format!("Save the phone of {}", u.username)) { "Save" }
                                    }
                                }
                                td {
                                    @if u.disabled { "disabled" } @else {
                                        form method="post" action=(format!("/console/admin/users/{}/disable", u.id)) {
                                            (csrf_field(nav))
                                            button type="submit" aria-label=(format!("Disable {}", u.username)) { "Disable" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                h3 { "Add a user" }
                form method="post" action="/console/admin/users" {
                    (csrf_field(nav))
                    label for="new-username" { "User name" }
                    input id="new-username" name="username" required maxlength="64" autocomplete="off";
                    label for="new-name" { "Name" }
                    input id="new-name" name="display_name" required maxlength="200";
                    label for="new-role" { "Role" }
                    select id="new-role" name="role" {
                        option value="worker" { "worker" }
                        option value="supervisor" { "supervisor" }
                        option value="program_director" { "program director" }
                        option value="administrator" { "administrator" }
                    }
                    label for="new-team" { "Team" }
                    select id="new-team" name="team" {
                        option value="" { "none (administrators)" }
                        @for (id, name) in &v.teams { option value=(id) { (name) } }
                    }
                    label for="new-phone" { "Phone the people answering an alarm call (optional)" }
                    input id="new-phone" name="phone" type="tel" maxlength="32" autocomplete="off";
                    label for="new-password" { "First password (12 characters or more)" }
                    input id="new-password" name="password" type="password" required minlength="12" autocomplete="new-password";
                    button type="submit" { "Add user" }
                }
            }
            section aria-labelledby="devices-heading" {
                h2 id="devices-heading" { "Devices" }
                table {
                    thead { tr { th scope="col" { "User" } th scope="col" { "Device" } th scope="col" { "Last sync" } th scope="col" { "State" } } }
                    tbody {
                        @if v.devices.is_empty() { tr { td colspan="4" { "No devices yet." } } }
                        @for d in &v.devices {
                            tr {
                                td { (d.user) } td { (d.name) }
                                td { @match d.last_sync { Some(t) => { (when(t)) } None => { "never" } } }
                                td {
                                    @if d.revoked { "revoked; wiped at its next contact" } @else {
                                        form method="post" action=(format!("/console/admin/devices/{}/revoke", d.id)) {
                                            (csrf_field(nav))
                                            button type="submit" aria-label=(format!("Revoke and wipe {} of {}", d.name, d.user)) { "Revoke and wipe" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// Tier rows the ladder form offers.
pub const LADDER_ROWS: usize = 5;

/// A team's safety settings form.
pub fn safety_settings(
    nav: &Nav,
    team: &str,
    s: &fieldnote_protocol::safety::SafetySettings,
    message: Option<&str>,
) -> Markup {
    use fieldnote_protocol::safety::TierTarget;
    layout(
        "Escalation ladder",
        Some(nav),
        html! {
            (notice(message))
            form method="post" action=(format!("/console/teams/{team}/safety")) {
                (csrf_field(nav))
                label for="grace" { "Grace after a visit's expected end before a missed check-in alarm (seconds, 60 to 7,200)" }
                input id="grace" name="grace_secs" type="number" min="60" max="7200" value=(s.grace_secs) required;
                label for="fallback" { "Seconds before an unanswered phone calls or texts on its own (15 to 3,600)" }
                input id="fallback" name="fallback_secs" type="number" min="15" max="3600" value=(s.fallback_secs) required;
                table {
                    caption { "Who is alerted, in order. Leave a label empty to drop the row." }
                    thead { tr { th scope="col" { "Tier" } th scope="col" { "Label" } th scope="col" { "Alerts" } th scope="col" { "User ids (for named users)" } th scope="col" { "Seconds to acknowledge" } } }
                    tbody {
                        @for i in 0..LADDER_ROWS {
                            @let tier = s.ladder.get(i);
                            @let target = tier.map(|t| match &t.target {
                                TierTarget::TeamSupervisors => "team_supervisors",
                                TierTarget::ProgramDirectors => "program_directors",
                                TierTarget::Users(_) => "users",
                            }).unwrap_or("team_supervisors");
                            @let users = tier.and_then(|t| match &t.target { TierTarget::Users(u) => Some(u.join(", ")), _ => None }).unwrap_or_default();
                            tr {
                                th scope="row" { (i + 1) }
                                td { input name="label" aria-label=(format!("Tier {} label", i + 1)) value=(tier.map_or("", |t| t.label.as_str())) maxlength="100"; }
                                td {
                                    select name="target" aria-label=(format!("Tier {} alerts", i + 1)) {
                                        option value="team_supervisors" selected[target == "team_supervisors"] { "team supervisors" }
                                        option value="program_directors" selected[target == "program_directors"] { "program directors" }
                                        option value="users" selected[target == "users"] { "named users" }
                                    }
                                }
                                td { input name="users" aria-label=(format!("Tier {} user ids", i + 1)) value=(users); }
                                td { input name="timeout" type="number" min="30" max="3600" aria-label=(format!("Tier {} seconds to acknowledge", i + 1)) value=(tier.map_or(180, |t| t.ack_timeout_secs)); }
                            }
                        }
                    }
                }
                button type="submit" { "Save" }
            }
        },
    )
}

/// The audit page's content.
pub struct AuditView {
    /// The whole chain's check.
    pub verification: crate::audit::Verification,
    /// The entries shown, newest first.
    pub entries: Vec<Stored>,
    /// The action filter.
    pub action: String,
    /// The target filter.
    pub target: String,
}

/// The audit log.
pub fn audit_log(nav: &Nav, v: &AuditView) -> Markup {
    layout(
        "Audit log",
        Some(nav),
        html! {
            @match v.verification.first_broken {
                None => { p.ok id="chain-status" role="status" { "Hash chain verified: " (v.verification.entries) " entries, unbroken." } }
                Some(seq) => { p.notice id="chain-status" role="alert" { "The hash chain is broken at entry " (seq) ": entries were altered, removed or reordered." } }
            }
            form.inline method="get" action="/console/audit" {
                label for="f-action" { "Action" }
                input id="f-action" name="action" value=(v.action) placeholder="record.view";
                label for="f-target" { "Target id" }
                input id="f-target" name="target" value=(v.target);
                button type="submit" { "Filter" }
            }
            table {
                thead { tr { th scope="col" { "#" } th scope="col" { "Server time" } th scope="col" { "Who" } th scope="col" { "Device" } th scope="col" { "What" } th scope="col" { "Target" } th scope="col" { "Detail" } } }
                tbody {
                    @for e in &v.entries {
                        tr { td { (e.seq) } td { (when(e.at)) } td { (e.actor) } td { (e.device.as_deref().unwrap_or("")) } td { (e.action) } td { (e.target) } td { code { (e.detail) } } }
                    }
                }
            }
            @if let Some(last) = v.entries.last() {
                @if v.entries.len() as i64 >= 100 {
                    p { a href=(format!("/console/audit?action={}&target={}&before={}", v.action, v.target, last.seq)) { "Older entries" } }
                }
            }
        },
    )
}

/// An error page. `#refused` tells the page script to keep what was typed into the form
/// that led here.
pub fn error(title: &str, message: &str) -> Markup {
    layout(
        title,
        None,
        html! {
            p.notice id="refused" role="alert" { (message) }
            p { a href="/console/alarms" { "Back to the console" } }
        },
    )
}
