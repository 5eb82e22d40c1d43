//! What the compiled contracts say about themselves: method paths for metrics labels,
//! and the reflection services that list what a listener serves.

use prost_reflect::DescriptorPool;
use tonic_reflection::server::{Builder, Error};

use crate::proto::FILE_DESCRIPTOR_SET;

const REFLECTION_METHODS: [&str; 2] = [
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

/// Every method path (`/package.Service/Method`) any vibe listener can serve.
pub fn method_names() -> vibe_telemetry::MethodNames {
    let mut paths: Vec<String> = REFLECTION_METHODS.iter().map(|p| (*p).to_owned()).collect();
    for set in [FILE_DESCRIPTOR_SET, tonic_health::pb::FILE_DESCRIPTOR_SET] {
        // Both sets are compiled into this binary; build.rs has already parsed them.
        if let Ok(pool) = DescriptorPool::decode(set) {
            for service in pool.services() {
                for method in service.methods() {
                    paths.push(format!("/{}/{}", service.full_name(), method.name()));
                }
            }
        }
    }
    vibe_telemetry::MethodNames::new(paths)
}

fn builder<'a>(services: &[&str]) -> Builder<'a> {
    let mut builder = Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .with_service_name("grpc.health.v1.Health")
        .with_service_name("grpc.reflection.v1.ServerReflection")
        .with_service_name("grpc.reflection.v1alpha.ServerReflection");
    for service in services {
        builder = builder.with_service_name(*service);
    }
    builder
}

/// Server reflection (v1) listing `services`, the health service and reflection itself.
pub fn reflection_v1(
    services: &[&str],
) -> Result<
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
    Error,
> {
    builder(services).build_v1()
}

/// The same as [`reflection_v1`] for clients that still ask v1alpha.
pub fn reflection_v1alpha(
    services: &[&str],
) -> Result<
    tonic_reflection::server::v1alpha::ServerReflectionServer<
        impl tonic_reflection::server::v1alpha::ServerReflection,
    >,
    Error,
> {
    builder(services).build_v1alpha()
}
