//! Who may call each method and how it is treated: the `vibe.options.v1.policy` method
//! options, handed over by the root as plain values (this crate knows no protobuf).

use std::collections::HashMap;
use std::sync::Arc;

/// A caller's role. Roles are not hierarchical: admin does not imply staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Anonymous,
    Customer,
    Staff,
    Admin,
    Service,
}

impl Role {
    /// The role named by a token claim (`customer`, `staff`, `admin`, `service`, in any
    /// case). `anonymous` is never granted by a token.
    pub fn from_claim(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "customer" => Some(Self::Customer),
            "staff" => Some(Self::Staff),
            "admin" => Some(Self::Admin),
            "service" => Some(Self::Service),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Customer => "customer",
            Self::Staff => "staff",
            Self::Admin => "admin",
            Self::Service => "service",
        }
    }
}

/// How calls to a method are rate limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RateClass {
    /// The caller's per-role tier.
    #[default]
    Standard,
    /// Expensive LLM work: one limit whatever the role.
    Reasoning,
    /// Service-to-service: never limited per principal.
    Internal,
}

/// The declared policy of one method.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MethodPolicy {
    /// Allowed roles; empty denies everyone.
    pub roles: Vec<Role>,
    pub rate_class: RateClass,
    pub audited: bool,
    pub idempotent: bool,
    /// The method streams its responses (no default deadline is imposed on it).
    pub server_streaming: bool,
    /// The method takes a stream of requests (its body is never read whole at the edge).
    pub client_streaming: bool,
}

impl MethodPolicy {
    pub fn allows(&self, roles: &[Role]) -> bool {
        roles.iter().any(|role| self.roles.contains(role))
    }
}

/// Every method's policy by path (`/package.Service/Method`). A path without an entry
/// is denied to everyone: fail closed.
#[derive(Debug, Clone, Default)]
pub struct Policies(Arc<HashMap<String, Arc<MethodPolicy>>>);

impl Policies {
    pub fn new(entries: impl IntoIterator<Item = (String, MethodPolicy)>) -> Self {
        Self(Arc::new(
            entries
                .into_iter()
                .map(|(path, policy)| (path, Arc::new(policy)))
                .collect(),
        ))
    }

    pub fn get(&self, path: &str) -> Option<&Arc<MethodPolicy>> {
        self.0.get(path)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Arc<MethodPolicy>)> {
        self.0.iter()
    }
}
