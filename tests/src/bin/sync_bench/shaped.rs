//! W3 (first sync of a new device), W4 (reconnect after a day) and W10 (the same over
//! shaped, lossy and cut links) for Fieldnote and the three baselines, each through its own
//! [`Link`] so that bytes, requests and the largest message are counted the same way.
//!
//! Every system gets the same 40 members, 1,000 notes and 40 plans, and the same day's
//! work: 20 notes edited and 5 written on the phone, 3 plans edited by the supervisor. A
//! failed exchange is retried at once, as often as needed, as an app would on a flapping
//! link; the time and bytes of the failed attempts count.

use std::path::Path;
use std::time::{Duration, Instant};

use fieldnote_core::model::*;
use fieldnote_core::synthetic;
use fieldnote_tests::link::{Link, Profile, Totals};
use rand::SeedableRng;
use serde_json::{Value, json};

use super::{BoxError, Device, Server, am, device, lww, pouch::Pouch};

/// The systems compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum System {
    /// Fieldnote's own sync.
    Fieldnote,
    /// (b) naive JSON last-write-wins REST.
    Lww,
    /// (c) automerge's per-document sync protocol, multiplexed.
    Automerge,
    /// (d) PouchDB replication against a CouchDB-protocol server.
    Pouch,
}

impl System {
    /// All four, in report order.
    pub const ALL: [System; 4] = [
        System::Fieldnote,
        System::Lww,
        System::Automerge,
        System::Pouch,
    ];

    /// The column heading.
    pub fn label(self) -> &'static str {
        match self {
            System::Fieldnote => "Fieldnote",
            System::Lww => "(b) JSON LWW REST",
            System::Automerge => "(c) automerge per-document",
            System::Pouch => "(d) PouchDB / CouchDB protocol",
        }
    }
}

/// One measured exchange.
#[derive(Clone, Copy, Debug, Default)]
pub struct Run {
    /// Wall time, failed attempts included.
    pub time: Duration,
    /// What crossed the link.
    pub totals: Totals,
    /// Attempts it took.
    pub attempts: u32,
}

/// Runs `f` until it succeeds (at most 20 attempts); counts time and the link's traffic.
fn retrying(link: &Link, mut f: impl FnMut() -> Result<(), BoxError>) -> Result<Run, BoxError> {
    let t = Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        match f() {
            Ok(()) => break,
            Err(e) if attempts >= 20 => return Err(e),
            Err(_) => {}
        }
    }
    Ok(Run {
        time: t.elapsed(),
        totals: link.take(),
        attempts,
    })
}

/// What every run starts from: the caseload on the server, and the same records as JSON
/// and as automerge documents for the baselines.
pub struct Fixture {
    server: Server,
    sup: Device,
    ids: Vec<RecordId>,
    plans: Vec<RecordId>,
    notes: usize,
    json: Vec<(String, String)>,
    docs: Vec<Vec<u8>>,
    pouch: Pouch,
    rng: rand::rngs::StdRng,
    runs: u64,
}

impl Fixture {
    /// Writes the caseload on a first phone and syncs it up; starts the PouchDB server.
    pub fn new(
        rt: &tokio::runtime::Runtime,
        dir: &Path,
        driver: &Path,
        members: usize,
        notes: usize,
    ) -> Result<Fixture, BoxError> {
        let server = super::start_server(rt, &dir.join("w3-server"))?;
        super::add_team(&server.db, 1)?;
        let direct = server.running.url();
        let mut a = device(&direct, &dir.join("w3-a"), "w0")?;
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut plans = Vec::new();
        for _ in 0..members {
            let member = a
                .store
                .create(RecordBody::Member(synthetic::member(&mut rng)))?;
            let e = synthetic::enrollment(member, Program::Csp, a.staff, a.team, Timestamp::now());
            a.store.create(RecordBody::Enrollment(e))?;
            let plan = synthetic::service_plan(member, Program::Csp, a.staff);
            plans.push(a.store.create(RecordBody::Plan(plan))?);
            for n in 0..notes / members {
                let at =
                    Timestamp::from_millis(Timestamp::now().millis() - (n as i64 + 1) * 3_600_000);
                let note = synthetic::note(&mut rng, member, Program::Csp, a.staff, at, 120);
                a.store.create(RecordBody::ContactNote(note))?;
            }
        }
        a.client.sync(&mut a.store, &mut |_| {})?;
        let ids: Vec<RecordId> = RecordKind::ALL
            .iter()
            .flat_map(|k| a.store.ids_of_kind(*k).unwrap_or_default())
            .collect();
        let json = ids
            .iter()
            .map(|id| {
                let body = a.store.get(*id)?.body;
                Ok((id.to_string(), serde_json::to_string(&body)?))
            })
            .collect::<Result<Vec<_>, BoxError>>()?;
        let docs = ids
            .iter()
            .map(|id| a.store.document_bytes(*id))
            .collect::<Result<Vec<_>, _>>()?;
        let mut sup = device(&direct, &dir.join("w4-sup"), "sup")?;
        sup.client.sync(&mut sup.store, &mut |_| {})?;
        let pouch = Pouch::start(driver, &dir.join("pouchdb"))?;
        Ok(Fixture {
            server,
            sup,
            ids,
            plans,
            notes,
            json,
            docs,
            pouch,
            rng,
            runs: 0,
        })
    }

    /// The Fieldnote server's URL (W6 uses it).
    pub fn server_url(&self) -> String {
        self.server.running.url()
    }

    /// The PouchDB server and driver (W6 uses them).
    pub fn pouch(&self) -> &Pouch {
        &self.pouch
    }

    /// The records as JSON, id first.
    pub fn json(&self) -> &[(String, String)] {
        &self.json
    }

    /// The first plan's id (W6 edits it).
    pub fn plan(&self) -> RecordId {
        self.plans[0]
    }

    /// The automerge document of record `id`.
    pub fn doc(&self, id: RecordId) -> Option<&[u8]> {
        let i = self.ids.iter().position(|x| *x == id)?;
        Some(&self.docs[i])
    }

    /// The records as PouchDB documents.
    fn pouch_docs(&self) -> Result<Vec<Value>, BoxError> {
        self.json
            .iter()
            .map(|(id, text)| {
                let mut v: Value = serde_json::from_str(text)?;
                v["_id"] = json!(id);
                Ok(v)
            })
            .collect()
    }

    /// Shuts the Fieldnote server down.
    pub fn shutdown(self, rt: &tokio::runtime::Runtime) {
        let _ = rt.block_on(self.server.running.shutdown());
    }
}

/// W3 and W4 of one system on one link.
#[derive(Clone, Copy, Debug, Default)]
pub struct Pair {
    /// First sync.
    pub w3: Run,
    /// Reconnect after a day.
    pub w4: Run,
    /// W3 again with the connection cut halfway through (when asked for).
    pub w3_cut: Option<Run>,
    /// The day's changes as raw automerge bytes (Fieldnote only).
    pub raw: u64,
}

impl Pair {
    /// A first sync alone (the cut runs measure nothing else).
    fn first_sync(w3: Run) -> Pair {
        Pair {
            w3,
            ..Default::default()
        }
    }
}

const CALLED_BACK: &str = " Called back to confirm the appointment.";

/// The phone's part of the day: 20 notes get a sentence more. Returns their ids.
fn edit_notes(store: &mut fieldnote_core::Store) -> Result<Vec<RecordId>, BoxError> {
    let notes: Vec<RecordId> = store
        .ids_of_kind(RecordKind::ContactNote)?
        .into_iter()
        .take(20)
        .collect();
    for id in &notes {
        store.update(*id, |body| {
            if let RecordBody::ContactNote(n) = body {
                n.narrative.push_str(CALLED_BACK);
            }
        })?;
    }
    Ok(notes)
}

/// Runs W3 and W4 for `system` over a link with `profile`; with `cut`, also W3 again with
/// the connection cut once halfway through the clean run's download.
pub fn run(
    rt: &tokio::runtime::Runtime,
    fx: &mut Fixture,
    dir: &Path,
    system: System,
    profile: Profile,
    cut: bool,
) -> Result<Pair, BoxError> {
    fx.runs += 1;
    let tag = format!("{}-{:?}", fx.runs, system);
    let mut pair = match system {
        System::Fieldnote => fieldnote(fx, dir, &tag, profile, None)?,
        System::Lww => lww_run(rt, fx, profile, None)?,
        System::Automerge => am_run(rt, fx, dir, &tag, profile, None)?,
        System::Pouch => pouch_run(fx, &tag, profile, None)?,
    };
    if cut {
        // Once, halfway through what this system's clean first sync just downloaded.
        let at = Some(pair.w3.totals.down / 2);
        let tag = format!("{tag}-cut");
        let again = match system {
            System::Fieldnote => fieldnote(fx, dir, &tag, profile, at),
            System::Lww => lww_run(rt, fx, profile, at),
            System::Automerge => am_run(rt, fx, dir, &tag, profile, at),
            System::Pouch => pouch_run(fx, &tag, profile, at),
        };
        pair.w3_cut = Some(again?.w3);
    }
    Ok(pair)
}

fn fieldnote(
    fx: &mut Fixture,
    dir: &Path,
    tag: &str,
    profile: Profile,
    cut_at: Option<u64>,
) -> Result<Pair, BoxError> {
    let link = Link::start(fx.server.running.addr, profile, fx.runs)?;
    let mut d = device(&link.url(), &dir.join(format!("phone-{tag}")), "w0")?;
    link.take();
    if let Some(n) = cut_at {
        link.cut_after(n);
    }
    let w3 = retrying(&link, || {
        d.client.sync(&mut d.store, &mut |_| {})?;
        Ok(())
    })?;
    let got = d.store.ids_of_kind(RecordKind::ContactNote)?.len();
    if got < fx.notes {
        return Err(format!("W3 brought {got} of {} notes", fx.notes).into());
    }
    if cut_at.is_some() {
        return Ok(Pair::first_sync(w3));
    }
    // The day: the supervisor edits 3 plans and syncs; the phone edits 20 notes, writes 5.
    for plan in fx.plans.iter().take(3) {
        fx.sup.store.update(*plan, |body| {
            if let RecordBody::Plan(p) = body {
                p.summary = CoText::from(format!(
                    "{} Supervisor: add a weekly check-in.",
                    p.summary.as_str()
                ));
            }
        })?;
    }
    let raw_of = |dev: &Device| -> Result<u64, BoxError> {
        Ok(dev
            .store
            .prepare_sync()?
            .request
            .upload
            .iter()
            .map(|u| u.item.payload.len() as u64)
            .sum())
    };
    let sup_raw = raw_of(&fx.sup)?;
    fx.sup.client.sync(&mut fx.sup.store, &mut |_| {})?;
    edit_notes(&mut d.store)?;
    let member = d.store.caseload()?[0].member_id;
    for _ in 0..5 {
        let note = synthetic::note(
            &mut fx.rng,
            member,
            Program::Csp,
            d.staff,
            Timestamp::now(),
            120,
        );
        d.store.create(RecordBody::ContactNote(note))?;
    }
    let raw = sup_raw + raw_of(&d)?;
    link.take();
    let w4 = retrying(&link, || {
        d.client.sync(&mut d.store, &mut |_| {})?;
        Ok(())
    })?;
    Ok(Pair {
        w3,
        w4,
        w3_cut: None,
        raw,
    })
}

fn lww_run(
    rt: &tokio::runtime::Runtime,
    fx: &mut Fixture,
    profile: Profile,
    cut_at: Option<u64>,
) -> Result<Pair, BoxError> {
    let server = rt.block_on(lww::start(fx.json.clone()))?;
    let link = Link::start(server, profile, fx.runs)?;
    let url = link.url();
    if let Some(n) = cut_at {
        link.cut_after(n);
    }
    let n = fx.json.len();
    let w3 = retrying(&link, || {
        let got = lww::pull(&url, 0)?;
        if got != n {
            return Err(format!("pulled {got} of {n}").into());
        }
        Ok(())
    })?;
    if cut_at.is_some() {
        return Ok(Pair::first_sync(w3));
    }
    // The day: 25 records pushed whole; the pull brings them and nothing else changed.
    let changed: Vec<(String, String)> = fx.json.iter().take(25).cloned().collect();
    let w4 = retrying(&link, || {
        lww::push(&url, &changed)?;
        lww::pull(&url, n as u64)?;
        Ok(())
    })?;
    Ok(Pair {
        w3,
        w4,
        ..Default::default()
    })
}

fn am_run(
    rt: &tokio::runtime::Runtime,
    fx: &mut Fixture,
    dir: &Path,
    tag: &str,
    profile: Profile,
    cut_at: Option<u64>,
) -> Result<Pair, BoxError> {
    let server = rt.block_on(am::start(fx.docs.clone()))?;
    let link = Link::start(server.addr, profile, fx.runs)?;
    let url = link.url();
    if let Some(n) = cut_at {
        link.cut_after(n);
    }
    let mut client = am::Client::new(fx.docs.len());
    let w3 = retrying(&link, || client.sync(&url).map(|_| ()))?;
    if cut_at.is_some() {
        return Ok(Pair::first_sync(w3));
    }
    // The same day's edits, made with Fieldnote's documents: 20 notes on the phone, 3
    // plans on the server.
    let mut phone = device(
        &fx.server.running.url(),
        &dir.join(format!("am-{tag}")),
        "w0",
    )?;
    phone.client.sync(&mut phone.store, &mut |_| {})?;
    for id in edit_notes(&mut phone.store)? {
        let i = fx.ids.iter().position(|x| *x == id).ok_or("unknown note")?;
        client.replace(i, &phone.store.document_bytes(id)?)?;
    }
    server.replace_where(&fx.ids, &fx.plans, |id| {
        fx.sup.store.document_bytes(id).ok()
    })?;
    link.take();
    let w4 = retrying(&link, || client.sync(&url).map(|_| ()))?;
    Ok(Pair {
        w3,
        w4,
        ..Default::default()
    })
}

fn pouch_run(
    fx: &mut Fixture,
    tag: &str,
    profile: Profile,
    cut_at: Option<u64>,
) -> Result<Pair, BoxError> {
    let db = format!("caseload_{}", tag.to_lowercase().replace('-', "_"));
    let docs = fx.pouch_docs()?;
    let direct = fx.pouch.db_url(None, &db);
    fx.pouch
        .run(&["seed", "--remote", &direct], Some(&json!(docs)))?;
    let link = Link::start(fx.pouch.addr, profile, fx.runs)?;
    let remote = fx.pouch.db_url(Some(&link.url()), &db);
    let local = fx.pouch.local(&format!("phone-{tag}"));
    if let Some(n) = cut_at {
        link.cut_after(n);
    }
    let mut docs_written = 0;
    let w3 = retrying(&link, || {
        let v = fx.pouch.run(
            &["first-sync", "--remote", &remote, "--local", &local],
            None,
        )?;
        docs_written = v["docs"].as_u64().unwrap_or(0);
        Ok(())
    })?;
    if cut_at.is_some() {
        return Ok(Pair::first_sync(w3));
    }
    if (docs_written as usize) < fx.json.len() {
        return Err(format!(
            "PouchDB's first sync wrote {docs_written} of {}",
            fx.json.len()
        )
        .into());
    }
    let plan_edits: Vec<Value> = fx
        .plans
        .iter()
        .take(3)
        .map(|id| json!({"_id": id.to_string(), "field": "body.summary", "append": " Supervisor: add a weekly check-in."}))
        .collect();
    fx.pouch.run(
        &["edit-remote", "--remote", &direct],
        Some(&json!({"edit": plan_edits})),
    )?;
    let note_ids: Vec<&String> = fx
        .json
        .iter()
        .filter(|(_, j)| j.contains("\"kind\":\"contact_note\""))
        .map(|(id, _)| id)
        .take(20)
        .collect();
    let edits: Vec<Value> = note_ids
        .iter()
        .map(|id| json!({"_id": id, "field": "body.narrative", "append": CALLED_BACK}))
        .collect();
    let template: Value = serde_json::from_str(
        &fx.json
            .iter()
            .find(|(id, _)| id == note_ids[0])
            .ok_or("no note")?
            .1,
    )?;
    let creates: Vec<Value> = (0..5)
        .map(|_| {
            let mut v = template.clone();
            v["_id"] = json!(new_id().to_string());
            v
        })
        .collect();
    let input = json!({"edit": edits, "create": creates});
    link.take();
    let w4 = retrying(&link, || {
        fx.pouch.run(
            &["reconnect", "--remote", &remote, "--local", &local],
            Some(&input),
        )?;
        Ok(())
    })?;
    Ok(Pair {
        w3,
        w4,
        ..Default::default()
    })
}
