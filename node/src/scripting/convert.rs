//! Conversions between Lua values and replies, by redis 7's rules.
//!
//! A command's reply becomes a Lua value for the script. In RESP2 (a script's default):
//! integer → number, bulk → string, nil bulk or nil array → `false`, array → table, status →
//! `{ok = …}`, error → `{err = …}`, and the RESP3-only types as RESP2 sends them (a double as a
//! string, a map as a flat array). After `redis.setresp(3)`: null → nil, a map →
//! `{map = {k = v}}`, a set → `{set = {member = true}}`, a double → `{double = n}`, a boolean
//! → a boolean, verbatim text → `{verbatim_string = {format = …, string = …}}`.
//!
//! The script's return value becomes the reply the other way round: number → integer
//! (truncated), string → bulk, `true` → 1 and `false` → nil (after `setresp(3)`: booleans),
//! nil → nil, `{ok = …}` → status, `{err = …}` → error, `{double = n}`, `{big_number = s}`,
//! `{verbatim_string = …}`, `{map = …}` and `{set = …}` → those types (each sent as RESP2 has
//! it to a RESP2 client), any other table → array of its elements up to the first nil.

use bytes::Bytes;
use mlua::{Lua, Table, Value};

use crate::protocol::Frame;

/// A reply as the Lua value a script sees, in the protocol the script chose (`resp3` after
/// `redis.setresp(3)`).
pub fn frame_to_lua(lua: &Lua, frame: Frame, resp3: bool) -> mlua::Result<Value> {
    let tagged = |tag: &str, value: Value| -> mlua::Result<Value> {
        let t = lua.create_table()?;
        t.raw_set(tag, value)?;
        Ok(Value::Table(t))
    };
    Ok(match frame {
        Frame::Integer(n) => Value::Integer(n),
        Frame::Bulk(b) => Value::String(lua.create_string(&b)?),
        Frame::Verbatim(b) if resp3 => {
            let v = lua.create_table()?;
            v.raw_set("format", "txt")?;
            v.raw_set("string", lua.create_string(&b)?)?;
            tagged("verbatim_string", Value::Table(v))?
        }
        Frame::Verbatim(b) => Value::String(lua.create_string(&b)?),
        Frame::Null | Frame::NullArray if resp3 => Value::Nil,
        Frame::Null | Frame::NullArray => Value::Boolean(false),
        Frame::Simple(s) => tagged("ok", Value::String(lua.create_string(&s)?))?,
        Frame::Error(e) => tagged("err", Value::String(lua.create_string(&e)?))?,
        Frame::Double(d) if resp3 => tagged("double", Value::Number(d))?,
        Frame::Double(d) => {
            Value::String(lua.create_string(crate::protocol::frame::format_double(d).as_bytes())?)
        }
        Frame::Boolean(b) if resp3 => Value::Boolean(b),
        Frame::Boolean(b) => Value::Integer(i64::from(b)),
        Frame::BigNumber(text) if resp3 => {
            tagged("big_number", Value::String(lua.create_string(&text)?))?
        }
        Frame::BigNumber(text) => Value::String(lua.create_string(&text)?),
        Frame::Set(items) if resp3 => {
            let members = lua.create_table()?;
            for item in items {
                members.raw_set(frame_to_lua(lua, item, resp3)?, true)?;
            }
            tagged("set", Value::Table(members))?
        }
        Frame::Map(pairs) if resp3 => {
            let map = lua.create_table()?;
            for (k, v) in pairs {
                map.raw_set(frame_to_lua(lua, k, resp3)?, frame_to_lua(lua, v, resp3)?)?;
            }
            tagged("map", Value::Table(map))?
        }
        Frame::Pairs(pairs) if resp3 => array(
            lua,
            pairs
                .into_iter()
                .map(|(a, b)| Frame::Array(vec![a, b]))
                .collect(),
            resp3,
        )?,
        Frame::Array(items) | Frame::Set(items) => array(lua, items, resp3)?,
        Frame::Map(pairs) | Frame::Pairs(pairs) => array(
            lua,
            pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
            resp3,
        )?,
        frame @ (Frame::Encoded(_) | Frame::Streamed(_)) => {
            // An array of bulk strings already encoded: read back.
            let mut bytes = Vec::new();
            frame.encode(2, &mut bytes);
            array(
                lua,
                bulk_array(&bytes).into_iter().map(Frame::Bulk).collect(),
                resp3,
            )?
        }
    })
}

fn array(lua: &Lua, items: Vec<Frame>, resp3: bool) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.into_iter().enumerate() {
        t.raw_seti(i + 1, frame_to_lua(lua, item, resp3)?)?;
    }
    Ok(Value::Table(t))
}

/// The elements of an encoded array of bulk strings (nil elements are skipped).
fn bulk_array(bytes: &[u8]) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut at = match bytes.iter().position(|&b| b == b'\n') {
        Some(end) => end + 1,
        None => return out,
    };
    while at < bytes.len() {
        let Some(end) = bytes[at..].iter().position(|&b| b == b'\n').map(|e| at + e) else {
            break;
        };
        let len: i64 = std::str::from_utf8(&bytes[at + 1..end.saturating_sub(1)])
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(-1);
        at = end + 1;
        if len < 0 {
            continue;
        }
        let len = len as usize;
        if at + len > bytes.len() {
            break;
        }
        out.push(Bytes::copy_from_slice(&bytes[at..at + len]));
        at += len + 2;
    }
    out
}

/// A script's return value as its reply (`resp3` after `redis.setresp(3)`: booleans stay
/// booleans).
pub fn lua_to_frame(value: &Value, resp3: bool) -> Frame {
    to_frame(value, resp3, 0)
}

/// How deep a returned table may nest: deeper, the element is an error (redis answers
/// `reached lua stack limit` where its Lua stack runs out, a few thousand levels down), not a
/// stack overflow of the node. Kept well inside a 2 MiB thread stack even in a debug build
/// (the conversion, the reply's encoding and its drop all recurse once per level).
const MAX_DEPTH: usize = 200;

fn to_frame(value: &Value, resp3: bool, depth: usize) -> Frame {
    if depth >= MAX_DEPTH {
        return Frame::error("ERR reached lua stack limit");
    }
    match value {
        Value::Boolean(b) if resp3 => Frame::Boolean(*b),
        Value::Nil | Value::Boolean(false) => Frame::Null,
        Value::Boolean(true) => Frame::Integer(1),
        Value::Integer(n) => Frame::Integer(*n),
        Value::Number(n) => Frame::Integer(c_cast(*n)),
        Value::String(s) => Frame::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Table(t) => table_to_frame(t, resp3, depth + 1),
        _ => Frame::Null,
    }
}

/// A number truncated to an integer as redis's `(long long)` cast does on x86-64: a value out
/// of range, infinite or NaN gives the minimum, where Rust's `as` would saturate.
fn c_cast(n: f64) -> i64 {
    if n.is_nan() || !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

/// Text of a status or big number reply: CR and LF become spaces, as redis writes them.
fn one_line(text: &[u8]) -> Bytes {
    text.iter()
        .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
        .collect()
}

fn table_to_frame(t: &Table, resp3: bool, depth: usize) -> Frame {
    if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
        return Frame::Error(Bytes::copy_from_slice(&e.as_bytes()));
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
        return Frame::Simple(one_line(&s.as_bytes()));
    }
    match t.raw_get::<Value>("double") {
        Ok(Value::Number(d)) => return Frame::Double(d),
        Ok(Value::Integer(n)) => return Frame::Double(n as f64),
        _ => {}
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("big_number") {
        return Frame::BigNumber(one_line(&s.as_bytes()));
    }
    if let Ok(Value::Table(v)) = t.raw_get::<Value>("verbatim_string") {
        if let (Ok(Value::String(_)), Ok(Value::String(text))) =
            (v.raw_get::<Value>("format"), v.raw_get::<Value>("string"))
        {
            return Frame::Verbatim(Bytes::copy_from_slice(&text.as_bytes()));
        }
    }
    if let Ok(Value::Table(map)) = t.raw_get::<Value>("map") {
        return Frame::Map(
            map.pairs::<Value, Value>()
                .filter_map(Result::ok)
                .map(|(k, v)| (to_frame(&k, resp3, depth), to_frame(&v, resp3, depth)))
                .collect(),
        );
    }
    if let Ok(Value::Table(set)) = t.raw_get::<Value>("set") {
        return Frame::Set(
            set.pairs::<Value, Value>()
                .filter_map(Result::ok)
                .map(|(k, _)| to_frame(&k, resp3, depth))
                .collect(),
        );
    }
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(to_frame(&v, resp3, depth)),
        }
    }
    Frame::Array(items)
}

/// A command argument from a script: a string, or a number as Lua prints it; anything else is
/// refused, as redis refuses it.
pub fn argument(value: &Value) -> Option<Bytes> {
    match value {
        Value::String(s) => Some(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Integer(n) => Some(Bytes::from(n.to_string())),
        Value::Number(n) => Some(Bytes::from(lua_number_text(*n))),
        _ => None,
    }
}

/// A number as Lua 5.1's `tostring` writes it (`%.14g`).
pub fn lua_number_text(n: f64) -> String {
    if n == 0.0 && n.is_sign_negative() {
        return "-0".into();
    }
    if n.fract() == 0.0 && n.abs() < 1e14 {
        return format!("{}", n as i64);
    }
    if n.is_nan() {
        return "nan".into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "inf" } else { "-inf" }.into();
    }
    // %.14g: 14 significant digits, trailing zeros dropped, exponent form outside 1e-4..1e14.
    let exp = n.abs().log10().floor() as i32;
    if !(-4..14).contains(&exp) {
        let text = format!("{:.13e}", n);
        let (mantissa, e) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        let e: i32 = e.parse().unwrap_or(0);
        return format!("{mantissa}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    let decimals = (13 - exp).max(0) as usize;
    let text = format!("{:.*}", decimals, n);
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_lua_prints_them() {
        for (n, text) in [
            (3.5, "3.5"),
            (10.0, "10"),
            (1e20, "1e+20"),
            (0.1, "0.1"),
            (-2.25, "-2.25"),
            (1.0 / 3.0, "0.33333333333333"),
            (1e-5, "1e-05"),
        ] {
            assert_eq!(lua_number_text(n), text, "{n}");
        }
    }

    #[test]
    fn replies_and_values_convert_both_ways() {
        let lua = Lua::new();
        let reply = Frame::Array(vec![
            Frame::Integer(7),
            Frame::Bulk(Bytes::from_static(b"a\0b")),
            Frame::Null,
            Frame::Simple(Bytes::from_static(b"OK")),
        ]);
        let value = frame_to_lua(&lua, reply, false).expect("converts");
        // Back: the nil bulk became false, which ends nothing (only nil ends an array).
        assert_eq!(
            lua_to_frame(&value, false),
            Frame::Array(vec![
                Frame::Integer(7),
                Frame::Bulk(Bytes::from_static(b"a\0b")),
                Frame::Null,
                Frame::Simple(Bytes::from_static(b"OK")),
            ])
        );
        let encoded = Frame::bulk_array(2, 2, [&b"x"[..], &b"yz"[..]]);
        let value = frame_to_lua(&lua, encoded, false).expect("converts");
        assert_eq!(
            lua_to_frame(&value, false),
            Frame::Array(vec![
                Frame::Bulk(Bytes::from_static(b"x")),
                Frame::Bulk(Bytes::from_static(b"yz"))
            ])
        );
    }

    #[test]
    fn a_deeply_nested_table_is_an_error_not_a_stack_overflow() {
        let lua = Lua::new();
        let deep: Value = lua
            .load("local t = 1 for i = 1, 100000 do t = {t} end return t")
            .eval()
            .expect("builds");
        let mut frame = lua_to_frame(&deep, false);
        let mut levels = 0;
        while let Frame::Array(mut items) = frame {
            levels += 1;
            frame = items.pop().expect("one element");
        }
        assert_eq!(levels, MAX_DEPTH);
        assert_eq!(frame, Frame::error("ERR reached lua stack limit"));
    }

    #[test]
    fn numbers_out_of_range_truncate_as_redis_casts_them() {
        let int = |n: f64| lua_to_frame(&Value::Number(n), false);
        assert_eq!(int(3.99), Frame::Integer(3));
        assert_eq!(int(-2.5), Frame::Integer(-2));
        for big in [f64::INFINITY, f64::NEG_INFINITY, f64::NAN, 1e19, -1e19] {
            assert_eq!(int(big), Frame::Integer(i64::MIN), "{big}");
        }
    }

    #[test]
    fn resp3_replies_keep_their_types_both_ways() {
        let lua = Lua::new();
        let reply = Frame::Array(vec![
            Frame::Map(vec![(
                Frame::Bulk(Bytes::from_static(b"f")),
                Frame::Double(1.5),
            )]),
            Frame::Set(vec![Frame::Bulk(Bytes::from_static(b"m"))]),
            Frame::Boolean(true),
        ]);
        let value = frame_to_lua(&lua, reply.clone(), true).expect("converts");
        assert_eq!(lua_to_frame(&value, true), reply);
        // In RESP2 the same reply is flattened, and the double read as text.
        let flat = frame_to_lua(&lua, reply, false).expect("converts");
        assert_eq!(
            lua_to_frame(&flat, false),
            Frame::Array(vec![
                Frame::Array(vec![
                    Frame::Bulk(Bytes::from_static(b"f")),
                    Frame::Bulk(Bytes::from_static(b"1.5")),
                ]),
                Frame::Array(vec![Frame::Bulk(Bytes::from_static(b"m"))]),
                Frame::Integer(1),
            ])
        );
        // A missing value is nil in RESP3, which ends an array; false in RESP2.
        let with_null = Frame::Array(vec![Frame::Null, Frame::Integer(1)]);
        let value = frame_to_lua(&lua, with_null.clone(), true).expect("converts");
        assert_eq!(lua_to_frame(&value, true), Frame::Array(vec![]));
        let value = frame_to_lua(&lua, with_null, false).expect("converts");
        assert_eq!(
            lua_to_frame(&value, false),
            Frame::Array(vec![Frame::Null, Frame::Integer(1)])
        );
    }
}
