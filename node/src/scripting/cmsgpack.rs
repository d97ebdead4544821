//! The `cmsgpack` library redis loads (lua-cmsgpack 0.4.0): `cmsgpack.pack(…)` gives the
//! MessagePack of its arguments one after the other, `cmsgpack.unpack(s)` every value of `s`,
//! `cmsgpack.unpack_one(s [, offset])` and `cmsgpack.unpack_limit(s, limit [, offset])` the
//! offset to go on from (-1 at the end) then the values read.
//!
//! Lua-cmsgpack's own choices make the bytes: a number an `int64_t` holds exactly is the
//! smallest integer form, any other a float32 when one holds it exactly, else a float64;
//! strings are fixstr/str8/str16/str32 (never bin); a table is an array when its keys are
//! exactly 1..n (an empty table too), else a map, in `next` order; a table nested 16 deep, a
//! function or a userdata is nil. Decoding takes every form but bin and ext; a uint64 past
//! `i64::MAX` reads as negative, as the C reads it.

use mlua::{Lua, Table, Value};

use super::structlib::{
    arg_error, c_function, c_i64, check_integer, check_stack, check_string, error, exact,
    opt_integer, Args, Failure, Outcome, MAX_STACK,
};

/// Tables nested deeper than this are packed as nil (which also ends reference cycles).
const MAX_NESTING: usize = 16;

/// `n`'s integer form: the smallest of fixint, (u)int8/16/32/64, by sign.
fn encode_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        match n {
            0..=0x7f => out.push(n as u8),
            0x80..=0xff => out.extend([0xcc, n as u8]),
            0x100..=0xffff => {
                out.push(0xcd);
                out.extend((n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(0xce);
                out.extend((n as u32).to_be_bytes());
            }
            _ => {
                out.push(0xcf);
                out.extend(n.to_be_bytes());
            }
        }
    } else {
        match n {
            -32..=-1 => out.push(n as u8),
            -128..=-33 => out.extend([0xd0, n as u8]),
            -32768..=-129 => {
                out.push(0xd1);
                out.extend((n as i16).to_be_bytes());
            }
            -2_147_483_648..=-32769 => {
                out.push(0xd2);
                out.extend((n as i32).to_be_bytes());
            }
            _ => {
                out.push(0xd3);
                out.extend(n.to_be_bytes());
            }
        }
    }
}

/// A float32 when one holds `d` exactly (infinities too), else a float64.
fn encode_double(d: f64, out: &mut Vec<u8>) {
    let f = d as f32;
    if f64::from(f) == d {
        out.push(0xca);
        out.extend(f.to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend(d.to_be_bytes());
    }
}

/// A Lua number: an integer when an `int64_t` holds it exactly (-0 is 0), else a float.
fn encode_number(n: f64, out: &mut Vec<u8>) {
    let i = c_i64(n);
    if !n.is_infinite() && i as f64 == n {
        encode_int(i, out);
    } else {
        encode_double(n, out);
    }
}

/// A string: its length's header (fixstr, str8, str16, str32), then its bytes.
fn encode_bytes(s: &[u8], out: &mut Vec<u8>) {
    let len = s.len();
    match len {
        0..=31 => out.push(0xa0 | len as u8),
        32..=0xff => out.extend([0xd9, len as u8]),
        0x100..=0xffff => {
            out.push(0xda);
            out.extend((len as u16).to_be_bytes());
        }
        _ => {
            out.push(0xdb);
            out.extend((len as u32).to_be_bytes());
        }
    }
    out.extend_from_slice(s);
}

/// An array (`map` false) or map header of `n` items.
fn encode_header(n: usize, map: bool, out: &mut Vec<u8>) {
    let (fix, wide) = if map { (0x80, 0xde) } else { (0x90, 0xdc) };
    match n {
        0..=15 => out.push(fix | n as u8),
        16..=0xffff => {
            out.push(wide);
            out.extend((n as u16).to_be_bytes());
        }
        _ => {
            out.push(wide + 1);
            out.extend((n as u32).to_be_bytes());
        }
    }
}

/// True when the keys of `t` are exactly 1..n (each a number an `int` holds), n being their
/// count: lua-cmsgpack's test for an array (an empty table is one).
fn is_array(t: &Table) -> mlua::Result<bool> {
    let (mut count, mut max) = (0i64, 0i64);
    for pair in t.clone().pairs::<Value, Value>() {
        let n = match pair?.0 {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(false),
        };
        if n <= 0.0 || n.fract() != 0.0 || n > f64::from(i32::MAX) {
            return Ok(false);
        }
        max = max.max(n as i64);
        count += 1;
    }
    Ok(max == count)
}

/// Packs Lua values, keeping count of the stack slots the C would use (its errors past
/// [`MAX_STACK`]).
struct Packer<'a> {
    lua: &'a Lua,
    out: Vec<u8>,
}

impl Packer<'_> {
    /// Packs `value`, `level` tables deep, with `top` stack slots in use (itself included).
    fn value(&mut self, value: &Value, level: usize, top: usize) -> Outcome<()> {
        match value {
            Value::String(s) => encode_bytes(&s.as_bytes(), &mut self.out),
            Value::Boolean(b) => self.out.push(if *b { 0xc3 } else { 0xc2 }),
            Value::Integer(i) => encode_number(*i as f64, &mut self.out),
            Value::Number(n) => encode_number(*n, &mut self.out),
            Value::Table(t) if level < MAX_NESTING => self.table(t, level, top)?,
            _ => self.out.push(0xc0),
        }
        Ok(())
    }

    fn table(&mut self, t: &Table, level: usize, top: usize) -> Outcome<()> {
        let lua = self.lua;
        check_stack(lua, top, 2, "in function table_is_an_array")?;
        if is_array(t)? {
            let len = t.raw_len();
            encode_header(len, false, &mut self.out);
            check_stack(lua, top, 1, "in function mp_encode_lua_table_as_array")?;
            for i in 1..=len {
                self.value(&exact(t, i)?, level + 1, top + 1)?;
            }
            return Ok(());
        }
        check_stack(lua, top, 3, "in function mp_encode_lua_table_as_map")?;
        let len = t.clone().pairs::<Value, Value>().count();
        encode_header(len, true, &mut self.out);
        for pair in t.clone().pairs::<Value, Value>() {
            let (key, item) = pair?;
            let item = match item {
                Value::Integer(0) => exact(t, key.clone())?,
                item => item,
            };
            self.value(&key, level + 1, top + 3)?;
            self.value(&item, level + 1, top + 2)?;
        }
        Ok(())
    }
}

/// `cmsgpack.pack(…)`.
fn pack(lua: &Lua, args: &Args) -> Outcome<Vec<Value>> {
    let n = args.count();
    if n == 0 {
        return Err(arg_error(lua, 0, "MessagePack pack needs input."));
    }
    if n + n > MAX_STACK {
        return Err(arg_error(
            lua,
            0,
            "Too many arguments for MessagePack pack.",
        ));
    }
    let mut packer = Packer {
        lua,
        out: Vec::new(),
    };
    for at in 1..=n {
        // The C keeps each argument's bytes on the stack until it joins them.
        check_stack(lua, n + at - 1, 1, "in function mp_check")?;
        packer.value(&args.get(at)?, 0, n + at)?;
    }
    Ok(vec![Value::String(lua.create_string(packer.out)?)])
}

/// A value that is no table, as read.
#[derive(Debug, PartialEq)]
enum Scalar<'a> {
    Nil,
    Bool(bool),
    Number(f64),
    Str(&'a [u8]),
}

/// The start of a value: a whole value that is no table, or the header of one.
#[derive(Debug, PartialEq)]
enum Head<'a> {
    Scalar(Scalar<'a>),
    Array(usize),
    Map(usize),
}

/// Why reading stopped.
#[derive(Debug, PartialEq)]
enum DecodeError {
    /// The input ends inside a value.
    Eof,
    /// A byte no value starts with.
    BadFormat,
    /// The C's Lua stack would overflow: `luaL_checkstack`'s reason.
    Stack(&'static str),
    /// A map key that Lua tables refuse (nil, NaN): the Lua error's text.
    Index(&'static str),
}

/// What stops reading: the input, or the Lua state.
enum Stop {
    Decode(DecodeError),
    Lua(mlua::Error),
}

impl From<DecodeError> for Stop {
    fn from(e: DecodeError) -> Self {
        Stop::Decode(e)
    }
}

impl From<mlua::Error> for Stop {
    fn from(e: mlua::Error) -> Self {
        Stop::Lua(e)
    }
}

/// The C reads the stack overflow of too many values (or too deep ones) so.
const TOO_MANY: &str = "too many return values at once; use unpack_one or unpack_limit instead.";

/// A table being filled while reading (tables nest as deep as the input says: they are kept
/// here rather than on the Rust stack).
struct Open {
    table: Table,
    map: bool,
    /// Items (or pairs) still to read.
    left: usize,
    /// The index of an array's next item.
    index: usize,
    /// A map's key, read, waiting for its value.
    key: Option<Value>,
    /// Stack slots the C had in use before the table.
    top: usize,
}

impl Open {
    /// The stack slots in use before the next value of the table: the table takes one, an
    /// array's index or a map's key another.
    fn next_top(&self) -> usize {
        if self.map && self.key.is_none() {
            self.top + 1
        } else {
            self.top + 2
        }
    }
}

/// A new table of `n` items (pairs for a `map`): itself when empty, else opened for its
/// items to be read into.
fn open_table(
    lua: &Lua,
    n: usize,
    map: bool,
    top: usize,
    open: &mut Vec<Open>,
) -> mlua::Result<Option<Value>> {
    let table = lua.create_table()?;
    if n == 0 {
        return Ok(Some(Value::Table(table)));
    }
    open.push(Open {
        table,
        map,
        left: n,
        index: 1,
        key: None,
        top,
    });
    Ok(None)
}

/// Reads values from `data`, from `at`.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn left(&self) -> usize {
        self.data.len() - self.at
    }

    /// The next `n` bytes, past them.
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.left() < n {
            return Err(DecodeError::Eof);
        }
        let bytes = &self.data[self.at..self.at + n];
        self.at += n;
        Ok(bytes)
    }

    /// A big-endian length or number of `n` bytes (after the first byte, still unread).
    fn word(&mut self, n: usize) -> Result<u64, DecodeError> {
        let bytes = self.take(1 + n)?;
        Ok(bytes[1..]
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// A string whose length takes `n` bytes after the first.
    fn string(&mut self, n: usize) -> Result<Head<'a>, DecodeError> {
        let len = self.word(n)? as usize;
        Ok(Head::Scalar(Scalar::Str(self.take(len)?)))
    }

    /// The start of the next value, with `top` stack slots in use before it.
    fn head(&mut self, top: usize) -> Result<Head<'a>, DecodeError> {
        let Some(&first) = self.data.get(self.at) else {
            return Err(DecodeError::Eof);
        };
        if top + 1 > MAX_STACK {
            return Err(DecodeError::Stack(TOO_MANY));
        }
        let number = |n: f64| Ok(Head::Scalar(Scalar::Number(n)));
        match first {
            0xc0 => self.take(1).map(|_| Head::Scalar(Scalar::Nil)),
            0xc2 | 0xc3 => self
                .take(1)
                .map(|_| Head::Scalar(Scalar::Bool(first == 0xc3))),
            0xcc => number(self.word(1)? as f64),
            0xcd => number(self.word(2)? as f64),
            0xce => number(self.word(4)? as f64),
            // The C pushes it as a `lua_Integer`: past i64::MAX it wraps negative.
            0xcf => number(self.word(8)? as i64 as f64),
            0xd0 => number(f64::from(self.word(1)? as u8 as i8)),
            0xd1 => number(f64::from(self.word(2)? as u16 as i16)),
            0xd2 => number(f64::from(self.word(4)? as u32 as i32)),
            0xd3 => number(self.word(8)? as i64 as f64),
            0xca => number(f64::from(f32::from_bits(self.word(4)? as u32))),
            0xcb => number(f64::from_bits(self.word(8)?)),
            0xd9 => self.string(1),
            0xda => self.string(2),
            0xdb => self.string(4),
            0xdc => Ok(Head::Array(self.word(2)? as usize)),
            0xdd => Ok(Head::Array(self.word(4)? as usize)),
            0xde => Ok(Head::Map(self.word(2)? as usize)),
            0xdf => Ok(Head::Map(self.word(4)? as usize)),
            0x00..=0x7f => self
                .take(1)
                .map(|_| Head::Scalar(Scalar::Number(f64::from(first)))),
            0xe0..=0xff => self
                .take(1)
                .map(|_| Head::Scalar(Scalar::Number(f64::from(first as i8)))),
            0xa0..=0xbf => {
                self.take(1)?;
                Ok(Head::Scalar(Scalar::Str(
                    self.take(usize::from(first & 0x1f))?,
                )))
            }
            0x90..=0x9f => self.take(1).map(|_| Head::Array(usize::from(first & 0x0f))),
            0x80..=0x8f => self.take(1).map(|_| Head::Map(usize::from(first & 0x0f))),
            _ => Err(DecodeError::BadFormat),
        }
    }

    /// One value as the Lua value the C makes of it, with `top` stack slots in use before it:
    /// tables filled in the same order, nils included, so that they are laid out (and iterate)
    /// the same.
    fn value(&mut self, lua: &Lua, top: usize) -> Result<Value, Stop> {
        let mut open: Vec<Open> = Vec::new();
        loop {
            let at = open.last().map_or(top, Open::next_top);
            let mut done = match self.head(at)? {
                Head::Scalar(Scalar::Nil) => Value::Nil,
                Head::Scalar(Scalar::Bool(b)) => Value::Boolean(b),
                Head::Scalar(Scalar::Number(n)) => Value::Number(n),
                Head::Scalar(Scalar::Str(s)) => Value::String(lua.create_string(s)?),
                Head::Array(_) if at + 2 > MAX_STACK => {
                    return Err(DecodeError::Stack("in function mp_decode_to_lua_array").into())
                }
                Head::Array(n) => match open_table(lua, n, false, at, &mut open)? {
                    Some(empty) => empty,
                    None => continue,
                },
                Head::Map(n) => match open_table(lua, n, true, at, &mut open)? {
                    Some(empty) => empty,
                    None => continue,
                },
            };
            // Hand the value to its table; a table it completes is the next value handed up.
            loop {
                let Some(parent) = open.last_mut() else {
                    return Ok(done);
                };
                if parent.map {
                    let Some(key) = parent.key.take() else {
                        parent.key = Some(done);
                        break;
                    };
                    match key {
                        Value::Nil => return Err(DecodeError::Index("table index is nil").into()),
                        Value::Number(n) if n.is_nan() => {
                            return Err(DecodeError::Index("table index is NaN").into())
                        }
                        key => parent.table.raw_set(key, done)?,
                    }
                } else {
                    parent.table.raw_set(parent.index, done)?;
                    parent.index += 1;
                }
                parent.left -= 1;
                if parent.left > 0 {
                    break;
                }
                done = Value::Table(parent.table.clone());
                open.pop();
            }
        }
    }
}

/// `mp_unpack_full`: up to `limit` values of `s` from `offset` (all of them when both are 0,
/// then without the offset to go on from), `top` stack slots being in use.
fn unpack_values(lua: &Lua, s: &[u8], limit: i64, offset: i64, top: usize) -> Outcome<Vec<Value>> {
    let everything = limit == 0 && offset == 0;
    let len = s.len();
    if offset < 0 || limit < 0 {
        // Sic: the C prints the length where it says the limit.
        return Err(error(
            lua,
            format!(
                "Invalid request to unpack with offset of {} and limit of {}.",
                offset as i32, len as i32
            ),
        ));
    }
    if offset as u64 > len as u64 {
        return Err(error(
            lua,
            format!(
                "Start offset {} greater than input length {}.",
                offset as i32, len as i32
            ),
        ));
    }
    let limit = if everything {
        i64::from(i32::MAX)
    } else {
        limit
    };
    let mut reader = Reader {
        data: s,
        at: offset as usize,
    };
    let mut values = Vec::new();
    while reader.left() > 0 && (values.len() as i64) < limit {
        match reader.value(lua, top + values.len()) {
            Ok(value) => values.push(value),
            Err(Stop::Lua(e)) => return Err(Failure::Lua(e)),
            Err(Stop::Decode(DecodeError::Eof)) => {
                return Err(error(lua, "Missing bytes in input."))
            }
            Err(Stop::Decode(DecodeError::BadFormat)) => {
                return Err(error(lua, "Bad data format in input."))
            }
            Err(Stop::Decode(DecodeError::Stack(what))) => {
                return Err(error(lua, format!("stack overflow ({what})")))
            }
            // Raised by Lua itself, from within the C function: no position.
            Err(Stop::Decode(DecodeError::Index(text))) => {
                return Err(Failure::Raise(text.as_bytes().to_vec()))
            }
        }
    }
    if !everything {
        check_stack(lua, top + values.len(), 1, "in function mp_unpack_full")?;
        let next = match reader.left() {
            0 => -1,
            _ => reader.at as i64,
        };
        values.insert(0, Value::Number(next as f64));
    }
    Ok(values)
}

/// `cmsgpack.unpack(s)`: every value (the arguments stay on the C's stack).
fn unpack(lua: &Lua, args: &Args) -> Outcome<Vec<Value>> {
    let s = check_string(lua, args, 1)?;
    unpack_values(lua, &s.as_bytes(), 0, 0, args.count())
}

/// `cmsgpack.unpack_one(s [, offset])`.
fn unpack_one(lua: &Lua, args: &Args) -> Outcome<Vec<Value>> {
    let offset = opt_integer(lua, args, 2, 0)?;
    let s = check_string(lua, args, 1)?;
    unpack_values(lua, &s.as_bytes(), 1, offset, 1)
}

/// `cmsgpack.unpack_limit(s, limit [, offset])`.
fn unpack_limit(lua: &Lua, args: &Args) -> Outcome<Vec<Value>> {
    let limit = check_integer(lua, args, 2)?;
    let offset = opt_integer(lua, args, 3, 0)?;
    let s = check_string(lua, args, 1)?;
    unpack_values(lua, &s.as_bytes(), limit, offset, 1)
}

/// The `cmsgpack` table (made read-only by the prelude).
pub fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", c_function(lua, pack)?)?;
    t.raw_set("unpack", c_function(lua, unpack)?)?;
    t.raw_set("unpack_one", c_function(lua, unpack_one)?)?;
    t.raw_set("unpack_limit", c_function(lua, unpack_limit)?)?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(n: f64) -> Vec<u8> {
        let mut out = Vec::new();
        encode_number(n, &mut out);
        out
    }

    #[test]
    fn numbers_take_the_smallest_form_lua_cmsgpack_picks() {
        for (n, bytes) in [
            (0.0, &b"\x00"[..]),
            (-0.0, b"\x00"),
            (127.0, b"\x7f"),
            (128.0, b"\xcc\x80"),
            (255.0, b"\xcc\xff"),
            (256.0, b"\xcd\x01\x00"),
            (65536.0, b"\xce\x00\x01\x00\x00"),
            (4294967296.0, b"\xcf\x00\x00\x00\x01\x00\x00\x00\x00"),
            (-1.0, b"\xff"),
            (-32.0, b"\xe0"),
            (-33.0, b"\xd0\xdf"),
            (-129.0, b"\xd1\xff\x7f"),
            (-32769.0, b"\xd2\xff\xff\x7f\xff"),
            (-2147483649.0, b"\xd3\xff\xff\xff\xff\x7f\xff\xff\xff"),
            (
                -9223372036854775808.0,
                b"\xd3\x80\x00\x00\x00\x00\x00\x00\x00",
            ),
            (0.5, b"\xca\x3f\x00\x00\x00"),
            (f64::INFINITY, b"\xca\x7f\x80\x00\x00"),
            (9223372036854775808.0, b"\xca\x5f\x00\x00\x00"),
            (0.1, b"\xcb\x3f\xb9\x99\x99\x99\x99\x99\x9a"),
            (1e-300, b"\xcb\x01\xa5\x6e\x1f\xc2\xf8\xf3\x59"),
        ] {
            assert_eq!(packed(n), bytes, "{n}");
        }
    }

    #[test]
    fn strings_and_containers_take_their_length_headers() {
        let mut out = Vec::new();
        encode_bytes(b"abc", &mut out);
        assert_eq!(out, b"\xa3abc");
        for (len, header) in [
            (31, &b"\xbf"[..]),
            (32, b"\xd9\x20"),
            (255, b"\xd9\xff"),
            (256, b"\xda\x01\x00"),
            (65536, b"\xdb\x00\x01\x00\x00"),
        ] {
            let mut out = Vec::new();
            encode_bytes(&vec![b'x'; len], &mut out);
            assert_eq!(&out[..header.len()], header, "{len}");
            assert_eq!(out.len(), header.len() + len);
        }
        for (n, map, header) in [
            (0, false, &b"\x90"[..]),
            (15, true, b"\x8f"),
            (16, false, b"\xdc\x00\x10"),
            (16, true, b"\xde\x00\x10"),
            (65536, false, b"\xdd\x00\x01\x00\x00"),
            (65536, true, b"\xdf\x00\x01\x00\x00"),
        ] {
            let mut out = Vec::new();
            encode_header(n, map, &mut out);
            assert_eq!(out, header, "{n} {map}");
        }
    }

    fn head(data: &[u8]) -> Result<Head<'_>, DecodeError> {
        Reader { data, at: 0 }.head(1)
    }

    #[test]
    fn every_form_starts_as_the_c_reads_it() {
        let number = |n: f64| Ok(Head::Scalar(Scalar::Number(n)));
        assert_eq!(head(b"\xc0"), Ok(Head::Scalar(Scalar::Nil)));
        assert_eq!(head(b"\xc3"), Ok(Head::Scalar(Scalar::Bool(true))));
        assert_eq!(head(b"\x05"), number(5.0));
        assert_eq!(head(b"\xe0"), number(-32.0));
        assert_eq!(head(b"\xd0\x80"), number(-128.0));
        assert_eq!(head(b"\xd1\xff\x80"), number(-128.0));
        assert_eq!(head(b"\xcd\xff\xff"), number(65535.0));
        assert_eq!(head(b"\xcf\xff\xff\xff\xff\xff\xff\xff\xff"), number(-1.0));
        assert_eq!(head(b"\xca\x3f\x00\x00\x00"), number(0.5));
        assert_eq!(head(b"\xa2hi"), Ok(Head::Scalar(Scalar::Str(b"hi"))));
        assert_eq!(head(b"\xd9\x01x"), Ok(Head::Scalar(Scalar::Str(b"x"))));
        assert_eq!(head(b"\x92\x01"), Ok(Head::Array(2)));
        assert_eq!(head(b"\xdf\x00\x01\x00\x00"), Ok(Head::Map(65536)));
        assert_eq!(head(b"\xdc\x00"), Err(DecodeError::Eof));
        assert_eq!(head(b"\xa3ab"), Err(DecodeError::Eof));
        assert_eq!(
            head(b"\xc4\x01x"),
            Err(DecodeError::BadFormat),
            "bin is not read"
        );
        assert_eq!(head(b"\xc1"), Err(DecodeError::BadFormat));
        assert_eq!(
            Reader {
                data: b"\x01",
                at: 0
            }
            .head(MAX_STACK),
            Err(DecodeError::Stack(TOO_MANY))
        );
    }

    #[test]
    fn values_become_lua_values_as_the_c_makes_them() {
        let lua = Lua::new();
        let read = |data: &[u8]| Reader { data, at: 0 }.value(&lua, 1);
        let decoded = |data: &[u8]| match read(data) {
            Ok(v) => v,
            Err(_) => panic!("{data:?} reads"),
        };
        let failure = |data: &[u8]| match read(data) {
            Err(Stop::Decode(e)) => e,
            _ => panic!("{data:?} fails"),
        };
        let Value::Table(t) = decoded(b"\x93\x01\x81\xa1k\xc2\x90") else {
            panic!("a table");
        };
        assert_eq!(t.raw_get::<i64>(1).ok(), Some(1));
        let inner: Table = t.raw_get(2).expect("a map");
        assert_eq!(inner.raw_get::<bool>("k").ok(), Some(false));
        let empty: Table = t.raw_get(3).expect("an empty array");
        assert_eq!(empty.raw_len(), 0);
        // Holes stay holes.
        let Value::Table(t) = decoded(b"\x93\x01\xc0\x03") else {
            panic!("a table");
        };
        assert_eq!(t.raw_get::<Value>(2).ok(), Some(Value::Nil));
        assert_eq!(t.raw_get::<i64>(3).ok(), Some(3));
        assert_eq!(
            failure(b"\x81\xc0\x01"),
            DecodeError::Index("table index is nil")
        );
        assert_eq!(
            failure(b"\x81\xca\x7f\xc0\x00\x00\x01"),
            DecodeError::Index("table index is NaN")
        );
        // A nil key is refused only once its value is read.
        assert_eq!(failure(b"\x81\xc0"), DecodeError::Eof);
        assert_eq!(failure(b"\x92\x01"), DecodeError::Eof);
        // Nested deep enough, the C's stack overflows (and ours does not: no recursion).
        let deep: Vec<u8> = std::iter::repeat_n(0x91, 5000).chain([0x01]).collect();
        assert_eq!(
            failure(&deep),
            DecodeError::Stack("in function mp_decode_to_lua_array")
        );
        let deep: Vec<u8> = std::iter::repeat_n(0x91, 3998).chain([0x01]).collect();
        assert!(matches!(decoded(&deep), Value::Table(_)));
    }

    #[test]
    fn tables_are_arrays_only_when_keyed_1_to_n() {
        let lua = Lua::new();
        let pack_lua = |code: &str| -> Vec<u8> {
            let v: Value = lua.load(code).eval().expect("evaluates");
            let mut packer = Packer {
                lua: &lua,
                out: Vec::new(),
            };
            assert!(packer.value(&v, 0, 1).is_ok());
            packer.out
        };
        assert_eq!(pack_lua("return {}"), b"\x90");
        assert_eq!(pack_lua("return {1, 'a', true}"), b"\x93\x01\xa1a\xc3");
        assert_eq!(
            pack_lua("return {[1] = 1, [3] = 3}"),
            b"\x82\x01\x01\x03\x03"
        );
        assert_eq!(
            pack_lua("return {[1.5] = 1}"),
            b"\x81\xca\x3f\xc0\x00\x00\x01"
        );
        assert_eq!(pack_lua("return {0.0 * -1, 1e-300}")[..2], *b"\x92\x00");
        assert_eq!(
            pack_lua("return {1e-300}")[1],
            0xcb,
            "tiny numbers stay floats"
        );
        // Sixteen tables deep, the innermost is nil.
        let nested = "local t = {} for i = 1, 20 do t = {t} end return t";
        let out = pack_lua(nested);
        assert_eq!(out, [&[0x91u8; 16][..], &[0xc0]].concat());
    }
}
