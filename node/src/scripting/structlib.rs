//! The `struct` library redis loads (Roberto Ierusalimschy's lua-struct): `struct.pack(fmt, …)`,
//! `struct.unpack(fmt, s [, pos])` and `struct.size(fmt)`, C-like binary records made of Lua
//! numbers and strings, and back. What makes the bytes redis's: little endian (x86-64's) and
//! alignment 1 until `>`, `<` or `![n]` change them; `h` is 2 bytes, `l`, `L` and `T` 8, `i` and
//! `I` 4 unless sized (`i1` to `i32`, past 8 bytes padded with zeros, not with the sign); numbers
//! become integers as x86-64's C casts make them (out of range: 0 or `i64::MIN`); `unpack` gives
//! numbers and strings, then the position after the record.
//!
//! It also holds what this library and [`super::cmsgpack`] share to behave as lauxlib's C
//! functions do (see [`c_function`]): arguments read as `luaL_check*` reads them, errors worded
//! as `luaL_argerror` and `luaL_error` word them and raised as Lua strings.

use std::ffi::c_int;

use mlua::{ffi, Function, IntoLua, Lua, Table, Value};

/// The most stack slots a C function may use in Lua 5.1 (`LUAI_MAXCSTACK`): past it,
/// `luaL_checkstack` raises "stack overflow (…)".
pub(super) const MAX_STACK: usize = 8000;

/// Why a library function stops.
pub(super) enum Failure {
    /// An error raised as a Lua string (position included), as lauxlib raises them.
    Raise(Vec<u8>),
    /// A failure of the Lua state itself (out of memory, …), passed on as it is.
    Lua(mlua::Error),
}

impl From<mlua::Error> for Failure {
    fn from(e: mlua::Error) -> Self {
        Failure::Lua(e)
    }
}

/// A library function's result.
pub(super) type Outcome<T> = Result<T, Failure>;

/// A library function: its results from its arguments.
pub(super) type Body = fn(&Lua, &Args) -> Outcome<Vec<Value>>;

/// The arguments of a call, as the C function got them (all of them, trailing nils too).
pub(super) struct Args {
    table: Table,
    count: usize,
    /// The stack slots holding a value: past them an argument is "no value", not nil.
    slots: usize,
}

impl Args {
    /// How many arguments were passed (`lua_gettop`).
    pub(super) fn count(&self) -> usize {
        self.count
    }

    /// The same arguments with a nil pushed after them (`struct.pack` pushes one, so that a
    /// missing argument is nil to it).
    fn with_nil_after(&self) -> Args {
        Args {
            table: self.table.clone(),
            count: self.count,
            slots: self.count + 1,
        }
    }

    /// Argument `at` (from 1), nil when absent; numbers exact.
    pub(super) fn get(&self, at: usize) -> mlua::Result<Value> {
        if at == 0 || at > self.count {
            return Ok(Value::Nil);
        }
        exact(&self.table, at)
    }
}

/// `t[key]` (raw), a number exactly: mlua reads every number closer to 0 than `f64::EPSILON`
/// (-0, 1e-300) as the integer 0, so such a 0 is read again as a float.
pub(super) fn exact(t: &Table, key: impl IntoLua + Clone) -> mlua::Result<Value> {
    Ok(match t.raw_get::<Value>(key.clone())? {
        Value::Integer(0) => t
            .raw_get::<Option<f64>>(key)?
            .map_or(Value::Integer(0), Value::Number),
        v => v,
    })
}

/// Makes `body` a Lua function that behaves as a C function of redis's libraries: it is called
/// through a small C function, so that a tail call keeps the caller's frame (the error names
/// the caller's line) and the arguments reach `body` exactly (in a table, see [`exact`]), and
/// its errors are raised as Lua strings, which is what `pcall` gives the script in redis.
pub(super) fn c_function(lua: &Lua, body: Body) -> mlua::Result<Function> {
    let inner = lua.create_function(move |lua, (table, count): (Table, usize)| {
        let args = Args {
            table,
            count,
            slots: count,
        };
        match body(lua, &args) {
            Ok(values) => {
                let results = lua.create_table_with_capacity(values.len(), 0)?;
                let n = values.len();
                for (i, v) in values.into_iter().enumerate() {
                    results.raw_set(i + 1, v)?;
                }
                Ok((true, Value::Table(results), n))
            }
            Err(Failure::Raise(text)) => Ok((false, Value::String(lua.create_string(text)?), 0)),
            Err(Failure::Lua(e)) => Err(e),
        }
    })?;
    // SAFETY: `trampoline` only uses the Lua API on its own frame, as a C function may.
    unsafe {
        lua.exec_raw::<Function>(inner, |state| {
            ffi::lua_pushcclosure(state, trampoline, 1);
        })
    }
}

/// The C function of [`c_function`]: calls its upvalue (the Rust body) with its arguments in a
/// table, then raises the error it got back or returns the results it got back.
unsafe extern "C-unwind" fn trampoline(state: *mut ffi::lua_State) -> c_int {
    // Nothing here owns a value that a Lua error (a longjmp) would skip the drop of.
    let count = ffi::lua_gettop(state);
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
    ffi::lua_createtable(state, count, 0);
    for i in 1..=count {
        ffi::lua_pushvalue(state, i);
        ffi::lua_rawseti_(state, -2, i);
    }
    ffi::lua_pushinteger(state, count as ffi::lua_Integer);
    ffi::lua_call(state, 2, 3);
    // The stack: the arguments, then ok, the results (or the error text), their count.
    if ffi::lua_toboolean(state, count + 1) == 0 {
        ffi::lua_pushvalue(state, count + 2);
        ffi::lua_error(state);
    }
    let results = ffi::lua_tointeger_(state, count + 3) as c_int;
    ffi::lua_pushvalue(state, count + 2);
    ffi::lua_replace(state, 1);
    ffi::lua_settop(state, 1);
    if ffi::lua_checkstack(state, results) == 0 {
        ffi::lua_pushstring_(state, c"stack overflow (too many results)".as_ptr());
        ffi::lua_error(state);
    }
    for i in 1..=results {
        ffi::lua_rawgeti_(state, 1, i);
    }
    results
}

/// `luaL_where(L, 1)`: the position of the script line that called the library function (none
/// when a C function such as `pcall` called it). Level 0 is the Rust body, 1 the C function.
fn position(lua: &Lua) -> Vec<u8> {
    lua.inspect_stack(2)
        .and_then(|d| {
            let line = d.curr_line();
            (line > 0).then(|| {
                let source = d.source().short_src.unwrap_or_default().into_owned();
                format!("{source}:{line}: ").into_bytes()
            })
        })
        .unwrap_or_default()
}

/// `luaL_error`: `text` after the caller's position.
pub(super) fn error(lua: &Lua, text: impl AsRef<[u8]>) -> Failure {
    let mut message = position(lua);
    message.extend_from_slice(text.as_ref());
    Failure::Raise(message)
}

/// `luaL_argerror`: "bad argument #n to 'name' (extra)", `name` being what the caller called
/// the function (`?` when unknown, as through `pcall`); a method call does not count `self`.
pub(super) fn arg_error(lua: &Lua, at: i64, extra: impl AsRef<[u8]>) -> Failure {
    let (name, method) = lua
        .inspect_stack(1)
        .map(|d| {
            let names = d.names();
            (
                names.name.map(|n| n.into_owned()),
                names.name_what == Some("method"),
            )
        })
        .unwrap_or((None, false));
    let mut at = at;
    let mut text = Vec::new();
    if method {
        at -= 1;
        if at == 0 {
            text.extend_from_slice(
                format!("calling '{}' on bad self (", name.as_deref().unwrap_or("?")).as_bytes(),
            );
            text.extend_from_slice(extra.as_ref());
            text.push(b')');
            return error(lua, text);
        }
    }
    let name = name.as_deref().unwrap_or("?");
    text.extend_from_slice(format!("bad argument #{at} to '{name}' (").as_bytes());
    text.extend_from_slice(extra.as_ref());
    text.push(b')');
    error(lua, text)
}

/// The type name Lua gives a value (`luaL_typename`).
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

/// `luaL_typerror`: argument `at` is not a `expected`.
fn type_error(lua: &Lua, args: &Args, at: usize, expected: &str) -> Outcome<Failure> {
    let got = if at > args.slots {
        "no value"
    } else {
        type_name(&args.get(at)?)
    };
    Ok(arg_error(
        lua,
        at as i64,
        format!("{expected} expected, got {got}"),
    ))
}

/// `luaL_checknumber`: a number, or a string Lua reads as one.
pub(super) fn check_number(lua: &Lua, args: &Args, at: usize) -> Outcome<f64> {
    let v = args.get(at)?;
    let n = match v {
        Value::Integer(i) => Some(i as f64),
        Value::Number(n) => Some(n),
        Value::String(_) => lua.coerce_number(v)?,
        _ => None,
    };
    match n {
        Some(n) => Ok(n),
        None => Err(type_error(lua, args, at, "number")?),
    }
}

/// `luaL_checkinteger`: [`check_number`], truncated as C casts it.
pub(super) fn check_integer(lua: &Lua, args: &Args, at: usize) -> Outcome<i64> {
    Ok(c_i64(check_number(lua, args, at)?))
}

/// `luaL_optinteger`: `default` when the argument is absent or nil.
pub(super) fn opt_integer(lua: &Lua, args: &Args, at: usize, default: i64) -> Outcome<i64> {
    match args.get(at)? {
        Value::Nil => Ok(default),
        _ => check_integer(lua, args, at),
    }
}

/// `luaL_checklstring`: a string, or a number as Lua writes it.
pub(super) fn check_string(lua: &Lua, args: &Args, at: usize) -> Outcome<mlua::String> {
    let v = args.get(at)?;
    let s = match v {
        Value::String(s) => Some(s),
        Value::Integer(_) | Value::Number(_) => lua.coerce_string(v)?,
        _ => None,
    };
    match s {
        Some(s) => Ok(s),
        None => Err(type_error(lua, args, at, "string")?),
    }
}

/// `luaL_checkstack`: `space` more slots over `top` in use, or "stack overflow (what)".
pub(super) fn check_stack(lua: &Lua, top: usize, space: usize, what: &str) -> Outcome<()> {
    if top + space > MAX_STACK {
        return Err(error(lua, format!("stack overflow ({what})")));
    }
    Ok(())
}

const TWO_63: f64 = 9_223_372_036_854_775_808.0;

/// `(int64_t)n` as x86-64 computes it: truncated; `i64::MIN` for NaN and out of range.
pub(super) fn c_i64(n: f64) -> i64 {
    if n.is_nan() || !(-TWO_63..TWO_63).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

/// `(uint64_t)n` as gcc compiles it for x86-64: below 2^63 (or NaN) as `(int64_t)n`, else
/// `(int64_t)(n - 2^63)` with the top bit flipped (so 0 from 2^64 up).
fn c_u64(n: f64) -> u64 {
    if n >= TWO_63 {
        c_i64(n - TWO_63) as u64 ^ (1 << 63)
    } else {
        c_i64(n) as u64
    }
}

/// A C string's bytes: up to the first NUL (the format is read as one).
fn c_str(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == 0) {
        Some(end) => &bytes[..end],
        None => bytes,
    }
}

/// What a format can get wrong.
#[derive(Debug, PartialEq)]
enum FormatError {
    /// A size too large for an `int`.
    Overflow,
    /// `i`/`I` over 32 bytes.
    TooLarge(i32),
    /// `!n` with `n` no power of 2.
    Alignment(i32),
    /// An unknown option.
    Invalid(u8),
}

impl FormatError {
    fn raise(self, lua: &Lua) -> Failure {
        match self {
            FormatError::Overflow => error(lua, "integral size overflow"),
            FormatError::TooLarge(n) => error(
                lua,
                format!("integral size {n} is larger than limit of {MAX_INT_SIZE}"),
            ),
            FormatError::Alignment(n) => error(lua, format!("alignment {n} is not a power of 2")),
            FormatError::Invalid(opt) => {
                let mut text = b"invalid format option '".to_vec();
                text.push(opt);
                text.push(b'\'');
                arg_error(lua, 1, text)
            }
        }
    }
}

/// The largest integer option (`i32`).
const MAX_INT_SIZE: i32 = 32;
/// `!` without a number: the strictest alignment of the platform.
const MAX_ALIGN: i32 = 8;

/// A format being read, with the endianness and alignment its options set so far.
struct Format<'a> {
    fmt: &'a [u8],
    at: usize,
    big: bool,
    align: usize,
}

impl<'a> Format<'a> {
    fn new(fmt: &'a [u8]) -> Format<'a> {
        Format {
            fmt: c_str(fmt),
            at: 0,
            big: false,
            align: 1,
        }
    }

    /// The next option letter.
    fn next_option(&mut self) -> Option<u8> {
        let opt = *self.fmt.get(self.at)?;
        self.at += 1;
        Some(opt)
    }

    /// The number written next, if any (else `default`).
    fn number(&mut self, default: i32) -> Result<i32, FormatError> {
        let mut n: i32 = 0;
        let mut any = false;
        while let Some(d) = self.fmt.get(self.at).filter(|d| d.is_ascii_digit()) {
            let d = i32::from(d - b'0');
            if n > i32::MAX / 10 || n * 10 > i32::MAX - d {
                return Err(FormatError::Overflow);
            }
            n = n * 10 + d;
            self.at += 1;
            any = true;
        }
        Ok(if any { n } else { default })
    }

    /// The size of option `opt`, reading its number (0 for options of no data).
    fn size(&mut self, opt: u8) -> Result<usize, FormatError> {
        Ok(match opt {
            b'b' | b'B' | b'x' => 1,
            b'h' | b'H' => 2,
            b'f' => 4,
            b'l' | b'L' | b'T' | b'd' => 8,
            b'c' => self.number(1)? as usize,
            b'i' | b'I' => {
                let n = self.number(4)?;
                if n > MAX_INT_SIZE {
                    return Err(FormatError::TooLarge(n));
                }
                n as usize
            }
            _ => 0,
        })
    }

    /// An option of no data: endianness, alignment, a space; anything else is invalid.
    fn control(&mut self, opt: u8) -> Result<(), FormatError> {
        match opt {
            b' ' => {}
            b'>' => self.big = true,
            b'<' => self.big = false,
            b'!' => {
                let a = self.number(MAX_ALIGN)?;
                if a <= 0 || a & (a - 1) != 0 {
                    return Err(FormatError::Alignment(a));
                }
                self.align = a as usize;
            }
            _ => return Err(FormatError::Invalid(opt)),
        }
        Ok(())
    }

    /// The padding before an item of `size` bytes at offset `len` (none for strings).
    fn padding(&self, len: usize, opt: u8, size: usize) -> usize {
        if size == 0 || opt == b'c' {
            return 0;
        }
        let size = size.min(self.align);
        size.wrapping_sub(len & (size - 1)) & (size - 1)
    }
}

/// The bytes of an integer option: `n` as C casts it to `uint64_t` (through `int64_t` when
/// negative), `size` bytes of it, zeros past the 8th.
fn integer_bytes(n: f64, big: bool, size: usize) -> Vec<u8> {
    let value = if n < 0.0 { c_i64(n) as u64 } else { c_u64(n) };
    let mut bytes: Vec<u8> = (0..size)
        .map(|i| value.checked_shr(8 * i as u32).unwrap_or(0) as u8)
        .collect();
    if big {
        bytes.reverse();
    }
    bytes
}

/// The number an integer option reads: the last 8 bytes count, the sign taken from the bit
/// x86-64's masked shift picks (bit `(8 * size - 1) % 64`).
fn integer_value(bytes: &[u8], big: bool, signed: bool) -> f64 {
    let mut value: u64 = 0;
    let mut fold = |b: &u8| value = value.wrapping_shl(8) | u64::from(*b);
    if big {
        bytes.iter().for_each(&mut fold);
    } else {
        bytes.iter().rev().for_each(&mut fold);
    }
    if !signed {
        return value as f64;
    }
    let mask = u64::MAX.wrapping_shl((8 * bytes.len() as u32).wrapping_sub(1));
    if value & mask != 0 {
        value |= mask;
    }
    value as i64 as f64
}

/// Bytes as written in the format's endianness (the machine's is little).
fn ordered<const N: usize>(mut bytes: [u8; N], big: bool) -> [u8; N] {
    if big {
        bytes.reverse();
    }
    bytes
}

/// `struct.pack(fmt, …)`.
fn pack(lua: &Lua, args: &Args) -> Outcome<Vec<Value>> {
    let fmt = check_string(lua, args, 1)?;
    let fmt = fmt.as_bytes();
    let args = &args.with_nil_after();
    let mut format = Format::new(&fmt);
    let mut arg = 2;
    let mut out = Vec::new();
    while let Some(opt) = format.next_option() {
        let mut size = format.size(opt).map_err(|e| e.raise(lua))?;
        let padding = format.padding(out.len(), opt, size);
        out.resize(out.len() + padding, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = check_number(lua, args, arg)?;
                arg += 1;
                out.extend(integer_bytes(n, format.big, size));
            }
            b'x' => out.push(0),
            b'f' => {
                let n = check_number(lua, args, arg)? as f32;
                arg += 1;
                out.extend(ordered(n.to_le_bytes(), format.big));
            }
            b'd' => {
                let n = check_number(lua, args, arg)?;
                arg += 1;
                out.extend(ordered(n.to_le_bytes(), format.big));
            }
            b'c' | b's' => {
                let s = check_string(lua, args, arg)?;
                let s = s.as_bytes();
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // lauxlib names the argument after the one read (the C counts ahead).
                    return Err(arg_error(lua, arg as i64, "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => format.control(opt).map_err(|e| e.raise(lua))?,
        }
    }
    Ok(vec![Value::String(lua.create_string(out)?)])
}

/// `struct.unpack(fmt, s [, pos])`.
fn unpack(lua: &Lua, args: &Args) -> Outcome<Vec<Value>> {
    let fmt = check_string(lua, args, 1)?;
    let fmt = fmt.as_bytes();
    let data = check_string(lua, args, 2)?;
    let data = data.as_bytes();
    let start = opt_integer(lua, args, 3, 1)? as usize;
    if start == 0 {
        return Err(arg_error(lua, 3, "offset must be 1 or greater"));
    }
    let mut pos = start - 1;
    let mut format = Format::new(&fmt);
    let len = data.len();
    let fits = |pos: usize, size: usize| size <= len && pos <= len - size;
    let mut results: Vec<Value> = Vec::new();
    while let Some(opt) = format.next_option() {
        let mut size = format.size(opt).map_err(|e| e.raise(lua))?;
        pos = pos.wrapping_add(format.padding(pos, opt, size));
        if !fits(pos, size) {
            return Err(arg_error(lua, 2, "data string too short"));
        }
        check_stack(lua, args.count() + results.len(), 2, "too many results")?;
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let bytes = &data[pos..pos + size];
                let n = integer_value(bytes, format.big, opt.is_ascii_lowercase());
                results.push(Value::Number(n));
            }
            b'x' => {}
            b'f' => {
                let bytes: [u8; 4] = data[pos..pos + 4].try_into().unwrap_or_default();
                let n = f32::from_le_bytes(ordered(bytes, format.big));
                results.push(Value::Number(f64::from(n)));
            }
            b'd' => {
                let bytes: [u8; 8] = data[pos..pos + 8].try_into().unwrap_or_default();
                results.push(Value::Number(f64::from_le_bytes(ordered(
                    bytes, format.big,
                ))));
            }
            b'c' => {
                if size == 0 {
                    // `c0`: as long as the number just read says.
                    let previous = match results.last() {
                        Some(v @ (Value::Number(_) | Value::String(_))) => {
                            lua.coerce_number(v.clone())?
                        }
                        _ => None,
                    };
                    let Some(n) = previous else {
                        return Err(error(lua, "format 'c0' needs a previous size"));
                    };
                    size = c_u64(n) as usize;
                    results.pop();
                    if !fits(pos, size) {
                        return Err(arg_error(lua, 2, "data string too short"));
                    }
                }
                results.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(end) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err(error(lua, "unfinished string in data"));
                };
                size = end + 1;
                results.push(Value::String(lua.create_string(&data[pos..pos + end])?));
            }
            _ => format.control(opt).map_err(|e| e.raise(lua))?,
        }
        pos = pos.wrapping_add(size);
    }
    results.push(Value::Number(pos.wrapping_add(1) as i64 as f64));
    Ok(results)
}

/// `struct.size(fmt)`: the bytes a record takes (no `s`, no `c0`: their size is the data's).
fn size(lua: &Lua, args: &Args) -> Outcome<Vec<Value>> {
    let fmt = check_string(lua, args, 1)?;
    let fmt = fmt.as_bytes();
    let mut format = Format::new(&fmt);
    let mut pos: usize = 0;
    while let Some(opt) = format.next_option() {
        let size = format.size(opt).map_err(|e| e.raise(lua))?;
        pos += format.padding(pos, opt, size);
        if opt == b's' {
            return Err(arg_error(lua, 1, "option 's' has no fixed size"));
        } else if opt == b'c' && size == 0 {
            return Err(arg_error(lua, 1, "option 'c0' has no fixed size"));
        }
        // Letters and digits it does not know are taken for options of no size.
        if !opt.is_ascii_alphanumeric() {
            format.control(opt).map_err(|e| e.raise(lua))?;
        }
        pos += size;
    }
    Ok(vec![Value::Number(pos as f64)])
}

/// The `struct` table (made read-only by the prelude).
pub fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", c_function(lua, pack)?)?;
    t.raw_set("unpack", c_function(lua, unpack)?)?;
    t.raw_set("size", c_function(lua, size)?)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_written_as_the_c_casts_make_them() {
        assert_eq!(integer_bytes(1.0, false, 4), [1, 0, 0, 0]);
        assert_eq!(integer_bytes(1.0, true, 4), [0, 0, 0, 1]);
        assert_eq!(integer_bytes(-2.0, false, 2), [0xfe, 0xff]);
        assert_eq!(
            integer_bytes(-1.0, false, 10),
            [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0]
        );
        assert_eq!(integer_bytes(3.9, true, 1), [3]);
        // Out of range: (uint64_t) gives 0 from 2^64 up, NaN and huge negatives i64::MIN.
        assert_eq!(integer_bytes(2f64.powi(64), true, 8), [0; 8]);
        assert_eq!(
            integer_bytes(f64::NAN, true, 8),
            [0x80, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(integer_bytes(-1e30, true, 8), [0x80, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            integer_bytes(TWO_63 + 4096.0, true, 8),
            [0x80, 0, 0, 0, 0, 0, 0x10, 0]
        );
    }

    #[test]
    fn integers_are_read_with_their_sign_as_the_c_reads_them() {
        assert_eq!(integer_value(&[0xff], false, true), -1.0);
        assert_eq!(integer_value(&[0xff], false, false), 255.0);
        assert_eq!(integer_value(&[0x80, 0x00], true, true), -32768.0);
        assert_eq!(integer_value(&[0x00, 0x80], false, true), -32768.0);
        assert_eq!(integer_value(&[0xff; 8], false, false), u64::MAX as f64);
        assert_eq!(integer_value(&[], false, true), 0.0);
        // Nine bytes: the first (big endian) is shifted out; the sign bit is bit 7.
        let nine = [1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0];
        assert_eq!(integer_value(&nine, true, true), -128.0);
    }

    #[test]
    fn calls_behave_as_c_functions_of_lauxlib() {
        let lua = Lua::new();
        lua.globals()
            .set("struct", table(&lua).expect("the table"))
            .expect("set");
        let eval =
            |code: &str| -> Value { lua.load(code).set_name("@t").eval().expect("evaluates") };
        let text = |v: Value| match v {
            Value::String(s) => s.as_bytes().to_vec(),
            other => panic!("a string: {other:?}"),
        };
        // Errors are Lua strings, with the caller's position and the name it called by.
        let e = eval("local ok, e = pcall(function()\n  local x = struct.pack('y')\nend) return e");
        assert_eq!(
            text(e),
            b"t:2: bad argument #1 to 'pack' (invalid format option 'y')"
        );
        let e = eval("local ok, e = pcall(struct.unpack, 'i', 'ab') return e");
        assert_eq!(text(e), b"bad argument #2 to '?' (data string too short)");
        let e = eval(
            "local ok, e = pcall(function() local s = struct.size return s('!3') end) return e",
        );
        assert_eq!(text(e), b"t:1: alignment 3 is not a power of 2");
        // Numbers reach the library exactly (-0 and 1e-300 are no integer 0).
        let bytes = eval("return struct.pack('<dd', -0.0, 1e-300)");
        let mut want = (-0.0f64).to_le_bytes().to_vec();
        want.extend(1e-300f64.to_le_bytes());
        assert_eq!(text(bytes), want);
        // Every result, then the position after the record.
        let n: i64 = lua
            .load("return select('#', struct.unpack('bxs', 'a-bc\\0'))")
            .eval()
            .expect("evaluates");
        assert_eq!(n, 3);
    }

    #[test]
    fn formats_read_sizes_alignment_and_their_errors() {
        let mut f = Format::new(b"i2c10!4 i40\0ignored");
        assert_eq!(f.next_option(), Some(b'i'));
        assert_eq!(f.size(b'i'), Ok(2));
        assert_eq!(f.next_option(), Some(b'c'));
        assert_eq!(f.size(b'c'), Ok(10));
        assert_eq!(f.next_option(), Some(b'!'));
        assert_eq!(f.size(b'!'), Ok(0));
        assert_eq!(f.control(b'!'), Ok(()));
        assert_eq!(f.align, 4);
        assert_eq!(f.padding(5, b'i', 8), 3);
        assert_eq!(f.padding(5, b'h', 2), 1);
        assert_eq!(f.padding(5, b'c', 4), 0);
        assert_eq!(f.next_option(), Some(b' '));
        assert_eq!(f.next_option(), Some(b'i'));
        assert_eq!(f.size(b'i'), Err(FormatError::TooLarge(40)));
        assert_eq!(f.next_option(), None, "the format ends at its NUL");
        assert_eq!(
            Format::new(b"!3").control(b'z'),
            Err(FormatError::Invalid(b'z'))
        );
        let mut f = Format::new(b"3");
        assert_eq!(f.control(b'!'), Err(FormatError::Alignment(3)));
        let mut f = Format::new(b"99999999999");
        assert_eq!(f.size(b'c'), Err(FormatError::Overflow));
    }
}
