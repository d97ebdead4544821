//! The options of the scans over one collection's elements (HSCAN, and SSCAN and ZSCAN after
//! it): `cursor [MATCH pattern] [COUNT count]`, read as redis's `scanGenericCommand` reads them.

use bytes::Bytes;

use super::args::{self, from_int, word, Argv};
use super::errors;
use super::keys::parse_cursor;
use crate::protocol::Frame;

/// HSCAN/SSCAN/ZSCAN's options.
#[derive(Clone, Debug, PartialEq)]
pub struct ElementScan {
    /// Where to go on from (0: the start).
    pub cursor: u64,
    /// MATCH pattern (`None` for none, or `*`).
    pub pattern: Option<Bytes>,
    /// COUNT: about how many elements to visit.
    pub count: usize,
}

impl ElementScan {
    /// Parses the cursor at `argv[at]` and the options after it. Redis's errors: `invalid
    /// cursor`, a COUNT below 1 or an unknown option (TYPE included: only SCAN has it) is a
    /// syntax error.
    pub fn parse(argv: &Argv, at: usize) -> Result<ElementScan, Frame> {
        let mut scan = ElementScan {
            cursor: parse_cursor(&argv[at])?,
            pattern: None,
            count: 10,
        };
        let mut i = at + 1;
        while i < argv.len() {
            let value = argv.get(i + 1).ok_or_else(errors::syntax)?;
            if args::is(&argv[i], "count") {
                let n = args::int(value)?;
                if n < 1 {
                    return Err(errors::syntax());
                }
                scan.count = n as usize;
            } else if args::is(&argv[i], "match") {
                scan.pattern = (value.as_ref() != b"*").then(|| value.clone());
            } else {
                return Err(errors::syntax());
            }
            i += 2;
        }
        Ok(scan)
    }

    /// The options as arguments (after the key), parsing back to the same scan.
    pub fn to_args(&self) -> Vec<Bytes> {
        let mut out = vec![Bytes::from(self.cursor.to_string())];
        if let Some(p) = &self.pattern {
            out.extend([word("match"), p.clone()]);
        }
        out.extend([word("count"), from_int(self.count as i64)]);
        out
    }

    /// True when `element` passes the MATCH filter.
    pub fn matches(&self, element: &[u8]) -> bool {
        self.pattern
            .as_ref()
            .is_none_or(|p| crate::glob::matches(p, element, false))
    }
}

/// A scan's reply: the next cursor and the elements found, as a flat array in both protocols.
pub fn reply(next: u64, elements: Vec<Frame>) -> Frame {
    Frame::Array(vec![
        Frame::bulk_from(next.to_string().as_bytes()),
        Frame::Array(elements),
    ])
}
