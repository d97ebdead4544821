//! Conversions between Lua values and replies, by redis's rules (RESP2).
//!
//! A command's reply becomes a Lua value for the script: integer → number, bulk → string, nil
//! bulk or nil array → `false`, array → table, status → `{ok = …}`, error → `{err = …}`. The
//! script's return value becomes the reply the other way round: number → integer (truncated),
//! string → bulk, `true` → 1, `false` and nil → nil bulk, `{ok = …}` → status, `{err = …}` →
//! error, any other table → array of its elements up to the first nil.

use bytes::Bytes;
use mlua::{Lua, Table, Value};

use crate::protocol::Frame;

/// A reply as the Lua value a script sees.
pub fn frame_to_lua(lua: &Lua, frame: Frame) -> mlua::Result<Value> {
    Ok(match frame {
        Frame::Integer(n) => Value::Integer(n),
        Frame::Bulk(b) | Frame::Verbatim(b) => Value::String(lua.create_string(&b)?),
        Frame::Null | Frame::NullArray => Value::Boolean(false),
        Frame::Simple(s) => {
            let t = lua.create_table()?;
            t.raw_set("ok", lua.create_string(&s)?)?;
            Value::Table(t)
        }
        Frame::Error(e) => {
            let t = lua.create_table()?;
            t.raw_set("err", lua.create_string(&e)?)?;
            Value::Table(t)
        }
        Frame::Double(d) => {
            Value::String(lua.create_string(crate::protocol::frame::format_double(d).as_bytes())?)
        }
        Frame::Array(items) | Frame::Set(items) => array(lua, items)?,
        Frame::Map(pairs) | Frame::Pairs(pairs) => {
            array(lua, pairs.into_iter().flat_map(|(k, v)| [k, v]).collect())?
        }
        frame @ (Frame::Encoded(_) | Frame::Streamed(_)) => {
            // An array of bulk strings already encoded: read back.
            let mut bytes = Vec::new();
            frame.encode(2, &mut bytes);
            array(
                lua,
                bulk_array(&bytes).into_iter().map(Frame::Bulk).collect(),
            )?
        }
    })
}

fn array(lua: &Lua, items: Vec<Frame>) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.into_iter().enumerate() {
        t.raw_seti(i + 1, frame_to_lua(lua, item)?)?;
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

/// A script's return value as its reply.
pub fn lua_to_frame(value: &Value) -> Frame {
    match value {
        Value::Nil | Value::Boolean(false) => Frame::Null,
        Value::Boolean(true) => Frame::Integer(1),
        Value::Integer(n) => Frame::Integer(*n),
        Value::Number(n) => Frame::Integer(*n as i64),
        Value::String(s) => Frame::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Table(t) => table_to_frame(t),
        _ => Frame::Null,
    }
}

fn table_to_frame(t: &Table) -> Frame {
    if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
        return Frame::Error(Bytes::copy_from_slice(&e.as_bytes()));
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
        return Frame::Simple(Bytes::copy_from_slice(&s.as_bytes()));
    }
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(lua_to_frame(&v)),
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
        let value = frame_to_lua(&lua, reply).expect("converts");
        // Back: the nil bulk became false, which ends nothing (only nil ends an array).
        assert_eq!(
            lua_to_frame(&value),
            Frame::Array(vec![
                Frame::Integer(7),
                Frame::Bulk(Bytes::from_static(b"a\0b")),
                Frame::Null,
                Frame::Simple(Bytes::from_static(b"OK")),
            ])
        );
        let encoded = Frame::bulk_array(2, 2, [&b"x"[..], &b"yz"[..]]);
        let value = frame_to_lua(&lua, encoded).expect("converts");
        assert_eq!(
            lua_to_frame(&value),
            Frame::Array(vec![
                Frame::Bulk(Bytes::from_static(b"x")),
                Frame::Bulk(Bytes::from_static(b"yz"))
            ])
        );
    }
}
