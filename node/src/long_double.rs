//! The x87 80-bit `long double` arithmetic redis-server uses for INCRBYFLOAT, in software.
//!
//! redis parses the stored value and the increment with `strtold`, adds them in 80-bit extended
//! precision (64-bit mantissa) and prints the sum with `%.17Lf`, then trims trailing zeros. That is
//! why `INCRBYFLOAT k 0.1` twice gives `0.2` and `0.1 + 0.2` gives `0.3` there, where `f64` would
//! give `0.30000000000000004`. To answer byte for byte the same, this module does the same three
//! steps exactly, with big integers: correctly rounded parsing, correctly rounded addition
//! (round half to even) and exact fixed-point printing.

use num_bigint::{BigInt, BigUint, Sign};

/// Mantissa bits of the x87 extended format (explicit integer bit).
const MANT_BITS: u64 = 64;
/// Largest binary exponent of a finite value (of the leading bit).
const MAX_EXP: i64 = 16383;
/// Smallest binary exponent of a normal value (of the leading bit).
const MIN_EXP: i64 = -16382;

/// A finite extended-precision number: `(-1)^neg × mant × 2^exp`, `mant` < 2^64.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LongDouble {
    neg: bool,
    mant: u64,
    exp: i64,
}

/// What parsing or adding produced.
#[derive(Clone, Debug, PartialEq)]
pub enum Number {
    /// A finite value.
    Finite(LongDouble),
    /// An infinity (`inf` typed by the client, or a sum that overflowed).
    Infinite,
}

impl LongDouble {
    /// Zero.
    pub fn zero() -> LongDouble {
        LongDouble {
            neg: false,
            mant: 0,
            exp: 0,
        }
    }

    /// Rounds `±n × 2^exp` to the nearest value with a 64-bit mantissa (ties to even).
    /// `None` when the result overflows the format.
    fn round(neg: bool, n: &BigUint, exp: i64) -> Option<LongDouble> {
        let bits = n.bits();
        if bits == 0 {
            return Some(LongDouble {
                neg,
                mant: 0,
                exp: 0,
            });
        }
        let (mant, exp) = if bits <= MANT_BITS {
            (n.iter_u64_digits().next().unwrap_or(0), exp)
        } else {
            let shift = bits - MANT_BITS;
            let kept: BigUint = n >> shift;
            let mut mant = kept.iter_u64_digits().next().unwrap_or(0);
            let half = n.bit(shift - 1);
            let sticky = n.trailing_zeros().is_some_and(|tz| tz < shift - 1);
            let mut exp = exp + shift as i64;
            if half && (sticky || mant & 1 == 1) {
                match mant.checked_add(1) {
                    Some(m) => mant = m,
                    None => {
                        mant = 1 << 63;
                        exp += 1;
                    }
                }
            }
            (mant, exp)
        };
        let lead = exp + 63 - i64::from(mant.leading_zeros());
        if lead > MAX_EXP {
            return None;
        }
        if lead < MIN_EXP - 64 {
            return Some(LongDouble {
                neg,
                mant: 0,
                exp: 0,
            });
        }
        Some(LongDouble { neg, mant, exp })
    }

    fn is_zero(&self) -> bool {
        self.mant == 0
    }

    /// Parses a number as redis's `string2ld` (`strtold`, nothing before or after the number).
    /// `None` for text that is not a number, for NaN, and for finite text that overflows or
    /// underflows (`strtold` reports those as range errors and redis rejects them).
    pub fn parse(text: &[u8]) -> Option<Number> {
        if text.is_empty() || text.len() >= 5 * 1024 || text[0].is_ascii_whitespace() {
            return None;
        }
        let (neg, body) = match text[0] {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let lower = body.to_ascii_lowercase();
        if lower == b"inf" || lower == b"infinity" {
            return Some(Number::Infinite);
        }
        if lower.starts_with(b"0x") {
            return LongDouble::parse_hex(neg, &lower[2..]);
        }
        let mut digits = Vec::new();
        let mut frac_digits: i64 = 0;
        let mut seen_point = false;
        let mut seen_digit = false;
        let mut i = 0;
        while i < body.len() {
            match body[i] {
                c @ b'0'..=b'9' => {
                    digits.push(c - b'0');
                    seen_digit = true;
                    if seen_point {
                        frac_digits += 1;
                    }
                }
                b'.' if !seen_point => seen_point = true,
                _ => break,
            }
            i += 1;
        }
        if !seen_digit {
            return None;
        }
        let mut exp10: i64 = 0;
        if i < body.len() {
            if body[i] != b'e' && body[i] != b'E' {
                return None;
            }
            exp10 = parse_exponent(&body[i + 1..])?;
        }
        let d = BigUint::from_radix_be(&digits, 10)?;
        if d.bits() == 0 {
            return Some(Number::Finite(LongDouble {
                neg,
                ..LongDouble::zero()
            }));
        }
        let k = exp10 - frac_digits;
        // Beyond these the value is out of the format's range whatever the digits.
        if k > 5000 {
            return None;
        }
        if k < -5100 - digits.len() as i64 {
            return None;
        }
        let value = if k >= 0 {
            LongDouble::round(neg, &(d * BigUint::from(10u8).pow(k as u32)), 0)?
        } else {
            let den = BigUint::from(10u8).pow((-k) as u32);
            let shift = (MANT_BITS + 3 + den.bits()).saturating_sub(d.bits());
            let num = d << shift;
            let (q, r) = (&num / &den, &num % &den);
            // One extra bit that is set when the division was inexact keeps the rounding exact.
            let q = (q << 1u8) | BigUint::from(u8::from(r.bits() != 0));
            LongDouble::round(neg, &q, -(shift as i64) - 1)?
        };
        if value.is_zero() {
            return None;
        }
        Some(Number::Finite(value))
    }

    /// The hexadecimal form `strtold` also reads: `0x` hex digits, an optional `.` and more hex
    /// digits, an optional binary exponent `p±N`.
    fn parse_hex(neg: bool, body: &[u8]) -> Option<Number> {
        let (mant_text, exp_text) = match memchr::memchr(b'p', body) {
            Some(i) => (&body[..i], Some(&body[i + 1..])),
            None => (body, None),
        };
        let (int_part, frac_part) = match memchr::memchr(b'.', mant_text) {
            Some(i) => (&mant_text[..i], &mant_text[i + 1..]),
            None => (mant_text, &b""[..]),
        };
        let mut digits = Vec::new();
        for &c in int_part.iter().chain(frac_part) {
            digits.push((c as char).to_digit(16)? as u8);
        }
        if digits.is_empty() {
            return None;
        }
        let mut exp2: i64 = -4 * frac_part.len() as i64;
        if let Some(e) = exp_text {
            exp2 += parse_exponent(e)?;
        }
        let n = BigUint::from_radix_be(&digits, 16)?;
        if n.bits() == 0 {
            return Some(Number::Finite(LongDouble {
                neg,
                ..LongDouble::zero()
            }));
        }
        let value = LongDouble::round(neg, &n, exp2)?;
        (!value.is_zero()).then_some(Number::Finite(value))
    }

    fn to_bigint(&self) -> BigInt {
        let sign = if self.neg { Sign::Minus } else { Sign::Plus };
        BigInt::from_biguint(sign, BigUint::from(self.mant))
    }

    /// The correctly rounded sum; `Infinite` when it overflows.
    pub fn add(&self, other: &LongDouble) -> Number {
        let exp = self.exp.min(other.exp);
        let a = self.to_bigint() << (self.exp - exp) as u64;
        let b = other.to_bigint() << (other.exp - exp) as u64;
        let sum = a + b;
        let (sign, mag) = sum.into_parts();
        match LongDouble::round(sign == Sign::Minus, &mag, exp) {
            Some(v) => Number::Finite(v),
            None => Number::Infinite,
        }
    }

    /// The text redis stores and replies: `%.17Lf` with trailing zeros (and a bare point) removed,
    /// `-0` written `0`.
    pub fn to_human(&self) -> String {
        let mag = BigUint::from(self.mant);
        let fixed = if self.exp >= 0 {
            (mag << self.exp as u64) * BigUint::from(10u8).pow(17)
        } else {
            let shift = (-self.exp) as u64;
            let scaled = mag * BigUint::from(10u8).pow(17);
            let q: BigUint = &scaled >> shift;
            let r = &scaled - (&q << shift);
            let half = BigUint::from(1u8) << (shift - 1);
            if r > half || (r == half && q.bit(0)) {
                q + 1u8
            } else {
                q
            }
        };
        let digits = fixed.to_str_radix(10);
        let digits = format!("{digits:0>18}");
        let (int, frac) = digits.split_at(digits.len() - 17);
        let mut s = format!("{}{int}.{frac}", if self.neg { "-" } else { "" });
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
        if s == "-0" {
            s = "0".into();
        }
        s
    }
}

/// An exponent's digits after `e` or `p`: an optional sign and decimal digits, saturated at a
/// million (far beyond the format's range, so the value is then out of range either way).
fn parse_exponent(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        v = (v * 10 + i64::from(d - b'0')).min(1_000_000);
    }
    Some(if negative { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(s: &str) -> LongDouble {
        match LongDouble::parse(s.as_bytes()) {
            Some(Number::Finite(v)) => v,
            other => panic!("{s}: {other:?}"),
        }
    }

    fn sum(a: &str, b: &str) -> String {
        match num(a).add(&num(b)) {
            Number::Finite(v) => v.to_human(),
            Number::Infinite => "inf".into(),
        }
    }

    #[test]
    fn matches_redis_incrbyfloat() {
        // Expected texts are what redis-server 7 answers on x86-64.
        assert_eq!(sum("10.5", "0.1"), "10.6");
        assert_eq!(sum("0.1", "0.2"), "0.3");
        assert_eq!(sum("5.0e3", "2.0e2"), "5200");
        assert_eq!(sum("0", "1.23456789012345678"), "1.23456789012345678");
        assert_eq!(sum("9103372036854775806", "2"), "9103372036854775808");
        assert_eq!(sum("-1", "1"), "0");
        assert_eq!(sum("3", "-5.5"), "-2.5");
        assert!(sum("0", "1e300").starts_with("1000000000000000000008997324079559193870523944273290747938260082321265646596180935755849152083750497190350372508614274835903592556184672983913096260520748646287327135641843653294084255107606016789726652932370030551382947620994540294772781889620606179267611627097410650567187386105690089424915104006144"));
    }

    #[test]
    fn parse_rules() {
        for bad in [
            "", " 1", "1 ", "abc", "1e", "nan", "1e99999", "0x", "--1", "1.2.3",
        ] {
            assert!(
                !matches!(LongDouble::parse(bad.as_bytes()), Some(Number::Finite(_))),
                "{bad}"
            );
        }
        assert_eq!(LongDouble::parse(b"inf"), Some(Number::Infinite));
        assert_eq!(LongDouble::parse(b"-Infinity"), Some(Number::Infinite));
        assert_eq!(num(".5").to_human(), "0.5");
        assert_eq!(num("5.").to_human(), "5");
        assert_eq!(num("-0").to_human(), "0");
        assert_eq!(num("0x10").to_human(), "16");
        assert_eq!(num("0x1.8p1").to_human(), "3");
    }
}
