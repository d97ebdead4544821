//! The `cjson` library redis loads: `cjson.encode`, `cjson.decode` and `cjson.null`, with
//! lua-cjson's defaults (numbers as `%.14g`, `/` escaped, a table an array when its keys are
//! 1..n — holes as `null` unless excessively sparse — else an object).

use mlua::{LightUserData, Lua, MultiValue, Table, Value};

use super::convert::lua_number_text;

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
            if depth >= 1000 {
                return Err(error(lua, "Cannot serialise, excessive nesting (1001)"));
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

/// A decoded JSON value as Lua's.
fn to_lua(lua: &Lua, json: serde_json::Value) -> mlua::Result<Value> {
    Ok(match json {
        serde_json::Value::Null => null(),
        serde_json::Value::Bool(b) => Value::Boolean(b),
        serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::String(lua.create_string(s.as_bytes())?),
        serde_json::Value::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.into_iter().enumerate() {
                t.raw_seti(i + 1, to_lua(lua, item)?)?;
            }
            Value::Table(t)
        }
        serde_json::Value::Object(map) => {
            let t = lua.create_table_with_capacity(0, map.len())?;
            for (k, v) in map {
                t.raw_set(lua.create_string(k.as_bytes())?, to_lua(lua, v)?)?;
            }
            Value::Table(t)
        }
    })
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
    t.raw_set(
        "decode",
        lua.create_function(|lua, args: MultiValue| {
            let Some(Value::String(text)) = args.front() else {
                return Err(error(lua, "bad argument #1 to 'decode' (string expected)"));
            };
            match serde_json::from_slice::<serde_json::Value>(&text.as_bytes()) {
                Ok(json) => to_lua(lua, json),
                // lua-cjson names the token and its position; serde's text differs.
                Err(e) => Err(error(
                    lua,
                    &format!(
                        "Expected value but found invalid token at character {}",
                        e.column()
                    ),
                )),
            }
        })?,
    )?;
    t.raw_set("null", null())?;
    Ok(t)
}
