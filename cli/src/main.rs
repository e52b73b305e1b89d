//! `fieldnote`: a command-line device. It opens an encrypted store and does what a phone does
//! (members, notes, addenda, plans and signatures, search, timelines), so people can script,
//! demo and benchmark the core without a phone.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use fieldnote_core::model::*;
use fieldnote_core::{Error, Signer, Store, StoreKey, synthetic};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;

/// Writes a line to standard output; a closed pipe (`fieldnote today | head`) ends the
/// program quietly instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

/// A command-line Fieldnote device.
#[derive(Parser)]
#[command(name = "fieldnote", version, about)]
struct Cli {
    /// The store directory.
    #[arg(long, env = "FIELDNOTE_STORE", default_value = "fieldnote-store")]
    store: PathBuf,
    /// File holding the store key (64 hex characters). Defaults to `<store>.key` beside the
    /// store directory. A phone keeps this key in Android Keystore / iOS Keychain instead.
    #[arg(long, env = "FIELDNOTE_KEY_FILE")]
    key_file: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Seconds a safety command keeps retrying to reach the server before leaving the item
    /// queued (it goes first at the next sync).
    #[arg(
        long,
        global = true,
        env = "FIELDNOTE_SAFETY_WAIT",
        default_value_t = 30
    )]
    wait: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a store and its key (if absent) and this device's worker id.
    Init,
    /// Members and the caseload.
    #[command(subcommand)]
    Member(MemberCmd),
    /// Contact notes.
    #[command(subcommand)]
    Note(NoteCmd),
    /// Plans and their signatures.
    #[command(subcommand)]
    Plan(PlanCmd),
    /// Search note narratives.
    Search {
        /// Words to find (searched as text).
        text: String,
        /// At most this many results.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// A member's timeline, newest first.
    Timeline {
        /// The member id.
        member: RecordId,
    },
    /// The caseload ordered by urgency, with each member's open obligations.
    Today,
    /// Every program obligation of one member, with status, due date and citation.
    Obligations {
        /// The member id.
        member: RecordId,
    },
    /// Print any record as JSON with its signatures.
    Show {
        /// The record id.
        id: RecordId,
    },
    /// Check the database page by page; quarantine and rebuild it if damaged.
    Check,
    /// Sign in to a server and register this device.
    Login {
        /// The server's URL (https; http only on this machine).
        #[arg(long)]
        server: String,
        /// The user name.
        #[arg(long)]
        user: String,
        /// A PEM file of CA certificates to trust instead of the public roots.
        #[arg(long)]
        ca_file: Option<PathBuf>,
        /// A name for this device, shown to administrators.
        #[arg(long, default_value = "fieldnote-cli")]
        device_name: String,
        /// The 6-digit code of your authenticator app (supervisors and program directors,
        /// once enrolled in the console).
        #[arg(long)]
        code: Option<String>,
    },
    /// Send pending work and receive what is new for the caseload.
    Sync,
    /// Who is signed in, what waits to be sent, the last sync.
    Status,
    /// Edits the server refused, kept for review.
    Rejected,
    /// Sign out: the server revokes this device's credential.
    Logout,
    /// Visit sessions: start, check in, extend, end (with the cancel or duress PIN).
    #[command(subcommand)]
    Session(safety::SessionCmd),
    /// Distress alarms: raise (panic, discreet, duress), send, status; list, ack, resolve.
    #[command(subcommand)]
    Alarm(safety::AlarmCmd),
    /// Fill the store with a synthetic caseload, then show it.
    Demo {
        /// Members to create.
        #[arg(long, default_value_t = 25)]
        members: usize,
        /// Notes per member.
        #[arg(long, default_value_t = 12)]
        notes_per_member: usize,
    },
}

#[derive(Subcommand)]
enum MemberCmd {
    /// Add a member and enroll them in a program.
    Add {
        /// Given name.
        #[arg(long)]
        given: String,
        /// Family name.
        #[arg(long)]
        family: String,
        /// Date of birth, YYYY-MM-DD.
        #[arg(long)]
        dob: String,
        /// MassHealth member ID (12 letters or digits).
        #[arg(long)]
        masshealth_id: String,
        /// Primary language.
        #[arg(long, default_value = "English")]
        language: String,
        /// csp, csp_ji, tm, cares, bh_cp, ltss_cp.
        #[arg(long)]
        program: String,
    },
    /// The caseload.
    List,
}

#[derive(Subcommand)]
enum NoteCmd {
    /// Write a draft note.
    Write {
        /// The member id.
        #[arg(long)]
        member: RecordId,
        /// The program the contact was delivered under.
        #[arg(long)]
        program: String,
        /// How the contact happened: in_person, phone, telehealth, text, collateral or
        /// case_related_work.
        #[arg(long, default_value = "in_person")]
        modality: String,
        /// Minutes.
        #[arg(long)]
        minutes: u32,
        /// The narrative; `-` reads it from standard input.
        #[arg(long)]
        narrative: String,
        /// RFC 3339 start; defaults to now.
        #[arg(long)]
        started_at: Option<String>,
        /// Why telehealth was used (required to finalize a telehealth note).
        #[arg(long)]
        telehealth_reason: Option<String>,
        /// Planned activity (required on TM session notes).
        #[arg(long)]
        planned_activity: Option<String>,
        /// Goal targeted (required on TM session notes).
        #[arg(long)]
        goal: Option<String>,
        /// The member's response (required on TM session notes).
        #[arg(long)]
        response: Option<String>,
        /// The member was not engaged and responsive.
        #[arg(long)]
        not_engaged: bool,
        /// For an addendum: the finalized note it adds to.
        #[arg(long)]
        addendum_to: Option<RecordId>,
    },
    /// Finalize a note by signing it as its author.
    Finalize {
        /// The note id.
        id: RecordId,
        /// The signer's name.
        #[arg(long, default_value = "Field Worker")]
        name: String,
    },
}

#[derive(Subcommand)]
enum PlanCmd {
    /// Create a completed plan with goals.
    Create {
        /// The member id.
        #[arg(long)]
        member: RecordId,
        /// The program.
        #[arg(long)]
        program: String,
        /// A goal statement; repeat for more goals.
        #[arg(long = "goal", required = true)]
        goals: Vec<String>,
        /// A summary worker and supervisor may both edit.
        #[arg(long, default_value = "")]
        summary: String,
    },
    /// Sign a plan in a role.
    Sign {
        /// The plan id.
        id: RecordId,
        /// worker, supervisor, member, guardian, youth, pcp, program_director.
        #[arg(long)]
        role: String,
        /// The signer's name.
        #[arg(long)]
        name: String,
        /// Staff id for staff roles (defaults to this device's worker for `worker`).
        #[arg(long)]
        staff: Option<RecordId>,
    },
    /// Show a plan's signature state.
    Show {
        /// The plan id.
        id: RecordId,
    },
}

mod files;
mod net;
mod safety;

/// A failure of a command: the store's, or the server's.
#[derive(Debug)]
enum CliError {
    Core(Error),
    Client(fieldnote_client::Error),
}

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        CliError::Core(e)
    }
}

impl From<fieldnote_client::Error> for CliError {
    fn from(e: fieldnote_client::Error) -> Self {
        CliError::Client(e)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Client(e)) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
        Err(CliError::Core(Error::Invalid { kind, errors })) => {
            eprintln!("error: invalid {kind}; nothing was saved");
            for fe in errors {
                eprintln!("  {}: {}", fe.field, fe.reason);
            }
            ExitCode::FAILURE
        }
        Err(CliError::Core(e)) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn key_path(cli: &Cli) -> PathBuf {
    cli.key_file.clone().unwrap_or_else(|| {
        // `dir/` and `dir` are one store, whose key is `dir.key` beside it, never inside.
        let mut p = cli.store.components().collect::<PathBuf>().into_os_string();
        p.push(".key");
        PathBuf::from(p)
    })
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn read_key(path: &Path) -> Result<StoreKey, Error> {
    files::warn_if_shared(path);
    StoreKey::from_hex(&fs::read_to_string(path).map_err(io_err(path))?)
}

fn create_key(path: &Path) -> Result<StoreKey, Error> {
    let key = StoreKey::generate();
    files::write_private(path, key.to_hex().as_bytes())?;
    Ok(key)
}

/// The staff id this device writes as: the signed-in user's, or a local one.
fn worker_id(store_dir: &Path, store: &Store) -> Result<StaffId, Error> {
    if let Some(identity) = store.identity()?
        && let Ok(id) = StaffId::parse_str(&identity.staff_id)
    {
        return Ok(id);
    }
    let path = store_dir.join("worker.id");
    match fs::read_to_string(&path) {
        Ok(s) => StaffId::parse_str(s.trim())
            .map_err(|_| Error::Storage(format!("{} is not a staff id", path.display()))),
        Err(_) => {
            let id = new_id();
            fs::write(&path, id.to_string()).map_err(io_err(&path))?;
            Ok(id)
        }
    }
}

fn program(code: &str) -> Result<Program, Error> {
    Program::from_code(code)
        .ok_or_else(|| invalid("program", "use csp, csp_ji, tm, cares, bh_cp or ltss_cp"))
}

/// Parses a word of the model's vocabulary (`in_person`, `supervisor`...).
fn vocabulary<T: serde::de::DeserializeOwned>(word: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(word.replace('-', "_"))).ok()
}

fn invalid(field: &str, reason: &str) -> Error {
    Error::Invalid {
        kind: "input",
        errors: vec![FieldError {
            field: field.into(),
            reason: reason.into(),
        }],
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    let key_path = key_path(&cli);
    let creates = matches!(
        cli.command,
        Command::Init | Command::Demo { .. } | Command::Login { .. }
    );
    let key = if creates && !key_path.exists() {
        create_key(&key_path)?
    } else {
        read_key(&key_path)?
    };
    // Distress and visit commands open only the safety database: they work while another
    // program holds the store (one writer at a time) and never wait for the records.
    let wait = std::time::Duration::from_secs(cli.wait);
    let command = match cli.command {
        Command::Session(cmd) => {
            let safety = fieldnote_core::store::SafetyStore::open(&cli.store, &key)?;
            return safety::session(&cli.store, &safety, cmd, wait);
        }
        Command::Alarm(cmd) => {
            let safety = fieldnote_core::store::SafetyStore::open(&cli.store, &key)?;
            return safety::alarm(&cli.store, &safety, cmd, wait, cli.json);
        }
        other => other,
    };
    let mut store = Store::open(&cli.store, key)?;
    for notice in store.open_report().notices() {
        eprintln!("warning: {notice}");
    }
    let worker = worker_id(&cli.store, &store)?;
    let json = cli.json;
    match command {
        Command::Init => {
            out!(
                "store {} ready; key in {}",
                cli.store.display(),
                key_path.display()
            );
        }
        Command::Member(MemberCmd::Add {
            given,
            family,
            dob,
            masshealth_id,
            language,
            program: p,
        }) => {
            let program = program(&p)?;
            let date_of_birth = Day::parse(&dob).ok_or_else(|| invalid("dob", "use YYYY-MM-DD"))?;
            let member = Member {
                given_name: given,
                family_name: family,
                preferred_name: None,
                date_of_birth,
                primary_language: language,
                masshealth_id,
                pcp: None,
                guardian: None,
                phone: None,
                location: None,
            };
            let id = store.create(RecordBody::Member(member))?;
            let team = new_id();
            store.create(RecordBody::Enrollment(synthetic::enrollment(
                id,
                program,
                worker,
                team,
                Timestamp::now(),
            )))?;
            out!("{id}");
        }
        Command::Member(MemberCmd::List) => print_caseload(&store, json)?,
        Command::Note(NoteCmd::Write {
            member,
            program: p,
            modality,
            minutes,
            narrative,
            started_at,
            telehealth_reason,
            planned_activity,
            goal,
            response,
            not_engaged,
            addendum_to,
        }) => {
            let narrative = if narrative == "-" {
                std::io::read_to_string(std::io::stdin()).map_err(io_err(Path::new("stdin")))?
            } else {
                narrative
            };
            let started_at = match started_at {
                Some(s) => Timestamp::parse(&s).ok_or_else(|| {
                    invalid("started_at", "use RFC 3339, e.g. 2026-11-25T14:30:00-05:00")
                })?,
                None => Timestamp::now(),
            };
            let modality: Modality = vocabulary(&modality).ok_or_else(|| {
                invalid(
                    "modality",
                    "use in_person, phone, telehealth, text, collateral or case_related_work",
                )
            })?;
            let note = ContactNote {
                member_id: member,
                program: program(&p)?,
                author: worker,
                started_at,
                duration_minutes: minutes,
                modality,
                telehealth_reason,
                place: if modality.with_member() && modality != Modality::InPerson {
                    PlaceOfService::Remote
                } else {
                    PlaceOfService::Community
                },
                collateral: None,
                member_engaged: !not_engaged,
                planned_activity,
                goal_targeted: goal,
                member_response: response,
                narrative,
                progress: Vec::new(),
                purposes: Vec::new(),
                addendum_to: None,
            };
            let id = match addendum_to {
                Some(parent) => store.add_addendum(parent, note)?,
                None => store.create(RecordBody::ContactNote(note))?,
            };
            out!("{id}");
        }
        Command::Note(NoteCmd::Finalize { id, name }) => {
            let att = store.finalize_note(id, Signer::staff(worker, name, Role::Worker))?;
            out!("finalized {id}; content hash {}", att.content_hash);
        }
        Command::Plan(PlanCmd::Create {
            member,
            program: p,
            goals,
            summary,
        }) => {
            let program = program(&p)?;
            let mut plan = synthetic::service_plan(member, program, worker);
            plan.summary = summary.into();
            let template = plan.goals[0].clone();
            plan.goals = goals
                .into_iter()
                .map(|g| Goal {
                    id: new_id(),
                    statement: g.into(),
                    ..template.clone()
                })
                .collect();
            let id = store.create(RecordBody::Plan(plan))?;
            out!("{id}");
        }
        Command::Plan(PlanCmd::Sign {
            id,
            role,
            name,
            staff,
        }) => {
            let role: Role = vocabulary(&role).ok_or_else(|| {
                invalid(
                    "role",
                    "use worker, supervisor, program_director, member, guardian, youth or pcp",
                )
            })?;
            let signer = if role.is_witnessed() {
                Signer::witnessed(name, role, worker)
            } else {
                let staff = staff.or((role == Role::Worker).then_some(worker));
                Signer {
                    staff_id: staff,
                    name,
                    role,
                    witness: None,
                }
            };
            store.sign_plan(id, signer)?;
            print_signatures(&store, id, json)?;
        }
        Command::Plan(PlanCmd::Show { id }) => print_signatures(&store, id, json)?,
        Command::Search { text, limit } => {
            let hits = store.search(&text, limit)?;
            if json {
                print_json(&hits);
            } else {
                for h in hits {
                    out!("{}  {}  {}", h.started_at, h.note_id, h.snippet);
                }
            }
        }
        Command::Timeline { member } => {
            let entries = store.timeline(member)?;
            if json {
                print_json(&entries);
            } else {
                for e in entries {
                    let lock = if e.finalized { " (final)" } else { "" };
                    out!(
                        "{}  {:<18} {}{lock}  {}",
                        e.at,
                        e.kind,
                        e.title,
                        e.record_id
                    );
                }
            }
        }
        Command::Today => {
            let today = fieldnote_core::rules::today(&store, Timestamp::now())?;
            if json {
                print_json(&today);
            } else {
                for entry in today {
                    out!("{}  ({} open)", entry.display_name, entry.open.len());
                    for o in entry.open.iter().take(3) {
                        out!("    {}", describe(o));
                    }
                }
            }
        }
        Command::Obligations { member } => {
            let records = fieldnote_core::rules::MemberRecords::load(&store, member)?;
            let obligations = fieldnote_core::rules::evaluate_member(&records, Timestamp::now());
            if json {
                print_json(&obligations);
            } else {
                for o in obligations {
                    out!("{}  [{}]", describe(&o), o.citation);
                }
            }
        }
        Command::Show { id } => {
            let r = store.get(id)?;
            let review = fieldnote_core::ReviewState::of(&r.attestations, &r.body);
            let v = serde_json::json!({ "id": id, "record": r.body, "attestations": r.attestations,
                "review": review, "conflicts": store.conflicts(id)? });
            print_json(&v);
        }
        Command::Check => {
            let repaired = store.check_integrity()?.notices();
            if repaired.is_empty() {
                out!("ok");
            }
            for notice in repaired {
                out!("damaged: {notice}");
            }
        }
        Command::Demo {
            members,
            notes_per_member,
        } => {
            demo(&mut store, worker, members, notes_per_member)?;
            print_caseload(&store, json)?;
        }
        Command::Login {
            server,
            user,
            ca_file,
            device_name,
            code,
        } => net::login(
            &cli.store,
            &mut store,
            &server,
            &user,
            ca_file,
            code.as_deref(),
            &device_name,
        )?,
        Command::Sync => net::sync(&cli.store, store, json)?,
        Command::Status => net::status(&store, json)?,
        Command::Rejected => net::rejected(&store, json)?,
        Command::Logout => net::logout(&cli.store)?,
        // Answered above, from the safety database alone.
        Command::Session(_) | Command::Alarm(_) => {}
    }
    Ok(())
}

fn demo(store: &mut Store, worker: StaffId, members: usize, notes: usize) -> Result<(), Error> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let team = new_id();
    let bar = ProgressBar::new((members * (notes + 3)) as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} records ({per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("seeding");
    let programs = [Program::Csp, Program::CspJi, Program::Tm, Program::Cares];
    let now = Timestamp::now().millis();
    let mut first_member = None;
    for i in 0..members {
        let program = programs[i % programs.len()];
        let m = store.create(RecordBody::Member(synthetic::member(&mut rng)))?;
        first_member.get_or_insert(m);
        let referred = Timestamp::from_millis(now - 40 * 86_400_000);
        store.create(RecordBody::Enrollment(synthetic::enrollment(
            m, program, worker, team, referred,
        )))?;
        bar.inc(2);
        for n in 0..notes {
            let at = Timestamp::from_millis(now - (n as i64 + 1) * 2 * 86_400_000);
            let note = synthetic::note(&mut rng, m, program, worker, at, 60);
            let id = store.create(RecordBody::ContactNote(note))?;
            if n > 0 {
                store.finalize_note(id, Signer::staff(worker, "Demo Worker", Role::Worker))?;
            }
            bar.inc(1);
        }
        let plan = store.create(RecordBody::Plan(synthetic::service_plan(
            m, program, worker,
        )))?;
        store.sign_plan(plan, Signer::staff(worker, "Demo Worker", Role::Worker))?;
        bar.inc(1);
    }
    bar.finish_with_message("done");
    if let Some(m) = first_member {
        eprintln!("\ntimeline of the first member ({m}):");
        for e in store.timeline(m)?.into_iter().take(5) {
            eprintln!("  {}  {}", e.at, e.title);
        }
        let hits = store.search("housing application", 3)?;
        eprintln!("search \"housing application\": {} shown", hits.len());
        for h in hits {
            eprintln!("  {}", h.snippet);
        }
    }
    Ok(())
}

/// Prints a value as pretty JSON (the `--json` output of every command).
fn print_json(value: &impl serde::Serialize) {
    out!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

fn describe(o: &fieldnote_core::rules::Obligation) -> String {
    use fieldnote_core::rules::Status;
    let status = match &o.status {
        Status::Extended { reason, .. } => format!("extended ({reason})"),
        Status::Waived { reason, .. } => format!("waived ({reason})"),
        other => serde_json::to_value(other)
            .ok()
            .and_then(|v| v["status"].as_str().map(str::to_string))
            .unwrap_or_default()
            .replace('_', " "),
    };
    let due = o.due.map_or(String::new(), |d| {
        format!(
            ", due {}",
            fieldnote_core::rules::calendar::local_display(d)
        )
    });
    let detail = o
        .detail
        .as_ref()
        .map_or(String::new(), |d| format!(" — {d}"));
    format!(
        "{:<8} {:<13} {}{due}{detail}",
        o.rule_id, status, o.obligation
    )
}

fn print_caseload(store: &Store, json: bool) -> Result<(), Error> {
    let caseload = store.caseload()?;
    if json {
        print_json(&caseload);
        return Ok(());
    }
    out!("{} members", caseload.len());
    for c in caseload {
        let programs: Vec<String> = c
            .enrollments
            .iter()
            .map(|(p, s)| format!("{p} {s}"))
            .collect();
        let last = c
            .last_contact_at
            .map_or("never".to_string(), |t| t.to_string());
        out!(
            "{:<28} {:<22} last contact {}  {}",
            c.display_name,
            programs.join(", "),
            last,
            c.member_id
        );
    }
    Ok(())
}

fn print_signatures(store: &Store, id: RecordId, json: bool) -> Result<(), Error> {
    let s = store.plan_signatures(id)?;
    if json {
        print_json(&s);
        return Ok(());
    }
    for (role, state) in &s.roles {
        let state = match state {
            fieldnote_core::store::SignatureState::Missing => "missing".to_string(),
            fieldnote_core::store::SignatureState::Current { attestation } => {
                format!(
                    "signed by {} at {}",
                    attestation.signer.name, attestation.signed_at
                )
            }
            fieldnote_core::store::SignatureState::Stale { attestation } => format!(
                "STALE: {} signed at {}, content changed since",
                attestation.signer.name, attestation.signed_at
            ),
        };
        out!("{role:?}: {state}");
    }
    out!("complete: {}", s.complete());
    Ok(())
}
