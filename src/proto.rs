//! The generated contracts (`proto/`), one module per protobuf package, and the encoded
//! descriptor set for reflection and for reading method policies.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

pub mod options {
    pub mod v1 {
        tonic::include_proto!("vibe.options.v1");
    }
}

/// `vibe.type.v1`: money and calendar dates.
pub mod r#type {
    pub mod v1 {
        tonic::include_proto!("vibe.r#type.v1");
    }
}

pub mod integration {
    pub mod v1 {
        tonic::include_proto!("vibe.integration.v1");
    }
}

pub mod reasoning {
    pub mod v1 {
        tonic::include_proto!("vibe.reasoning.v1");
    }
}

pub mod memory {
    pub mod v1 {
        tonic::include_proto!("vibe.memory.v1");
    }
}

pub mod sync {
    pub mod v1 {
        tonic::include_proto!("vibe.sync.v1");
    }
}

/// Every vibe file descriptor (imports included), encoded exactly as protox produced it,
/// custom method options intact.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/vibe_descriptor.bin"));
