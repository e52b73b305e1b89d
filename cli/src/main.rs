//! `fieldnote`: a command-line device. It opens an encrypted store and does what a phone does
//! (members, notes, addenda, plans and signatures, search, timelines), so people can script,
//! demo and benchmark the core without a phone.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use fieldnote_core::model::*;
use fieldnote_core::{Error, Signer, Store, StoreKey, commands, synthetic};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;

/// Writes a line to standard output with its control characters escaped
/// ([`output::clean`]: every print path goes through here, so stored text never drives the
/// terminal); a closed pipe (`fieldnote today | head`) ends the program quietly instead of
/// panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let line = format!($($arg)*);
        if writeln!(std::io::stdout(), "{}", crate::output::clean(&line)).is_err() {
            std::process::exit(0);
        }
    }};
}

/// A command-line Fieldnote device.
#[derive(Parser)]
#[command(name = "fieldnote", version, about)]
struct Cli {
    /// The store directory.
    #[arg(
        long,
        global = true,
        env = "FIELDNOTE_STORE",
        default_value = "fieldnote-store"
    )]
    store: PathBuf,
    /// File holding the store key (64 hex characters). Defaults to `<store>.key` beside the
    /// store directory. A phone keeps this key in Android Keystore / iOS Keychain instead.
    #[arg(long, global = true, env = "FIELDNOTE_KEY_FILE")]
    key_file: Option<PathBuf>,
    /// Print one JSON document on standard output instead of text; a failure is then
    /// `{"error": {"kind", "message", "fields"}}` on standard output, with a non-zero exit.
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
    /// Consents, referrals, incidents, engagement attempts, deliveries, the waitlist,
    /// discharge plans and staff records.
    #[command(subcommand)]
    Record(record::RecordCmd),
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
    /// The caseload ordered by urgency, with each member's open obligations (the three most
    /// urgent, and how many more).
    Today {
        /// Every open obligation of each member.
        #[arg(long)]
        all: bool,
    },
    /// Waive one rule for a member (a supervisor or program director, signed in; only the
    /// rules whose specs allow it: CSP-11, JI-6, CARES-5).
    Waive {
        /// The member id.
        member: RecordId,
        /// The program.
        #[arg(long)]
        program: String,
        /// The rule id (JI-6...).
        #[arg(long)]
        rule: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Extend one rule's deadline for a member (a supervisor or program director, signed
    /// in; only CSP-2, JI-2 and JI-3 take one).
    Extend {
        /// The member id.
        member: RecordId,
        /// The program.
        #[arg(long)]
        program: String,
        /// The rule id (JI-2...).
        #[arg(long)]
        rule: String,
        /// The new last day, YYYY-MM-DD.
        #[arg(long)]
        until: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
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
    /// Fill an empty store with a synthetic caseload, then show it (a store that already
    /// has members is left as it is).
    Demo {
        /// Members to create.
        #[arg(long, default_value_t = 25)]
        members: usize,
        /// Notes per member.
        #[arg(long, default_value_t = 12)]
        notes_per_member: usize,
    },
}

// Parsed once per run: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
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
        /// Who referred them: self_referral, family, health_plan, provider,
        /// correctional_facility, probation, parole, school, state_agency, mass_health.
        #[arg(long, default_value = "self_referral")]
        referral_source: String,
        /// When the referral was received (RFC 3339); defaults to now.
        #[arg(long)]
        referred_at: Option<String>,
        /// Why they were referred.
        #[arg(long)]
        referral_reason: Option<String>,
        /// The correctional facility, for a correctional_facility referral (required then).
        #[arg(long)]
        referral_facility: Option<String>,
    },
    /// The caseload.
    List,
    /// Record a significant change in a member's needs (it brings the plan review or
    /// reassessment forward: CSP-8, JI-5, CARES-3).
    Change {
        /// The member id.
        member: RecordId,
        /// The program whose enrollment it is recorded on.
        #[arg(long)]
        program: String,
        /// What changed.
        #[arg(long)]
        description: String,
        /// When it was recognized (RFC 3339); defaults to now.
        #[arg(long)]
        at: Option<String>,
    },
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
        minutes: String,
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
        /// What the contact was for, as the program rules read it: initial_outreach,
        /// first_appointment, service_initiation, discharge_planning, pcp_coordination,
        /// annual_physical_documented, in_reach_coordination, provider_progress_update,
        /// supervisor_update, waitlist_notice, icp_monitoring, referral_follow_up,
        /// unplanned_termination_follow_up, termination_notice; repeat for more.
        #[arg(long = "purpose")]
        purposes: Vec<String>,
        /// For a collateral contact: who was contacted (name, then optionally their
        /// organization after a comma: "J. Rivera, Eastside Clinic").
        #[arg(long)]
        collateral: Option<String>,
    },
    /// Change fields of a draft note (a finalized note is refused: write an addendum).
    Edit {
        /// The note id.
        id: RecordId,
        /// The program the contact was delivered under.
        #[arg(long)]
        program: Option<String>,
        /// in_person, phone, telehealth, text, collateral or case_related_work.
        #[arg(long)]
        modality: Option<String>,
        /// Minutes.
        #[arg(long)]
        minutes: Option<String>,
        /// The narrative; `-` reads it from standard input.
        #[arg(long)]
        narrative: Option<String>,
        /// RFC 3339 start.
        #[arg(long)]
        started_at: Option<String>,
        /// Why telehealth was used.
        #[arg(long)]
        telehealth_reason: Option<String>,
        /// Planned activity.
        #[arg(long)]
        planned_activity: Option<String>,
        /// Goal targeted.
        #[arg(long)]
        goal: Option<String>,
        /// The member's response.
        #[arg(long)]
        response: Option<String>,
        /// The member was engaged and responsive.
        #[arg(long, conflicts_with = "not_engaged")]
        engaged: bool,
        /// The member was not engaged and responsive.
        #[arg(long)]
        not_engaged: bool,
    },
    /// Delete a draft note that has never been sent to the server. A note the server has
    /// (or a finalized one) is refused: edit the draft, or write an addendum.
    Delete {
        /// The note id.
        id: RecordId,
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
    /// Create a completed plan (service plan, action plan or care plan, by program) with
    /// exactly what is given here.
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
        /// Problems and needs, as assessed.
        #[arg(long, default_value = "")]
        problems: String,
        /// The member's strengths.
        #[arg(long, default_value = "")]
        strengths: String,
        /// A summary worker and supervisor may both edit.
        #[arg(long, default_value = "")]
        summary: String,
        /// CSP-JI: a criminogenic need every goal addresses (criminal_history,
        /// antisocial_attitudes, ...); repeat for more.
        #[arg(long = "criminogenic")]
        criminogenic: Vec<String>,
        /// CSP-JI: the plan was checked against the probation or parole plan.
        #[arg(long)]
        conflict_checked: bool,
        /// TM: the youth signs the action plan too.
        #[arg(long)]
        youth_signs: bool,
        /// Which plan (default: the program's service plan); CARES also keeps
        /// transition_to_adulthood_plan and aftercare_plan.
        #[arg(long)]
        kind: Option<String>,
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
        /// When a paper signature was really given (RFC 3339; at most 30 days ago); the
        /// signature keeps when it was entered too. Defaults to now.
        #[arg(long)]
        signed_at: Option<String>,
    },
    /// Show a plan's signature state.
    Show {
        /// The plan id.
        id: RecordId,
    },
}

mod fields;
mod files;
mod net;
mod output;
mod record;
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

/// A failure as it is shown: a stable kind for programs, a sentence for people, and every
/// field with its reason.
struct Failure {
    kind: &'static str,
    message: String,
    fields: Vec<FieldError>,
}

impl Failure {
    fn new(kind: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
            fields: Vec::new(),
        }
    }
}

/// The kind and words of a store error.
fn core_failure(e: Error) -> Failure {
    let kind = match &e {
        Error::Invalid { kind, errors } => {
            return Failure {
                kind: "invalid",
                message: format!("invalid {kind}; nothing was saved"),
                fields: errors.clone(),
            };
        }
        Error::NotFound { kind, id } => {
            return Failure::new(
                "not_found",
                format!("no such record: {id} (no {kind} with this id on this device)"),
            );
        }
        Error::WrongKey => "wrong_key",
        Error::InUse { .. } => "in_use",
        Error::BadKey { .. } => "bad_key",
        Error::Locked => "locked",
        Error::Corrupt { .. } => "corrupt",
        Error::SchemaTooNew { .. } => "schema_too_new",
        Error::UnsupportedFormat { .. } => "unsupported_format",
        Error::Finalized { .. } => "finalized",
        Error::SignatureRefused { .. } => "signature_refused",
        Error::DiskFull => "disk_full",
        Error::KeptForLater { .. } => "kept_for_later",
        Error::Document { .. } => "document",
        Error::Io { .. } => "io",
        Error::WrongPin => "wrong_pin",
        #[allow(unreachable_patterns)]
        _ => "storage",
    };
    Failure::new(kind, e.to_string())
}

/// The kind and words of any failure of a command.
fn failure(e: CliError) -> Failure {
    use fieldnote_client::Error as C;
    let e = match e {
        CliError::Core(e) | CliError::Client(C::Store(e)) => return core_failure(e),
        CliError::Client(e) => e,
    };
    let kind = match &e {
        C::Network(_) => "network",
        C::InsecureUrl { .. } => "insecure_url",
        C::BadUrl(_) => "bad_url",
        C::Unauthenticated(_) => "not_signed_in",
        C::SecondFactorRequired(_) => "second_factor_required",
        C::DeviceRevoked => "device_revoked",
        C::UpgradeRequired(_) => "upgrade_required",
        C::Refused { .. } => "refused",
        C::Protocol(_) => "protocol",
        #[allow(unreachable_patterns)]
        _ => "client",
    };
    Failure::new(kind, e.to_string())
}

/// Prints a failure: with `--json` as `{"error": {...}}` on standard output, else as text
/// on standard error.
fn print_failure(f: &Failure) {
    if output::json() {
        let fields: Vec<_> = f
            .fields
            .iter()
            .map(|fe| serde_json::json!({"field": fe.field, "reason": fe.reason}))
            .collect();
        print_json(&serde_json::json!({"error": {
            "kind": f.kind, "message": f.message, "fields": fields,
        }}));
    } else {
        eprintln!("error: {}", output::clean(&f.message));
        for fe in &f.fields {
            eprintln!(
                "  {}: {}",
                output::clean(&fe.field),
                output::clean(&fe.reason)
            );
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // Known before parsing, so that a command line clap refuses is answered in JSON too.
    let wants_json = args
        .iter()
        .skip(1)
        .take_while(|a| *a != "--")
        .any(|a| a == "--json");
    output::set_json(wants_json);
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::{ContextKind, ErrorKind};
            let shown = matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            );
            if shown || !wants_json {
                e.exit();
            }
            // The words before clap's usage and tip lines, on one line.
            let rendered = e.render().to_string();
            let message = rendered
                .lines()
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more"))
                .map(|l| l.trim().trim_start_matches("error: "))
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            let mut f = Failure::new("usage", message);
            let reason = match e.kind() {
                ErrorKind::MissingRequiredArgument => "is required",
                ErrorKind::InvalidValue | ErrorKind::ValueValidation => "is not a valid value",
                _ => "refused by the command line parser",
            };
            match e.get(ContextKind::InvalidArg) {
                Some(clap::error::ContextValue::Strings(args)) => {
                    f.fields.extend(args.iter().map(|a| FieldError {
                        field: a.clone(),
                        reason: reason.into(),
                    }));
                }
                Some(arg) => f.fields.push(FieldError {
                    field: arg.to_string(),
                    reason: reason.into(),
                }),
                None => {}
            }
            print_failure(&f);
            return ExitCode::from(2);
        }
    };
    output::set_json(cli.json);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            print_failure(&failure(e));
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

fn invalid(field: &str, reason: &str) -> Error {
    Error::Invalid {
        kind: "input",
        errors: vec![FieldError {
            field: field.into(),
            reason: reason.into(),
        }],
    }
}

/// The member `id`, or "no such record" when the device holds no member with this id.
/// `waive` (no `until`) and `extend`: parses the fields and grants through the core.
fn grant(
    store: &mut Store,
    member: RecordId,
    program: &str,
    rule_id: String,
    until: Option<&str>,
    reason: String,
) -> Result<(), CliError> {
    require_member(store, member)?;
    let mut f = fields::Fields::default();
    let program = f.program(program);
    // A waiver has no last day; an extension's must parse.
    let until = match until {
        None => Some(None),
        Some(d) => f.day("until", "until", d).map(Some),
    };
    f.finish("override")?;
    let (Some(program), Some(until)) = (program, until) else {
        return Err(invalid("program", fields::PROGRAM).into());
    };
    let kind = if until.is_some() {
        OverrideKind::Extension
    } else {
        OverrideKind::Waiver
    };
    let id = store.grant_override(commands::NewOverride {
        member_id: member,
        program,
        rule_id,
        kind,
        until,
        reason,
    })?;
    done(serde_json::json!({"id": id}), id);
    Ok(())
}

fn require_member(store: &Store, id: RecordId) -> Result<(), Error> {
    match store.get(id) {
        Ok(r) if matches!(r.body, RecordBody::Member(_)) => Ok(()),
        Ok(_) | Err(Error::NotFound { .. }) => Err(Error::NotFound { kind: "member", id }),
        Err(e) => Err(e),
    }
}

/// The narrative given on the command line, or standard input for `-`.
fn narrative_text(narrative: String) -> Result<String, Error> {
    if narrative == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(io_err(Path::new("stdin")))
    } else {
        Ok(narrative)
    }
}

/// The words `--purpose` takes.
const PURPOSES: &str = "use initial_outreach, first_appointment, service_initiation, discharge_planning, pcp_coordination, annual_physical_documented, in_reach_coordination, provider_progress_update, supervisor_update, waitlist_notice, icp_monitoring, referral_follow_up, unplanned_termination_follow_up or termination_notice";

/// Prints `value` as JSON with `--json`, else the line `text`.
fn done(value: serde_json::Value, text: impl std::fmt::Display) {
    if output::json() {
        print_json(&value);
    } else {
        out!("{text}");
    }
}

/// The changes `note edit` asks for, as given on the command line.
struct NoteEdit {
    program: Option<String>,
    modality: Option<String>,
    minutes: Option<String>,
    narrative: Option<String>,
    started_at: Option<String>,
    telehealth_reason: Option<String>,
    planned_activity: Option<String>,
    goal: Option<String>,
    response: Option<String>,
    engaged: Option<bool>,
}

/// `fieldnote note edit`: every field parsed and the whole note validated before anything is
/// saved; a finalized note is refused by the store.
fn edit_note(store: &mut Store, id: RecordId, edit: NoteEdit) -> Result<Vec<&'static str>, Error> {
    let record = store.get(id)?;
    let finalized = record.is_finalized();
    let RecordBody::ContactNote(mut note) = record.body else {
        return Err(Error::NotFound {
            kind: "contact note",
            id,
        });
    };
    if finalized {
        return Err(Error::Finalized { id });
    }
    let mut f = fields::Fields::default();
    let mut changed = Vec::new();
    if let Some(p) = edit.program.as_deref().and_then(|p| f.program(p)) {
        note.program = p;
        changed.push("program");
    }
    if let Some(m) = edit.modality.as_deref().and_then(|m| f.modality(m)) {
        note.modality = m;
        note.place = commands::place_of_service(m);
        changed.push("modality");
    }
    if let Some(m) = edit.minutes.as_deref().and_then(|m| f.minutes(m)) {
        note.duration_minutes = m;
        changed.push("minutes");
    }
    if let Some(t) = edit
        .started_at
        .as_deref()
        .and_then(|t| f.instant("started_at", t))
    {
        note.started_at = t;
        changed.push("started_at");
    }
    if let Some(n) = edit.narrative {
        note.narrative = narrative_text(n)?;
        changed.push("narrative");
    }
    let texts = [
        (
            edit.telehealth_reason,
            &mut note.telehealth_reason,
            "telehealth_reason",
        ),
        (
            edit.planned_activity,
            &mut note.planned_activity,
            "planned_activity",
        ),
        (edit.goal, &mut note.goal_targeted, "goal"),
        (edit.response, &mut note.member_response, "response"),
    ];
    for (given, slot, name) in texts {
        if let Some(v) = given {
            *slot = Some(v).filter(|v| !v.is_empty());
            changed.push(name);
        }
    }
    if let Some(e) = edit.engaged {
        note.member_engaged = e;
        changed.push("engaged");
    }
    if changed.is_empty() && f.is_clean() {
        return Err(invalid(
            "note",
            "give at least one field to change (see `fieldnote note edit --help`)",
        ));
    }
    let body = RecordBody::ContactNote(note);
    f.validated(body.validate());
    f.finish("contact_note")?;
    store.update(id, move |b| *b = body)?;
    Ok(changed)
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
            return safety::alarm(&cli.store, &safety, cmd, wait);
        }
        other => other,
    };
    let mut store = Store::open(&cli.store, key)?;
    for notice in store.open_report().notices() {
        eprintln!("warning: {}", output::clean(&notice));
    }
    let worker = worker_id(&cli.store, &store)?;
    let json = cli.json;
    match command {
        Command::Init => done(
            serde_json::json!({"store": cli.store, "key_file": key_path}),
            format!(
                "store {} ready; key in {}",
                cli.store.display(),
                key_path.display()
            ),
        ),
        Command::Member(MemberCmd::Add {
            given,
            family,
            dob,
            masshealth_id,
            language,
            program: p,
            referral_source,
            referred_at,
            referral_reason,
            referral_facility,
        }) => {
            let mut f = fields::Fields::default();
            let program = f.program(&p);
            let date_of_birth = f.day("dob", "date_of_birth", &dob);
            let source = f.word(
                "referral_source",
                "use self_referral, family, health_plan, provider, correctional_facility, probation, parole, school, state_agency or mass_health",
                &referral_source,
            );
            let referred_at = referred_at.and_then(|s| f.instant("referred_at", &s));
            // Placeholders stand in for fields that did not parse; their errors are listed.
            let new = commands::NewMember {
                given_name: given,
                family_name: family,
                date_of_birth: date_of_birth.unwrap_or(Day(chrono::NaiveDate::MIN)),
                masshealth_id,
                primary_language: language,
                program: program.unwrap_or(Program::Csp),
                referred_at,
                referral_source: source.unwrap_or(ReferralSource::SelfReferral),
                referral_reason,
                referral_facility,
            };
            f.validated(new.field_errors());
            f.finish("member")?;
            let added = store.add_member(new, worker)?;
            done(
                serde_json::json!({"id": added.member_id, "enrollment_id": added.enrollment_id}),
                added.member_id,
            );
        }
        Command::Member(MemberCmd::List) => print_caseload(&store, json)?,
        Command::Member(MemberCmd::Change {
            member,
            program,
            description,
            at,
        }) => {
            require_member(&store, member)?;
            let mut f = fields::Fields::default();
            let program = f.program(&program);
            let at = at.and_then(|s| f.instant("at", &s));
            f.finish("significant change")?;
            let Some(program) = program else {
                return Err(invalid("program", fields::PROGRAM).into());
            };
            let enrollment = store.record_significant_change(commands::NewSignificantChange {
                member_id: member,
                program,
                at,
                description,
            })?;
            done(
                serde_json::json!({"member": member, "enrollment_id": enrollment}),
                format!("significant change recorded on enrollment {enrollment}"),
            );
        }
        Command::Waive {
            member,
            program,
            rule,
            reason,
        } => grant(&mut store, member, &program, rule, None, reason)?,
        Command::Extend {
            member,
            program,
            rule,
            until,
            reason,
        } => grant(&mut store, member, &program, rule, Some(&until), reason)?,
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
            purposes,
            collateral,
        }) => {
            let mut f = fields::Fields::default();
            let purposes: Vec<ContactPurpose> = purposes
                .iter()
                .filter_map(|w| f.word("purpose", PURPOSES, w))
                .collect();
            let program = f.program(&p);
            let modality = f.modality(&modality);
            let minutes = f.minutes(&minutes);
            let started_at = match started_at {
                Some(s) => f.instant("started_at", &s),
                None => Some(Timestamp::now()),
            };
            let narrative = narrative_text(narrative)?;
            // Placeholders stand in for fields that did not parse; their errors are listed.
            let new = commands::NewNote {
                member_id: member,
                program: program.unwrap_or(Program::Csp),
                started_at: started_at.unwrap_or_else(Timestamp::now),
                duration_minutes: minutes.unwrap_or(1),
                modality: modality.unwrap_or(Modality::InPerson),
                telehealth_reason,
                place: None,
                collateral: collateral.map(|c| {
                    let (name, organization) = match c.split_once(',') {
                        Some((n, o)) => (n.trim().to_string(), Some(o.trim().to_string())),
                        None => (c.trim().to_string(), None),
                    };
                    Contact {
                        name,
                        organization,
                        ..Default::default()
                    }
                }),
                member_engaged: !not_engaged,
                planned_activity,
                goal_targeted: goal,
                member_response: response,
                narrative,
                progress: Vec::new(),
                purposes,
            };
            f.validated(RecordBody::ContactNote(new.clone().into_note(worker, None)).validate());
            f.finish("contact_note")?;
            let id = match addendum_to {
                Some(parent) => store.write_addendum(parent, new, worker)?,
                None => store.draft_note(new, worker)?,
            };
            done(serde_json::json!({"id": id}), id);
        }
        Command::Note(NoteCmd::Edit {
            id,
            program,
            modality,
            minutes,
            narrative,
            started_at,
            telehealth_reason,
            planned_activity,
            goal,
            response,
            engaged,
            not_engaged,
        }) => {
            let edit = NoteEdit {
                program,
                modality,
                minutes,
                narrative,
                started_at,
                telehealth_reason,
                planned_activity,
                goal,
                response,
                engaged: (engaged || not_engaged).then_some(engaged),
            };
            let changed = edit_note(&mut store, id, edit)?;
            done(
                serde_json::json!({"id": id, "changed": changed}),
                format!("edited {id}: {}", changed.join(", ")),
            );
        }
        Command::Note(NoteCmd::Delete { id }) => {
            store.delete_unsent_draft(id)?;
            done(
                serde_json::json!({"id": id, "deleted": true}),
                format!("deleted draft {id}; it had never been sent"),
            );
        }
        Command::Note(NoteCmd::Finalize { id, name }) => {
            let att = store.finalize_note(id, Signer::staff(worker, name, Role::Worker))?;
            done(
                serde_json::json!({"id": id, "content_hash": att.content_hash, "attestation": att}),
                format!("finalized {id}; content hash {}", att.content_hash),
            );
        }
        Command::Plan(PlanCmd::Create {
            member,
            program: p,
            goals,
            problems,
            strengths,
            summary,
            criminogenic,
            conflict_checked,
            youth_signs,
            kind,
        }) => {
            let mut f = fields::Fields::default();
            let program = f.program(&p);
            let needs: Vec<CriminogenicFactor> = criminogenic
                .iter()
                .filter_map(|w| {
                    f.word(
                        "criminogenic",
                        "use criminal_history, antisocial_attitudes, antisocial_peers, antisocial_personality, family_marital, education_employment, leisure_recreation or substance_use",
                        w,
                    )
                })
                .collect();
            let kind: Option<PlanKind> = kind.and_then(|k| {
                f.word(
                    "kind",
                    "use service_plan, individual_action_plan, individual_care_plan, person_centered_treatment_plan, ltss_care_plan, transition_to_adulthood_plan or aftercare_plan",
                    &k,
                )
            });
            f.finish("plan")?;
            let Some(program) = program else {
                return Err(invalid("program", fields::PROGRAM).into());
            };
            let id = store.create_plan(
                commands::NewPlan {
                    member_id: member,
                    program,
                    problems_and_needs: problems,
                    strengths,
                    summary,
                    goals: goals
                        .into_iter()
                        .map(|statement| commands::NewGoal {
                            statement,
                            addresses_criminogenic: needs.clone(),
                        })
                        .collect(),
                    supervision_conflict_checked: conflict_checked,
                    youth_signs,
                    kind,
                },
                worker,
            )?;
            done(serde_json::json!({"id": id}), id);
        }
        Command::Plan(PlanCmd::Sign {
            id,
            role,
            name,
            staff,
            signed_at,
        }) => {
            let signed_at = match signed_at {
                Some(s) => Some(Timestamp::parse(&s).ok_or_else(|| {
                    invalid("signed_at", "use RFC 3339, e.g. 2026-11-25T14:30:00-05:00")
                })?),
                None => None,
            };
            let role: Role = fields::vocabulary(&role).ok_or_else(|| {
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
            store.sign_plan_at(id, signer, signed_at)?;
            print_signatures(&store, id, json)?;
        }
        Command::Plan(PlanCmd::Show { id }) => print_signatures(&store, id, json)?,
        Command::Record(cmd) => {
            let (id, what) = record::run(&mut store, cmd, worker)?;
            done(serde_json::json!({"id": id, "kind": what}), id);
        }
        Command::Search { text, limit } => {
            let hits = store.search(&text, limit)?;
            if json {
                print_json(&hits);
            } else {
                for h in hits {
                    out!(
                        "{}  {}  {}",
                        output::when(h.started_at),
                        h.note_id,
                        h.snippet
                    );
                }
            }
        }
        Command::Timeline { member } => {
            require_member(&store, member)?;
            let entries = store.timeline(member)?;
            if json {
                print_json(&entries);
            } else {
                for e in entries {
                    let lock = if e.finalized { " (final)" } else { "" };
                    out!(
                        "{}  {:<18} {}{lock}  {}",
                        output::when(e.at),
                        e.kind,
                        e.title,
                        e.record_id
                    );
                }
            }
        }
        Command::Today { all } => {
            let today = fieldnote_core::rules::today(&store, Timestamp::now())?;
            if json {
                print_json(&today);
            } else {
                for entry in today {
                    out!("{}  ({} open)", entry.display_name, entry.open.len());
                    let shown = if all { entry.open.len() } else { 3 };
                    for o in entry.open.iter().take(shown) {
                        out!("    {}", describe(o));
                    }
                    if let Some(more) = entry.open.len().checked_sub(shown).filter(|n| *n > 0) {
                        out!(
                            "    and {more} more (`fieldnote today --all`, or `fieldnote obligations {}`)",
                            entry.member_id
                        );
                    }
                }
            }
        }
        Command::Obligations { member } => {
            require_member(&store, member)?;
            let obligations =
                fieldnote_core::rules::member_obligations(&store, member, Timestamp::now())?;
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
            if json {
                print_json(&serde_json::json!({"ok": repaired.is_empty(), "repairs": repaired}));
            } else {
                if repaired.is_empty() {
                    out!("ok");
                }
                for notice in repaired {
                    out!("damaged: {notice}");
                }
            }
        }
        Command::Demo {
            members,
            notes_per_member,
        } => {
            let existing = store.caseload()?.len();
            if existing > 0 {
                let said = format!(
                    "this store already has {existing} members; demo fills only an empty store, \
                     so nothing was added"
                );
                if json {
                    print_json(&serde_json::json!({"seeded": false, "members_added": 0,
                        "message": said, "caseload": store.caseload()?}));
                } else {
                    out!("{said}");
                    print_caseload(&store, false)?;
                }
                return Ok(());
            }
            demo(&mut store, worker, members, notes_per_member, json)?;
            if json {
                print_json(
                    &serde_json::json!({"seeded": true, "members_added": members,
                    "caseload": store.caseload()?}),
                );
            } else {
                print_caseload(&store, false)?;
            }
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

fn demo(
    store: &mut Store,
    worker: StaffId,
    members: usize,
    notes: usize,
    quiet: bool,
) -> Result<(), Error> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let team = new_id();
    let signer = store.identity()?.map(|i| i.display_name);
    let bar = ProgressBar::new((members * (notes + 3)) as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} records ({per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    if quiet {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
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
                // A device signs only as the user signed in on it; on a store nobody signed
                // in on, the demo's notes stay drafts.
                if let Some(name) = &signer {
                    store.finalize_note(id, Signer::staff(worker, name.as_str(), Role::Worker))?;
                }
            }
            bar.inc(1);
        }
        let plan = store.create(RecordBody::Plan(synthetic::service_plan(
            m, program, worker,
        )))?;
        if let Some(name) = &signer {
            store.sign_plan(plan, Signer::staff(worker, name.as_str(), Role::Worker))?;
        }
        bar.inc(1);
    }
    bar.finish_with_message("done");
    if let Some(m) = first_member.filter(|_| !quiet) {
        eprintln!("\ntimeline of the first member ({m}):");
        for e in store.timeline(m)?.into_iter().take(5) {
            eprintln!("  {}  {}", output::when(e.at), output::clean(&e.title));
        }
        let hits = store.search("housing application", 3)?;
        eprintln!("search \"housing application\": {} shown", hits.len());
        for h in hits {
            eprintln!("  {}", output::clean(&h.snippet));
        }
    }
    Ok(())
}

/// Prints a value as pretty JSON (the `--json` output of every command), with DEL and the
/// C1 controls escaped too ([`output::json_text`]).
fn print_json(value: &impl serde::Serialize) {
    out!("{}", output::json_text(value));
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
    let due = o
        .due
        .map_or(String::new(), |d| format!(", due {}", output::when(d)));
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
        out!(
            "{:<28} {:<22} last contact {}  {}",
            c.display_name,
            programs.join(", "),
            output::when_or_never(c.last_contact_at),
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
                    attestation.signer.name,
                    output::when(attestation.signed_at)
                )
            }
            fieldnote_core::store::SignatureState::Stale { attestation } => format!(
                "STALE: {} signed at {}, content changed since",
                attestation.signer.name,
                output::when(attestation.signed_at)
            ),
        };
        out!("{role:?}: {state}");
    }
    out!("complete: {}", s.complete());
    Ok(())
}
