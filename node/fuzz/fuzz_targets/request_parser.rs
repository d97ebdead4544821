//! Feeds arbitrary bytes, cut into arbitrary reads, to the request parser: it must never panic,
//! never return an argument that was not in the input, and never keep more bytes than it was given.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use shardis::protocol::RequestParser;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let cut = usize::from(cut).min(rest.len());
    let mut parser = RequestParser::new(1 << 20);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in [&rest[..cut], &rest[cut..]] {
        buf.extend_from_slice(piece);
        if parser.parse(&mut buf, cut % 2 == 0, &mut out).is_err() {
            break;
        }
        assert!(buf.len() <= rest.len());
    }
    let total: usize = out.iter().flatten().map(|a| a.len()).sum();
    assert!(total <= rest.len());
});
