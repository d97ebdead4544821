//! The `cjson` library redis loads: `cjson.encode`, `cjson.decode` and `cjson.null`, with
//! lua-cjson's defaults (numbers as `%.14g`, `/` escaped, a table an array when its keys are
//! 1..n — holes as `null` unless excessively sparse — else an object).
//!
//! `decode` reads as lua-cjson's decoder reads, and fails with its texts ("Expected value but
//! found T_END at character 1"): the text ends at its first NUL, a string may hold any other
//! byte (control characters too), numbers are what glibc's `strtod` reads (`+1`, `01`, `0x10`,
//! `1e400` as inf, `inf`, `nan`), arrays and objects nest up to 200 deep (lua-cjson: 1000), and an object's
//! repeated key keeps its last value.

use mlua::{LightUserData, Lua, MultiValue, Table, Value};

use super::convert::lua_number_text;
use super::structlib::{self, arg_error, c_function, check_string, Args, Outcome};

/// `cjson.null`: what JSON's null decodes to (a NULL light userdata, as lua-cjson's).
fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// An error at the script's line, as lua-cjson raises it through `luaL_error`.
fn error(lua: &Lua, text: &str) -> mlua::Error {
    let position = super::script_line(lua)
        .map(|line| format!("user_script:{line}: "))
        .unwrap_or_default();
    mlua::Error::RuntimeError(format!("{position}{text}"))
}

/// Lua-cjson's string escapes.
fn encode_string(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b if b < 0x20 || b == 0x7f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            b => out.push(b),
        }
    }
    out.push(b'"');
}

fn encode_number(lua: &Lua, n: f64, out: &mut Vec<u8>) -> mlua::Result<()> {
    if !n.is_finite() {
        return Err(error(
            lua,
            "Cannot serialise number: must not be NaN or Inf",
        ));
    }
    out.extend_from_slice(lua_number_text(n).as_bytes());
    Ok(())
}

/// The array length of a table whose keys are all positive integers (`None`: an object).
fn array_length(lua: &Lua, t: &Table) -> mlua::Result<Option<usize>> {
    let (mut max, mut items) = (0usize, 0usize);
    for pair in t.clone().pairs::<Value, Value>() {
        let (key, _) = pair?;
        let n = match key {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(None),
        };
        if n < 1.0 || n.fract() != 0.0 {
            return Ok(None);
        }
        max = max.max(n as usize);
        items += 1;
    }
    // lua-cjson's default sparseness rule: ratio 2, safe up to 10.
    if max > 10 && max > items * 2 {
        return Err(error(
            lua,
            "Cannot serialise table: excessively sparse array",
        ));
    }
    Ok(Some(max))
}

fn encode_value(lua: &Lua, value: &Value, depth: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match value {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(u) if u.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => encode_number(lua, *i as f64, out)?,
        Value::Number(n) => encode_number(lua, *n, out)?,
        Value::String(s) => encode_string(&s.as_bytes(), out),
        Value::Table(t) => {
            if depth >= MAX_DEPTH {
                return Err(error(
                    lua,
                    &format!("Cannot serialise, excessive nesting ({})", MAX_DEPTH + 1),
                ));
            }
            match array_length(lua, t)? {
                Some(len) if len > 0 || t.raw_len() > 0 => {
                    out.push(b'[');
                    for i in 1..=len {
                        if i > 1 {
                            out.push(b',');
                        }
                        encode_value(lua, &t.raw_get::<Value>(i)?, depth + 1, out)?;
                    }
                    out.push(b']');
                }
                _ => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in t.clone().pairs::<Value, Value>() {
                        let (key, item) = pair?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &key {
                            Value::String(s) => encode_string(&s.as_bytes(), out),
                            Value::Integer(i) => {
                                encode_string(lua_number_text(*i as f64).as_bytes(), out)
                            }
                            Value::Number(n) => encode_string(lua_number_text(*n).as_bytes(), out),
                            _ => {
                                return Err(error(
                                    lua,
                                    "Cannot serialise table: table key must be a number or string",
                                ))
                            }
                        }
                        out.push(b':');
                        encode_value(lua, &item, depth + 1, out)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => {
            return Err(error(
                lua,
                &format!("Cannot serialise {}: type not supported", other.type_name()),
            ))
        }
    }
    Ok(())
}

// Decoding: lua-cjson's tokenizer and parser, with its defaults (numbers read by glibc's
// `strtod`, so hex, `inf` and `nan` too; nesting up to 200 deep, lua-cjson's 1000) and its error texts.

/// How deep arrays and objects may nest, encoded or decoded. Lua-cjson allows 1000 levels;
/// Shardis 200, which the recursive encoder and decoder (and the decoded tree's drop) stay well
/// within on a 2 MiB thread stack even in a debug build (1000 levels overflowed it there).
const MAX_DEPTH: usize = 200;

/// A decoded JSON value, before it becomes Lua's (object members in input order, repeats
/// included: they are set one after another, the last one staying).
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Boolean(bool),
    Number(f64),
    String(Vec<u8>),
    Array(Vec<Json>),
    Object(Vec<(Vec<u8>, Json)>),
}

/// A token, as lua-cjson's `json_next_token` finds them.
#[derive(Debug)]
enum Token {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    String(Vec<u8>),
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    /// What is wrong ("invalid token", "invalid number", …), in place of a token's name.
    Error(&'static str),
}

impl Token {
    /// The token's name in error texts.
    fn name(&self) -> &'static str {
        match self {
            Token::ObjBegin => "T_OBJ_BEGIN",
            Token::ObjEnd => "T_OBJ_END",
            Token::ArrBegin => "T_ARR_BEGIN",
            Token::ArrEnd => "T_ARR_END",
            Token::String(_) => "T_STRING",
            Token::Number(_) => "T_NUMBER",
            Token::Boolean(_) => "T_BOOLEAN",
            Token::Null => "T_NULL",
            Token::Colon => "T_COLON",
            Token::Comma => "T_COMMA",
            Token::End => "T_END",
            Token::Error(what) => what,
        }
    }
}

/// Whether `s` starts with `prefix`, ignoring ASCII case (`strncasecmp`).
fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// The byte at `at`, 0 past the end (the text is read as a C string).
fn byte_at(s: &[u8], at: usize) -> u8 {
    s.get(at).copied().unwrap_or(0)
}

fn hex_digit(b: u8) -> Option<u32> {
    (b as char).to_digit(16)
}

/// 2^k, for k in -1022..=1023.
fn pow2(k: i64) -> f64 {
    f64::from_bits(((k + 1023) as u64) << 52)
}

/// `mantissa * 2^exp`, exact when the result is representable (else inf or 0 as rounding
/// gives: the mantissa is already rounded to the bits the result can hold).
fn scale(mantissa: u64, mut exp: i64) -> f64 {
    let mut x = mantissa as f64;
    while exp > 1000 {
        x *= pow2(1000);
        exp -= 1000;
    }
    while exp < -1000 {
        x *= pow2(-1000);
        exp += 1000;
    }
    x * pow2(exp)
}

/// `(m + a fraction, nonzero when sticky) * 2^exp`, rounded to nearest, ties to even.
fn round_binary(m: u64, sticky: bool, exp: i64) -> f64 {
    if m == 0 {
        return 0.0;
    }
    let bits = 64 - i64::from(m.leading_zeros());
    let top = exp + bits - 1;
    if top > 1023 {
        return f64::INFINITY;
    }
    // Bits the result keeps: 53, fewer for a subnormal (none or less: it rounds to 0 or 2^-1074).
    let precision = if top >= -1022 { 53 } else { top + 1075 };
    let shift = bits - precision;
    if shift <= 0 {
        return scale(m, exp);
    }
    let (kept, half, rest) = match shift {
        1..=63 => (
            m >> shift,
            (m >> (shift - 1)) & 1 == 1,
            m & ((1u64 << (shift - 1)) - 1) != 0,
        ),
        64 => (0, m >> 63 == 1, m << 1 != 0),
        _ => (0, false, true),
    };
    let mut mantissa = kept;
    if half && (rest || sticky || mantissa & 1 == 1) {
        mantissa += 1;
    }
    scale(mantissa, exp + shift)
}

/// `strtoull(s, &end, 0)` when it reads all of `s` (the payload of `nan(…)`), saturated.
fn strtoull_whole(s: &[u8]) -> Option<u64> {
    let (radix, digits) = match s {
        [] => return Some(0),
        [b'0', x, rest @ ..]
            if x | 0x20 == b'x' && rest.first().is_some_and(|&b| hex_digit(b).is_some()) =>
        {
            (16, rest)
        }
        [b'0', ..] => (8, s),
        _ => (10, s),
    };
    let mut n: u64 = 0;
    for &b in digits {
        let d = (b as char).to_digit(radix)?;
        n = n
            .checked_mul(u64::from(radix))
            .and_then(|n| n.checked_add(u64::from(d)))
            .unwrap_or(u64::MAX);
    }
    Some(n)
}

/// `nan` and what may follow it: `(chars)`, whose number (if all of it is one) becomes the
/// NaN's payload, as glibc sets it. `at` is just past `nan`.
fn strtod_nan(s: &[u8], at: usize) -> (f64, usize) {
    let mut value = f64::NAN;
    if byte_at(s, at) != b'(' {
        return (value, at);
    }
    let mut end = at + 1;
    while byte_at(s, end).is_ascii_alphanumeric() || byte_at(s, end) == b'_' {
        end += 1;
    }
    if byte_at(s, end) != b')' {
        return (value, at);
    }
    const PAYLOAD: u64 = (1 << 51) - 1;
    if let Some(m) = strtoull_whole(&s[at + 1..end]) {
        if m & PAYLOAD != 0 {
            value = f64::from_bits(f64::NAN.to_bits() | (m & PAYLOAD));
        }
    }
    (value, end + 1)
}

/// A hexadecimal number after its `0x` (at `at`): hex digits with a point somewhere perhaps,
/// then a binary exponent perhaps (`p`, a sign, decimal digits). `None` without a digit.
fn strtod_hex(s: &[u8], at: usize) -> Option<(f64, usize)> {
    let (mut m, mut exp, mut sticky) = (0u64, 0i64, false);
    let (mut digits, mut point) = (false, false);
    let mut end = at;
    loop {
        let b = byte_at(s, end);
        if let Some(d) = hex_digit(b) {
            digits = true;
            if m < 1 << 60 {
                m = m * 16 + u64::from(d);
                if point {
                    exp -= 4;
                }
            } else {
                sticky |= d != 0;
                if !point {
                    exp += 4;
                }
            }
        } else if b == b'.' && !point {
            point = true;
        } else {
            break;
        }
        end += 1;
    }
    if !digits {
        return None;
    }
    if byte_at(s, end) | 0x20 == b'p' {
        let mut i = end + 1;
        let negative = byte_at(s, i) == b'-';
        if matches!(byte_at(s, i), b'-' | b'+') {
            i += 1;
        }
        if byte_at(s, i).is_ascii_digit() {
            let mut e: i64 = 0;
            while byte_at(s, i).is_ascii_digit() {
                e = (e * 10 + i64::from(byte_at(s, i) - b'0')).min(1 << 40);
                i += 1;
            }
            exp += if negative { -e } else { e };
            end = i;
        }
    }
    Some((round_binary(m, sticky, exp), end))
}

/// A decimal number at `at`: digits with a point somewhere perhaps (a digit at least), then
/// an exponent perhaps (`e`, a sign, digits). `None` without a digit.
fn strtod_decimal(s: &[u8], at: usize) -> Option<(f64, usize)> {
    let mut end = at;
    let mut digits = 0;
    while byte_at(s, end).is_ascii_digit() {
        end += 1;
        digits += 1;
    }
    if byte_at(s, end) == b'.' {
        end += 1;
        while byte_at(s, end).is_ascii_digit() {
            end += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    let mantissa_end = end;
    if byte_at(s, end) | 0x20 == b'e' {
        let mut i = end + 1;
        if matches!(byte_at(s, i), b'-' | b'+') {
            i += 1;
        }
        if byte_at(s, i).is_ascii_digit() {
            while byte_at(s, i).is_ascii_digit() {
                i += 1;
            }
            end = i;
        }
    }
    // Rust's parser rounds correctly as glibc's does; it wants a digit before the exponent.
    let mut text = String::from_utf8_lossy(&s[at..mantissa_end]).into_owned();
    if text.ends_with('.') {
        text.push('0');
    }
    text.push_str(&String::from_utf8_lossy(&s[mantissa_end..end]));
    text.parse().ok().map(|n| (n, end))
}

/// glibc's `strtod` (C locale) at the start of `s`, read as a C string: the number and how
/// many bytes it took, or `None` where it reads no number. Unlike glibc's, no leading
/// whitespace is skipped (a token never starts with any).
fn strtod(s: &[u8]) -> Option<(f64, usize)> {
    let (negative, at) = match byte_at(s, 0) {
        b'-' => (true, 1),
        b'+' => (false, 1),
        _ => (false, 0),
    };
    let rest = &s[at.min(s.len())..];
    let (value, end) = if starts_with_ignore_case(rest, b"inf") {
        let end = if starts_with_ignore_case(&rest[3..], b"inity") {
            8
        } else {
            3
        };
        (f64::INFINITY, at + end)
    } else if starts_with_ignore_case(rest, b"nan") {
        strtod_nan(s, at + 3)
    } else {
        let hex = byte_at(s, at) == b'0' && byte_at(s, at + 1) | 0x20 == b'x';
        match hex.then(|| strtod_hex(s, at + 2)).flatten() {
            Some(found) => found,
            None => strtod_decimal(s, at)?,
        }
    };
    Some((if negative { -value } else { value }, end))
}

/// lua-cjson's decoder over one text.
struct Decoder<'a> {
    /// The text up to its first NUL (where lua-cjson, reading a C string, sees its end).
    text: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Decoder<'_> {
    fn byte(&self, at: usize) -> u8 {
        byte_at(self.text, at)
    }

    /// The next token and where it is (0-based; an error's is where it was found).
    fn next_token(&mut self) -> (Token, usize) {
        while matches!(self.byte(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let at = self.pos;
        let single = match self.byte(at) {
            0 => return (Token::End, at),
            b'{' => Token::ObjBegin,
            b'}' => Token::ObjEnd,
            b'[' => Token::ArrBegin,
            b']' => Token::ArrEnd,
            b',' => Token::Comma,
            b':' => Token::Colon,
            b'"' => {
                return match self.string() {
                    Ok(s) => (Token::String(s), at),
                    Err(what) => (Token::Error(what), self.pos),
                }
            }
            b'-' | b'0'..=b'9' => return (self.number(), at),
            b't' | b'f' | b'n' | b'i' | b'I' | b'N' | b'+' => return (self.word(), at),
            _ => return (Token::Error("invalid token"), at),
        };
        self.pos += 1;
        (single, at)
    }

    /// `true`, `false`, `null`, or what lua-cjson hands to `strtod` although JSON has no such
    /// number (`+…`, `inf…`, `nan…`, any case).
    fn word(&mut self) -> Token {
        let rest = &self.text[self.pos..];
        for (word, token) in [
            (&b"true"[..], Token::Boolean(true)),
            (b"false", Token::Boolean(false)),
            (b"null", Token::Null),
        ] {
            if rest.starts_with(word) {
                self.pos += word.len();
                return token;
            }
        }
        if rest[0] == b'+'
            || starts_with_ignore_case(rest, b"inf")
            || starts_with_ignore_case(rest, b"nan")
        {
            return self.number();
        }
        Token::Error("invalid token")
    }

    fn number(&mut self) -> Token {
        match strtod(&self.text[self.pos..]) {
            Some((n, len)) => {
                self.pos += len;
                Token::Number(n)
            }
            None => Token::Error("invalid number"),
        }
    }

    /// A string's bytes (any byte but NUL stands for itself, control characters too), its
    /// closing quote passed; on an error, `pos` is where it was found.
    fn string(&mut self) -> Result<Vec<u8>, &'static str> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.byte(self.pos) {
                b'"' => break,
                0 => return Err("unexpected end of string"),
                b'\\' => {
                    let unescaped = match self.byte(self.pos + 1) {
                        b'u' => {
                            self.pos += self.unicode_escape(&mut out)?;
                            continue;
                        }
                        b @ (b'"' | b'\\' | b'/') => b,
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        _ => return Err("invalid escape code"),
                    };
                    out.push(unescaped);
                    self.pos += 2;
                }
                b => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
        self.pos += 1;
        Ok(out)
    }

    /// `\uXXXX` at `pos`, or a surrogate pair `\uD8XX\uDCXX`, appended as UTF-8: the escape's
    /// length.
    fn unicode_escape(&self, out: &mut Vec<u8>) -> Result<usize, &'static str> {
        const INVALID: &str = "invalid unicode escape code";
        let hex4 = |at: usize| -> Option<u32> {
            (at..at + 4).try_fold(0, |n, i| Some(n * 16 + hex_digit(self.byte(i))?))
        };
        let mut code = hex4(self.pos + 2).ok_or(INVALID)?;
        let mut len = 6;
        if code & 0xf800 == 0xd800 {
            // A high surrogate, then a low one.
            if code & 0x400 != 0
                || self.byte(self.pos + 6) != b'\\'
                || self.byte(self.pos + 7) != b'u'
            {
                return Err(INVALID);
            }
            let low = hex4(self.pos + 8).ok_or(INVALID)?;
            if low & 0xfc00 != 0xdc00 {
                return Err(INVALID);
            }
            code = (((code & 0x3ff) << 10) | (low & 0x3ff)) + 0x10000;
            len = 12;
        }
        // Every code here is a scalar value: surrogates only come paired.
        let c = char::from_u32(code).ok_or(INVALID)?;
        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        Ok(len)
    }

    /// "Expected `what` but found `token` at character `n`".
    fn expected(what: &str, (token, at): (Token, usize)) -> String {
        format!(
            "Expected {what} but found {} at character {}",
            token.name(),
            at + 1
        )
    }

    fn value(&mut self, token: (Token, usize)) -> Result<Json, String> {
        Ok(match token.0 {
            Token::String(s) => Json::String(s),
            Token::Number(n) => Json::Number(n),
            Token::Boolean(b) => Json::Boolean(b),
            Token::Null => Json::Null,
            Token::ObjBegin => self.object()?,
            Token::ArrBegin => self.array()?,
            _ => return Err(Self::expected("value", token)),
        })
    }

    /// One level deeper, past an opening bracket.
    fn descend(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth, self.pos
            ));
        }
        Ok(())
    }

    fn object(&mut self) -> Result<Json, String> {
        self.descend()?;
        let mut members = Vec::new();
        let mut token = self.next_token();
        if matches!(token.0, Token::ObjEnd) {
            self.depth -= 1;
            return Ok(Json::Object(members));
        }
        loop {
            let Token::String(key) = token.0 else {
                return Err(Self::expected("object key string", token));
            };
            token = self.next_token();
            if !matches!(token.0, Token::Colon) {
                return Err(Self::expected("colon", token));
            }
            let next = self.next_token();
            members.push((key, self.value(next)?));
            token = self.next_token();
            match token.0 {
                Token::ObjEnd => {
                    self.depth -= 1;
                    return Ok(Json::Object(members));
                }
                Token::Comma => token = self.next_token(),
                _ => return Err(Self::expected("comma or object end", token)),
            }
        }
    }

    fn array(&mut self) -> Result<Json, String> {
        self.descend()?;
        let mut items = Vec::new();
        let mut token = self.next_token();
        if matches!(token.0, Token::ArrEnd) {
            self.depth -= 1;
            return Ok(Json::Array(items));
        }
        loop {
            items.push(self.value(token)?);
            token = self.next_token();
            match token.0 {
                Token::ArrEnd => {
                    self.depth -= 1;
                    return Ok(Json::Array(items));
                }
                Token::Comma => token = self.next_token(),
                _ => return Err(Self::expected("comma or array end", token)),
            }
        }
    }
}

/// lua-cjson's `decode` over `text`: the value, or the text of the error it raises.
fn decode_json(text: &[u8]) -> Result<Json, String> {
    // Only the first character of a JSON text is sure to be ASCII: a NUL there or next is
    // taken for UTF-16 or UTF-32.
    if text.len() >= 2 && (text[0] == 0 || text[1] == 0) {
        return Err("JSON parser does not support UTF-16 or UTF-32".into());
    }
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    let mut decoder = Decoder {
        text: &text[..end],
        pos: 0,
        depth: 0,
    };
    let first = decoder.next_token();
    let value = decoder.value(first)?;
    let last = decoder.next_token();
    if !matches!(last.0, Token::End) {
        return Err(Decoder::expected("the end", last));
    }
    Ok(value)
}

/// A decoded value as Lua's, its tables filled in lua-cjson's order (so that their layout,
/// and what `pairs` and `#` see, is the same).
fn to_lua(lua: &Lua, json: Json) -> mlua::Result<Value> {
    Ok(match json {
        Json::Null => null(),
        Json::Boolean(b) => Value::Boolean(b),
        Json::Number(n) => Value::Number(n),
        Json::String(s) => Value::String(lua.create_string(s)?),
        Json::Array(items) => {
            let t = lua.create_table()?;
            for (i, item) in items.into_iter().enumerate() {
                t.raw_set(i + 1, to_lua(lua, item)?)?;
            }
            Value::Table(t)
        }
        Json::Object(members) => {
            let t = lua.create_table()?;
            for (key, item) in members {
                t.raw_set(lua.create_string(key)?, to_lua(lua, item)?)?;
            }
            Value::Table(t)
        }
    })
}

/// `cjson.decode(text)`: exactly one argument, a string (or a number, as Lua writes it).
fn decode(lua: &Lua, args: &Args) -> Outcome<Vec<Value>> {
    if args.count() != 1 {
        return Err(arg_error(lua, 1, "expected 1 argument"));
    }
    let text = check_string(lua, args, 1)?;
    let json = decode_json(&text.as_bytes()).map_err(|e| structlib::error(lua, e))?;
    Ok(vec![to_lua(lua, json)?])
}

/// The `cjson` table (made read-only by the prelude).
pub fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "encode",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() != 1 {
                return Err(error(
                    lua,
                    "bad argument #1 to 'encode' (expected 1 argument)",
                ));
            }
            let mut out = Vec::new();
            encode_value(lua, &args[0], 0, &mut out)?;
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set("decode", c_function(lua, decode)?)?;
    t.raw_set("null", null())?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(text: &str) -> f64 {
        match decode_json(text.as_bytes()) {
            Ok(Json::Number(n)) => n,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn failure(text: &[u8]) -> String {
        match decode_json(text) {
            Err(e) => e,
            Ok(v) => panic!("{:?} decoded to {v:?}", String::from_utf8_lossy(text)),
        }
    }

    #[test]
    fn values_decode_as_lua_cjson_decodes_them() {
        let s = |s: &str| Json::String(s.as_bytes().to_vec());
        assert_eq!(
            decode_json(br#" [1, "a", {"b": [true, false, null]}, {}, []] "#),
            Ok(Json::Array(vec![
                Json::Number(1.0),
                s("a"),
                Json::Object(vec![(
                    b"b".to_vec(),
                    Json::Array(vec![Json::Boolean(true), Json::Boolean(false), Json::Null])
                )]),
                Json::Object(vec![]),
                Json::Array(vec![]),
            ]))
        );
        // Repeated keys are all kept, in order: the last one set wins.
        assert_eq!(
            decode_json(br#"{"":1,"a":2,"a":3}"#),
            Ok(Json::Object(vec![
                (b"".to_vec(), Json::Number(1.0)),
                (b"a".to_vec(), Json::Number(2.0)),
                (b"a".to_vec(), Json::Number(3.0)),
            ]))
        );
        // Escapes, surrogate pairs as one UTF-8 character, raw control and non-UTF-8 bytes.
        assert_eq!(
            decode_json(b"\"\\u00e9\\ud83d\\ude00\\u0000\\/\\b\\f\\n\\r\\t\\\"\\\\\"").unwrap(),
            s("\u{e9}\u{1f600}\0/\u{8}\u{c}\n\r\t\"\\")
        );
        assert_eq!(
            decode_json(b"\"a\tb\nc\x01\x7f\xff\"").unwrap(),
            Json::String(b"a\tb\nc\x01\x7f\xff".to_vec())
        );
        // The text ends at its first NUL.
        assert_eq!(
            decode_json(b"[1] \0 x"),
            Ok(Json::Array(vec![Json::Number(1.0)]))
        );
        // MAX_DEPTH levels are allowed, one more is not.
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(decode_json(deep(MAX_DEPTH).as_bytes()).is_ok());
        assert!(decode_json(deep(MAX_DEPTH + 1).as_bytes()).is_err());
    }

    #[test]
    fn numbers_read_as_strtod_reads_them() {
        for (text, n) in [
            ("0", 0.0),
            ("-7.9", -7.9),
            ("1E+2", 100.0),
            ("+1", 1.0),
            ("01", 1.0),
            ("1.", 1.0),
            ("-.5", -0.5),
            ("0x10", 16.0),
            ("-0X1.8p1", -3.0),
            ("0x.8", 0.5),
            ("0x1.fffffffffffff8p0", 2.0),
            ("0x1.00000000000008p0", 1.0),
            ("0x1.000000000000080000001p0", 1.0 + f64::EPSILON),
            ("0x1p-1074", 5e-324),
            ("0x1p-1075", 0.0),
            ("0x1.0000000000001p-1075", 5e-324),
            ("0x1.fffffffffffff8p1023", f64::INFINITY),
            ("0x1p99999999999999999999", f64::INFINITY),
            ("123456789012345678901234567890", 1.2345678901234568e29),
            ("4.9406564584124654e-324", 5e-324),
            ("1e400", f64::INFINITY),
            ("-1e400", f64::NEG_INFINITY),
            ("1e-400", 0.0),
            ("1e99999999999999999999", f64::INFINITY),
            ("inf", f64::INFINITY),
            ("-Infinity", f64::NEG_INFINITY),
            ("+INF", f64::INFINITY),
        ] {
            assert_eq!(number(text), n, "{text}");
        }
        assert!(number("-0").is_sign_negative());
        for (text, bits) in [
            ("nan", 0x7ff8_0000_0000_0000u64),
            ("-NaN", 0xfff8_0000_0000_0000),
            ("nan()", 0x7ff8_0000_0000_0000),
            ("nan(123)", 0x7ff8_0000_0000_007b),
            ("-nan(0x5)", 0xfff8_0000_0000_0005),
            ("nan(010)", 0x7ff8_0000_0000_0008),
            ("nan(08)", 0x7ff8_0000_0000_0000),
            ("nan(abc_)", 0x7ff8_0000_0000_0000),
            ("nan(0xffffffffffffffffffff)", 0x7fff_ffff_ffff_ffff),
        ] {
            assert_eq!(number(text).to_bits(), bits, "{text}");
        }
        // What strtod leaves unread is the next token.
        for (text, consumed) in [
            ("0x", 1),
            ("0xg", 1),
            ("1e", 1),
            ("1e+", 1),
            ("0x1p", 3),
            ("infinit", 3),
            ("nan(1", 3),
            ("1.2.3", 3),
        ] {
            assert_eq!(
                strtod(text.as_bytes()).map(|(_, n)| n),
                Some(consumed),
                "{text}"
            );
        }
        for text in ["", "-", "+", ".", "-.e1", "- 1", "--1", "x"] {
            assert_eq!(strtod(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn errors_are_worded_as_lua_cjson_words_them() {
        let deepest = "[".repeat(MAX_DEPTH + 1);
        let deepest_object = "{\"a\":".repeat(MAX_DEPTH + 1);
        for (text, message) in [
            (
                &b"{"[..],
                "Expected object key string but found T_END at character 2",
            ),
            (b"", "Expected value but found T_END at character 1"),
            (b" \t\r\n", "Expected value but found T_END at character 5"),
            (
                b"\x0c1",
                "Expected value but found invalid token at character 1",
            ),
            (
                b"[1,2",
                "Expected comma or array end but found T_END at character 5",
            ),
            (
                b"[1 2]",
                "Expected comma or array end but found T_NUMBER at character 4",
            ),
            (b"[1,]", "Expected value but found T_ARR_END at character 4"),
            (
                b"[]]",
                "Expected the end but found T_ARR_END at character 3",
            ),
            (
                b"[1:2]",
                "Expected comma or array end but found T_COLON at character 3",
            ),
            (
                b"{1:2}",
                "Expected object key string but found T_NUMBER at character 2",
            ),
            (
                br#"{"a" 1}"#,
                "Expected colon but found T_NUMBER at character 6",
            ),
            (
                br#"{"a":1 "b"}"#,
                "Expected comma or object end but found T_STRING at character 8",
            ),
            (
                br#"{"a":1,}"#,
                "Expected object key string but found T_OBJ_END at character 8",
            ),
            (
                br#"{"a":}"#,
                "Expected value but found T_OBJ_END at character 6",
            ),
            (
                b"{}}",
                "Expected the end but found T_OBJ_END at character 3",
            ),
            (
                b"[{]",
                "Expected object key string but found T_ARR_END at character 3",
            ),
            (
                b"[1] x",
                "Expected the end but found invalid token at character 5",
            ),
            (
                b"truex",
                "Expected the end but found invalid token at character 5",
            ),
            (
                b"[true,null,false,tru]",
                "Expected value but found invalid token at character 18",
            ),
            (
                b"NULL",
                "Expected value but found invalid token at character 1",
            ),
            (
                b".5",
                "Expected value but found invalid token at character 1",
            ),
            (
                b"[-]",
                "Expected value but found invalid number at character 2",
            ),
            (
                b"+",
                "Expected value but found invalid number at character 1",
            ),
            (
                b"[0x]",
                "Expected comma or array end but found invalid token at character 3",
            ),
            (
                b"\"abc",
                "Expected value but found unexpected end of string at character 5",
            ),
            (
                b"\"ab\0c\"",
                "Expected value but found unexpected end of string at character 4",
            ),
            (
                br#""a\x""#,
                "Expected value but found invalid escape code at character 3",
            ),
            (
                br#""a\"#,
                "Expected value but found invalid escape code at character 3",
            ),
            (
                br#""\u12""#,
                "Expected value but found invalid unicode escape code at character 2",
            ),
            (
                br#"["\ud83d"]"#,
                "Expected value but found invalid unicode escape code at character 3",
            ),
            (
                br#""\ude00""#,
                "Expected value but found invalid unicode escape code at character 2",
            ),
            (
                br#""x\ud83d\u0041""#,
                "Expected value but found invalid unicode escape code at character 3",
            ),
            (
                br#""\ud83d\""#,
                "Expected value but found invalid unicode escape code at character 2",
            ),
            (
                deepest.as_bytes(),
                "Found too many nested data structures (201) at character 201",
            ),
            (
                deepest_object.as_bytes(),
                "Found too many nested data structures (201) at character 1001",
            ),
            (b"1\0", "JSON parser does not support UTF-16 or UTF-32"),
            (b"\0[]", "JSON parser does not support UTF-16 or UTF-32"),
            (b"\0", "Expected value but found T_END at character 1"),
        ] {
            assert_eq!(
                failure(text),
                message,
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn decode_raises_its_errors_as_lua_strings_at_the_callers_line() {
        let lua = Lua::new();
        lua.globals().set("cjson", table(&lua).unwrap()).unwrap();
        let run = |code: &str| -> String {
            match lua.load(code).set_name("@user_script").eval::<Value>() {
                Ok(v) => format!("{v:?}"),
                Err(e) => e.to_string(),
            }
        };
        let caught = |code: &str| -> String {
            lua.load(code)
                .set_name("@user_script")
                .eval::<mlua::String>()
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        };
        assert!(run("\nreturn cjson.decode('[1,2')")
            .contains("user_script:2: Expected comma or array end but found T_END at character 5"));
        assert_eq!(
            caught("return select(2, pcall(cjson.decode, '{'))"),
            "Expected object key string but found T_END at character 2"
        );
        assert_eq!(
            caught("return select(2, pcall(function() return cjson.decode() end))"),
            "user_script:1: bad argument #1 to 'decode' (expected 1 argument)"
        );
        assert_eq!(
            caught("return select(2, pcall(function() local d = cjson.decode; d(1, 2) end))"),
            "user_script:1: bad argument #1 to 'd' (expected 1 argument)"
        );
        assert_eq!(
            caught("return select(2, pcall(function() return cjson.decode({}) end))"),
            "user_script:1: bad argument #1 to 'decode' (string expected, got table)"
        );
        assert_eq!(
            caught("local t = cjson.decode('{\"a\":[1,null,\"x\"]}') return type(t.a[2]) .. #t.a .. t.a[3]"),
            "userdata3x"
        );
        assert_eq!(caught("return tostring(cjson.decode(1.5))"), "1.5");
        assert_eq!(caught("return tostring(cjson.decode('-0'))"), "-0");
        assert_eq!(
            caught("return tostring(cjson.decode('[null]')[1] == cjson.null)"),
            "true"
        );
    }
}
