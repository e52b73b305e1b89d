//! The team view's charts, for supervisors who would rather look than read: obligations due
//! and overdue at the end of each of the last weeks, and contacts per week by modality.
//! Figures come from the core's rules engine over the synced records, each week evaluated
//! with the records dated up to its end. Charts are inline SVG drawn on the server (no
//! script), each with a title, a description and the same numbers as a table.

use fieldnote_core::model::{Modality, RecordBody, RecordId, Timestamp};
use fieldnote_core::rules::clock::Status;
use fieldnote_core::rules::evaluate_member;
use fieldnote_core::rules::records::MemberRecords;
use maud::{Markup, html};

use crate::db::Tx;
use crate::error::Result;
use crate::params;
use crate::rollup::scope_records;

/// Weeks shown (8).
pub const WEEKS: usize = 8;
const WEEK_MS: i64 = 7 * 24 * 3600 * 1000;

/// Modalities in chart order, with the words shown.
const MODALITIES: [(Modality, &str); 6] = [
    (Modality::InPerson, "in person"),
    (Modality::Phone, "phone"),
    (Modality::Telehealth, "telehealth"),
    (Modality::Text, "text"),
    (Modality::Collateral, "collateral"),
    (Modality::CaseRelatedWork, "case-related work"),
];

/// One week's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Week {
    /// The end of the week (ms).
    pub end: i64,
    /// Obligations open and not yet late at the week's end (due or at risk).
    pub due: usize,
    /// Obligations overdue at the week's end.
    pub overdue: usize,
    /// Contacts that started in the week, per modality (in [`MODALITIES`] order).
    pub contacts: [usize; 6],
}

/// A team's charts: the last [`WEEKS`] weeks, oldest first.
#[derive(Clone, Debug, Default)]
pub struct Charts {
    /// The weeks.
    pub weeks: Vec<Week>,
}

/// Computes the team's weekly figures up to `now`.
pub fn team_charts(tx: &mut dyn Tx, team: &str, now: i64) -> Result<Charts> {
    let mut weeks: Vec<Week> = (0..WEEKS)
        .rev()
        .map(|k| Week {
            end: now - k as i64 * WEEK_MS,
            ..Week::default()
        })
        .collect();
    let members = tx.query(
        "SELECT member_id FROM assignments WHERE team_id = $1 ORDER BY member_id",
        params![team],
    )?;
    for m in members {
        let Ok(member_id) = RecordId::parse_str(&m[0].text()) else {
            continue;
        };
        let records = scope_records(tx, &m[0].text())?;
        for r in &records {
            let RecordBody::ContactNote(n) = &r.body else {
                continue;
            };
            let at = n.started_at.millis();
            let Some(w) = weeks
                .iter_mut()
                .find(|w| at <= w.end && at > w.end - WEEK_MS)
            else {
                continue;
            };
            if let Some(i) = MODALITIES.iter().position(|(m, _)| *m == n.modality) {
                w.contacts[i] += 1;
            }
        }
        for w in &mut weeks {
            let known = records
                .iter()
                .filter(|r| r.body.timeline_at().millis() <= w.end)
                .cloned();
            let as_then = MemberRecords::from_records(member_id, known);
            for o in evaluate_member(&as_then, Timestamp::from_millis(w.end)) {
                match o.status {
                    Status::Due | Status::AtRisk => w.due += 1,
                    Status::Overdue => w.overdue += 1,
                    _ => {}
                }
            }
        }
    }
    Ok(Charts { weeks })
}

fn day(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%b %-d").to_string())
        .unwrap_or_default()
}

/// One series of a chart: its name, its CSS class, and its value in a week.
type Series<'a> = (&'a str, String, Box<dyn Fn(&Week) -> usize>);

const WIDTH: usize = 640;
const HEIGHT: usize = 220;
const LEFT: usize = 40;
const BOTTOM: usize = 30;

/// A bar chart: per week, bars in `series` (name, CSS class, value of a week), side by side
/// or stacked.
fn bars(
    id: &str,
    title: &str,
    desc: &str,
    weeks: &[Week],
    series: &[Series<'_>],
    stacked: bool,
) -> Markup {
    let totals: Vec<usize> = weeks
        .iter()
        .map(|w| {
            let vals = series.iter().map(|(_, _, f)| f(w));
            if stacked {
                vals.sum()
            } else {
                vals.max().unwrap_or(0)
            }
        })
        .collect();
    let top = totals.iter().copied().max().unwrap_or(0).max(1);
    let plot_h = HEIGHT - BOTTOM - 10;
    let slot = (WIDTH - LEFT) / weeks.len().max(1);
    let scale = |v: usize| v * plot_h / top;
    // Each bar: x, y, width, height, class, and its tooltip.
    let mut rects: Vec<(usize, usize, usize, usize, &str, String)> = Vec::new();
    for (i, w) in weeks.iter().enumerate() {
        let x0 = LEFT + i * slot + 6;
        let width = if stacked {
            slot.saturating_sub(12)
        } else {
            slot.saturating_sub(12) / series.len().max(1)
        }
        .max(1);
        let mut base = HEIGHT - BOTTOM;
        for (k, (name, class, f)) in series.iter().enumerate() {
            let v = f(w);
            let h = scale(v);
            let x = if stacked { x0 } else { x0 + k * width };
            let y = base - h;
            rects.push((
                x,
                y,
                width,
                h,
                class,
                format!("{name}, week ending {}: {v}", day(w.end)),
            ));
            if stacked {
                base = y;
            }
        }
    }
    let title_id = format!("{id}-title");
    let desc_id = format!("{id}-desc");
    html! {
        figure.chart {
            svg id=(id) role="img" aria-labelledby=(format!("{title_id} {desc_id}"))
                viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) width=(WIDTH) height=(HEIGHT) {
                title id=(title_id) { (title) }
                desc id=(desc_id) { (desc) }
                line x1=(LEFT) y1=(HEIGHT - BOTTOM) x2=(WIDTH) y2=(HEIGHT - BOTTOM) class="axis" stroke="#444" {}
                text x="2" y="14" class="tick" { (top) }
                text x="2" y=(HEIGHT - BOTTOM) class="tick" { "0" }
                @for r in &rects {
                    rect x=(r.0) y=(r.1) width=(r.2) height=(r.3) class=(r.4) { title { (r.5) } }
                }
                @for (i, w) in weeks.iter().enumerate() {
                    text x=(LEFT + i * slot + 6) y=(HEIGHT - 10) class="tick" { (day(w.end)) }
                }
            }
            figcaption {
                ul.legend {
                    @for (name, class, _) in series { li { span class=(format!("swatch {class}")) aria-hidden="true" {} (name) } }
                }
                details {
                    summary { "The numbers" }
                    table {
                        thead { tr {
                            th scope="col" { "Week ending" }
                            @for (name, _, _) in series { th scope="col" { (name) } }
                        } }
                        tbody {
                            @for w in weeks {
                                tr {
                                    th scope="row" { (day(w.end)) }
                                    @for (_, _, f) in series { td { (f(w)) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The two charts of the team view.
pub fn render(charts: &Charts) -> Markup {
    let obligations: Vec<Series<'_>> = vec![
        ("due", "due".into(), Box::new(|w: &Week| w.due)),
        ("overdue", "overdue".into(), Box::new(|w: &Week| w.overdue)),
    ];
    let contacts: Vec<Series<'_>> = MODALITIES
        .iter()
        .enumerate()
        .map(|(i, (_, name))| {
            let f: Box<dyn Fn(&Week) -> usize> = Box::new(move |w: &Week| w.contacts[i]);
            (*name, format!("m{i}"), f)
        })
        .collect();
    html! {
        section.charts aria-labelledby="charts-heading" {
            h2 id="charts-heading" { "Over the last " (WEEKS) " weeks" }
            (bars("chart-obligations", "Obligations due and overdue",
                "Program obligations open (due or at risk) and overdue at the end of each week, for the whole team.",
                &charts.weeks, &obligations, false))
            (bars("chart-contacts", "Contacts per week by modality",
                "Contacts documented in each week, stacked by modality.",
                &charts.weeks, &contacts, true))
        }
    }
}
