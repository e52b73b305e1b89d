//! A record as an automerge document: creating it, loading it from stored chunks with size
//! limits checked before anything is parsed, changing it, and listing fields where concurrent
//! edits conflict so a person can see both values.

use automerge::{AutoCommit, ReadDoc};
use autosurgeon::{hydrate, reconcile};

use crate::error::{Error, Result};
use crate::model::{RecordBody, RecordId};

/// The largest document accepted from storage or the network, in bytes (4 MiB). Checked
/// before parsing, so a hostile or damaged blob cannot exhaust memory.
pub const MAX_DOCUMENT_BYTES: usize = 4 * 1024 * 1024;

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

    /// Loads a document from its stored chunks (a snapshot and incremental changes, in order).
    pub fn load<'a>(
        id: RecordId,
        actor: &[u8],
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Self> {
        let mut doc = AutoCommit::new().with_actor(automerge::ActorId::from(actor));
        let mut total = 0usize;
        for chunk in chunks {
            total += chunk.len();
            if total > MAX_DOCUMENT_BYTES {
                return Err(Error::Document {
                    id,
                    reason: format!("larger than {MAX_DOCUMENT_BYTES} bytes"),
                });
            }
            doc.load_incremental(chunk).map_err(|e| doc_error(id, e))?;
        }
        Ok(Document { id, doc })
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

    /// Applies changes from elsewhere (another device, the outbox). Idempotent.
    pub fn apply(&mut self, bytes: &[u8]) -> Result<()> {
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(Error::Document {
                id: self.id,
                reason: format!("change larger than {MAX_DOCUMENT_BYTES} bytes"),
            });
        }
        self.doc
            .load_incremental(bytes)
            .map_err(|e| doc_error(self.id, e))?;
        Ok(())
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

fn doc_error(id: RecordId, e: impl std::fmt::Display) -> Error {
    Error::Document {
        id,
        reason: e.to_string(),
    }
}
