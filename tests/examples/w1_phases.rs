use fieldnote_core::model::*;
use fieldnote_core::document::Document;
use rand::SeedableRng;
use std::time::Instant;
fn main() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let m = new_id();
    let w = new_id();
    let n = 2000;
    let notes: Vec<_> = (0..n).map(|_| fieldnote_core::synthetic::note(&mut rng, m, Program::Csp, w, Timestamp::now(), 120)).collect();
    let t = Instant::now();
    let mut total = 0;
    for note in &notes {
        let body = RecordBody::ContactNote(note.clone());
        let mut d = Document::create(new_id(), &[1u8; 16], &body).unwrap();
        total += d.save().len();
    }
    println!("automerge create+save: {:?}/note, {} bytes avg", t.elapsed() / n, total / n as usize);
    let t = Instant::now();
    for note in &notes { let _ = RecordBody::ContactNote(note.clone()).validate(); }
    println!("validate: {:?}/note", t.elapsed() / n);
    let t = Instant::now();
    for note in &notes { let _ = serde_json::to_string(note).unwrap(); }
    println!("json: {:?}/note", t.elapsed() / n);
}
