//! A full disk, for real: the phone's store (the `fieldnote` CLI) lives on a small tmpfs
//! that is then filled to the last page. A distress alarm must still be recorded and reach
//! the server (`fieldnote-server --demo`, on another disk), reading must keep working, a
//! write must be refused with a message that is true, and once room returns everything
//! queued goes out and the space held for alarms is held again.
//!
//! Mounting a tmpfs needs a private mount namespace: the test runs itself again under
//! `unshare` (as root, or in a user namespace otherwise). A machine that allows neither
//! fails this test with the reason; it never passes without running.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use fieldnote_core::store::safety::{RESERVE_BYTES, RESERVE_FILE};
use fieldnote_tests::process::{
    DEMO_PASSWORD, ServerProcess, cli, cli_output as run, http, sign_in,
};

/// Set in the copy of this test that runs inside its own mount namespace.
const INSIDE: &str = "FIELDNOTE_FULL_DISK_INSIDE";

/// Runs the named test of this binary again inside a private mount namespace; returns
/// false when this already is that copy (and it should do the work).
fn rerun_in_mount_namespace(test: &str) -> bool {
    if std::env::var_os(INSIDE).is_some() {
        return false;
    }
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    let flags: &[&str] = if root {
        &["--mount", "--propagation", "private"]
    } else {
        &["--user", "--map-root-user", "--mount"]
    };
    let out = Command::new("unshare")
        .args(flags)
        .arg(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(INSIDE, "1")
        .output()
        .expect("unshare (util-linux) runs");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the test inside its mount namespace failed:\n{printed}"
    );
    assert!(
        printed.contains("1 passed"),
        "the test did not run inside its namespace:\n{printed}"
    );
    true
}

/// The size of the store's reserve for distress (0 when there is none).
fn reserve_len(store: &Path) -> u64 {
    std::fs::metadata(store.join(RESERVE_FILE)).map_or(0, |m| m.len())
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Fills the file system holding `dir` to the last page with the file `name`; returns how
/// much was written.
fn fill(dir: &Path, name: &str) -> u64 {
    let mut file = std::fs::File::create(dir.join(name)).unwrap();
    let mut written = 0u64;
    for chunk in [1 << 20, 64 << 10, 4 << 10, 512, 1] {
        let block = vec![7u8; chunk];
        loop {
            match file.write(&block) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(e) => {
                    assert_eq!(
                        e.kind(),
                        std::io::ErrorKind::StorageFull,
                        "filling stops at a full disk: {e}"
                    );
                    break;
                }
            }
        }
    }
    let _ = file.sync_all();
    written
}

fn alarm_ids_on_server(url: &str, token: &str) -> Vec<String> {
    let (status, list) = http("GET", &format!("{url}/v1/alarms"), Some(token), None);
    assert_eq!(status, 200, "{list}");
    list.as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["id"].as_str().map(str::to_string))
        .collect()
}

/// Raises an alarm of `kind` on `phone`; asserts the phone recorded it and the server has
/// it; returns its id.
fn raise_and_deliver(phone: &Path, kind: &str, url: &str, supervisor: &str) -> String {
    let raised = run(phone, &["alarm", "raise", kind]);
    assert!(
        raised.status.success(),
        "alarm raise {kind}: {}",
        text(&raised)
    );
    let id = String::from_utf8_lossy(&raised.stdout)
        .split_whitespace()
        .skip_while(|w| *w != "alarm")
        .nth(1)
        .unwrap()
        .to_string();
    assert!(
        alarm_ids_on_server(url, supervisor).contains(&id),
        "the server has the {kind} alarm raised on a full disk: {}",
        text(&raised)
    );
    id
}

#[test]
fn a_full_disk_still_raises_and_sends_an_alarm() {
    if rerun_in_mount_namespace("a_full_disk_still_raises_and_sends_an_alarm") {
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let disk = base.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=6m", "fieldnote-full-disk"])
        .arg(&disk)
        .status()
        .unwrap();
    assert!(mounted.success(), "a small tmpfs mounts in the namespace");

    let server_dir = base.path().join("server");
    let server = ServerProcess::start(
        &[
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            server_dir.to_str().unwrap(),
        ],
        &[],
    );
    let url = server.url.clone();
    let (supervisor, _) = sign_in(&url, "supervisor.north", DEMO_PASSWORD);

    // A worker's phone with a member, a synced finalized note and one written offline.
    let phone = disk.join("phone");
    cli(
        &phone,
        &[
            "login",
            "--server",
            &url,
            "--user",
            "worker1.north",
            "--device-name",
            "phone",
        ],
    );
    let member = cli(
        &phone,
        &[
            "member",
            "add",
            "--given",
            "Arlo",
            "--family",
            "Testvale",
            "--dob",
            "1990-02-03",
            "--masshealth-id",
            "100200300499",
            "--program",
            "csp",
        ],
    )
    .trim()
    .to_string();
    let note = cli(
        &phone,
        &[
            "note",
            "write",
            "--member",
            &member,
            "--program",
            "csp",
            "--minutes",
            "30",
            "--narrative",
            "Walked to the clinic together.",
        ],
    )
    .trim()
    .to_string();
    cli(&phone, &["note", "finalize", &note]);
    cli(&phone, &["sync"]);
    cli(
        &phone,
        &[
            "note",
            "write",
            "--member",
            &member,
            "--program",
            "csp",
            "--minutes",
            "15",
            "--narrative",
            "Phoned about the housing form.",
        ],
    );
    assert_eq!(
        reserve_len(&phone),
        RESERVE_BYTES,
        "the store holds space for distress"
    );

    let filled = fill(&disk, "filler");
    assert!(filled > 0);
    assert_eq!(
        fill(&disk, "filler2"),
        0,
        "the disk is full: not one more byte fits"
    );

    // Distress works: recorded on the phone and received by the server.
    let alarm = raise_and_deliver(&phone, "panic", &url, &supervisor);
    assert!(
        reserve_len(&phone) < RESERVE_BYTES,
        "the alarm was written from the reserve"
    );
    let status = run(&phone, &["alarm", "status", &alarm]);
    assert!(status.status.success(), "alarm status: {}", text(&status));

    // Whatever the release freed is taken by someone else; the reserve still has room for
    // the next alarm.
    fill(&disk, "filler3");
    raise_and_deliver(&phone, "discreet", &url, &supervisor);
    fill(&disk, "filler4");

    // Reading keeps working.
    for args in [
        vec!["status"],
        vec!["member", "list"],
        vec!["today"],
        vec!["show", &note],
        vec!["timeline", &member],
        vec!["search", "clinic"],
        vec!["check"],
    ] {
        let out = run(&phone, &args);
        assert!(
            out.status.success(),
            "{args:?} on a full disk: {}",
            text(&out)
        );
    }
    let status = text(&run(&phone, &["status"]));
    assert!(
        status.starts_with("1 waiting to be sent") || status.contains("\n1 waiting to be sent"),
        "{status}"
    );

    // A write is refused, and what the refusal says is true.
    let refused = run(
        &phone,
        &[
            "note",
            "write",
            "--member",
            &member,
            "--program",
            "csp",
            "--minutes",
            "10",
            "--narrative",
            "Written while the disk was full.",
        ],
    );
    assert!(!refused.status.success(), "a write on a full disk fails");
    let said = text(&refused);
    assert!(said.contains("full"), "{said}");

    // Room again: the refused note is there once if the person was told it was kept, and
    // not at all if told nothing was saved; the waiting note goes out; the reserve returns.
    std::fs::remove_file(disk.join("filler")).unwrap();
    for name in ["filler2", "filler3", "filler4"] {
        std::fs::remove_file(disk.join(name)).unwrap();
    }
    let check = run(&phone, &["check"]);
    assert!(check.status.success(), "check: {}", text(&check));
    let timeline = cli(&phone, &["timeline", &member]);
    let copies = timeline.matches("Written while the disk was full").count();
    if said.contains("do not enter it again") {
        assert_eq!(copies, 1, "told it was kept: {timeline}");
    } else {
        assert!(said.contains("nothing was saved"), "{said}");
        assert_eq!(copies, 0, "told nothing was saved: {timeline}");
    }
    cli(&phone, &["sync"]);
    let status = cli(&phone, &["status"]);
    assert!(status.contains("0 waiting to be sent"), "{status}");
    assert_eq!(
        reserve_len(&phone),
        RESERVE_BYTES,
        "the space for distress is held whole again once there is room"
    );
    let _ = Command::new("umount").arg(&disk).status();
}
