//! Generates the gRPC code from `raft.proto` with the protoc binary vendored by
//! `protoc-bin-vendored`, so that no system protoc is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // Build scripts run single-threaded; setting the variable here races with nothing.
    std::env::set_var("PROTOC", protoc);
    tonic_prost_build::configure()
        .bytes(".")
        .compile_protos(&["raft.proto"], &["."])?;
    println!("cargo:rerun-if-changed=raft.proto");
    Ok(())
}
