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

/// Every method's access policy, from the `vibe.options.v1.policy` method options of the
/// compiled contracts. Health is open to every caller; reflection only when `reflection`
/// is on. Methods without the option get no entry: the gateway denies them.
pub fn policies(reflection: bool) -> vibe_gateway::Policies {
    use crate::proto::options::v1 as wire;
    use vibe_gateway::{MethodPolicy, RateClass, Role};

    let everyone = |server_streaming: bool, client_streaming: bool| MethodPolicy {
        roles: vec![
            Role::Anonymous,
            Role::Customer,
            Role::Staff,
            Role::Admin,
            Role::Service,
        ],
        // Probes and tools poll these; they are cheap and carry no data.
        rate_class: RateClass::Internal,
        audited: false,
        idempotent: true,
        server_streaming,
        client_streaming,
    };
    let mut entries = vec![
        (
            "/grpc.health.v1.Health/Check".to_owned(),
            everyone(false, false),
        ),
        (
            "/grpc.health.v1.Health/Watch".to_owned(),
            everyone(true, false),
        ),
    ];
    if reflection {
        entries.extend(
            REFLECTION_METHODS
                .iter()
                .map(|path| ((*path).to_owned(), everyone(true, true))),
        );
    }
    // The set is compiled into this binary and was parsed by build.rs already.
    let Ok(pool) = DescriptorPool::decode(FILE_DESCRIPTOR_SET) else {
        return vibe_gateway::Policies::new(entries);
    };
    let Some(extension) = pool.get_extension_by_name("vibe.options.v1.policy") else {
        return vibe_gateway::Policies::new(entries);
    };
    for service in pool.services() {
        for method in service.methods() {
            let options = method.options();
            if !options.has_extension(&extension) {
                continue;
            }
            let Some(Ok(policy)) = options
                .get_extension(&extension)
                .as_message()
                .map(|message| message.transcode_to::<wire::MethodPolicy>())
            else {
                continue;
            };
            let roles = policy
                .roles()
                .filter_map(|role| match role {
                    wire::Role::Anonymous => Some(Role::Anonymous),
                    wire::Role::Customer => Some(Role::Customer),
                    wire::Role::Staff => Some(Role::Staff),
                    wire::Role::Admin => Some(Role::Admin),
                    wire::Role::Service => Some(Role::Service),
                    wire::Role::Unspecified => None,
                })
                .collect();
            let rate_class = match policy.rate_class() {
                wire::RateClass::Reasoning => RateClass::Reasoning,
                wire::RateClass::Internal => RateClass::Internal,
                wire::RateClass::Standard | wire::RateClass::Unspecified => RateClass::Standard,
            };
            entries.push((
                format!("/{}/{}", service.full_name(), method.name()),
                MethodPolicy {
                    roles,
                    rate_class,
                    audited: policy.audited,
                    idempotent: policy.idempotent,
                    server_streaming: method.is_server_streaming(),
                    client_streaming: method.is_client_streaming(),
                },
            ));
        }
    }
    vibe_gateway::Policies::new(entries)
}
