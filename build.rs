//! Compiles `proto/` into the Rust contracts with protox (no system `protoc`).
//!
//! The encoded FileDescriptorSet is written to OUT_DIR byte for byte as protox produced
//! it: decoding it into prost-types would drop the `vibe.options.v1.policy` method
//! options, which the gateway and server reflection need.

use std::path::{Path, PathBuf};

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = Path::new("proto");
    println!("cargo:rerun-if-changed={}", proto_root.display());

    let mut files = Vec::new();
    collect_protos(proto_root, &mut files)?;
    files.sort();

    let mut compiler = protox::Compiler::new([proto_root])?;
    compiler.include_imports(true).include_source_info(true);
    for file in &files {
        compiler.open_file(file.strip_prefix(proto_root)?)?;
    }
    let encoded = compiler.encode_file_descriptor_set();

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("vibe_descriptor.bin"), &encoded)?;

    let fds = prost_types::FileDescriptorSet::decode(encoded.as_slice())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // compile_fds does not add the allow that compile_protos does.
        .type_attribute(".", "#[allow(clippy::all, clippy::pedantic)]")
        .compile_fds(fds)?;
    Ok(())
}

fn collect_protos(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            out.push(path);
        }
    }
    Ok(())
}
