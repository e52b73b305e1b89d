use fieldnote_core::model::*;
use fieldnote_core::{Store, StoreKey};
use rand::SeedableRng;
fn main() {
    let dir = std::path::Path::new("target/w1-frames");
    let _ = std::fs::remove_dir_all(dir);
    let mut store = Store::open(dir, StoreKey::generate()).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let m = store.create(RecordBody::Member(fieldnote_core::synthetic::member(&mut rng))).unwrap();
    let w = new_id();
    for _ in 0..200 { let n = fieldnote_core::synthetic::note(&mut rng, m, Program::Csp, w, Timestamp::now(), 120); store.create(RecordBody::ContactNote(n)).unwrap(); }
    store.checkpoint().unwrap();
    let size = |f: &str| std::fs::metadata(dir.join(f)).map(|m| m.len()).unwrap_or(0);
    for _ in 0..100 { let n = fieldnote_core::synthetic::note(&mut rng, m, Program::Csp, w, Timestamp::now(), 120); store.create(RecordBody::ContactNote(n)).unwrap(); }
    println!("main wal frames/note {:.1}, outbox wal frames/note {:.1}", size("fieldnote.db-wal") as f64 / 2072.0 / 100.0, size("outbox.db-wal") as f64 / 2072.0 / 100.0);
}
