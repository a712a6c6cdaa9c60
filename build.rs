//! Compiles the admin API (`proto/`) into Rust. The protobuf compiler is protox,
//! pure Rust, so building Interlock never needs a system `protoc`.

use std::error::Error;

/// The project's own protos, relative to the include root `proto/`.
const PROTOS: &[&str] = &["interlock/admin/v1/admin.proto"];

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=proto");
    for proto in PROTOS {
        println!("cargo:rerun-if-changed=proto/{proto}");
    }
    let descriptors = protox::compile(PROTOS, ["proto"])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}
