//! Static command table served by COMMAND, COMMAND INFO, COMMAND DOCS,
//! COMMAND COUNT, COMMAND LIST and COMMAND GETKEYS.
//!
//! This file holds the hand-written types and lookups. The data, [`COMMANDS`],
//! is in `table_data.rs`, a file generated whole by
//! `scripts/gen_command_table.py --write node/src/commands/table_data.rs`,
//! which reads COMMAND INFO and COMMAND DOCS from a running redis-server
//! (7.0.15 at the time of writing) for the commands named in
//! `scripts/commands.txt`. Entries that Redis 7.0 does not have are written by
//! the script from hand-maintained data following the Redis 7.2 documentation
//! and carry a comment saying so. Never edit `table_data.rs` by hand.
//!
//! Everything here is `&'static` data; lookups do not allocate.

// Generated whole by scripts/gen_command_table.py; rustfmt must leave it as the script wrote it.
#[rustfmt::skip]
#[path = "table_data.rs"]
mod data;

pub use data::COMMANDS;

/// How the first key of a key spec is located.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeginSearch {
    /// The first key is at this argv index.
    Index(i32),
    /// The first key follows `keyword`. The search starts at argv index
    /// `start_from` and goes forward; a negative `start_from` counts from the
    /// end of argv and the search goes backward.
    Keyword {
        keyword: &'static str,
        start_from: i32,
    },
    /// The keys cannot be found from the spec alone.
    Unknown,
}

/// How the rest of the keys follow the first one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindKeys {
    /// Keys from the first one up to `last_key` (relative to the first key
    /// when >= 0, relative to the end of argv when negative), every
    /// `key_step` arguments. With a negative `last_key` and a non-zero
    /// `limit`, only the first 1/`limit` of the remaining arguments are keys.
    Range {
        last_key: i32,
        key_step: i32,
        limit: i32,
    },
    /// The number of keys is at `keynum_idx` (relative to the begin-search
    /// position); the keys start `first_key` arguments after that position,
    /// every `key_step` arguments.
    Keynum {
        keynum_idx: i32,
        first_key: i32,
        key_step: i32,
    },
    /// The keys cannot be found from the spec alone.
    Unknown,
}

/// One key specification, as printed by COMMAND INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    /// Free-text notes; empty when COMMAND INFO prints none.
    pub notes: &'static str,
    pub flags: &'static [&'static str],
    pub begin_search: BeginSearch,
    pub find_keys: FindKeys,
}

/// Metadata of one command or subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandSpec {
    /// Lowercase; subcommands are named "parent|sub".
    pub name: &'static str,
    pub arity: i32,
    /// As COMMAND INFO prints them, in that order.
    pub flags: &'static [&'static str],
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    /// With the leading '@', in COMMAND INFO order.
    pub acl_categories: &'static [&'static str],
    pub tips: &'static [&'static str],
    pub key_specs: &'static [KeySpec],
    pub subcommands: &'static [CommandSpec],
    // From COMMAND DOCS:
    pub summary: &'static str,
    pub since: &'static str,
    pub group: &'static str,
    pub complexity: &'static str,
    /// The "doc_flags" of COMMAND DOCS (e.g. "deprecated"), often empty.
    pub doc_flags: &'static [&'static str],
}

/// Case-insensitive lookup of a top-level command (bytes, not UTF-8 checked).
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    static INDEX: std::sync::LazyLock<ahash::HashMap<&'static [u8], &'static CommandSpec>> =
        std::sync::LazyLock::new(|| COMMANDS.iter().map(|c| (c.name.as_bytes(), c)).collect());
    let mut lower = [0u8; 32];
    let lower = lower.get_mut(..name.len())?;
    for (d, s) in lower.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    INDEX.get(&*lower).copied()
}

/// Case-insensitive lookup of a subcommand of `parent`.
pub fn lookup_subcommand(parent: &'static CommandSpec, sub: &[u8]) -> Option<&'static CommandSpec> {
    let prefix_len = parent.name.len() + 1; // "parent|"
    parent.subcommands.iter().find(|c| {
        let n = c.name.as_bytes();
        n.len() == prefix_len + sub.len() && n[prefix_len..].eq_ignore_ascii_case(sub)
    })
}

/// Whether `argc` arguments (command name included; for a subcommand the
/// parent and subcommand names included) satisfy the arity of `spec`:
/// a positive arity is exact, a negative one is a minimum of `-arity`.
pub fn arity_ok(spec: &CommandSpec, argc: usize) -> bool {
    let arity = spec.arity as i64;
    let argc = argc as i64;
    if arity >= 0 {
        argc == arity
    } else {
        argc >= -arity
    }
}

/// Whether the command declares any key arguments (key specs or a legacy
/// first-key). COMMAND GETKEYS answers "The command has no key arguments"
/// when this is false.
pub fn has_keys(spec: &CommandSpec) -> bool {
    !spec.key_specs.is_empty() || spec.first_key > 0
}

/// Key positions (indices into argv, argv[0] = command name) of a full
/// command line, following the key specs (or, for a spec without key specs,
/// the legacy first/last/step triple) like Redis's getKeysFromCommand.
///
/// * `Ok(vec![])` when the command takes no keys (or, e.g., a keynum of 0).
/// * `Err(())` when argv does not match the arity, or when a key spec points
///   outside argv / has an invalid key count (Redis: "Invalid arguments
///   specified for command").
///
/// Key specs flagged `not_key`, keyword specs whose keyword is absent, and
/// specs of type `Unknown` contribute no keys. Positions are not
/// deduplicated and come in spec order.
#[allow(clippy::result_unit_err)] // signature fixed by the command layer
pub fn key_positions(spec: &CommandSpec, argv: &[&[u8]]) -> Result<Vec<usize>, ()> {
    let argc = argv.len();
    if !arity_ok(spec, argc) {
        return Err(());
    }
    let n = argc as i64;
    let mut keys = Vec::new();

    if spec.key_specs.is_empty() {
        if spec.first_key <= 0 {
            return Ok(keys);
        }
        let first = spec.first_key as i64;
        let last = if spec.last_key < 0 {
            n + spec.last_key as i64
        } else {
            spec.last_key as i64
        };
        push_range(&mut keys, first, last, spec.step as i64, n)?;
        return Ok(keys);
    }

    for ks in spec.key_specs {
        if ks.flags.iter().any(|f| f.eq_ignore_ascii_case("not_key")) {
            continue;
        }
        let first: i64 = match ks.begin_search {
            BeginSearch::Index(i) => i as i64,
            BeginSearch::Keyword {
                keyword,
                start_from,
            } => match find_keyword(argv, keyword, start_from) {
                Some(i) => i as i64 + 1,
                None => continue,
            },
            BeginSearch::Unknown => continue,
        };
        let (first, last, step) = match ks.find_keys {
            FindKeys::Range {
                last_key,
                key_step,
                limit,
            } => {
                let last = if last_key >= 0 {
                    first + last_key as i64
                } else if limit <= 0 {
                    n + last_key as i64
                } else {
                    first + ((n - first) / limit as i64 + last_key as i64)
                };
                (first, last, key_step as i64)
            }
            FindKeys::Keynum {
                keynum_idx,
                first_key,
                key_step,
            } => {
                let idx = first + keynum_idx as i64;
                if idx < 1 || idx >= n {
                    return Err(());
                }
                let numkeys = parse_count(argv[idx as usize]).ok_or(())?;
                if numkeys > n {
                    return Err(());
                }
                if numkeys == 0 {
                    continue;
                }
                let first = first + first_key as i64;
                let step = (key_step as i64).max(1);
                (first, first + (numkeys - 1) * step, step)
            }
            FindKeys::Unknown => continue,
        };
        push_range(&mut keys, first, last, step, n)?;
    }
    Ok(keys)
}

/// Appends first, first+step, ..., up to last; Err if the range is empty or
/// out of argv (argv[0] is never a key).
fn push_range(
    keys: &mut Vec<usize>,
    first: i64,
    last: i64,
    step: i64,
    argc: i64,
) -> Result<(), ()> {
    if first < 1 || last < first || last >= argc {
        return Err(());
    }
    let step = step.max(1);
    let mut i = first;
    while i <= last {
        keys.push(i as usize);
        i += step;
    }
    Ok(())
}

/// Index of `keyword` (ASCII case-insensitive) in argv. A non-negative
/// `start_from` searches forward from that index up to, not including, the
/// last argument (a key must follow the keyword); a negative one searches
/// backward from `argc + start_from` down to index 1.
fn find_keyword(argv: &[&[u8]], keyword: &str, start_from: i32) -> Option<usize> {
    let argc = argv.len() as i64;
    let kw = keyword.as_bytes();
    if start_from >= 0 {
        let start = (start_from as i64).max(1);
        (start..argc - 1)
            .map(|i| i as usize)
            .find(|&i| argv[i].eq_ignore_ascii_case(kw))
    } else {
        let start = (argc + start_from as i64).min(argc - 1);
        (1..=start)
            .rev()
            .map(|i| i as usize)
            .find(|&i| argv[i].eq_ignore_ascii_case(kw))
    }
}

/// Parses a non-negative decimal count the way Redis's string2ll accepts it
/// (no sign, no leading zeros, no spaces).
fn parse_count(s: &[u8]) -> Option<i64> {
    if s.is_empty() || (s.len() > 1 && s[0] == b'0') {
        return None;
    }
    let mut v: i64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((b - b'0') as i64)?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<&[u8]> {
        s.split_whitespace().map(str::as_bytes).collect()
    }

    fn keys(line: &str) -> Result<Vec<usize>, ()> {
        let a = argv(line);
        let spec = lookup(a[0]).expect("unknown command");
        key_positions(spec, &a)
    }

    fn sub_keys(line: &str) -> Result<Vec<usize>, ()> {
        let a = argv(line);
        let parent = lookup(a[0]).expect("unknown command");
        let spec = lookup_subcommand(parent, a[1]).expect("unknown subcommand");
        key_positions(spec, &a)
    }

    #[test]
    fn lookup_is_case_insensitive() {
        assert_eq!(lookup(b"get").unwrap().name, "get");
        assert_eq!(lookup(b"GET").unwrap().name, "get");
        assert_eq!(lookup(b"gEt").unwrap().name, "get");
        assert_eq!(lookup(b"IncrByFloat").unwrap().name, "incrbyfloat");
        assert!(lookup(b"nosuchcommand").is_none());
        assert!(lookup(b"").is_none());
        assert!(lookup(b"ge").is_none());
        assert!(lookup(b"gett").is_none());
        assert!(lookup(&[0xff, 0xfe]).is_none());
        // Subcommands are not top-level commands.
        assert!(lookup(b"object|encoding").is_none());
    }

    #[test]
    fn lookup_subcommand_is_case_insensitive() {
        let object = lookup(b"OBJECT").unwrap();
        assert_eq!(
            lookup_subcommand(object, b"encoding").unwrap().name,
            "object|encoding"
        );
        assert_eq!(
            lookup_subcommand(object, b"ENCODING").unwrap().name,
            "object|encoding"
        );
        assert_eq!(
            lookup_subcommand(object, b"Help").unwrap().name,
            "object|help"
        );
        assert!(lookup_subcommand(object, b"encodin").is_none());
        assert!(lookup_subcommand(object, b"object|encoding").is_none());
        assert!(lookup_subcommand(object, b"").is_none());
        let cluster = lookup(b"cluster").unwrap();
        assert_eq!(
            lookup_subcommand(cluster, b"MYSHARDID").unwrap().name,
            "cluster|myshardid"
        );
        assert_eq!(
            lookup_subcommand(cluster, b"myid").unwrap().name,
            "cluster|myid"
        );
        let client = lookup(b"client").unwrap();
        assert_eq!(lookup_subcommand(client, b"setinfo").unwrap().arity, -4);
        assert!(lookup_subcommand(lookup(b"get").unwrap(), b"x").is_none());
    }

    #[test]
    fn arities() {
        assert_eq!(lookup(b"get").unwrap().arity, 2);
        assert_eq!(lookup(b"set").unwrap().arity, -3);
        let get = lookup(b"get").unwrap();
        assert!(arity_ok(get, 2));
        assert!(!arity_ok(get, 1));
        assert!(!arity_ok(get, 3));
        let set = lookup(b"set").unwrap();
        assert!(!arity_ok(set, 2));
        assert!(arity_ok(set, 3));
        assert!(arity_ok(set, 7));
        let ping = lookup(b"ping").unwrap();
        assert!(arity_ok(ping, 1));
        assert!(arity_ok(ping, 2));
    }

    #[test]
    fn key_positions_basic() {
        assert_eq!(keys("mset a 1 b 2"), Ok(vec![1, 3]));
        assert_eq!(keys("mget a b c"), Ok(vec![1, 2, 3]));
        assert_eq!(keys("getex k"), Ok(vec![1]));
        assert_eq!(keys("getex k PERSIST"), Ok(vec![1]));
        assert_eq!(keys("get k"), Ok(vec![1]));
        assert_eq!(keys("set k v GET"), Ok(vec![1]));
        assert_eq!(keys("del a b c"), Ok(vec![1, 2, 3]));
        assert_eq!(keys("msetnx a 1 b 2"), Ok(vec![1, 3]));
        assert_eq!(keys("rename a b"), Ok(vec![1, 2]));
        assert_eq!(keys("copy a b DB 1 REPLACE"), Ok(vec![1, 2]));
        // Like redis-server: MSET with a dangling key still reports both keys.
        assert_eq!(keys("mset a 1 b"), Ok(vec![1, 3]));
        assert_eq!(keys("ping"), Ok(vec![]));
        assert_eq!(keys("ping hello"), Ok(vec![]));
        assert_eq!(keys("dbsize"), Ok(vec![]));
        assert_eq!(sub_keys("object encoding k"), Ok(vec![2]));
        assert_eq!(sub_keys("OBJECT ENCODING k"), Ok(vec![2]));
        assert_eq!(sub_keys("object help"), Ok(vec![]));
        assert!(!has_keys(lookup(b"ping").unwrap()));
        assert!(has_keys(lookup(b"get").unwrap()));
    }

    #[test]
    fn key_positions_arity_errors() {
        assert_eq!(keys("get"), Err(()));
        assert_eq!(keys("get a b"), Err(()));
        assert_eq!(keys("mset a"), Err(()));
        assert_eq!(keys("set k"), Err(()));
        assert_eq!(sub_keys("object encoding"), Err(()));
    }

    const fn fake(arity: i32, key_specs: &'static [KeySpec]) -> CommandSpec {
        CommandSpec {
            name: "fake",
            arity,
            flags: &[],
            first_key: 0,
            last_key: 0,
            step: 0,
            acl_categories: &[],
            tips: &[],
            key_specs,
            subcommands: &[],
            summary: "",
            since: "",
            group: "",
            complexity: "",
            doc_flags: &[],
        }
    }

    // Key specs as redis-server 7.0 reports them for EVAL, XREAD, MIGRATE
    // and GEORADIUS; expected positions checked with COMMAND GETKEYS.
    static EVAL: CommandSpec = fake(
        -3,
        &[KeySpec {
            notes: "",
            flags: &["RW", "access", "update"],
            begin_search: BeginSearch::Index(2),
            find_keys: FindKeys::Keynum {
                keynum_idx: 0,
                first_key: 1,
                key_step: 1,
            },
        }],
    );
    static XREAD: CommandSpec = fake(
        -4,
        &[KeySpec {
            notes: "",
            flags: &["RO", "access"],
            begin_search: BeginSearch::Keyword {
                keyword: "STREAMS",
                start_from: 1,
            },
            find_keys: FindKeys::Range {
                last_key: -1,
                key_step: 1,
                limit: 2,
            },
        }],
    );
    static MIGRATE: CommandSpec = fake(
        -6,
        &[
            KeySpec {
                notes: "",
                flags: &["RW", "access", "delete"],
                begin_search: BeginSearch::Index(3),
                find_keys: FindKeys::Range {
                    last_key: 0,
                    key_step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                notes: "",
                flags: &["RW", "access", "delete", "incomplete"],
                begin_search: BeginSearch::Keyword {
                    keyword: "KEYS",
                    start_from: -2,
                },
                find_keys: FindKeys::Range {
                    last_key: -1,
                    key_step: 1,
                    limit: 0,
                },
            },
        ],
    );
    static GEORADIUS: CommandSpec = fake(
        -6,
        &[
            KeySpec {
                notes: "",
                flags: &["RO", "access"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range {
                    last_key: 0,
                    key_step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                notes: "",
                flags: &["OW", "update"],
                begin_search: BeginSearch::Keyword {
                    keyword: "STORE",
                    start_from: 6,
                },
                find_keys: FindKeys::Range {
                    last_key: 0,
                    key_step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                notes: "",
                flags: &["OW", "update"],
                begin_search: BeginSearch::Keyword {
                    keyword: "STOREDIST",
                    start_from: 6,
                },
                find_keys: FindKeys::Range {
                    last_key: 0,
                    key_step: 1,
                    limit: 0,
                },
            },
            KeySpec {
                notes: "",
                flags: &["RO"],
                begin_search: BeginSearch::Unknown,
                find_keys: FindKeys::Unknown,
            },
        ],
    );

    #[test]
    fn key_positions_keynum() {
        assert_eq!(
            key_positions(&EVAL, &argv("eval s 2 a b x")),
            Ok(vec![3, 4])
        );
        assert_eq!(key_positions(&EVAL, &argv("eval s 0")), Ok(vec![]));
        assert_eq!(key_positions(&EVAL, &argv("eval s 0 x y")), Ok(vec![]));
        assert_eq!(key_positions(&EVAL, &argv("eval s 3 a b")), Err(()));
        assert_eq!(key_positions(&EVAL, &argv("eval s -1 a")), Err(()));
        assert_eq!(key_positions(&EVAL, &argv("eval s x a")), Err(()));
        assert_eq!(key_positions(&EVAL, &argv("eval s 01 a")), Err(()));
        assert_eq!(
            key_positions(&EVAL, &argv("eval s 99999999999999999999999 a")),
            Err(())
        );
        assert_eq!(key_positions(&EVAL, &argv("eval s")), Err(()));
    }

    #[test]
    fn key_positions_keyword() {
        assert_eq!(
            key_positions(&XREAD, &argv("xread COUNT 2 STREAMS a b 0 0")),
            Ok(vec![4, 5])
        );
        assert_eq!(
            key_positions(&XREAD, &argv("xread streams a b c 0 0 0")),
            Ok(vec![2, 3, 4])
        );
        assert_eq!(
            key_positions(&XREAD, &argv("xread COUNT 2 BLOCK 0")),
            Ok(vec![])
        );
        assert_eq!(
            key_positions(&MIGRATE, &argv("migrate h p k 0 5 KEYS a b")),
            Ok(vec![3, 7, 8])
        );
        assert_eq!(
            key_positions(&MIGRATE, &argv("migrate h p k 0 5")),
            Ok(vec![3])
        );
        assert_eq!(
            key_positions(&GEORADIUS, &argv("georadius g 1 2 3 m STORE s")),
            Ok(vec![1, 7])
        );
        assert_eq!(
            key_positions(&GEORADIUS, &argv("georadius g 1 2 3 m store s storedist t")),
            Ok(vec![1, 7, 9])
        );
        // A keyword in last position has no key after it: not a match.
        assert_eq!(
            key_positions(&GEORADIUS, &argv("georadius g 1 2 3 m STORE")),
            Ok(vec![1])
        );
    }

    #[test]
    fn key_positions_legacy_range() {
        static LEGACY: CommandSpec = CommandSpec {
            first_key: 1,
            last_key: -2,
            step: 2,
            ..fake(-3, &[])
        };
        assert_eq!(key_positions(&LEGACY, &argv("x a 1 b 2 c")), Ok(vec![1, 3]));
        assert_eq!(
            key_positions(&LEGACY, &argv("x a 1 b 2 c 3 d")),
            Ok(vec![1, 3, 5])
        );
        static LEGACY_FIXED: CommandSpec = CommandSpec {
            first_key: 1,
            last_key: 2,
            step: 1,
            ..fake(3, &[])
        };
        assert_eq!(key_positions(&LEGACY_FIXED, &argv("x a b")), Ok(vec![1, 2]));
        assert_eq!(key_positions(&LEGACY_FIXED, &argv("x a")), Err(()));
    }

    #[test]
    fn legacy_triple_agrees_with_key_specs() {
        // For every command with simple index/range specs, the legacy
        // first/last/step triple must give the same positions.
        for spec in all_specs() {
            // Keys found by a count argument (ZUNIONSTORE's numkeys) have no legacy triple.
            let keynum = spec
                .key_specs
                .iter()
                .any(|k| matches!(k.find_keys, FindKeys::Keynum { .. }));
            if spec.first_key == 0 || keynum {
                continue;
            }
            let legacy = CommandSpec {
                key_specs: &[],
                ..*spec
            };
            let argc = (spec.arity.unsigned_abs() as usize).max(2) + 4;
            let words: Vec<String> = (0..argc).map(|i| format!("a{i}")).collect();
            let a: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
            let a = if spec.arity > 0 {
                &a[..spec.arity as usize]
            } else {
                &a[..]
            };
            assert_eq!(
                key_positions(spec, a),
                key_positions(&legacy, a),
                "{}",
                spec.name
            );
        }
    }

    fn all_specs() -> impl Iterator<Item = &'static CommandSpec> {
        COMMANDS
            .iter()
            .flat_map(|c| std::iter::once(c).chain(c.subcommands.iter()))
    }

    #[test]
    fn subcommand_names_start_with_parent() {
        for c in COMMANDS {
            assert!(!c.name.contains('|'), "{}", c.name);
            for s in c.subcommands {
                let prefix = format!("{}|", c.name);
                assert!(s.name.starts_with(&prefix), "{} under {}", s.name, c.name);
                assert!(s.name.len() > prefix.len(), "{}", s.name);
                assert!(s.subcommands.is_empty(), "{}", s.name);
            }
        }
    }

    #[test]
    fn no_duplicate_names() {
        let mut names: Vec<&str> = all_specs().map(|c| c.name).collect();
        let n = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), n);
    }

    #[test]
    fn names_are_lowercase_and_data_well_formed() {
        for c in all_specs() {
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert!(c.arity != 0, "{}", c.name);
            assert!(!c.summary.is_empty(), "{}", c.name);
            assert!(!c.since.is_empty(), "{}", c.name);
            assert!(!c.group.is_empty(), "{}", c.name);
            for cat in c.acl_categories {
                assert!(cat.starts_with('@'), "{} {}", c.name, cat);
            }
        }
    }

    #[test]
    fn expected_contents() {
        assert_eq!(COMMANDS.len(), 168);
        assert_eq!(all_specs().count(), 168 + 66);
        let subs = |p: &str| lookup(p.as_bytes()).unwrap().subcommands.len();
        assert_eq!(subs("object"), 4);
        assert_eq!(subs("memory"), 6);
        assert_eq!(subs("client"), 9);
        assert_eq!(subs("command"), 6);
        assert_eq!(subs("config"), 4);
        assert_eq!(subs("cluster"), 23);
        assert_eq!(subs("script"), 5);
        assert_eq!(subs("function"), 9);
        let mset = lookup(b"mset").unwrap();
        assert_eq!((mset.first_key, mset.last_key, mset.step), (1, -1, 2));
        assert_eq!(mset.flags, &["write", "denyoom"]);
        assert_eq!(mset.acl_categories, &["@write", "@string", "@slow"]);
        assert_eq!(lookup(b"substr").unwrap().doc_flags, &["deprecated"]);
        assert_eq!(lookup(b"hmset").unwrap().doc_flags, &["deprecated"]);
        assert_eq!(
            lookup(b"hset").unwrap().flags,
            &["write", "denyoom", "fast"]
        );
        let myshardid = lookup_subcommand(lookup(b"cluster").unwrap(), b"myshardid").unwrap();
        assert_eq!(myshardid.arity, 2);
        assert_eq!(myshardid.tips, &["nondeterministic_output"]);
        let setinfo = lookup_subcommand(lookup(b"client").unwrap(), b"setinfo").unwrap();
        assert_eq!(setinfo.flags, &["noscript", "loading", "stale"]);
        assert_eq!(setinfo.acl_categories, &["@slow", "@connection"]);
    }
}
