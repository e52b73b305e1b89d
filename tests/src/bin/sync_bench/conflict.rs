//! W6: a worker and a supervisor edit the same plan offline, then both sync. Each edits the
//! summary text and the next review date (the same field, different values), and each
//! edits one field the other does not touch. For every system the bench reads the plan as
//! that system's app would and sorts each of the six edits: seen in the merged plan, shown
//! to a person as a conflict, kept but hidden from the person (a losing revision or value
//! only an app that asks for it sees), or lost.

use std::time::{Duration, Instant};

use fieldnote_core::document::Document;
use fieldnote_core::model::*;
use serde_json::{Value, json};

use super::shaped::{Fixture, System};
use super::{BoxError, am, device, lww};

/// How the edits fared in one system.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Time of the syncs that merge (worker, supervisor, worker again).
    pub time: Duration,
    /// Edits visible in the merged record.
    pub merged: usize,
    /// Edits not visible but shown to a person as a conflict.
    pub shown: usize,
    /// Edits kept somewhere the person is not shown.
    pub hidden: usize,
    /// Edits gone.
    pub lost: usize,
    /// The edits that did not make it into the merged record, by side and field.
    pub missing: Vec<String>,
}

const WORKER_SUMMARY: &str = " Worker: housing search comes first.";
const SUPERVISOR_SUMMARY: &str = " Supervisor: add a weekly check-in.";
const WORKER_STRENGTHS: &str = " Keeps every appointment.";
const WORKER_REVIEW: &str = "2027-01-15";
const SUPERVISOR_REVIEW: &str = "2027-02-01";

/// The edits, as (side, field, expected value): a string to find in a text field, or a
/// value the field must equal.
fn edits() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        ("worker", "summary", json!(WORKER_SUMMARY)),
        ("worker", "next_review_on", json!(WORKER_REVIEW)),
        ("worker", "strengths", json!(WORKER_STRENGTHS)),
        ("supervisor", "summary", json!(SUPERVISOR_SUMMARY)),
        ("supervisor", "next_review_on", json!(SUPERVISOR_REVIEW)),
        ("supervisor", "supervision_conflict_checked", json!(true)),
    ]
}

fn worker_edit(p: &mut Plan) {
    p.summary = CoText::from(format!("{}{WORKER_SUMMARY}", p.summary.as_str()));
    p.strengths = CoText::from(format!("{}{WORKER_STRENGTHS}", p.strengths.as_str()));
    p.next_review_on = Day::parse(WORKER_REVIEW);
}

fn supervisor_edit(p: &mut Plan) {
    p.summary = CoText::from(format!("{}{SUPERVISOR_SUMMARY}", p.summary.as_str()));
    p.next_review_on = Day::parse(SUPERVISOR_REVIEW);
    p.supervision_conflict_checked = true;
}

fn edit(body: &mut RecordBody, f: fn(&mut Plan)) {
    if let RecordBody::Plan(p) = body {
        f(p);
    }
}

/// Whether `plan` (the plan's fields as JSON) shows the edit.
fn shows(plan: &Value, field: &str, want: &Value) -> bool {
    match (&plan[field], want) {
        (Value::String(have), Value::String(w)) if field != "next_review_on" => have.contains(w),
        (have, w) => have == w,
    }
}

/// Where an edit ended up.
enum Fate {
    Merged,
    Shown,
    Hidden,
    Lost,
}

/// Counts the six edits by where each ended up.
fn tally(time: Duration, fate: impl Fn(&str, &str, &Value) -> Fate) -> Outcome {
    let mut out = Outcome {
        time,
        ..Default::default()
    };
    for (side, field, want) in edits() {
        let n = match fate(side, field, &want) {
            Fate::Merged => {
                out.merged += 1;
                continue;
            }
            Fate::Shown => &mut out.shown,
            Fate::Hidden => &mut out.hidden,
            Fate::Lost => &mut out.lost,
        };
        *n += 1;
        out.missing.push(format!("{side} {field}"));
    }
    out
}

/// Sorts the edits given the merged plan as the app shows it, the fields it shows as
/// conflicts, and the fields whose other values are kept where the person does not look.
fn sort(plan: &Value, shown: &[String], hidden: &[String], time: Duration) -> Outcome {
    tally(time, |_, field, want| {
        if shows(plan, field, want) {
            Fate::Merged
        } else if shown.iter().any(|c| c.ends_with(field)) {
            Fate::Shown
        } else if hidden.iter().any(|c| c.ends_with(field)) {
            Fate::Hidden
        } else {
            Fate::Lost
        }
    })
}

fn plan_json(body: &RecordBody) -> Result<Value, BoxError> {
    let v = serde_json::to_value(body)?;
    Ok(v["body"].clone())
}

/// Runs W6 for `system`.
pub fn run(
    rt: &tokio::runtime::Runtime,
    fx: &mut Fixture,
    dir: &std::path::Path,
    system: System,
) -> Result<Outcome, BoxError> {
    let plan = fx.plan();
    let base = fx
        .json()
        .iter()
        .find(|(id, _)| *id == plan.to_string())
        .map(|(_, j)| serde_json::from_str::<RecordBody>(j))
        .ok_or("no plan")??;
    let mut worker_body = base.clone();
    edit(&mut worker_body, worker_edit);
    let mut sup_body = base.clone();
    edit(&mut sup_body, supervisor_edit);
    match system {
        System::Fieldnote => {
            let url = fx.server_url();
            let tag = uuid::Uuid::new_v4().simple().to_string();
            let mut w = device(&url, &dir.join(format!("w6-worker-{tag}")), "w0")?;
            let mut s = device(&url, &dir.join(format!("w6-sup-{tag}")), "sup")?;
            w.client.sync(&mut w.store, &mut |_| {})?;
            s.client.sync(&mut s.store, &mut |_| {})?;
            w.store.update(plan, |b| edit(b, worker_edit))?;
            s.store.update(plan, |b| edit(b, supervisor_edit))?;
            let t = Instant::now();
            w.client.sync(&mut w.store, &mut |_| {})?;
            s.client.sync(&mut s.store, &mut |_| {})?;
            w.client.sync(&mut w.store, &mut |_| {})?;
            let time = t.elapsed();
            let (wj, sj) = (
                plan_json(&w.store.get(plan)?.body)?,
                plan_json(&s.store.get(plan)?.body)?,
            );
            if wj != sj {
                return Err("W6: the two phones did not converge".into());
            }
            // The phone shows conflicting fields beside the record (`Store::conflicts`).
            Ok(sort(&wj, &w.store.conflicts(plan)?, &[], time))
        }
        System::Lww => {
            let id = plan.to_string();
            let server = rt.block_on(lww::start(vec![(
                id.clone(),
                serde_json::to_string(&base)?,
            )]))?;
            let url = format!("http://{server}");
            let t = Instant::now();
            lww::push(&url, &[(id.clone(), serde_json::to_string(&worker_body)?)])?;
            lww::push(&url, &[(id.clone(), serde_json::to_string(&sup_body)?)])?;
            let rows = lww::pull_rows(&url, 0)?;
            let time = t.elapsed();
            let record = rows
                .iter()
                .find(|r| r["id"] == json!(id))
                .ok_or("no plan pulled")?;
            Ok(sort(&record["record"]["body"], &[], &[], time))
        }
        System::Automerge => {
            let base_doc = fx.doc(plan).ok_or("no plan document")?.to_vec();
            let server = rt.block_on(am::start(vec![base_doc.clone()]))?;
            let url = format!("http://{}", server.addr);
            let side = |body: &RecordBody, actor: &[u8]| -> Result<am::Client, BoxError> {
                let mut d = Document::load_stored(plan, actor, [&base_doc[..]])?;
                d.update(body)?;
                let mut c = am::Client::new(1);
                c.replace(0, &d.save())?;
                Ok(c)
            };
            let mut a = side(&worker_body, &[1; 16])?;
            let mut b = side(&sup_body, &[2; 16])?;
            let t = Instant::now();
            a.sync(&url)?;
            b.sync(&url)?;
            a.sync(&url)?;
            let time = t.elapsed();
            let merged = Document::load_stored(plan, &[3; 16], [&a.save(0)[..]])?;
            // An automerge app reads one value per field; the others stay in the document.
            Ok(sort(
                &plan_json(&merged.body()?)?,
                &[],
                &merged.conflicts(),
                time,
            ))
        }
        System::Pouch => {
            let mut doc = plan_json(&base)?;
            doc["_id"] = json!(plan.to_string());
            let changed = |body: &RecordBody| -> Result<Value, BoxError> {
                let after = plan_json(body)?;
                let mut out = serde_json::Map::new();
                for (k, v) in after.as_object().ok_or("plan is not an object")? {
                    if doc.get(k) != Some(v) {
                        out.insert(k.clone(), v.clone());
                    }
                }
                Ok(Value::Object(out))
            };
            let input = json!({"doc": doc, "a": changed(&worker_body)?, "b": changed(&sup_body)?});
            let db = format!("w6_{}", uuid::Uuid::new_v4().simple());
            let pouch = fx.pouch();
            let remote = pouch.db_url(None, &db);
            let local = pouch.local(&db);
            let v = pouch.run(
                &["conflict", "--remote", &remote, "--local", &local],
                Some(&input),
            )?;
            let time = Duration::from_secs_f64(v["ms"].as_f64().unwrap_or(0.0) / 1000.0);
            // The driver reads the plan as a PouchDB app does (`get` without options) and
            // says which of a's (worker) and b's (supervisor) edits the winner shows, which
            // only a losing `_conflicts` revision holds, and which none.
            let names = |key: &str| -> Vec<String> {
                v[key]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str())
                            .map(|s| {
                                s.replacen("a.", "worker ", 1)
                                    .replacen("b.", "supervisor ", 1)
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let seen = names("winner_has");
            let hidden = names("hidden_in_conflicts");
            Ok(tally(time, |side, field, _| {
                let name = format!("{side} {field}");
                if seen.contains(&name) {
                    Fate::Merged
                } else if hidden.contains(&name) {
                    Fate::Hidden
                } else {
                    Fate::Lost
                }
            }))
        }
    }
}
