//! Function libraries (FUNCTION LOAD, FCALL), as redis 7 defines them: a library is Lua code
//! that starts with a `#!lua name=<library>` line and registers its functions with
//! `redis.register_function` when it is loaded; each function has a name unique in the node,
//! an optional description and flags.
//!
//! What is stored (in the metadata group, see `server/functions.rs`) is only each library's
//! code, as redis keeps only the code in its RDB: what a library registers is learnt by loading
//! it ([`super::Engine::load_library`]), on the node that takes FUNCTION LOAD to check it, and
//! on every node to call it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;

/// A function's flags (`flags={…}` of `redis.register_function`), as redis 7's script flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptFlags(u8);

impl ScriptFlags {
    /// `no-writes`: the function may not write (it may run with FCALL_RO).
    pub const NO_WRITES: ScriptFlags = ScriptFlags(1);
    /// `allow-oom`: it may run while the node is past `maxmemory`.
    pub const ALLOW_OOM: ScriptFlags = ScriptFlags(2);
    /// `allow-stale`: accepted (no Shardis replica serves stale data).
    pub const ALLOW_STALE: ScriptFlags = ScriptFlags(4);
    /// `no-cluster`: it may not run on a cluster (Shardis always is one).
    pub const NO_CLUSTER: ScriptFlags = ScriptFlags(8);
    /// `allow-cross-slot-keys`: accepted; the keys a function touches stay in one slot here.
    pub const ALLOW_CROSS_SLOT: ScriptFlags = ScriptFlags(16);

    /// Every flag by name, in the order redis lists them.
    const NAMES: [(ScriptFlags, &'static str); 5] = [
        (ScriptFlags::NO_WRITES, "no-writes"),
        (ScriptFlags::ALLOW_OOM, "allow-oom"),
        (ScriptFlags::ALLOW_STALE, "allow-stale"),
        (ScriptFlags::NO_CLUSTER, "no-cluster"),
        (ScriptFlags::ALLOW_CROSS_SLOT, "allow-cross-slot-keys"),
    ];

    /// The flag of this name (any case), if there is one.
    pub fn named(name: &[u8]) -> Option<ScriptFlags> {
        ScriptFlags::NAMES
            .iter()
            .find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(name))
            .map(|(f, _)| *f)
    }

    /// The names of the flags set, in redis's order.
    pub fn names(self) -> Vec<&'static str> {
        ScriptFlags::NAMES
            .iter()
            .filter(|(f, _)| self.contains(*f))
            .map(|(_, n)| *n)
            .collect()
    }

    /// True when every flag of `other` is set.
    pub fn contains(self, other: ScriptFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// These flags and `other`'s.
    pub fn with(self, other: ScriptFlags) -> ScriptFlags {
        ScriptFlags(self.0 | other.0)
    }
}

/// One registered function, as FUNCTION LIST shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionInfo {
    /// Its name.
    pub name: String,
    /// `description=` of the named form, if given.
    pub description: Option<Bytes>,
    /// Its flags.
    pub flags: ScriptFlags,
}

/// A loaded library: its code and what loading it registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Library {
    /// The name of its `#!lua name=` line.
    pub name: String,
    /// The whole code, first line included (what FUNCTION LIST WITHCODE and DUMP give).
    pub code: Bytes,
    /// The code's SHA-1: a shard keeps the functions of a library it loaded under it.
    pub sha: String,
    /// Its functions, in the order it registered them.
    pub functions: Vec<FunctionInfo>,
}

/// The `#!<engine> name=<library>` line of a library's code.
#[derive(Debug, PartialEq, Eq)]
pub struct Header {
    /// The engine named (`lua`, any case).
    pub engine: String,
    /// The library's name.
    pub name: String,
    /// Where the body starts: at the newline ending the first line, so that the body's line
    /// numbers are the code's.
    pub body_at: usize,
}

/// The words of a `#!…` first line (split as `sdssplitargs` does, the text cut at its first NUL
/// as in C) and where the line ends; `no_newline` or `no_words` when there is no such line.
fn first_line_words(
    text: &[u8],
    no_newline: &str,
    no_words: &str,
) -> Result<(Vec<Bytes>, usize), String> {
    let text = &text[..memchr::memchr(0, text).unwrap_or(text.len())];
    let Some(end) = memchr::memchr(b'\n', text) else {
        return Err(no_newline.into());
    };
    match crate::protocol::parse::split_inline_args(&text[..end]) {
        Some(parts) if !parts.is_empty() => Ok((parts, end)),
        _ => Err(no_words.into()),
    }
}

/// Reads a library's first line, as redis does (`functionExtractLibMetaData`); the error texts
/// are redis's, without `ERR`.
pub fn parse_header(code: &[u8]) -> Result<Header, String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let (parts, end) =
        first_line_words(code, "Invalid library metadata", "Invalid library metadata")?;
    let engine = String::from_utf8_lossy(parts[0].get(2..).unwrap_or_default()).into_owned();
    let mut name = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(String::from_utf8_lossy(&part[5..]).into_owned());
            continue;
        }
        return Err(format!(
            "Invalid metadata value given: {}",
            String::from_utf8_lossy(part)
        ));
    }
    let Some(name) = name else {
        return Err("Library name was not given".into());
    };
    Ok(Header {
        engine,
        name,
        body_at: end,
    })
}

/// An EVAL script's `#!lua flags=…` first line, read as redis 7 reads it
/// (`evalExtractShebangFlags`): `Ok(None)` for a script without one (run as before redis 7,
/// each command checked as it runs), else its flags and the first line's length (the script is
/// compiled from the newline on, so its line numbers stay the user's). Errors are redis's,
/// without `ERR`.
pub fn script_shebang(body: &[u8]) -> Result<Option<(ScriptFlags, usize)>, String> {
    if !body.starts_with(b"#!") {
        return Ok(None);
    }
    let (parts, end) = first_line_words(
        body,
        "Invalid script shebang",
        "Invalid engine in script shebang",
    )?;
    if parts[0].as_ref() != b"#!lua" {
        return Err(format!(
            "Unexpected engine in script shebang: {}",
            String::from_utf8_lossy(&parts[0])
        ));
    }
    let mut flags = ScriptFlags::default();
    for part in &parts[1..] {
        let Some(list) = part.strip_prefix(b"flags=") else {
            return Err(format!(
                "Unknown lua shebang option: {}",
                String::from_utf8_lossy(part)
            ));
        };
        if list.is_empty() {
            continue;
        }
        for name in list.split(|&b| b == b',') {
            let flag = ScriptFlags::NAMES
                .iter()
                .find(|(_, n)| n.as_bytes() == name)
                .map(|(f, _)| *f)
                .ok_or_else(|| {
                    format!(
                        "Unexpected flag in script shebang: {}",
                        String::from_utf8_lossy(name)
                    )
                })?;
            flags = flags.with(flag);
        }
    }
    Ok(Some((flags, end)))
}

/// True for a valid library or function name: letters, digits and `_`, at least one.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// The error redis answers for a bad library or function name.
pub const BAD_NAME: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// A node's libraries, and its functions by name.
#[derive(Clone, Debug, Default)]
pub struct Libraries {
    by_name: BTreeMap<String, Arc<Library>>,
    functions: HashMap<String, (Arc<Library>, usize)>,
}

impl Libraries {
    /// The libraries, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Library>> {
        self.by_name.values()
    }

    /// How many libraries there are.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// How many functions they register.
    pub fn function_count(&self) -> usize {
        self.functions.len()
    }

    /// The function of this name and its library.
    pub fn function(&self, name: &str) -> Option<(&Arc<Library>, &FunctionInfo)> {
        let (lib, at) = self.functions.get(name)?;
        Some((lib, lib.functions.get(*at)?))
    }

    /// Removes a library; false when there is none of that name.
    pub fn remove(&mut self, name: &str) -> bool {
        let Some(lib) = self.by_name.remove(name) else {
            return false;
        };
        for f in &lib.functions {
            self.functions.remove(&f.name);
        }
        true
    }

    fn link(&mut self, lib: Arc<Library>) {
        for (at, f) in lib.functions.iter().enumerate() {
            self.functions.insert(f.name.clone(), (lib.clone(), at));
        }
        self.by_name.insert(lib.name.clone(), lib);
    }

    /// FUNCTION LOAD's rules: a library of an existing name only with REPLACE, and no function
    /// of another library's name. Nothing changes on an error.
    pub fn add(&mut self, lib: Library, replace: bool) -> Result<(), String> {
        if self.by_name.contains_key(&lib.name) && !replace {
            return Err(format!("Library '{}' already exists", lib.name));
        }
        let mut next = self.clone();
        next.remove(&lib.name);
        if let Some(f) = lib
            .functions
            .iter()
            .find(|f| next.functions.contains_key(&f.name))
        {
            return Err(format!("Function {} already exists", f.name));
        }
        next.link(Arc::new(lib));
        *self = next;
        Ok(())
    }

    /// FUNCTION RESTORE's rules (APPEND, or REPLACE with `replace`) for adding all of `other`:
    /// a library of an existing name only with REPLACE, then no function of the name of one
    /// left. Nothing changes on an error.
    pub fn join(&mut self, other: Libraries, replace: bool) -> Result<(), String> {
        let mut next = self.clone();
        for name in other.by_name.keys() {
            if next.by_name.contains_key(name) {
                if !replace {
                    return Err(format!("Library {name} already exists"));
                }
                next.remove(name);
            }
        }
        for lib in other.by_name.values() {
            if let Some(f) = lib
                .functions
                .iter()
                .find(|f| next.functions.contains_key(&f.name))
            {
                return Err(format!("Function {} already exists", f.name));
            }
        }
        for lib in other.by_name.into_values() {
            next.link(lib);
        }
        *self = next;
        Ok(())
    }

    /// The libraries' codes by name, as the metadata group stores them.
    pub fn records(&self) -> Vec<(Bytes, Bytes)> {
        self.by_name
            .values()
            .map(|l| (Bytes::from(l.name.clone()), l.code.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lib(name: &str, functions: &[&str]) -> Library {
        Library {
            name: name.into(),
            code: Bytes::from(format!("#!lua name={name}\n")),
            sha: String::new(),
            functions: functions
                .iter()
                .map(|f| FunctionInfo {
                    name: f.to_string(),
                    description: None,
                    flags: ScriptFlags::default(),
                })
                .collect(),
        }
    }

    #[test]
    fn headers_are_read_as_redis_reads_them() {
        let h = parse_header(b"#!lua name=mylib\nreturn 1").expect("valid");
        assert_eq!(
            (h.engine.as_str(), h.name.as_str(), h.body_at),
            ("lua", "mylib", 16)
        );
        let err = |code: &[u8]| parse_header(code).expect_err("invalid");
        assert_eq!(err(b"return 1"), "Missing library metadata");
        assert_eq!(err(b"#!lua name=x"), "Invalid library metadata");
        assert_eq!(err(b"#!lua\n"), "Library name was not given");
        assert_eq!(
            err(b"#!lua name=a name=b\n"),
            "Invalid metadata value, name argument was given multiple times"
        );
        assert_eq!(
            err(b"#!lua foo=bar\n"),
            "Invalid metadata value given: foo=bar"
        );
        assert!(valid_name("a_1") && !valid_name("") && !valid_name("a-b"));
    }

    #[test]
    fn load_and_restore_refuse_collisions_and_change_nothing_then() {
        let mut libs = Libraries::default();
        libs.add(lib("a", &["f", "g"]), false).expect("first");
        assert_eq!(
            libs.add(lib("a", &["h"]), false),
            Err("Library 'a' already exists".into())
        );
        assert_eq!(
            libs.add(lib("b", &["g"]), false),
            Err("Function g already exists".into())
        );
        libs.add(lib("a", &["h"]), true).expect("replaced");
        assert!(libs.function("f").is_none() && libs.function("h").is_some());
        let mut other = Libraries::default();
        other.add(lib("a", &["x"]), false).expect("one");
        other.add(lib("c", &["y"]), false).expect("two");
        assert_eq!(
            libs.clone().join(other.clone(), false),
            Err("Library a already exists".into())
        );
        libs.join(other, true).expect("replaces a, adds c");
        let names: Vec<_> = libs.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        assert_eq!(libs.function_count(), 2);
        assert!(libs.remove("c") && !libs.remove("c"));
    }

    #[test]
    fn script_shebangs_are_read_as_redis_reads_them() {
        assert_eq!(script_shebang(b"return 1"), Ok(None));
        assert_eq!(
            script_shebang(b"#!lua flags=no-writes,allow-oom\nreturn 1"),
            Ok(Some((
                ScriptFlags::NO_WRITES.with(ScriptFlags::ALLOW_OOM),
                31
            )))
        );
        assert_eq!(
            script_shebang(b"#!lua\nreturn 1"),
            Ok(Some((ScriptFlags::default(), 5)))
        );
        assert_eq!(
            script_shebang(b"#!lua flags=\n"),
            Ok(Some((ScriptFlags::default(), 12)))
        );
        let err = |body: &[u8]| script_shebang(body).expect_err("refused");
        assert_eq!(err(b"#!lua"), "Invalid script shebang");
        assert_eq!(err(b"#!js\n"), "Unexpected engine in script shebang: #!js");
        assert_eq!(
            err(b"#!lua flags=No-Writes\n"),
            "Unexpected flag in script shebang: No-Writes"
        );
        assert_eq!(
            err(b"#!lua flags=no-writes,,allow-oom\n"),
            "Unexpected flag in script shebang: "
        );
        assert_eq!(err(b"#!lua name=x\n"), "Unknown lua shebang option: name=x");
    }

    #[test]
    fn flags_are_named_and_listed_in_redis_order() {
        let flags = ScriptFlags::named(b"NO-CLUSTER")
            .expect("known")
            .with(ScriptFlags::NO_WRITES);
        assert_eq!(flags.names(), ["no-writes", "no-cluster"]);
        assert!(ScriptFlags::named(b"bad").is_none());
    }
}
