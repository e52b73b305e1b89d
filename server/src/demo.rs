//! First start and demo data. The first start creates the agency and an administrator with
//! a random password. `--demo` adds a synthetic agency: two teams, each with a supervisor
//! and two workers, a program director, members with a few weeks of notes and plans. Every
//! name is invented.

use fieldnote_core::model::{Program, RecordBody, RecordId, Timestamp};
use fieldnote_core::{Attestation, AttestationKind, Signer, synthetic};
use fieldnote_protocol::ServerRole;
use rand::SeedableRng;

use crate::admin::{NewUser, insert_user};
use crate::auth;
use crate::db::Db;
use crate::error::Result;
use crate::params;
use crate::sync::{store_attestation, store_new_document};

/// The password every demo user shares (demo data only).
pub const DEMO_PASSWORD: &str = "fieldnote-demo-password";

/// Creates the agency and the first administrator when the database has no users. Returns
/// the administrator's user name and password, to be shown once.
pub fn bootstrap(db: &Db) -> Result<Option<(String, String)>> {
    let has_users = db.tx(|tx| {
        Ok(tx
            .query_opt("SELECT 1 FROM users LIMIT 1", params![])?
            .is_some())
    })?;
    if has_users {
        return Ok(None);
    }
    let password = auth::new_secret();
    let hash = auth::hash_password(&password)?;
    let created = db.tx(|tx| {
        if tx
            .query_opt("SELECT 1 FROM users LIMIT 1", params![])?
            .is_some()
        {
            return Ok(false); // another process was first
        }
        tx.exec(
            "INSERT INTO agencies (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
            params![uuid::Uuid::now_v7().to_string(), "Agency"],
        )?;
        insert_user(
            tx,
            &NewUser {
                username: "admin".into(),
                display_name: "Administrator".into(),
                role: ServerRole::Administrator,
                team_id: None,
                password: String::new(),
                phone: None,
            },
            &hash,
        )?;
        Ok(true)
    })?;
    Ok(created.then(|| ("admin".to_string(), password)))
}

/// A demo user.
#[derive(Clone, Debug)]
pub struct DemoUser {
    /// Sign-in name.
    pub username: String,
    /// Role.
    pub role: ServerRole,
}

/// Seeds the demo agency unless it is already there. Returns the demo users.
pub fn seed(db: &Db, members_per_worker: usize, notes_per_member: usize) -> Result<Vec<DemoUser>> {
    let exists = db.tx(|tx| {
        Ok(tx
            .query_opt(
                "SELECT 1 FROM users WHERE username = 'supervisor.north'",
                params![],
            )?
            .is_some())
    })?;
    let mut users = Vec::new();
    let teams = ["north", "south"];
    let plan: Vec<(String, ServerRole, &str)> = teams
        .iter()
        .flat_map(|t| {
            [
                (format!("supervisor.{t}"), ServerRole::Supervisor, *t),
                (format!("worker1.{t}"), ServerRole::Worker, *t),
                (format!("worker2.{t}"), ServerRole::Worker, *t),
            ]
        })
        .chain([("director".to_string(), ServerRole::ProgramDirector, "north")])
        .collect();
    for (username, role, _) in &plan {
        users.push(DemoUser {
            username: username.clone(),
            role: *role,
        });
    }
    if exists {
        return Ok(users);
    }
    let hash = auth::hash_password(DEMO_PASSWORD)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    db.tx(|tx| {
        let agency =
            tx.query_one("SELECT id FROM agencies ORDER BY id LIMIT 1", params![])?[0].text();
        let mut team_ids = Vec::new();
        for t in teams {
            let id = uuid::Uuid::now_v7().to_string();
            tx.exec(
                "INSERT INTO teams (id, agency_id, name) VALUES ($1, $2, $3)",
                params![&id, &agency, format!("Team {t}")],
            )?;
            team_ids.push(id);
        }
        let now = Timestamp::now();
        for (i, (username, role, team)) in plan.iter().enumerate() {
            let team_id = team_ids[teams.iter().position(|t| t == team).unwrap_or(0)].clone();
            let display = username.replace('.', " ");
            let created = insert_user(
                tx,
                &NewUser {
                    username: username.clone(),
                    display_name: display.clone(),
                    role: *role,
                    team_id: Some(team_id.clone()),
                    password: String::new(),
                    // 555-0100 to 555-0199 are set aside for fiction: no real person answers.
                    phone: Some(format!("617-555-01{:02}", i % 100)),
                },
                &hash,
            )?;
            if *role != ServerRole::Worker {
                continue;
            }
            let staff: RecordId = created
                .staff_id
                .as_deref()
                .and_then(|s| RecordId::parse_str(s).ok())
                .unwrap_or_default();
            let team_uuid = RecordId::parse_str(&team_id).unwrap_or_default();
            for m in 0..members_per_worker {
                let program = if m % 3 == 0 {
                    Program::CspJi
                } else {
                    Program::Csp
                };
                let member_id = fieldnote_core::new_id();
                let key = member_id.to_string();
                let referred = Timestamp::from_millis(now.millis() - 21 * 86_400_000);
                tx.exec(
                    "INSERT INTO assignments (member_id, team_id, worker_id, assigned_at)
                     VALUES ($1, $2, $3, $4)",
                    params![&key, &team_id, &created.id, now.millis()],
                )?;
                let member = RecordBody::Member(synthetic::member(&mut rng));
                store_new_document(tx, member_id, &member, &key, &created.id, now.millis())?;
                let enrollment = RecordBody::Enrollment(synthetic::enrollment(
                    member_id, program, staff, team_uuid, referred,
                ));
                store_new_document(
                    tx,
                    fieldnote_core::new_id(),
                    &enrollment,
                    &key,
                    &created.id,
                    now.millis(),
                )?;
                for n in 0..notes_per_member {
                    let at =
                        Timestamp::from_millis(referred.millis() + (n as i64 + 1) * 2 * 86_400_000);
                    let note = synthetic::note(&mut rng, member_id, program, staff, at, 60);
                    let body = RecordBody::ContactNote(note);
                    let note_id = fieldnote_core::new_id();
                    store_new_document(tx, note_id, &body, &key, &created.id, now.millis())?;
                    if n + 1 < notes_per_member {
                        let att = Attestation::new(
                            note_id,
                            AttestationKind::Finalize,
                            Signer::staff(staff, &display, fieldnote_core::Role::Worker),
                            at,
                            &body,
                        );
                        store_attestation(tx, &att, now.millis())?;
                    }
                }
                if program == Program::CspJi {
                    // CSP-JI members carry a substance-use consent and referral, so exports
                    // show how Part 2 records are withheld or disclosed.
                    let consent_id = fieldnote_core::new_id();
                    let signed = Timestamp::from_millis(referred.millis() + 86_400_000);
                    let consent = RecordBody::Consent(synthetic::part2_consent(
                        member_id, program, staff, signed,
                    ));
                    let referral = RecordBody::ServiceReferral(synthetic::sud_referral(
                        member_id, program, staff, consent_id, signed,
                    ));
                    for (id, body) in [(consent_id, consent), (fieldnote_core::new_id(), referral)]
                    {
                        store_new_document(tx, id, &body, &key, &created.id, now.millis())?;
                    }
                }
                let plan = RecordBody::Plan(synthetic::service_plan(member_id, program, staff));
                store_new_document(
                    tx,
                    fieldnote_core::new_id(),
                    &plan,
                    &key,
                    &created.id,
                    now.millis(),
                )?;
            }
        }
        Ok(())
    })?;
    Ok(users)
}
