//! Static command table served by COMMAND, COMMAND INFO, COMMAND DOCS,
//! COMMAND COUNT, COMMAND LIST and COMMAND GETKEYS.
//!
//! The data between the `BEGIN GENERATED` / `END GENERATED` markers is
//! produced by `scripts/gen_command_table.py`, which reads COMMAND INFO and
//! COMMAND DOCS from a running redis-server (7.0.15 at the time of writing).
//! Entries that Redis 7.0 does not have are written by the script from
//! hand-maintained data following the Redis 7.2 documentation and carry a
//! comment saying so.
//!
//! Everything here is `&'static` data; lookups do not allocate.

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

// BEGIN GENERATED
// Generated by scripts/gen_command_table.py from redis-server 7.0.15.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "get",
        arity: 2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@read", "@string", "@fast"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RO", "access"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Get the value of a key",
        since: "1.0.0",
        group: "string",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "set",
        arity: -3,
        flags: &["write", "denyoom"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@slow"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "RW and ACCESS due to the optional `GET` argument",
                flags: &["RW", "access", "update", "variable_flags"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Set the string value of a key",
        since: "1.0.0",
        group: "string",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "setnx",
        arity: 3,
        flags: &["write", "denyoom", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@fast"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["OW", "insert"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Set the value of a key, only if the key does not exist",
        since: "1.0.0",
        group: "string",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "setex",
        arity: 4,
        flags: &["write", "denyoom"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@slow"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["OW", "update"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Set the value and expiration of a key",
        since: "2.0.0",
        group: "string",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "psetex",
        arity: 4,
        flags: &["write", "denyoom"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@slow"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["OW", "update"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Set the value and expiration in milliseconds of a key",
        since: "2.6.0",
        group: "string",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "getset",
        arity: 3,
        flags: &["write", "denyoom", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@fast"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RW", "access", "update"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Set the string value of a key and return its old value",
        since: "1.0.0",
        group: "string",
        complexity: "O(1)",
        doc_flags: &["deprecated"],
    },
    CommandSpec {
        name: "getdel",
        arity: 2,
        flags: &["write", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@fast"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RW", "access", "delete"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Get the value of a key and delete the key",
        since: "6.2.0",
        group: "string",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "getex",
        arity: -2,
        flags: &["write", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@fast"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "RW and UPDATE because it changes the TTL",
                flags: &["RW", "access", "update"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Get the value of a key and optionally set its expiration",
        since: "6.2.0",
        group: "string",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "mget",
        arity: -2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: -1,
        step: 1,
        acl_categories: &["@read", "@string", "@fast"],
        tips: &["request_policy:multi_shard"],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RO", "access"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: -1, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Get the values of all the given keys",
        since: "1.0.0",
        group: "string",
        complexity: "O(N) where N is the number of keys to retrieve.",
        doc_flags: &[],
    },
    CommandSpec {
        name: "mset",
        arity: -3,
        flags: &["write", "denyoom"],
        first_key: 1,
        last_key: -1,
        step: 2,
        acl_categories: &["@write", "@string", "@slow"],
        tips: &["request_policy:multi_shard", "response_policy:all_succeeded"],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["OW", "update"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: -1, key_step: 2, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Set multiple keys to multiple values",
        since: "1.0.1",
        group: "string",
        complexity: "O(N) where N is the number of keys to set.",
        doc_flags: &[],
    },
    CommandSpec {
        name: "msetnx",
        arity: -3,
        flags: &["write", "denyoom"],
        first_key: 1,
        last_key: -1,
        step: 2,
        acl_categories: &["@write", "@string", "@slow"],
        tips: &["request_policy:multi_shard", "response_policy:agg_min"],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["OW", "insert"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: -1, key_step: 2, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Set multiple keys to multiple values, only if none of the keys exist",
        since: "1.0.1",
        group: "string",
        complexity: "O(N) where N is the number of keys to set.",
        doc_flags: &[],
    },
    CommandSpec {
        name: "incr",
        arity: 2,
        flags: &["write", "denyoom", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@fast"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RW", "access", "update"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Increment the integer value of a key by one",
        since: "1.0.0",
        group: "string",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "decr",
        arity: 2,
        flags: &["write", "denyoom", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@fast"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RW", "access", "update"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Decrement the integer value of a key by one",
        since: "1.0.0",
        group: "string",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "incrby",
        arity: 3,
        flags: &["write", "denyoom", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@fast"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RW", "access", "update"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Increment the integer value of a key by the given amount",
        since: "1.0.0",
        group: "string",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "decrby",
        arity: 3,
        flags: &["write", "denyoom", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@fast"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RW", "access", "update"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Decrement the integer value of a key by the given number",
        since: "1.0.0",
        group: "string",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "incrbyfloat",
        arity: 3,
        flags: &["write", "denyoom", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@fast"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RW", "access", "update"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Increment the float value of a key by the given amount",
        since: "2.6.0",
        group: "string",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "append",
        arity: 3,
        flags: &["write", "denyoom", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@fast"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RW", "insert"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Append a value to a key",
        since: "2.0.0",
        group: "string",
        complexity: "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.",
        doc_flags: &[],
    },
    CommandSpec {
        name: "strlen",
        arity: 2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@read", "@string", "@fast"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RO"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Get the length of the value stored in a key",
        since: "2.2.0",
        group: "string",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "getrange",
        arity: 4,
        flags: &["readonly"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@read", "@string", "@slow"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RO", "access"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Get a substring of the string stored at a key",
        since: "2.4.0",
        group: "string",
        complexity: "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.",
        doc_flags: &[],
    },
    CommandSpec {
        name: "substr",
        arity: 4,
        flags: &["readonly"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@read", "@string", "@slow"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RO", "access"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Get a substring of the string stored at a key",
        since: "1.0.0",
        group: "string",
        complexity: "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.",
        doc_flags: &["deprecated"],
    },
    CommandSpec {
        name: "setrange",
        arity: 4,
        flags: &["write", "denyoom"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@write", "@string", "@slow"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RW", "update"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Overwrite part of a string at key starting at the specified offset",
        since: "2.2.0",
        group: "string",
        complexity: "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.",
        doc_flags: &[],
    },
    CommandSpec {
        name: "del",
        arity: -2,
        flags: &["write"],
        first_key: 1,
        last_key: -1,
        step: 1,
        acl_categories: &["@keyspace", "@write", "@slow"],
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RM", "delete"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: -1, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Delete a key",
        since: "1.0.0",
        group: "generic",
        complexity: "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).",
        doc_flags: &[],
    },
    CommandSpec {
        name: "unlink",
        arity: -2,
        flags: &["write", "fast"],
        first_key: 1,
        last_key: -1,
        step: 1,
        acl_categories: &["@keyspace", "@write", "@fast"],
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RM", "delete"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: -1, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
        since: "4.0.0",
        group: "generic",
        complexity: "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.",
        doc_flags: &[],
    },
    CommandSpec {
        name: "exists",
        arity: -2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: -1,
        step: 1,
        acl_categories: &["@keyspace", "@read", "@fast"],
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RO"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: -1, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Determine if a key exists",
        since: "1.0.0",
        group: "generic",
        complexity: "O(N) where N is the number of keys to check.",
        doc_flags: &[],
    },
    CommandSpec {
        name: "type",
        arity: 2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@keyspace", "@read", "@fast"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RO"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Determine the type stored at key",
        since: "1.0.0",
        group: "generic",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "touch",
        arity: -2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: -1,
        step: 1,
        acl_categories: &["@keyspace", "@read", "@fast"],
        tips: &["request_policy:multi_shard", "response_policy:agg_sum"],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RO"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: -1, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Alters the last access time of a key(s). Returns the number of existing keys specified.",
        since: "3.2.1",
        group: "generic",
        complexity: "O(N) where N is the number of keys that will be touched.",
        doc_flags: &[],
    },
    CommandSpec {
        name: "expire",
        arity: -3,
        flags: &["write", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@keyspace", "@write", "@fast"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RW", "update"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Set a key's time to live in seconds",
        since: "1.0.0",
        group: "generic",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "pexpire",
        arity: -3,
        flags: &["write", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@keyspace", "@write", "@fast"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RW", "update"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Set a key's time to live in milliseconds",
        since: "2.6.0",
        group: "generic",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "expireat",
        arity: -3,
        flags: &["write", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@keyspace", "@write", "@fast"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RW", "update"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Set the expiration for a key as a UNIX timestamp",
        since: "1.2.0",
        group: "generic",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "pexpireat",
        arity: -3,
        flags: &["write", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@keyspace", "@write", "@fast"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RW", "update"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
        since: "2.6.0",
        group: "generic",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "ttl",
        arity: 2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@keyspace", "@read", "@fast"],
        tips: &["nondeterministic_output"],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RO", "access"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Get the time to live for a key in seconds",
        since: "1.0.0",
        group: "generic",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "pttl",
        arity: 2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@keyspace", "@read", "@fast"],
        tips: &["nondeterministic_output"],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RO", "access"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Get the time to live for a key in milliseconds",
        since: "2.6.0",
        group: "generic",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "expiretime",
        arity: 2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@keyspace", "@read", "@fast"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RO", "access"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Get the expiration Unix timestamp for a key",
        since: "7.0.0",
        group: "generic",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "pexpiretime",
        arity: 2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@keyspace", "@read", "@fast"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RO", "access"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Get the expiration Unix timestamp for a key in milliseconds",
        since: "7.0.0",
        group: "generic",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "persist",
        arity: 2,
        flags: &["write", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        acl_categories: &["@keyspace", "@write", "@fast"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RW", "update"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Remove the expiration from a key",
        since: "2.2.0",
        group: "generic",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "rename",
        arity: 3,
        flags: &["write"],
        first_key: 1,
        last_key: 2,
        step: 1,
        acl_categories: &["@keyspace", "@write", "@slow"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RW", "access", "delete"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
            KeySpec {
                notes: "",
                flags: &["OW", "update"],
                begin_search: BeginSearch::Index(2),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Rename a key",
        since: "1.0.0",
        group: "generic",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "renamenx",
        arity: 3,
        flags: &["write", "fast"],
        first_key: 1,
        last_key: 2,
        step: 1,
        acl_categories: &["@keyspace", "@write", "@fast"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RW", "access", "delete"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
            KeySpec {
                notes: "",
                flags: &["OW", "insert"],
                begin_search: BeginSearch::Index(2),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Rename a key, only if the new key does not exist",
        since: "1.0.0",
        group: "generic",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "copy",
        arity: -3,
        flags: &["write", "denyoom"],
        first_key: 1,
        last_key: 2,
        step: 1,
        acl_categories: &["@keyspace", "@write", "@slow"],
        tips: &[],
        key_specs: &[
            KeySpec {
                notes: "",
                flags: &["RO", "access"],
                begin_search: BeginSearch::Index(1),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
            KeySpec {
                notes: "",
                flags: &["OW", "update"],
                begin_search: BeginSearch::Index(2),
                find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
            },
        ],
        subcommands: &[],
        summary: "Copy a key",
        since: "6.2.0",
        group: "generic",
        complexity: "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.",
        doc_flags: &[],
    },
    CommandSpec {
        name: "keys",
        arity: 2,
        flags: &["readonly"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@keyspace", "@read", "@slow", "@dangerous"],
        tips: &["request_policy:all_shards", "nondeterministic_output_order"],
        key_specs: &[],
        subcommands: &[],
        summary: "Find all keys matching the given pattern",
        since: "1.0.0",
        group: "generic",
        complexity: "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.",
        doc_flags: &[],
    },
    CommandSpec {
        name: "scan",
        arity: -2,
        flags: &["readonly"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@keyspace", "@read", "@slow"],
        tips: &["nondeterministic_output", "request_policy:special"],
        key_specs: &[],
        subcommands: &[],
        summary: "Incrementally iterate the keys space",
        since: "2.8.0",
        group: "generic",
        complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        doc_flags: &[],
    },
    CommandSpec {
        name: "randomkey",
        arity: 1,
        flags: &["readonly"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@keyspace", "@read", "@slow"],
        tips: &["request_policy:all_shards", "nondeterministic_output"],
        key_specs: &[],
        subcommands: &[],
        summary: "Return a random key from the keyspace",
        since: "1.0.0",
        group: "generic",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "dbsize",
        arity: 1,
        flags: &["readonly", "fast"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@keyspace", "@read", "@fast"],
        tips: &["request_policy:all_shards", "response_policy:agg_sum"],
        key_specs: &[],
        subcommands: &[],
        summary: "Return the number of keys in the selected database",
        since: "1.0.0",
        group: "server",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "flushdb",
        arity: -1,
        flags: &["write"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@keyspace", "@write", "@slow", "@dangerous"],
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
        key_specs: &[],
        subcommands: &[],
        summary: "Remove all keys from the current database",
        since: "1.0.0",
        group: "server",
        complexity: "O(N) where N is the number of keys in the selected database",
        doc_flags: &[],
    },
    CommandSpec {
        name: "flushall",
        arity: -1,
        flags: &["write"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@keyspace", "@write", "@slow", "@dangerous"],
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
        key_specs: &[],
        subcommands: &[],
        summary: "Remove all keys from all databases",
        since: "1.0.0",
        group: "server",
        complexity: "O(N) where N is the total number of keys in all databases",
        doc_flags: &[],
    },
    CommandSpec {
        name: "object",
        arity: -2,
        flags: &[],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@slow"],
        tips: &[],
        key_specs: &[],
        subcommands: &[
            CommandSpec {
                name: "object|encoding",
                arity: 3,
                flags: &["readonly"],
                first_key: 2,
                last_key: 2,
                step: 1,
                acl_categories: &["@keyspace", "@read", "@slow"],
                tips: &["nondeterministic_output"],
                key_specs: &[
                    KeySpec {
                        notes: "",
                        flags: &["RO"],
                        begin_search: BeginSearch::Index(2),
                        find_keys: FindKeys::Range { last_key: 0, key_step: 1, limit: 0 },
                    },
                ],
                subcommands: &[],
                summary: "Inspect the internal encoding of a Redis object",
                since: "2.2.3",
                group: "generic",
                complexity: "O(1)",
                doc_flags: &[],
            },
            CommandSpec {
                name: "object|help",
                arity: 2,
                flags: &["loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@keyspace", "@slow"],
                tips: &[],
                key_specs: &[],
                subcommands: &[],
                summary: "Show helpful text about the different subcommands",
                since: "6.2.0",
                group: "generic",
                complexity: "O(1)",
                doc_flags: &[],
            },
        ],
        summary: "A container for object introspection commands",
        since: "2.2.3",
        group: "generic",
        complexity: "Depends on subcommand.",
        doc_flags: &[],
    },
    CommandSpec {
        name: "ping",
        arity: -1,
        flags: &["fast"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@fast", "@connection"],
        tips: &["request_policy:all_shards", "response_policy:all_succeeded"],
        key_specs: &[],
        subcommands: &[],
        summary: "Ping the server",
        since: "1.0.0",
        group: "connection",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "echo",
        arity: 2,
        flags: &["loading", "stale", "fast"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@fast", "@connection"],
        tips: &[],
        key_specs: &[],
        subcommands: &[],
        summary: "Echo the given string",
        since: "1.0.0",
        group: "connection",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "hello",
        arity: -1,
        flags: &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@fast", "@connection"],
        tips: &[],
        key_specs: &[],
        subcommands: &[],
        summary: "Handshake with Redis",
        since: "6.0.0",
        group: "connection",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "auth",
        arity: -2,
        flags: &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@fast", "@connection"],
        tips: &[],
        key_specs: &[],
        subcommands: &[],
        summary: "Authenticate to the server",
        since: "1.0.0",
        group: "connection",
        complexity: "O(N) where N is the number of passwords defined for the user",
        doc_flags: &[],
    },
    CommandSpec {
        name: "select",
        arity: 2,
        flags: &["loading", "stale", "fast"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@fast", "@connection"],
        tips: &[],
        key_specs: &[],
        subcommands: &[],
        summary: "Change the selected database for the current connection",
        since: "1.0.0",
        group: "connection",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "quit",
        arity: -1,
        flags: &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@fast", "@connection"],
        tips: &[],
        key_specs: &[],
        subcommands: &[],
        summary: "Close the connection",
        since: "1.0.0",
        group: "connection",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "reset",
        arity: 1,
        flags: &["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@fast", "@connection"],
        tips: &[],
        key_specs: &[],
        subcommands: &[],
        summary: "Reset the connection",
        since: "6.2.0",
        group: "connection",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "client",
        arity: -2,
        flags: &[],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@slow"],
        tips: &[],
        key_specs: &[],
        subcommands: &[
            CommandSpec {
                name: "client|id",
                arity: 2,
                flags: &["noscript", "loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow", "@connection"],
                tips: &[],
                key_specs: &[],
                subcommands: &[],
                summary: "Returns the client ID for the current connection",
                since: "5.0.0",
                group: "connection",
                complexity: "O(1)",
                doc_flags: &[],
            },
            CommandSpec {
                name: "client|setname",
                arity: 3,
                flags: &["noscript", "loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow", "@connection"],
                tips: &[],
                key_specs: &[],
                subcommands: &[],
                summary: "Set the current connection name",
                since: "2.6.9",
                group: "connection",
                complexity: "O(1)",
                doc_flags: &[],
            },
            CommandSpec {
                name: "client|getname",
                arity: 2,
                flags: &["noscript", "loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow", "@connection"],
                tips: &[],
                key_specs: &[],
                subcommands: &[],
                summary: "Get the current connection name",
                since: "2.6.9",
                group: "connection",
                complexity: "O(1)",
                doc_flags: &[],
            },
            // Not in Redis 7.0: defined by hand after the Redis 7.2 docs.
            CommandSpec {
                name: "client|setinfo",
                arity: -4,
                flags: &["noscript", "loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow", "@connection"],
                tips: &[],
                key_specs: &[],
                subcommands: &[],
                summary: "Sets information specific to the client or connection.",
                since: "7.2.0",
                group: "connection",
                complexity: "O(1)",
                doc_flags: &[],
            },
            CommandSpec {
                name: "client|list",
                arity: -2,
                flags: &["admin", "noscript", "loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@admin", "@slow", "@dangerous", "@connection"],
                tips: &["nondeterministic_output"],
                key_specs: &[],
                subcommands: &[],
                summary: "Get the list of client connections",
                since: "2.4.0",
                group: "connection",
                complexity: "O(N) where N is the number of client connections",
                doc_flags: &[],
            },
            CommandSpec {
                name: "client|info",
                arity: 2,
                flags: &["noscript", "loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow", "@connection"],
                tips: &["nondeterministic_output"],
                key_specs: &[],
                subcommands: &[],
                summary: "Returns information about the current client connection.",
                since: "6.2.0",
                group: "connection",
                complexity: "O(1)",
                doc_flags: &[],
            },
            CommandSpec {
                name: "client|kill",
                arity: -3,
                flags: &["admin", "noscript", "loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@admin", "@slow", "@dangerous", "@connection"],
                tips: &[],
                key_specs: &[],
                subcommands: &[],
                summary: "Kill the connection of a client",
                since: "2.4.0",
                group: "connection",
                complexity: "O(N) where N is the number of client connections",
                doc_flags: &[],
            },
            CommandSpec {
                name: "client|help",
                arity: 2,
                flags: &["loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow", "@connection"],
                tips: &[],
                key_specs: &[],
                subcommands: &[],
                summary: "Show helpful text about the different subcommands",
                since: "5.0.0",
                group: "connection",
                complexity: "O(1)",
                doc_flags: &[],
            },
        ],
        summary: "A container for client connection commands",
        since: "2.4.0",
        group: "connection",
        complexity: "Depends on subcommand.",
        doc_flags: &[],
    },
    CommandSpec {
        name: "command",
        arity: -1,
        flags: &["loading", "stale"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@slow", "@connection"],
        tips: &["nondeterministic_output_order"],
        key_specs: &[],
        subcommands: &[
            CommandSpec {
                name: "command|count",
                arity: 2,
                flags: &["loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow", "@connection"],
                tips: &[],
                key_specs: &[],
                subcommands: &[],
                summary: "Get total number of Redis commands",
                since: "2.8.13",
                group: "server",
                complexity: "O(1)",
                doc_flags: &[],
            },
            CommandSpec {
                name: "command|info",
                arity: -2,
                flags: &["loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow", "@connection"],
                tips: &["nondeterministic_output_order"],
                key_specs: &[],
                subcommands: &[],
                summary: "Get array of specific Redis command details, or all when no argument is given.",
                since: "2.8.13",
                group: "server",
                complexity: "O(N) where N is the number of commands to look up",
                doc_flags: &[],
            },
            CommandSpec {
                name: "command|docs",
                arity: -2,
                flags: &["loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow", "@connection"],
                tips: &["nondeterministic_output_order"],
                key_specs: &[],
                subcommands: &[],
                summary: "Get array of specific Redis command documentation",
                since: "7.0.0",
                group: "server",
                complexity: "O(N) where N is the number of commands to look up",
                doc_flags: &[],
            },
            CommandSpec {
                name: "command|list",
                arity: -2,
                flags: &["loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow", "@connection"],
                tips: &["nondeterministic_output_order"],
                key_specs: &[],
                subcommands: &[],
                summary: "Get an array of Redis command names",
                since: "7.0.0",
                group: "server",
                complexity: "O(N) where N is the total number of Redis commands",
                doc_flags: &[],
            },
            CommandSpec {
                name: "command|getkeys",
                arity: -4,
                flags: &["loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow", "@connection"],
                tips: &[],
                key_specs: &[],
                subcommands: &[],
                summary: "Extract keys given a full Redis command",
                since: "2.8.13",
                group: "server",
                complexity: "O(N) where N is the number of arguments to the command",
                doc_flags: &[],
            },
            CommandSpec {
                name: "command|help",
                arity: 2,
                flags: &["loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow", "@connection"],
                tips: &[],
                key_specs: &[],
                subcommands: &[],
                summary: "Show helpful text about the different subcommands",
                since: "5.0.0",
                group: "server",
                complexity: "O(1)",
                doc_flags: &[],
            },
        ],
        summary: "Get array of Redis command details",
        since: "2.8.13",
        group: "server",
        complexity: "O(N) where N is the total number of Redis commands",
        doc_flags: &[],
    },
    CommandSpec {
        name: "info",
        arity: -1,
        flags: &["loading", "stale"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@slow", "@dangerous"],
        tips: &["nondeterministic_output", "request_policy:all_shards", "response_policy:special"],
        key_specs: &[],
        subcommands: &[],
        summary: "Get information and statistics about the server",
        since: "1.0.0",
        group: "server",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "config",
        arity: -2,
        flags: &[],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@slow"],
        tips: &[],
        key_specs: &[],
        subcommands: &[
            CommandSpec {
                name: "config|get",
                arity: -3,
                flags: &["admin", "noscript", "loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@admin", "@slow", "@dangerous"],
                tips: &[],
                key_specs: &[],
                subcommands: &[],
                summary: "Get the values of configuration parameters",
                since: "2.0.0",
                group: "server",
                complexity: "O(N) when N is the number of configuration parameters provided",
                doc_flags: &[],
            },
            CommandSpec {
                name: "config|set",
                arity: -4,
                flags: &["admin", "noscript", "loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@admin", "@slow", "@dangerous"],
                tips: &["request_policy:all_nodes", "response_policy:all_succeeded"],
                key_specs: &[],
                subcommands: &[],
                summary: "Set configuration parameters to the given values",
                since: "2.0.0",
                group: "server",
                complexity: "O(N) when N is the number of configuration parameters provided",
                doc_flags: &[],
            },
            CommandSpec {
                name: "config|resetstat",
                arity: 2,
                flags: &["admin", "noscript", "loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@admin", "@slow", "@dangerous"],
                tips: &[],
                key_specs: &[],
                subcommands: &[],
                summary: "Reset the stats returned by INFO",
                since: "2.0.0",
                group: "server",
                complexity: "O(1)",
                doc_flags: &[],
            },
            CommandSpec {
                name: "config|help",
                arity: 2,
                flags: &["loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow"],
                tips: &[],
                key_specs: &[],
                subcommands: &[],
                summary: "Show helpful text about the different subcommands",
                since: "5.0.0",
                group: "server",
                complexity: "O(1)",
                doc_flags: &[],
            },
        ],
        summary: "A container for server configuration commands",
        since: "2.0.0",
        group: "server",
        complexity: "Depends on subcommand.",
        doc_flags: &[],
    },
    CommandSpec {
        name: "time",
        arity: 1,
        flags: &["loading", "stale", "fast"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@fast"],
        tips: &["nondeterministic_output"],
        key_specs: &[],
        subcommands: &[],
        summary: "Return the current server time",
        since: "2.6.0",
        group: "server",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "shutdown",
        arity: -1,
        flags: &["admin", "noscript", "loading", "stale", "no_multi", "allow_busy"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@admin", "@slow", "@dangerous"],
        tips: &[],
        key_specs: &[],
        subcommands: &[],
        summary: "Synchronously save the dataset to disk and then shut down the server",
        since: "1.0.0",
        group: "server",
        complexity: "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "readonly",
        arity: 1,
        flags: &["loading", "stale", "fast"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@fast", "@connection"],
        tips: &[],
        key_specs: &[],
        subcommands: &[],
        summary: "Enables read queries for a connection to a cluster replica node",
        since: "3.0.0",
        group: "cluster",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "readwrite",
        arity: 1,
        flags: &["loading", "stale", "fast"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@fast", "@connection"],
        tips: &[],
        key_specs: &[],
        subcommands: &[],
        summary: "Disables read queries for a connection to a cluster replica node",
        since: "3.0.0",
        group: "cluster",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "asking",
        arity: 1,
        flags: &["fast"],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@fast", "@connection"],
        tips: &[],
        key_specs: &[],
        subcommands: &[],
        summary: "Sent by cluster clients after an -ASK redirect",
        since: "3.0.0",
        group: "cluster",
        complexity: "O(1)",
        doc_flags: &[],
    },
    CommandSpec {
        name: "cluster",
        arity: -2,
        flags: &[],
        first_key: 0,
        last_key: 0,
        step: 0,
        acl_categories: &["@slow"],
        tips: &[],
        key_specs: &[],
        subcommands: &[
            CommandSpec {
                name: "cluster|info",
                arity: 2,
                flags: &["stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow"],
                tips: &["nondeterministic_output"],
                key_specs: &[],
                subcommands: &[],
                summary: "Provides info about Redis Cluster node state",
                since: "3.0.0",
                group: "cluster",
                complexity: "O(1)",
                doc_flags: &[],
            },
            CommandSpec {
                name: "cluster|slots",
                arity: 2,
                flags: &["stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow"],
                tips: &["nondeterministic_output"],
                key_specs: &[],
                subcommands: &[],
                summary: "Get array of Cluster slot to node mappings",
                since: "3.0.0",
                group: "cluster",
                complexity: "O(N) where N is the total number of Cluster nodes",
                doc_flags: &["deprecated"],
            },
            CommandSpec {
                name: "cluster|shards",
                arity: 2,
                flags: &["stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow"],
                tips: &["nondeterministic_output"],
                key_specs: &[],
                subcommands: &[],
                summary: "Get array of cluster slots to node mappings",
                since: "7.0.0",
                group: "cluster",
                complexity: "O(N) where N is the total number of cluster nodes",
                doc_flags: &[],
            },
            CommandSpec {
                name: "cluster|nodes",
                arity: 2,
                flags: &["stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow"],
                tips: &["nondeterministic_output"],
                key_specs: &[],
                subcommands: &[],
                summary: "Get Cluster config for the node",
                since: "3.0.0",
                group: "cluster",
                complexity: "O(N) where N is the total number of Cluster nodes",
                doc_flags: &[],
            },
            CommandSpec {
                name: "cluster|myid",
                arity: 2,
                flags: &["stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow"],
                tips: &[],
                key_specs: &[],
                subcommands: &[],
                summary: "Return the node id",
                since: "3.0.0",
                group: "cluster",
                complexity: "O(1)",
                doc_flags: &[],
            },
            // Not in Redis 7.0: defined by hand after the Redis 7.2 docs.
            CommandSpec {
                name: "cluster|myshardid",
                arity: 2,
                flags: &["stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow"],
                tips: &["nondeterministic_output"],
                key_specs: &[],
                subcommands: &[],
                summary: "Returns the shard ID of a node.",
                since: "7.2.0",
                group: "cluster",
                complexity: "O(1)",
                doc_flags: &[],
            },
            CommandSpec {
                name: "cluster|keyslot",
                arity: 3,
                flags: &["stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow"],
                tips: &[],
                key_specs: &[],
                subcommands: &[],
                summary: "Returns the hash slot of the specified key",
                since: "3.0.0",
                group: "cluster",
                complexity: "O(N) where N is the number of bytes in the key",
                doc_flags: &[],
            },
            CommandSpec {
                name: "cluster|countkeysinslot",
                arity: 3,
                flags: &["stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow"],
                tips: &[],
                key_specs: &[],
                subcommands: &[],
                summary: "Return the number of local keys in the specified hash slot",
                since: "3.0.0",
                group: "cluster",
                complexity: "O(1)",
                doc_flags: &[],
            },
            CommandSpec {
                name: "cluster|getkeysinslot",
                arity: 4,
                flags: &["stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow"],
                tips: &["nondeterministic_output"],
                key_specs: &[],
                subcommands: &[],
                summary: "Return local key names in the specified hash slot",
                since: "3.0.0",
                group: "cluster",
                complexity: "O(log(N)) where N is the number of requested keys",
                doc_flags: &[],
            },
            CommandSpec {
                name: "cluster|help",
                arity: 2,
                flags: &["loading", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow"],
                tips: &[],
                key_specs: &[],
                subcommands: &[],
                summary: "Show helpful text about the different subcommands",
                since: "5.0.0",
                group: "cluster",
                complexity: "O(1)",
                doc_flags: &[],
            },
            CommandSpec {
                name: "cluster|failover",
                arity: -2,
                flags: &["admin", "stale", "no_async_loading"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@admin", "@slow", "@dangerous"],
                tips: &[],
                key_specs: &[],
                subcommands: &[],
                summary: "Forces a replica to perform a manual failover of its master.",
                since: "3.0.0",
                group: "cluster",
                complexity: "O(1)",
                doc_flags: &[],
            },
            CommandSpec {
                name: "cluster|meet",
                arity: -4,
                flags: &["admin", "stale", "no_async_loading"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@admin", "@slow", "@dangerous"],
                tips: &[],
                key_specs: &[],
                subcommands: &[],
                summary: "Force a node cluster to handshake with another node",
                since: "3.0.0",
                group: "cluster",
                complexity: "O(1)",
                doc_flags: &[],
            },
            CommandSpec {
                name: "cluster|addslots",
                arity: -3,
                flags: &["admin", "stale", "no_async_loading"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@admin", "@slow", "@dangerous"],
                tips: &[],
                key_specs: &[],
                subcommands: &[],
                summary: "Assign new hash slots to receiving node",
                since: "3.0.0",
                group: "cluster",
                complexity: "O(N) where N is the total number of hash slot arguments",
                doc_flags: &[],
            },
            CommandSpec {
                name: "cluster|addslotsrange",
                arity: -4,
                flags: &["admin", "stale", "no_async_loading"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@admin", "@slow", "@dangerous"],
                tips: &[],
                key_specs: &[],
                subcommands: &[],
                summary: "Assign new hash slots to receiving node",
                since: "7.0.0",
                group: "cluster",
                complexity: "O(N) where N is the total number of the slots between the start slot and end slot arguments.",
                doc_flags: &[],
            },
            CommandSpec {
                name: "cluster|delslots",
                arity: -3,
                flags: &["admin", "stale", "no_async_loading"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@admin", "@slow", "@dangerous"],
                tips: &[],
                key_specs: &[],
                subcommands: &[],
                summary: "Set hash slots as unbound in receiving node",
                since: "3.0.0",
                group: "cluster",
                complexity: "O(N) where N is the total number of hash slot arguments",
                doc_flags: &[],
            },
            CommandSpec {
                name: "cluster|delslotsrange",
                arity: -4,
                flags: &["admin", "stale", "no_async_loading"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@admin", "@slow", "@dangerous"],
                tips: &[],
                key_specs: &[],
                subcommands: &[],
                summary: "Set hash slots as unbound in receiving node",
                since: "7.0.0",
                group: "cluster",
                complexity: "O(N) where N is the total number of the slots between the start slot and end slot arguments.",
                doc_flags: &[],
            },
            CommandSpec {
                name: "cluster|setslot",
                arity: -4,
                flags: &["admin", "stale", "no_async_loading"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@admin", "@slow", "@dangerous"],
                tips: &[],
                key_specs: &[],
                subcommands: &[],
                summary: "Bind a hash slot to a specific node",
                since: "3.0.0",
                group: "cluster",
                complexity: "O(1)",
                doc_flags: &[],
            },
            CommandSpec {
                name: "cluster|replicate",
                arity: 3,
                flags: &["admin", "stale", "no_async_loading"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@admin", "@slow", "@dangerous"],
                tips: &[],
                key_specs: &[],
                subcommands: &[],
                summary: "Reconfigure a node as a replica of the specified master node",
                since: "3.0.0",
                group: "cluster",
                complexity: "O(1)",
                doc_flags: &[],
            },
            CommandSpec {
                name: "cluster|forget",
                arity: 3,
                flags: &["admin", "stale", "no_async_loading"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@admin", "@slow", "@dangerous"],
                tips: &[],
                key_specs: &[],
                subcommands: &[],
                summary: "Remove a node from the nodes table",
                since: "3.0.0",
                group: "cluster",
                complexity: "O(1)",
                doc_flags: &[],
            },
            CommandSpec {
                name: "cluster|reset",
                arity: -2,
                flags: &["admin", "noscript", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@admin", "@slow", "@dangerous"],
                tips: &[],
                key_specs: &[],
                subcommands: &[],
                summary: "Reset a Redis Cluster node",
                since: "3.0.0",
                group: "cluster",
                complexity: "O(N) where N is the number of known nodes. The command may execute a FLUSHALL as a side effect.",
                doc_flags: &[],
            },
            CommandSpec {
                name: "cluster|links",
                arity: 2,
                flags: &["stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@slow"],
                tips: &["nondeterministic_output"],
                key_specs: &[],
                subcommands: &[],
                summary: "Returns a list of all TCP links to and from peer nodes in cluster",
                since: "7.0.0",
                group: "cluster",
                complexity: "O(N) where N is the total number of Cluster nodes",
                doc_flags: &[],
            },
            CommandSpec {
                name: "cluster|replicas",
                arity: 3,
                flags: &["admin", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@admin", "@slow", "@dangerous"],
                tips: &["nondeterministic_output"],
                key_specs: &[],
                subcommands: &[],
                summary: "List replica nodes of the specified master node",
                since: "5.0.0",
                group: "cluster",
                complexity: "O(1)",
                doc_flags: &[],
            },
            CommandSpec {
                name: "cluster|slaves",
                arity: 3,
                flags: &["admin", "stale"],
                first_key: 0,
                last_key: 0,
                step: 0,
                acl_categories: &["@admin", "@slow", "@dangerous"],
                tips: &["nondeterministic_output"],
                key_specs: &[],
                subcommands: &[],
                summary: "List replica nodes of the specified master node",
                since: "3.0.0",
                group: "cluster",
                complexity: "O(1)",
                doc_flags: &["deprecated"],
            },
        ],
        summary: "A container for cluster commands",
        since: "3.0.0",
        group: "cluster",
        complexity: "Depends on subcommand.",
        doc_flags: &[],
    },
];
// END GENERATED

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
            if spec.first_key == 0 {
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
        assert_eq!(COMMANDS.len(), 62);
        assert_eq!(all_specs().count(), 62 + 43);
        let subs = |p: &str| lookup(p.as_bytes()).unwrap().subcommands.len();
        assert_eq!(subs("object"), 2);
        assert_eq!(subs("client"), 8);
        assert_eq!(subs("command"), 6);
        assert_eq!(subs("config"), 4);
        assert_eq!(subs("cluster"), 23);
        let mset = lookup(b"mset").unwrap();
        assert_eq!((mset.first_key, mset.last_key, mset.step), (1, -1, 2));
        assert_eq!(mset.flags, &["write", "denyoom"]);
        assert_eq!(mset.acl_categories, &["@write", "@string", "@slow"]);
        assert_eq!(lookup(b"substr").unwrap().doc_flags, &["deprecated"]);
        let myshardid = lookup_subcommand(lookup(b"cluster").unwrap(), b"myshardid").unwrap();
        assert_eq!(myshardid.arity, 2);
        assert_eq!(myshardid.tips, &["nondeterministic_output"]);
        let setinfo = lookup_subcommand(lookup(b"client").unwrap(), b"setinfo").unwrap();
        assert_eq!(setinfo.flags, &["noscript", "loading", "stale"]);
        assert_eq!(setinfo.acl_categories, &["@slow", "@connection"]);
    }
}
