use fieldnote_core::model::*;
use fieldnote_core::{Store, StoreKey};
use rand::SeedableRng;
fn main() {
    let dir = std::path::Path::new("target/w1-profile");
    let _ = std::fs::remove_dir_all(dir);
    let mut store = Store::open(dir, StoreKey::generate()).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let m = store.create(RecordBody::Member(fieldnote_core::synthetic::member(&mut rng))).unwrap();
    let w = new_id();
    let t = std::time::Instant::now();
    for _ in 0..3000 {
        let n = fieldnote_core::synthetic::note(&mut rng, m, Program::Csp, w, Timestamp::now(), 120);
        store.create(RecordBody::ContactNote(n)).unwrap();
    }
    eprintln!("{:?} per note", t.elapsed() / 3000);
}
