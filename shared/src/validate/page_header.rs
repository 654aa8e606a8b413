//! What a Parquet file claims, read before the `parquet` crate acts on it (Thrift compact protocol,
//! just the fields needed, nesting and lengths bounded):
//! - a page header's sizes ([`PageSizes::read`]): the crate allocates whatever uncompressed size a
//!   header claims and inflates the page into it, so a 600 KB file can ask for gigabytes;
//! - the footer's schema shape ([`SchemaShape::read`]): the crate converts the schema recursively, so
//!   a footer nesting groups a hundred thousand deep overflows the thread's stack (an abort, not an
//!   error), and its columns are each given state.
//!
//! The header is a Thrift struct: `1: type (i32)`, `2: uncompressed_page_size (i32)`,
//! `3: compressed_page_size (i32)`, then optional fields (CRC, the page-type headers with their
//! statistics) that are skipped without being kept. Nesting is bounded, and so is every length read.

use std::io;

/// The sizes a page header declares, its page type, and the header's own length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PageSizes {
    /// Parquet's `PageType`: 0 data, 2 dictionary, 3 data v2 (1 index).
    pub kind: i64,
    pub uncompressed: i64,
    pub compressed: i64,
    pub header_len: u64,
}

/// Struct nesting a header may have (PageHeader → DataPageHeader → Statistics is 3).
const MAX_DEPTH: u32 = 16;

/// Compact protocol field types.
const STOP: u8 = 0;
const BOOL_TRUE: u8 = 1;
const BOOL_FALSE: u8 = 2;
const BYTE: u8 = 3;
const I16: u8 = 4;
const I32: u8 = 5;
const I64: u8 = 6;
const DOUBLE: u8 = 7;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const SET: u8 = 10;
const MAP: u8 = 11;
const STRUCT: u8 = 12;

/// Bytes of a header, read forwards: `byte` for one, `skip` past a run without keeping it.
pub(crate) trait HeaderBytes {
    fn byte(&mut self) -> io::Result<u8>;
    fn skip(&mut self, n: u64) -> io::Result<()>;
}

fn malformed(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("malformed page header: {what}"),
    )
}

struct Cursor<'a, B: HeaderBytes> {
    bytes: &'a mut B,
    read: u64,
}

impl<B: HeaderBytes> Cursor<'_, B> {
    fn byte(&mut self) -> io::Result<u8> {
        self.read += 1;
        self.bytes.byte()
    }

    fn skip(&mut self, n: u64) -> io::Result<()> {
        self.read = self.read.checked_add(n).ok_or_else(|| malformed("length"))?;
        self.bytes.skip(n)
    }

    fn varint(&mut self) -> io::Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(malformed("varint longer than 10 bytes"))
    }

    fn zigzag(&mut self) -> io::Result<i64> {
        let v = self.varint()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn skip_value(&mut self, kind: u8, depth: u32) -> io::Result<()> {
        match kind {
            BOOL_TRUE | BOOL_FALSE => Ok(()),
            BYTE => self.byte().map(drop),
            I16 | I32 | I64 => self.varint().map(drop),
            DOUBLE => self.skip(8),
            BINARY => {
                let n = self.varint()?;
                self.skip(n)
            }
            LIST | SET => {
                let head = self.byte()?;
                let n = match head >> 4 {
                    15 => self.varint()?,
                    n => u64::from(n),
                };
                self.skip_elements(head & 0x0f, n, depth)
            }
            MAP => {
                let n = self.varint()?;
                if n == 0 {
                    return Ok(());
                }
                let kinds = self.byte()?;
                for _ in 0..n {
                    self.skip_value(kinds >> 4, depth)?;
                    self.skip_value(kinds & 0x0f, depth)?;
                }
                Ok(())
            }
            STRUCT => self.skip_struct(depth + 1),
            other => Err(malformed(&format!("unknown field type {other}"))),
        }
    }

    fn skip_elements(&mut self, kind: u8, n: u64, depth: u32) -> io::Result<()> {
        for _ in 0..n {
            match kind {
                // In a list, a bool is a byte of its own.
                BOOL_TRUE | BOOL_FALSE => self.byte().map(drop)?,
                kind => self.skip_value(kind, depth)?,
            }
        }
        Ok(())
    }

    fn skip_struct(&mut self, depth: u32) -> io::Result<()> {
        if depth > MAX_DEPTH {
            return Err(malformed("nested too deeply"));
        }
        let mut id = 0i64;
        loop {
            let Some((_, kind)) = self.field(&mut id)? else {
                return Ok(());
            };
            self.skip_value(kind, depth)?;
        }
    }

    /// The next field's id and type, or `None` at the struct's end.
    fn field(&mut self, last_id: &mut i64) -> io::Result<Option<(i64, u8)>> {
        let head = self.byte()?;
        let kind = head & 0x0f;
        if kind == STOP {
            return Ok(None);
        }
        let id = match head >> 4 {
            0 => self.zigzag()?,
            delta => *last_id + i64::from(delta),
        };
        *last_id = id;
        Ok(Some((id, kind)))
    }
}

/// The schema in a file's footer (`FileMetaData`), as a shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SchemaShape {
    /// Groups nested inside each other, the root included.
    pub depth: u64,
    /// Leaf (primitive) columns.
    pub columns: u64,
}

/// Why a schema is refused.
#[derive(Debug)]
pub(crate) enum SchemaError {
    /// Not a footer this reader understands: the `parquet` crate's own parse says what is wrong.
    Malformed,
    TooDeep(u64),
    TooManyColumns(u64),
}

impl SchemaShape {
    /// Read the schema list of the `FileMetaData` at the start of `bytes`, stopping at `max_depth`
    /// nested groups or `max_columns` leaves, before anything else of the footer is looked at.
    pub(crate) fn read(
        bytes: &mut impl HeaderBytes,
        max_depth: u64,
        max_columns: u64,
    ) -> Result<SchemaShape, SchemaError> {
        let mut c = Cursor { bytes, read: 0 };
        let malformed = |_: io::Error| SchemaError::Malformed;
        let mut id = 0i64;
        while let Some((field, kind)) = c.field(&mut id).map_err(malformed)? {
            if (field, kind) != (2, LIST) {
                c.skip_value(kind, 1).map_err(malformed)?;
                continue;
            }
            let head = c.byte().map_err(malformed)?;
            let n = match head >> 4 {
                15 => c.varint().map_err(malformed)?,
                n => u64::from(n),
            };
            if head & 0x0f != STRUCT {
                return Err(SchemaError::Malformed);
            }
            // Elements come depth first; each group is followed by its children. `open` holds, per
            // group being read, how many children it still has (a count, not a recursion).
            let mut open: Vec<i64> = Vec::new();
            let (mut depth, mut columns) = (0u64, 0u64);
            for _ in 0..n {
                let children = Self::element(&mut c).map_err(malformed)?;
                // Elements after the root's subtree are read like another root: the crate converts
                // them (recursively) before it finds there is more than one root.
                if let Some(parent) = open.last_mut() {
                    *parent -= 1;
                }
                if children > 0 {
                    open.push(children);
                    depth = depth.max(open.len() as u64);
                    if depth > max_depth {
                        return Err(SchemaError::TooDeep(max_depth));
                    }
                } else {
                    columns += 1;
                    if columns > max_columns {
                        return Err(SchemaError::TooManyColumns(max_columns));
                    }
                }
                while open.last() == Some(&0) {
                    open.pop();
                }
            }
            return Ok(SchemaShape { depth, columns });
        }
        Err(SchemaError::Malformed)
    }

    /// One `SchemaElement`: its `num_children` (field 5; 0 for a leaf).
    fn element<B: HeaderBytes>(c: &mut Cursor<'_, B>) -> io::Result<i64> {
        let mut children = 0;
        let mut id = 0i64;
        while let Some((field, kind)) = c.field(&mut id)? {
            match (field, kind) {
                (5, I32) => children = c.zigzag()?,
                (_, kind) => c.skip_value(kind, 2)?,
            }
        }
        if children < 0 {
            return Err(malformed("negative num_children"));
        }
        Ok(children)
    }
}

impl PageSizes {
    /// Decode the page header at the start of `bytes`.
    pub(crate) fn read(bytes: &mut impl HeaderBytes) -> io::Result<PageSizes> {
        let mut c = Cursor { bytes, read: 0 };
        let (mut page_type, mut uncompressed, mut compressed) = (0, None, None);
        let mut id = 0i64;
        while let Some((field, kind)) = c.field(&mut id)? {
            match (field, kind) {
                (1, I32) => page_type = c.zigzag()?,
                (2, I32) => uncompressed = Some(c.zigzag()?),
                (3, I32) => compressed = Some(c.zigzag()?),
                (_, kind) => c.skip_value(kind, 1)?,
            }
        }
        match (uncompressed, compressed) {
            (Some(uncompressed), Some(compressed)) => Ok(PageSizes {
                kind: page_type,
                uncompressed,
                compressed,
                header_len: c.read,
            }),
            _ => Err(malformed("no page sizes")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Mem<'a>(&'a [u8]);

    impl HeaderBytes for Mem<'_> {
        fn byte(&mut self) -> io::Result<u8> {
            let (&b, rest) = self.0.split_first().ok_or(io::ErrorKind::UnexpectedEof)?;
            self.0 = rest;
            Ok(b)
        }

        fn skip(&mut self, n: u64) -> io::Result<()> {
            let n = usize::try_from(n).ok().filter(|&n| n <= self.0.len());
            self.0 = &self.0[n.ok_or(io::ErrorKind::UnexpectedEof)?..];
            Ok(())
        }
    }

    fn read(bytes: &[u8]) -> io::Result<PageSizes> {
        PageSizes::read(&mut Mem(bytes))
    }

    /// Field header: delta 1..=15 in the high nibble, the type in the low one.
    fn field(delta: u8, kind: u8) -> u8 {
        (delta << 4) | kind
    }

    #[test]
    fn sizes_and_length_of_a_header_with_fields_to_skip() {
        // type 0 (DATA_PAGE), uncompressed 300 (zigzag 600 = 0xd8 0x04), compressed 5 (zigzag 10),
        // crc, then a data page header struct {num_values: 2, statistics: {max: binary "zz"}}, STOP.
        let header = [
            field(1, I32),
            0,
            field(1, I32),
            0xd8,
            0x04,
            field(1, I32),
            10,
            field(1, I32),
            2,
            field(1, STRUCT),
            field(1, I32),
            4,
            field(4, STRUCT),
            field(1, BINARY),
            2,
            b'z',
            b'z',
            STOP,
            STOP,
            STOP,
        ];
        let mut bytes = header.to_vec();
        bytes.extend_from_slice(b"page data");
        let sizes = read(&bytes).unwrap();
        assert_eq!(
            sizes,
            PageSizes {
                kind: 0,
                uncompressed: 300,
                compressed: 5,
                header_len: header.len() as u64
            }
        );
    }

    #[test]
    fn malformed_headers_are_errors_not_panics_or_loops() {
        let sizes = [field(2, I32), 2, field(1, I32), 2];
        // No sizes.
        assert!(read(&[STOP]).is_err());
        // Truncated.
        assert!(read(&sizes).is_err());
        // A varint that never ends.
        assert!(read(&[
            field(2, I32),
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff,
            0xff
        ])
        .is_err());
        // Nesting deeper than any real header.
        let mut deep = sizes.to_vec();
        deep.extend(std::iter::repeat_n(field(1, STRUCT), 40));
        assert!(read(&deep).unwrap_err().to_string().contains("nested too deeply"));
        // A binary longer than what follows; an unknown type.
        let mut long = sizes.to_vec();
        long.extend([field(1, BINARY), 0xff, 0xff, 0x03]);
        assert!(read(&long).is_err());
        let mut unknown = sizes.to_vec();
        unknown.extend([field(1, 13)]);
        assert!(read(&unknown).is_err());
        // Lists and maps of every kind are skipped by their counts.
        let mut lists = sizes.to_vec();
        lists.extend([field(1, LIST), (2 << 4) | BOOL_TRUE, 1, 0]);
        lists.extend([field(1, MAP), 1, (I32 << 4) | BINARY, 4, 1, b'x']);
        lists.extend([field(1, SET), (15 << 4) | I64, 2, 1, 2, STOP]);
        assert_eq!(read(&lists).unwrap().header_len, lists.len() as u64);
    }

    #[test]
    fn schema_shape_counts_depth_and_leaves_without_recursion() {
        // FileMetaData { 1: version 1, 2: [root {r, 2 children}, group {g, 1 child}, leaf a, leaf b] }
        #[rustfmt::skip]
        let meta = [
            field(1, I32), 2,
            field(1, LIST), (4 << 4) | STRUCT,
            field(4, BINARY), 1, b'r', field(1, I32), 4, STOP,
            field(4, BINARY), 1, b'g', field(1, I32), 2, STOP,
            field(1, I32), 2, field(3, BINARY), 1, b'a', STOP,
            field(1, I32), 2, field(3, BINARY), 1, b'b', STOP,
            STOP,
        ];
        let shape = SchemaShape::read(&mut Mem(&meta), 32, 100).unwrap();
        assert_eq!(shape, SchemaShape { depth: 2, columns: 2 });
        assert!(matches!(
            SchemaShape::read(&mut Mem(&meta), 1, 100),
            Err(SchemaError::TooDeep(1))
        ));
        assert!(matches!(
            SchemaShape::read(&mut Mem(&meta), 32, 1),
            Err(SchemaError::TooManyColumns(1))
        ));
        assert!(matches!(
            SchemaShape::read(&mut Mem(&meta[..9]), 32, 100),
            Err(SchemaError::Malformed)
        ));
    }
}
