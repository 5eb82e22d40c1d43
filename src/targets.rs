//! Which parts of vibe this process runs (the Loki/Mimir pattern: one binary, many targets).

/// A part of vibe that `vibe serve --target` can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// Every target in one process (what `vibe up` runs).
    All,
    /// The edge: the public gRPC/grpc-web listener, routing to the services.
    Gateway,
    /// Dashboard, catalog and compliance (DashboardService, ComplianceService).
    Integration,
    /// AI answers: job queue and LLM streaming (ReasoningService).
    Reasoning,
    /// Customer memory (MemoryService).
    Memory,
    /// Square and Lightspeed sync (SyncService).
    Sync,
}

/// A backend service target and the gRPC services it hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceTarget {
    Integration,
    Reasoning,
    Memory,
    Sync,
}

impl ServiceTarget {
    pub const ALL: [ServiceTarget; 4] = [
        ServiceTarget::Integration,
        ServiceTarget::Reasoning,
        ServiceTarget::Memory,
        ServiceTarget::Sync,
    ];

    /// The full protobuf names of the services this target hosts; also their names in
    /// the gRPC health service and in reflection.
    pub fn grpc_services(self) -> &'static [&'static str] {
        match self {
            ServiceTarget::Integration => &[
                "vibe.integration.v1.DashboardService",
                "vibe.integration.v1.ComplianceService",
            ],
            ServiceTarget::Reasoning => &["vibe.reasoning.v1.ReasoningService"],
            ServiceTarget::Memory => &["vibe.memory.v1.MemoryService"],
            ServiceTarget::Sync => &["vibe.sync.v1.SyncService"],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ServiceTarget::Integration => "integration",
            ServiceTarget::Reasoning => "reasoning",
            ServiceTarget::Memory => "memory",
            ServiceTarget::Sync => "sync",
        }
    }
}

/// The set of targets one process runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    pub gateway: bool,
    pub services: Vec<ServiceTarget>,
}

impl Targets {
    pub fn all() -> Self {
        Self {
            gateway: true,
            services: ServiceTarget::ALL.to_vec(),
        }
    }

    pub fn from_list(list: &[Target]) -> Self {
        if list.contains(&Target::All) {
            return Self::all();
        }
        let services = ServiceTarget::ALL
            .into_iter()
            .filter(|service| {
                list.contains(&match service {
                    ServiceTarget::Integration => Target::Integration,
                    ServiceTarget::Reasoning => Target::Reasoning,
                    ServiceTarget::Memory => Target::Memory,
                    ServiceTarget::Sync => Target::Sync,
                })
            })
            .collect();
        Self {
            gateway: list.contains(&Target::Gateway),
            services,
        }
    }

    pub fn hosts(&self, service: ServiceTarget) -> bool {
        self.services.contains(&service)
    }

    /// Names for logs, e.g. `gateway,integration`.
    pub fn describe(&self) -> String {
        let mut names: Vec<&str> = Vec::new();
        if self.gateway {
            names.push("gateway");
        }
        names.extend(self.services.iter().map(|service| service.name()));
        names.join(",")
    }
}
