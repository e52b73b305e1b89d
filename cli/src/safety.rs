//! Lone-worker safety from the command line: visit sessions, every kind of alarm, and (for
//! supervisors) listing, acknowledging and resolving alarms. Each device command is saved on
//! the device first and then sent at once, retrying with backoff for `--wait` seconds; what
//! could not be sent goes first at the next `sync` or `alarm send`.

use std::path::Path;
use std::time::Duration;

use clap::{Subcommand, ValueEnum};
use fieldnote_client::{Backoff, Client};
use fieldnote_core::store::SafetyStore;
use fieldnote_core::{RecordId, Timestamp};
use fieldnote_protocol::safety::{AlarmKind, Location};

use serde::Serialize;
use serde_json::json;

use crate::net::signed_in_client;
use crate::{CliError, output, print_json};

/// Visit sessions.
#[derive(Subcommand)]
pub enum SessionCmd {
    /// Start a visit: the server raises a missed check-in if it is not ended in time.
    Start {
        /// The member visited.
        #[arg(long)]
        member: Option<RecordId>,
        /// Where ("home visit, Dorchester").
        #[arg(long)]
        place: String,
        /// Expected length in minutes.
        #[arg(long, default_value_t = 60, allow_hyphen_values = true)]
        minutes: i64,
        /// Latitude, when known.
        #[arg(long, requires = "longitude", allow_hyphen_values = true)]
        latitude: Option<f64>,
        /// Longitude, when known.
        #[arg(long, requires = "latitude", allow_hyphen_values = true)]
        longitude: Option<f64>,
    },
    /// "I am all right."
    CheckIn,
    /// The visit runs longer: it now ends this many minutes from now.
    Extend {
        /// Minutes from now.
        #[arg(long, allow_hyphen_values = true)]
        minutes: i64,
    },
    /// End the visit. With `--pin`, the cancel PIN checks out and the duress PIN raises a
    /// silent alarm; both print the same.
    End {
        /// The cancel or duress PIN.
        #[arg(long)]
        pin: Option<String>,
    },
    /// Set the cancel PIN and the duress PIN (4 to 8 digits each).
    Pins {
        /// The PIN that ends a session.
        #[arg(long)]
        cancel: String,
        /// The PIN that seems to end a session but raises a duress alarm.
        #[arg(long)]
        duress: String,
    },
}

/// The alarm kinds a device raises.
#[derive(Clone, Copy, ValueEnum)]
pub enum KindArg {
    /// The panic button.
    Panic,
    /// No visible or audible feedback.
    Discreet,
    /// As the duress PIN does.
    Duress,
}

/// Alarms.
#[derive(Subcommand)]
pub enum AlarmCmd {
    /// Raise an alarm now.
    Raise {
        /// What kind.
        kind: KindArg,
        /// Latitude, when known.
        #[arg(long, requires = "longitude", allow_hyphen_values = true)]
        latitude: Option<f64>,
        /// Longitude, when known.
        #[arg(long, requires = "latitude", allow_hyphen_values = true)]
        longitude: Option<f64>,
    },
    /// Send what waits in the safety outbox.
    Send,
    /// Where one of this device's alarms stands.
    Status {
        /// The alarm id.
        id: String,
    },
    /// Alarms in your scope (supervisors, directors).
    List {
        /// Include the last week's closed alarms.
        #[arg(long)]
        all: bool,
    },
    /// Take ownership of an alarm.
    Ack {
        /// The alarm id.
        id: String,
    },
    /// Close an alarm with an outcome.
    Resolve {
        /// The alarm id.
        id: String,
        /// What happened.
        #[arg(long)]
        outcome: String,
        /// It was a Reportable Adverse Incident (prints the report's deadline).
        #[arg(long)]
        reportable: bool,
    },
}

fn location(latitude: Option<f64>, longitude: Option<f64>) -> Option<Location> {
    Some(Location {
        latitude: latitude?,
        longitude: longitude?,
        accuracy_m: None,
    })
}

fn minutes_from_now(minutes: i64) -> Timestamp {
    Timestamp::from_millis(Timestamp::now().millis() + minutes.saturating_mul(60_000))
}

/// What became of the safety outbox after a device command.
#[derive(Serialize)]
#[serde(tag = "delivery", rename_all = "snake_case")]
enum Delivery {
    /// The server answered.
    Sent {
        /// Items the server recorded.
        accepted: usize,
        /// Items the server refused for good.
        refused: usize,
    },
    /// No server to send to yet; the items go first at the first sync.
    NotSignedIn,
    /// No connection within `--wait`; the items stay queued and go first when a link returns.
    Queued {
        /// Why nothing was sent.
        reason: String,
    },
}

impl Delivery {
    /// The sentence for people.
    fn say(&self) -> String {
        match self {
            Delivery::Sent { accepted, refused } => {
                format!("sent: {accepted} recorded by the server, {refused} refused")
            }
            Delivery::NotSignedIn => {
                "not signed in: saved on this device; it goes first when you sign in and sync"
                    .into()
            }
            Delivery::Queued { reason } => format!(
                "no connection ({reason}): saved on this device; it goes first when a link returns"
            ),
        }
    }
}

/// Sends the safety outbox for up to `wait`, and says what happened.
fn deliver(store_dir: &Path, safety: &SafetyStore, wait: Duration) -> Result<Delivery, CliError> {
    let Ok(client) = signed_in_client(store_dir) else {
        return Ok(Delivery::NotSignedIn);
    };
    match client.deliver_safety(safety, Backoff::default(), wait) {
        Ok(applied) => Ok(Delivery::Sent {
            accepted: applied.accepted,
            refused: applied.refused,
        }),
        Err(e) if e.is_retryable() => Ok(Delivery::Queued {
            reason: e.to_string(),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Prints what a device command did and what became of its delivery: one JSON object
/// (`value` with a `delivery` member) or two lines.
fn report(mut value: serde_json::Value, line: &str, delivery: Option<&Delivery>) {
    if output::json() {
        if let (Some(d), Some(obj)) = (delivery, value.as_object_mut()) {
            obj.insert(
                "delivery".into(),
                serde_json::to_value(d).unwrap_or_default(),
            );
        }
        print_json(&value);
    } else {
        out!("{line}");
        if let Some(d) = delivery {
            out!("{}", d.say());
        }
    }
}

/// `fieldnote session ...`.
pub fn session(
    store_dir: &Path,
    safety: &SafetyStore,
    cmd: SessionCmd,
    wait: Duration,
) -> Result<(), CliError> {
    let (value, line) = match cmd {
        SessionCmd::Start {
            member,
            place,
            minutes,
            latitude,
            longitude,
        } => {
            let id = safety.start_session(
                member,
                &place,
                minutes_from_now(minutes),
                location(latitude, longitude),
            )?;
            (
                json!({"session": id, "started": true, "minutes": minutes}),
                format!("session {id} started; check out within {minutes} minutes"),
            )
        }
        SessionCmd::CheckIn => {
            safety.check_in(None)?;
            (json!({"checked_in": true}), "checked in".to_string())
        }
        SessionCmd::Extend { minutes } => {
            let until = minutes_from_now(minutes);
            safety.extend(until)?;
            (
                json!({"extended": true, "ends_at": until}),
                format!(
                    "session extended by {minutes} minutes from now, to {}",
                    output::when(until)
                ),
            )
        }
        SessionCmd::End { pin } => {
            match pin {
                Some(pin) => safety.end_session_with_pin(&pin, None)?,
                None => safety.check_out(None)?,
            };
            // The same whichever PIN was given: a duress PIN must look like the cancel PIN.
            (json!({"ended": true}), "session ended".to_string())
        }
        SessionCmd::Pins { cancel, duress } => {
            safety.set_pins(&cancel, &duress)?;
            report(json!({"pins_set": true}), "PINs set", None);
            return Ok(());
        }
    };
    let delivery = deliver(store_dir, safety, wait)?;
    report(value, &line, Some(&delivery));
    Ok(())
}

/// `fieldnote alarm ...`.
pub fn alarm(
    store_dir: &Path,
    safety: &SafetyStore,
    cmd: AlarmCmd,
    wait: Duration,
) -> Result<(), CliError> {
    let json = output::json();
    match cmd {
        AlarmCmd::Raise {
            kind,
            latitude,
            longitude,
        } => {
            let kind = match kind {
                KindArg::Panic => AlarmKind::Panic,
                KindArg::Discreet => AlarmKind::Discreet,
                KindArg::Duress => AlarmKind::Duress,
            };
            let id = safety.raise_alarm(kind, location(latitude, longitude))?;
            // Durable now; the line tells scripts (and the kill -9 test) so, before the send.
            if json {
                let delivery = deliver(store_dir, safety, wait)?;
                report(json!({"alarm": id, "recorded": true}), "", Some(&delivery));
            } else {
                out!("alarm {id} recorded");
                let delivery = deliver(store_dir, safety, wait)?;
                out!("{}", delivery.say());
            }
            Ok(())
        }
        AlarmCmd::Send => {
            let delivery = deliver(store_dir, safety, wait)?;
            if json {
                print_json(&delivery);
            } else {
                out!("{}", delivery.say());
            }
            Ok(())
        }
        AlarmCmd::Status { id } => {
            let client = signed_in_client(store_dir)?;
            let view = client.refresh_alarm(safety, &id)?;
            if json {
                print_json(&view);
            } else {
                let by = view.acknowledged_by_name.as_deref().unwrap_or("nobody yet");
                out!("{}: {:?}, acknowledged by {by}", view.id, view.state);
            }
            Ok(())
        }
        AlarmCmd::List { all } => {
            let client: Client = signed_in_client(store_dir)?;
            let alarms = client.alarms(all)?;
            if json {
                print_json(&alarms);
            } else {
                for a in alarms {
                    out!(
                        "{}  {:?}  {:?}  {}  tier {} ({})",
                        a.id,
                        a.kind,
                        a.state,
                        a.worker_name,
                        a.tier,
                        a.tier_label
                    );
                }
            }
            Ok(())
        }
        AlarmCmd::Ack { id } => {
            let view = signed_in_client(store_dir)?.acknowledge(&id)?;
            if json {
                print_json(&view);
            } else {
                out!(
                    "{} acknowledged by {}",
                    view.id,
                    view.acknowledged_by_name.unwrap_or_default()
                );
            }
            Ok(())
        }
        AlarmCmd::Resolve {
            id,
            outcome,
            reportable,
        } => {
            let resp = signed_in_client(store_dir)?.resolve(&id, &outcome, reportable)?;
            let due = resp.incident_report_due.map(Timestamp::from_millis);
            if json {
                print_json(&json!({"alarm": resp.alarm, "incident_report_due": due}));
            } else {
                out!("{} resolved", resp.alarm.id);
                if let Some(due) = due {
                    out!("incident report due by {}", output::when(due));
                }
            }
            Ok(())
        }
    }
}
