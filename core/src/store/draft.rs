//! Deleting a draft note that never left the device.
//!
//! A record that reached the server cannot be taken back by one device: other devices may
//! hold it, and there is no deletion in the record model to sync. So a draft is deleted only
//! while its whole history is still in the outbox (the server has acknowledged none of it)
//! and it carries no attestation; anything else is refused with the reason, and the person
//! edits the draft instead. One window stays: a sync cut off after the server stored the
//! draft but before its answer arrived leaves the draft in the outbox, and deleting it then
//! removes it from this device only.

use crate::document::Document;
use crate::error::{Error, Result};
use crate::model::{FieldError, RecordBody, RecordId};

use super::projection;

impl super::Store {
    /// Deletes a draft contact note that has never been sent: its chunks, projections and
    /// outbox entries go, and nothing of it is sent. Refused ([`Error::Finalized`],
    /// [`Error::Invalid`] on `id`) for a finalized note, a note with any attestation (a
    /// review came from the server), or a note the server already acknowledged.
    pub fn delete_unsent_draft(&mut self, id: RecordId) -> Result<()> {
        let record = self.get(id)?;
        if !matches!(record.body, RecordBody::ContactNote(_)) {
            return Err(Error::NotFound {
                kind: "contact note",
                id,
            });
        }
        if record.is_finalized() {
            return Err(Error::Finalized { id });
        }
        let refuse = |reason: &str| Error::Invalid {
            kind: "contact_note",
            errors: vec![FieldError {
                field: "id".into(),
                reason: reason.into(),
            }],
        };
        if !record.attestations.is_empty() {
            return Err(refuse(
                "the draft has a review or signature from the server and cannot be deleted; \
                 edit it instead",
            ));
        }
        let payloads: Vec<Vec<u8>> = {
            let mut stmt = self.outbox.prepare_cached(
                "SELECT payload FROM outbox WHERE record_id = ?1 AND entry_kind = 'change'
                 ORDER BY seq",
            )?;
            stmt.query_map([id.to_string()], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        // The outbox alone must rebuild the record as stored: then the server has none of it.
        let unsent = !payloads.is_empty()
            && Document::load(id, &self.actor, payloads.iter().map(Vec::as_slice))
                .map(|mut d| d.heads())
                .ok()
                == Some(self.load(id)?.heads());
        if !unsent {
            return Err(refuse(
                "the draft has already been sent to the server, and a synced record cannot be \
                 deleted from one device; edit the draft instead",
            ));
        }
        let id_s = id.to_string();
        let tx = self.main.transaction()?;
        tx.execute("DELETE FROM doc_chunks WHERE record_id = ?1", [&id_s])?;
        projection::unproject(&tx, id)?;
        tx.commit()?;
        // The records go first: a crash between the two leaves the draft queued, so it is
        // sent at the next sync though gone from this device; never a record on the device
        // that looks sent but was not.
        self.outbox
            .execute("DELETE FROM outbox WHERE record_id = ?1", [&id_s])?;
        Ok(())
    }
}
