//! What a chunk of automerge data may make automerge do, checked before automerge sees it.
//!
//! A chunk's size is bounded by [`MAX_DOCUMENT_BYTES`], but automerge's storage format lets
//! a few bytes stand for far more: deflate-compressed chunks and columns inflate a
//! thousandfold, and run-length encoding lets an 80-byte change declare ten million
//! operations (seconds of CPU and gigabytes of memory to load). Automerge inflates before it
//! checks anything and materializes every declared operation, so this module walks the
//! chunks first: their headers and column layouts, inflating compressed data under a budget
//! of [`MAX_INFLATED_BYTES`] and adding up run lengths (never expanding them) to bound the
//! operations at [`MAX_OPS`]. Input it cannot walk is refused as damaged, as are bundle
//! chunks, which Fieldnote never writes.
//!
//! The layout is automerge's binary format: <https://automerge.org/automerge-binary-format-spec/>.
//!
//! [`MAX_DOCUMENT_BYTES`]: super::MAX_DOCUMENT_BYTES

use std::io::Read;

use super::{MAX_INFLATED_BYTES, MAX_OPS};

/// The bytes every chunk starts with.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// Bytes of a change hash.
const HASH_BYTES: usize = 32;
/// The flag of a column specification marking its data as deflate-compressed.
const DEFLATE_BIT: u64 = 0b1000;

/// What the chunks of one load or apply have used so far.
#[derive(Debug, Default)]
pub(super) struct Budget {
    ops: u64,
    inflated: usize,
}

impl Budget {
    /// Walks `bytes` (one or more chunks), counting their operations and inflated bytes
    /// against the budget; the reason if they are damaged or exceed it.
    pub(super) fn admit(&mut self, bytes: &[u8]) -> Result<(), String> {
        let mut input = Reader(bytes);
        while !input.0.is_empty() {
            self.chunk(&mut input)?;
        }
        Ok(())
    }

    fn chunk(&mut self, input: &mut Reader<'_>) -> Result<(), String> {
        if input.take(MAGIC.len())? != MAGIC {
            return Err(damaged(
                "a chunk does not start with automerge's magic bytes",
            ));
        }
        input.take(4)?; // checksum, which automerge checks
        let chunk_type = input.take(1)?[0];
        let len = input.len()?;
        let data = input.take(len)?;
        match chunk_type {
            0 => self.document(data),
            1 => self.change(data),
            2 => {
                let inflated = self.inflate(data)?;
                self.change(&inflated)
            }
            3 => Err("the data is an automerge bundle, which Fieldnote never writes".into()),
            other => Err(damaged(&format!("unknown chunk type {other}"))),
        }
    }

    /// A change: its header fields, then its operation columns, which may not be
    /// compressed.
    fn change(&mut self, data: &[u8]) -> Result<(), String> {
        let mut r = Reader(data);
        let deps = r.count()?;
        for _ in 0..deps {
            r.take(HASH_BYTES)?;
        }
        r.prefixed()?; // actor
        r.leb()?; // seq
        r.leb()?; // start op
        r.leb()?; // time
        r.prefixed()?; // message
        let others = r.count()?;
        for _ in 0..others {
            r.prefixed()?;
        }
        let columns = r.columns()?;
        let mut rows = Rows::default();
        for (spec, len) in columns {
            let column = r.take(len)?;
            if spec & DEFLATE_BIT != 0 {
                return Err(damaged("a change has a compressed column"));
            }
            rows.column(spec, column)?;
        }
        self.spend(rows.most())
    }

    /// A document: actors, heads, then change and operation columns, any of them
    /// compressed, then the heads' indices.
    fn document(&mut self, data: &[u8]) -> Result<(), String> {
        let mut r = Reader(data);
        let actors = r.count()?;
        for _ in 0..actors {
            r.prefixed()?;
        }
        let heads = r.count()?;
        for _ in 0..heads {
            r.take(HASH_BYTES)?;
        }
        let change_columns = r.columns()?;
        let op_columns = r.columns()?;
        for columns in [change_columns, op_columns] {
            let mut rows = Rows::default();
            for (spec, len) in columns {
                let column = r.take(len)?;
                if spec & DEFLATE_BIT != 0 {
                    let inflated = self.inflate(column)?;
                    rows.column(spec, &inflated)?;
                } else {
                    rows.column(spec, column)?;
                }
            }
            self.spend(rows.most())?;
        }
        Ok(())
    }

    fn spend(&mut self, ops: u64) -> Result<(), String> {
        self.ops = self.ops.saturating_add(ops);
        if self.ops > MAX_OPS {
            return Err(format!("more than {MAX_OPS} operations"));
        }
        Ok(())
    }

    /// Inflates deflate-compressed data, stopping as soon as the budget is exceeded.
    fn inflate(&mut self, data: &[u8]) -> Result<Vec<u8>, String> {
        let left = MAX_INFLATED_BYTES - self.inflated;
        let mut out = Vec::new();
        flate2::bufread::DeflateDecoder::new(data)
            .take(left as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| damaged(&format!("compressed data does not inflate: {e}")))?;
        if out.len() > left {
            return Err(format!(
                "larger than {MAX_INFLATED_BYTES} bytes once decompressed"
            ));
        }
        self.inflated += out.len();
        Ok(out)
    }
}

/// The rows of a chunk's columns: the operations (or changes) it declares.
#[derive(Default)]
struct Rows {
    /// The most rows of any column.
    rows: u64,
    /// The most entries any group column's rows add up to (predecessors, successors).
    members: u64,
}

impl Rows {
    fn most(&self) -> u64 {
        self.rows.max(self.members)
    }

    /// Counts one column's rows from its encoding, which the low three bits of its
    /// specification name.
    fn column(&mut self, spec: u64, data: &[u8]) -> Result<(), String> {
        let mut r = Reader(data);
        let (mut rows, mut members) = (0u64, 0u64);
        match spec & 0b111 {
            // Raw values: their rows are counted by the metadata column beside them.
            7 => return Ok(()),
            // Booleans: alternating run lengths.
            4 => {
                while !r.0.is_empty() {
                    rows = rows.saturating_add(r.leb()?);
                    self.bound(rows)?;
                }
            }
            // Run-length encoded values: a signed count, then one value repeated that many
            // times, that many literal values (negative), or a count of nulls (zero).
            kind => {
                let group = kind == 0;
                let value = |r: &mut Reader<'_>| -> Result<u64, String> {
                    match kind {
                        // Strings: length-prefixed bytes.
                        5 => r.prefixed().map(|_| 0),
                        // Deltas: signed numbers.
                        3 => r.signed().map(|_| 0),
                        _ => r.leb(),
                    }
                };
                while !r.0.is_empty() {
                    let count = r.signed()?;
                    if count > 0 {
                        let n = count.unsigned_abs();
                        let v = value(&mut r)?;
                        rows = rows.saturating_add(n);
                        if group {
                            members = members.saturating_add(n.saturating_mul(v));
                        }
                    } else if count < 0 {
                        for _ in 0..count.unsigned_abs() {
                            let v = value(&mut r)?;
                            rows = rows.saturating_add(1);
                            if group {
                                members = members.saturating_add(v);
                            }
                        }
                    } else {
                        rows = rows.saturating_add(r.leb()?);
                    }
                    self.bound(rows.max(members))?;
                }
            }
        }
        self.rows = self.rows.max(rows);
        self.members = self.members.max(members);
        Ok(())
    }

    fn bound(&self, rows: u64) -> Result<(), String> {
        if rows > MAX_OPS {
            return Err(format!("more than {MAX_OPS} operations"));
        }
        Ok(())
    }
}

/// Reads the format's fields from the front of a slice; running out is damage.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.0.len() {
            return Err(damaged("a chunk ends early"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    /// An unsigned LEB128 number.
    fn leb(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1)?[0];
            value |= u64::from(byte & 0x7f)
                .checked_shl(shift)
                .filter(|v| v >> shift == u64::from(byte & 0x7f))
                .ok_or_else(|| damaged("a number is too large"))?;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(damaged("a number is too long"))
    }

    /// A signed LEB128 number.
    fn signed(&mut self) -> Result<i64, String> {
        let mut value = 0i64;
        let mut shift = 0u32;
        loop {
            let byte = self.take(1)?[0];
            if shift >= 64 {
                return Err(damaged("a number is too long"));
            }
            value |= i64::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                if shift < 64 && byte & 0x40 != 0 {
                    value |= -1i64 << shift;
                }
                return Ok(value);
            }
        }
    }

    /// A length as an unsigned LEB128 number.
    fn len(&mut self) -> Result<usize, String> {
        usize::try_from(self.leb()?).map_err(|_| damaged("a length is too large"))
    }

    /// A count of items that follow, each at least one byte long.
    fn count(&mut self) -> Result<u64, String> {
        let n = self.leb()?;
        if n > self.0.len() as u64 {
            return Err(damaged("a count is larger than the data"));
        }
        Ok(n)
    }

    /// Length-prefixed bytes.
    fn prefixed(&mut self) -> Result<&'a [u8], String> {
        let n = self.len()?;
        self.take(n)
    }

    /// A column layout: how many columns, then each one's specification and data length.
    fn columns(&mut self) -> Result<Vec<(u64, usize)>, String> {
        let n = self.count()?;
        let mut columns = Vec::new();
        for _ in 0..n {
            let spec = self.leb()?;
            let len = self.len()?;
            columns.push((spec, len));
        }
        Ok(columns)
    }
}

fn damaged(what: &str) -> String {
    format!("damaged: {what}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_automerge_writes_them() {
        for v in [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut buf = Vec::new();
            let mut x = v;
            loop {
                let b = (x & 0x7f) as u8;
                x >>= 7;
                if x == 0 {
                    buf.push(b);
                    break;
                }
                buf.push(b | 0x80);
            }
            assert_eq!(Reader(&buf).leb().unwrap(), v);
        }
        for (bytes, v) in [
            (&[0x00][..], 0i64),
            (&[0x7f], -1),
            (&[0x80, 0x7f], -128),
            (&[0xff, 0x00], 127),
            (&[0xc0, 0xbb, 0x78], -123_456),
        ] {
            assert_eq!(Reader(bytes).signed().unwrap(), v);
        }
        assert!(Reader(&[0xff; 11]).leb().is_err());
        assert!(Reader(&[0x80]).leb().is_err());
    }

    #[test]
    fn run_lengths_are_added_up_not_expanded() {
        // A run of a billion equal values is a few bytes.
        let mut rows = Rows::default();
        let run = [0x80, 0x94, 0xeb, 0xdc, 0x03, 0x01];
        assert!(rows.column(0x42, &run).unwrap_err().contains("operations"));
        // Three literal values and two nulls.
        let mut rows = Rows::default();
        rows.column(0x42, &[0x7d, 1, 2, 3, 0x00, 2]).unwrap();
        assert_eq!(rows.most(), 5);
        // Group columns count their members too: two rows of three predecessors.
        let mut rows = Rows::default();
        rows.column(0x70, &[0x02, 0x03]).unwrap();
        assert_eq!((rows.rows, rows.members), (2, 6));
    }
}
