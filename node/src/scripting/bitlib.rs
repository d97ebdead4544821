//! The `bit` library redis loads (LuaBitOp): 32-bit operations on Lua numbers, with its
//! argument checks and their texts.

use mlua::{Lua, MultiValue, Table};

/// A Lua number as LuaBitOp reads it: rounded to the nearest integer (ties to even), then
/// taken modulo 2^32 as a signed 32-bit integer.
pub fn to_bit(n: f64) -> i32 {
    if !n.is_finite() {
        return 0;
    }
    let rounded = n.round_ties_even();
    rounded.rem_euclid(4_294_967_296.0) as u64 as u32 as i32
}

/// `bit.tohex(x [, n])`: the low `|n|` hex digits of `x` (8 by default, at most 8), upper case
/// for a negative `n`.
pub fn to_hex(x: f64, n: Option<f64>) -> String {
    let n = n.map_or(8, |n| to_bit(n) as i64);
    let upper = n < 0;
    let digits = n.unsigned_abs().min(8) as usize;
    let value = to_bit(x) as u32;
    let text = if upper {
        format!("{value:08X}")
    } else {
        format!("{value:08x}")
    };
    text[8 - digits..].to_string()
}

/// An argument error as `luaL_checknumber` words it, at the script's line (the functions are
/// Rust, called straight from the script, so even a tail call keeps the script's frame).
fn bad_argument(lua: &Lua, name: &str, at: usize, got: &str) -> mlua::Error {
    let position = super::script_line(lua)
        .map(|line| format!("user_script:{line}: "))
        .unwrap_or_default();
    mlua::Error::RuntimeError(format!(
        "{position}bad argument #{} to '{name}' (number expected, got {got})",
        at + 1
    ))
}

/// Argument `at` as a number: a number, or a string Lua reads as one.
fn number(lua: &Lua, name: &str, args: &MultiValue, at: usize) -> mlua::Result<f64> {
    let Some(value) = args.get(at) else {
        return Err(bad_argument(lua, name, at, "no value"));
    };
    match lua.coerce_number(value.clone())? {
        Some(n) => Ok(n),
        None => Err(bad_argument(lua, name, at, value.type_name())),
    }
}

/// The `bit` table (made read-only by the prelude, as redis's libraries are).
pub fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let fold = |name: &'static str, op: fn(i32, i32) -> i32| {
        move |lua: &Lua, args: MultiValue| -> mlua::Result<i32> {
            let mut acc = to_bit(number(lua, name, &args, 0)?);
            for at in 1..args.len() {
                acc = op(acc, to_bit(number(lua, name, &args, at)?));
            }
            Ok(acc)
        }
    };
    t.raw_set("band", lua.create_function(fold("band", |a, b| a & b))?)?;
    t.raw_set("bor", lua.create_function(fold("bor", |a, b| a | b))?)?;
    t.raw_set("bxor", lua.create_function(fold("bxor", |a, b| a ^ b))?)?;
    let unary = |name: &'static str, op: fn(i32) -> i32| {
        move |lua: &Lua, args: MultiValue| -> mlua::Result<i32> {
            Ok(op(to_bit(number(lua, name, &args, 0)?)))
        }
    };
    t.raw_set("tobit", lua.create_function(unary("tobit", |x| x))?)?;
    t.raw_set("bnot", lua.create_function(unary("bnot", |x| !x))?)?;
    t.raw_set(
        "bswap",
        lua.create_function(unary("bswap", i32::swap_bytes))?,
    )?;
    t.raw_set(
        "tohex",
        lua.create_function(|lua, args: MultiValue| {
            let x = number(lua, "tohex", &args, 0)?;
            let n = match args.len() {
                0 | 1 => None,
                _ => Some(number(lua, "tohex", &args, 1)?),
            };
            Ok(to_hex(x, n))
        })?,
    )?;
    let shift = |name: &'static str, op: fn(i32, u32) -> i32| {
        move |lua: &Lua, args: MultiValue| -> mlua::Result<i32> {
            let x = to_bit(number(lua, name, &args, 0)?);
            let n = to_bit(number(lua, name, &args, 1)?) as u32 & 31;
            Ok(op(x, n))
        }
    };
    t.raw_set(
        "lshift",
        lua.create_function(shift("lshift", |x, n| ((x as u32) << n) as i32))?,
    )?;
    t.raw_set(
        "rshift",
        lua.create_function(shift("rshift", |x, n| ((x as u32) >> n) as i32))?,
    )?;
    t.raw_set(
        "arshift",
        lua.create_function(shift("arshift", |x, n| x >> n))?,
    )?;
    t.raw_set(
        "rol",
        lua.create_function(shift("rol", |x, n| (x as u32).rotate_left(n) as i32))?,
    )?;
    t.raw_set(
        "ror",
        lua.create_function(shift("ror", |x, n| (x as u32).rotate_right(n) as i32))?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_32_bit_integers_as_luabitop_makes_them() {
        for (n, want) in [
            (1.5, 2),
            (2.5, 2),
            (-1.5, -2),
            (0.5, 0),
            (3.5, 4),
            (4_294_967_301.0, 5),
            (2_147_483_648.0, i32::MIN),
            (-2_147_483_649.0, i32::MAX),
        ] {
            assert_eq!(to_bit(n), want, "{n}");
        }
        assert_eq!(to_hex(65535.0, None), "0000ffff");
        assert_eq!(to_hex(-1.0, Some(-4.0)), "FFFF");
        assert_eq!(to_hex(-1.0, Some(100.0)), "ffffffff");
        assert_eq!(to_hex(1.0, Some(0.0)), "");
    }
}
