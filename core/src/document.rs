//! A record as an automerge document: creating it, loading it from stored chunks with size
//! limits checked before anything is parsed, changing it, and listing fields where concurrent
//! edits conflict so a person can see both values.

use automerge::{AutoCommit, ReadDoc};
use autosurgeon::{hydrate, reconcile};

use crate::error::{Error, Result};
use crate::model::{RecordBody, RecordId};

mod limits;

/// The largest document accepted from storage or the network, in bytes (4 MiB). Checked
/// before parsing, so a hostile or damaged blob cannot exhaust memory.
pub const MAX_DOCUMENT_BYTES: usize = 4 * 1024 * 1024;
/// The most bytes the compressed parts of one load (or one applied change) may inflate to
/// (16 MiB). A compacted record inflates to about the size of its uncompressed history,
/// which [`MAX_DOCUMENT_BYTES`] bounds; a deflate bomb of a few megabytes would inflate to
/// gigabytes. Checked as the data is inflated, before automerge parses it.
pub const MAX_INFLATED_BYTES: usize = 4 * MAX_DOCUMENT_BYTES;
/// The most operations one load (or one applied change) may declare (a million). A record's
/// history has thousands; automerge's run-length encoding lets a few bytes declare billions,
/// each costing time and memory to load. Counted from the encoding, before automerge parses
/// it.
pub const MAX_OPS: u64 = 1_000_000;

/// One record's document.
pub struct Document {
    id: RecordId,
    doc: AutoCommit,
}

impl Document {
    /// A new document holding `body`, written by `actor` (the device's automerge actor id).
    pub fn create(id: RecordId, actor: &[u8], body: &RecordBody) -> Result<Self> {
        let mut doc = AutoCommit::new().with_actor(automerge::ActorId::from(actor));
        reconcile(&mut doc, body).map_err(|e| doc_error(id, e))?;
        doc.commit();
        Ok(Document { id, doc })
    }

    /// Loads a document from chunks that came from elsewhere (a device's upload, the
    /// server's download, a rejected change's server state), in order. Checked like
    /// [`Document::load_stored`], and then verified: the change history must rebuild from
    /// what was loaded, so that nothing done with the document later fails on it.
    pub fn load<'a>(
        id: RecordId,
        actor: &[u8],
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Self> {
        let mut doc = Self::load_stored(id, actor, chunks)?;
        doc.verify(&[])?;
        Ok(doc)
    }

    /// Loads a document from its stored chunks (a snapshot and incremental changes, in
    /// order), which were verified when they arrived. The chunks' total size, inflated size
    /// and operations are checked against [`MAX_DOCUMENT_BYTES`], [`MAX_INFLATED_BYTES`] and
    /// [`MAX_OPS`] before each is parsed.
    pub fn load_stored<'a>(
        id: RecordId,
        actor: &[u8],
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Self> {
        let mut doc = AutoCommit::new().with_actor(automerge::ActorId::from(actor));
        let mut total = 0usize;
        let mut budget = limits::Budget::default();
        for chunk in chunks {
            total = total.saturating_add(chunk.len());
            if total > MAX_DOCUMENT_BYTES {
                return Err(Error::Document {
                    id,
                    reason: format!("larger than {MAX_DOCUMENT_BYTES} bytes"),
                });
            }
            budget.admit(chunk).map_err(|e| doc_error(id, e))?;
            guarded(id, || doc.load_incremental(chunk))?;
        }
        Ok(Document { id, doc })
    }

    /// Checks that the changes not in `since` rebuild from the document's operations, and
    /// that every head they lead to is one of them. Automerge 0.12 accepts some crafted
    /// chunks into a state from which its change history cannot be rebuilt (a later save or
    /// sync would panic or send other changes than it holds); this refuses them at the door.
    fn verify(&mut self, since: &[automerge::ChangeHash]) -> Result<()> {
        let id = self.id;
        let doc = &mut self.doc;
        guarded(id, || {
            let rebuilt: std::collections::HashSet<_> =
                doc.get_changes(since).iter().map(|c| c.hash()).collect();
            let consistent = doc
                .get_heads()
                .iter()
                .all(|h| since.contains(h) || rebuilt.contains(h));
            Ok(consistent)
        })
        .and_then(|consistent| match consistent {
            true => Ok(()),
            false => Err(Error::Document {
                id,
                reason: "malformed changes (their history does not rebuild)".into(),
            }),
        })
    }

    /// The record id.
    pub fn id(&self) -> RecordId {
        self.id
    }

    /// The record as it stands.
    pub fn body(&self) -> Result<RecordBody> {
        hydrate(&self.doc).map_err(|e| doc_error(self.id, e))
    }

    /// Replaces the record with `body`, recording only what differs. Returns the encoded
    /// changes, uncompressed (empty when nothing changed).
    pub fn update(&mut self, body: &RecordBody) -> Result<Vec<u8>> {
        let before = self.doc.get_heads();
        reconcile(&mut self.doc, body).map_err(|e| doc_error(self.id, e))?;
        self.doc.commit();
        Ok(self
            .doc
            .get_changes(&before)
            .iter()
            .flat_map(|c| c.raw_bytes().to_vec())
            .collect())
    }

    /// Applies changes from elsewhere (another device, the outbox). Idempotent. Checked like
    /// [`Document::load`] before they are parsed; changes that cannot be applied leave the
    /// document as it was.
    pub fn apply(&mut self, bytes: &[u8]) -> Result<()> {
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(Error::Document {
                id: self.id,
                reason: format!("change larger than {MAX_DOCUMENT_BYTES} bytes"),
            });
        }
        limits::Budget::default()
            .admit(bytes)
            .map_err(|e| doc_error(self.id, e))?;
        let before = self.doc.clone();
        let since = self.doc.get_heads();
        let applied =
            guarded(self.id, || self.doc.load_incremental(bytes)).and_then(|_| self.verify(&since));
        if applied.is_err() {
            self.doc = before;
        }
        applied
    }

    /// The current heads as hex change hashes. Equal heads mean equal documents, so a
    /// change that leaves the heads unchanged was already held.
    pub fn heads(&mut self) -> Vec<String> {
        self.doc.get_heads().iter().map(|h| h.to_string()).collect()
    }

    /// Whether changes were received whose dependencies are missing (they wait, unapplied).
    pub fn has_missing_deps(&mut self) -> bool {
        !self.doc.get_missing_deps(&[]).is_empty()
    }

    /// The document's whole history as uncompressed changes: what is stored and sent.
    /// Larger than [`Document::save`] for one document, but a batch of them compresses well
    /// as a whole (the transport's gzip finds what documents and their changes share, actor
    /// ids included), which per-document compression prevents.
    pub fn save_uncompressed(&mut self) -> Vec<u8> {
        self.doc
            .get_changes(&[])
            .iter()
            .flat_map(|c| c.raw_bytes().to_vec())
            .collect()
    }

    /// The whole document, compacted into one snapshot.
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    /// Fields where concurrent edits left more than one value. Automerge shows one winner
    /// deterministically; this lists the paths so the losing values can be shown to a person.
    pub fn conflicts(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk_conflicts(&self.doc, &automerge::ROOT, String::new(), &mut out);
        out
    }
}

fn walk_conflicts(doc: &AutoCommit, obj: &automerge::ObjId, path: String, out: &mut Vec<String>) {
    use automerge::{ObjType, Value};
    let kind = doc.object_type(obj).ok();
    match kind {
        Some(ObjType::Map) | Some(ObjType::Table) => {
            for key in doc.keys(obj) {
                let all = doc.get_all(obj, key.as_str()).unwrap_or_default();
                let p = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if all.len() > 1 {
                    out.push(p.clone());
                }
                if let Some((Value::Object(_), child)) = all.into_iter().last() {
                    walk_conflicts(doc, &child, p, out);
                }
            }
        }
        Some(ObjType::List) => {
            for i in 0..doc.length(obj) {
                let all = doc.get_all(obj, i).unwrap_or_default();
                let p = format!("{path}[{i}]");
                if all.len() > 1 {
                    out.push(p.clone());
                }
                if let Some((Value::Object(_), child)) = all.into_iter().last() {
                    walk_conflicts(doc, &child, p, out);
                }
            }
        }
        _ => {}
    }
}

/// Runs automerge on chunks from storage or the network. Automerge 0.12 panics on some
/// crafted chunks (a change naming an actor the document has never seen unwraps a failed
/// lookup; others fail assertions in its operation index); such a panic refuses the input
/// like any other error instead of taking down the thread (and, in the server, the
/// transaction it holds).
fn guarded<T>(
    id: RecordId,
    load: impl FnOnce() -> std::result::Result<T, automerge::AutomergeError>,
) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(load)) {
        Ok(loaded) => loaded.map_err(|e| doc_error(id, e)),
        Err(_) => {
            tracing::warn!(record = %id, "automerge panicked on a chunk; it was refused");
            Err(Error::Document {
                id,
                reason: "malformed changes (automerge could not apply them)".into(),
            })
        }
    }
}

fn doc_error(id: RecordId, e: impl std::fmt::Display) -> Error {
    Error::Document {
        id,
        reason: e.to_string(),
    }
}
