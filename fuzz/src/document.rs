//! The document harness: one fuzz input as stored chunks of a record, loaded and read the way
//! the server treats an upload. A new record is [`Document::load`]ed from its one chunk; an
//! upload to a record the server holds is [`Document::apply`]d to the document loaded from
//! the stored chunks. Either way the record is then accepted only if no dependency is
//! missing, it hydrates into a [`RecordBody`] and its fields validate. An accepted record
//! is then used as the server and the devices use one (heads, conflicts, a compacted save
//! loaded again, which must have the same heads).
//!
//! An input is one flags byte and then the chunks. Bit 0 of the flags: apply the last
//! chunk to the document loaded from the others (otherwise load them all). Bit 1: keep the
//! chunks' checksums as they are; otherwise each chunk whose header reads gets the checksum
//! of its data, as anyone crafting a chunk would give it, so that the fuzzer reaches past
//! the checksum into automerge's parsing (compressed changes, whose checksum covers their
//! inflated data, keep theirs). The chunks are the rest of the input cut before every
//! occurrence of automerge's magic bytes, so concatenated real chunks come apart as they
//! were stored. `fuzz/fixtures/document_load/`
//! holds inputs in this form; `core/tests/fuzz_fixtures.rs` compiles this file to replay
//! them.

use fieldnote_core::document::Document;
use fieldnote_core::model::{RecordBody, RecordId};
use sha2::{Digest, Sha256};

/// Flag bit: apply the last chunk as an upload to the document the others make.
pub const FLAG_APPLY_LAST: u8 = 1;
/// Flag bit: keep the chunks' checksums (otherwise they are made to match their data).
pub const FLAG_KEEP_CHECKSUMS: u8 = 2;
/// The bytes every automerge chunk starts with.
pub const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// The automerge actor the server loads documents with.
pub const ACTOR: &[u8] = b"fieldnote-server";

/// Cuts an input into its flags and chunks.
pub fn split(data: &[u8]) -> (u8, Vec<&[u8]>) {
    let (flags, rest) = data.split_first().map_or((0, data), |(f, r)| (*f, r));
    let mut starts: Vec<usize> = rest
        .windows(MAGIC.len())
        .enumerate()
        .filter(|(_, w)| *w == MAGIC)
        .map(|(i, _)| i)
        .collect();
    if starts.first() != Some(&0) {
        starts.insert(0, 0);
    }
    let chunks = starts
        .iter()
        .zip(starts.iter().skip(1).chain([&rest.len()]))
        .map(|(&a, &b)| &rest[a..b])
        .filter(|c| !c.is_empty())
        .collect();
    (flags, chunks)
}

/// The fuzz input that [`split`] reads back as these chunks.
pub fn join(flags: u8, chunks: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![flags];
    for c in chunks {
        out.extend_from_slice(c);
    }
    out
}

/// Loads and reads one fuzz input as the server would; the record if it would accept it,
/// otherwise why not.
pub fn run(data: &[u8]) -> Result<RecordBody, String> {
    let (flags, chunks) = split(data);
    let repaired: Vec<Vec<u8>>;
    let chunks: Vec<&[u8]> = if flags & FLAG_KEEP_CHECKSUMS != 0 {
        chunks
    } else {
        repaired = chunks.iter().map(|c| with_checksum(c)).collect();
        repaired.iter().map(Vec::as_slice).collect()
    };
    let id = RecordId::nil();
    let mut doc = match chunks.split_last() {
        Some((last, stored)) if flags & FLAG_APPLY_LAST != 0 => {
            let mut doc = Document::load(id, ACTOR, stored.iter().copied()).map_err(text)?;
            doc.apply(last).map_err(text)?;
            doc
        }
        _ => Document::load(id, ACTOR, chunks.iter().copied()).map_err(text)?,
    };
    if doc.has_missing_deps() {
        return Err("the change builds on edits that are missing".into());
    }
    let body = doc.body().map_err(text)?;
    if let Some(e) = body.validate().first() {
        return Err(format!("{}: {}", e.field, e.reason));
    }
    // What is done with an accepted record: nothing of it may fail or panic, and both forms
    // it is stored and sent in (the compacted snapshot, the whole history of changes) must
    // load back into the same document.
    let heads = doc.heads();
    let _ = doc.conflicts();
    for (form, saved) in [
        ("snapshot", doc.save()),
        ("history", doc.save_uncompressed()),
    ] {
        let mut again = Document::load(id, ACTOR, [saved.as_slice()])
            .unwrap_or_else(|e| panic!("an accepted record's {form} does not load: {e}"));
        assert_eq!(
            again.heads(),
            heads,
            "an accepted record's {form} loads with other heads"
        );
    }
    Ok(body)
}

/// `chunk` with the checksum its data has, when its header reads.
pub fn with_checksum(chunk: &[u8]) -> Vec<u8> {
    let mut out = chunk.to_vec();
    let Some(&chunk_type) = chunk.get(8) else {
        return out;
    };
    if chunk_type == 2 {
        return out;
    }
    let (mut len, mut shift, mut at) = (0u64, 0u32, 9usize);
    loop {
        let Some(&b) = chunk.get(at) else {
            return out;
        };
        at += 1;
        if shift > 63 {
            return out;
        }
        len |= u64::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    let Some(data) = usize::try_from(len)
        .ok()
        .and_then(|len| chunk.get(at..at.checked_add(len)?))
    else {
        return out;
    };
    let hash = Sha256::new()
        .chain_update(&chunk[8..at])
        .chain_update(data)
        .finalize();
    out[4..8].copy_from_slice(&hash[..4]);
    out
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}
