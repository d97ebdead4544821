//! Helpers for reading command arguments the way redis-server reads them.

use bytes::Bytes;

use super::errors;
use crate::protocol::parse::parse_i64;
use crate::protocol::Frame;

/// The arguments of one command, `argv[0]` being its name.
pub type Argv = Vec<Bytes>;

/// An integer argument (`string2ll` rules), or the standard not-an-integer error.
pub fn int(arg: &[u8]) -> Result<i64, Frame> {
    parse_i64(arg).ok_or_else(errors::not_integer)
}

/// True when `arg` equals `word`, ignoring ASCII case.
pub fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// A float argument as redis's `string2ld`: no leading space, nothing after the number, not NaN.
/// Accepts `inf`/`-inf`.
pub fn float(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() || arg.len() > 5000 || arg[0].is_ascii_whitespace() {
        return None;
    }
    let text = std::str::from_utf8(arg).ok()?;
    let lower = text.to_ascii_lowercase();
    // Rust accepts "infinity"/"nan" spellings that strtold also accepts; reject NaN afterwards.
    let v: f64 = lower.parse().ok()?;
    (!v.is_nan()).then_some(v)
}

/// Formats a float the way `INCRBYFLOAT` prints it: plain decimal, no exponent, no trailing zeros.
pub fn format_float_human(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e17 {
        return format!("{}", v as i64);
    }
    let text = format!("{v}");
    if !text.contains('e') {
        return text;
    }
    let mut s = format!("{v:.17}");
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    s
}
