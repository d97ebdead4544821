//! Glob-style pattern matching with redis's rules (KEYS, SCAN MATCH, CONFIG GET):
//! `*` any run, `?` any byte, `[abc]`, `[^abc]`, `[a-z]` classes, `\x` a literal `x`.
//! Matching is byte-wise and binary-safe.

/// True when `text` matches `pattern`.
pub fn matches(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    match_from(pattern, text, nocase, 0)
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

/// Matches a class starting after `[` at `p[0..]`; returns (matched, pattern bytes consumed).
fn match_class(p: &[u8], c: u8, nocase: bool) -> (bool, usize) {
    let mut i = 0;
    let negate = p.first() == Some(&b'^');
    if negate {
        i += 1;
    }
    let mut hit = false;
    loop {
        match p.get(i) {
            // Unterminated class: redis treats the end of the pattern as its end.
            None => return (hit != negate, i),
            Some(b']') => return (hit != negate, i + 1),
            Some(b'\\') if i + 1 < p.len() => {
                if eq(p[i + 1], c, nocase) {
                    hit = true;
                }
                i += 2;
            }
            Some(&lo) if p.get(i + 1) == Some(&b'-') && i + 2 < p.len() => {
                let hi = p[i + 2];
                let (lo, hi) = if lo > hi { (hi, lo) } else { (lo, hi) };
                let (lo2, hi2, c2) = if nocase {
                    (
                        lo.to_ascii_lowercase(),
                        hi.to_ascii_lowercase(),
                        c.to_ascii_lowercase(),
                    )
                } else {
                    (lo, hi, c)
                };
                if c2 >= lo2 && c2 <= hi2 {
                    hit = true;
                }
                i += 3;
            }
            Some(&x) => {
                if eq(x, c, nocase) {
                    hit = true;
                }
                i += 1;
            }
        }
    }
}

fn match_from(mut p: &[u8], mut s: &[u8], nocase: bool, depth: usize) -> bool {
    if depth > 1000 {
        return false;
    }
    while let Some(&pc) = p.first() {
        match pc {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                for start in 0..=s.len() {
                    if match_from(&p[1..], &s[start..], nocase, depth + 1) {
                        return true;
                    }
                }
                return false;
            }
            b'?' => {
                if s.is_empty() {
                    return false;
                }
                s = &s[1..];
                p = &p[1..];
            }
            b'[' => {
                let Some(&c) = s.first() else { return false };
                let (hit, used) = match_class(&p[1..], c, nocase);
                if !hit {
                    return false;
                }
                p = &p[1 + used..];
                s = &s[1..];
            }
            b'\\' if p.len() >= 2 => {
                if s.first().is_none_or(|&c| !eq(p[1], c, nocase)) {
                    return false;
                }
                p = &p[2..];
                s = &s[1..];
            }
            _ => {
                if s.first().is_none_or(|&c| !eq(pc, c, nocase)) {
                    return false;
                }
                p = &p[1..];
                s = &s[1..];
            }
        }
    }
    s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn redis_glob_rules() {
        let yes: &[(&str, &str)] = &[
            ("*", ""),
            ("h?llo", "hello"),
            ("h*llo", "heeeello"),
            ("h[ae]llo", "hallo"),
            ("h[^e]llo", "hallo"),
            ("h[a-b]llo", "hbllo"),
            ("h[b-a]llo", "hallo"),
            ("h\\*llo", "h*llo"),
            ("a*b*c", "axxbyyc"),
        ];
        for (p, s) in yes {
            assert!(matches(p.as_bytes(), s.as_bytes(), false), "{p} {s}");
        }
        let no: &[(&str, &str)] = &[
            ("h?llo", "hllo"),
            ("h[^e]llo", "hello"),
            ("h[a-b]llo", "hcllo"),
            ("h\\*llo", "hello"),
            ("a", "ab"),
        ];
        for (p, s) in no {
            assert!(!matches(p.as_bytes(), s.as_bytes(), false), "{p} {s}");
        }
        assert!(matches(b"MAX*", b"maxclients", true));
    }
}
