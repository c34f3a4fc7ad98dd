//! The edge's vocabulary: its limits, why it refuses, and the scopes of the operator's
//! decisions.

use crate::{AppError, Result};
use tessera_airlock::blocklist::Scope;
use tessera_airlock::gcra::Quota;
use tessera_domain::ErrorCode;

/// Per-address and per-network request limits, and the slower lane for throttled clients.
#[derive(Debug, Clone, Copy)]
pub struct EdgeLimits {
    pub per_address: Quota,
    pub per_network: Quota,
    pub throttled: Quota,
    /// Per enrolled gate, whatever its address (a venue's gates often share one): a gate
    /// syncs a few times a second, so a stolen token cannot be used to flood the shop.
    pub per_gate: Quota,
}

impl Default for EdgeLimits {
    /// A fan's browser makes a handful of requests a second at most; a /24 may hide a campus
    /// or a carrier's NAT, so it gets fifty times more.
    fn default() -> Self {
        EdgeLimits {
            per_address: Quota { per_second: 20.0, burst: 60 },
            per_network: Quota { per_second: 1_000.0, burst: 2_000 },
            throttled: Quota { per_second: 1.0, burst: 5 },
            per_gate: Quota { per_second: 10.0, burst: 50 },
        }
    }
}

/// Why the edge or the airlock refused a request. Counted for the security view; the code is
/// what the client sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refused {
    RateLimitedAddress,
    RateLimitedNetwork,
    Throttled,
    Blocked,
    TooManyConnections,
    HeadersTooLarge,
    TokenForged,
    TokenExpired,
    TokenOtherAccount,
    NotAdmitted,
    PowRequired,
    PowFailed,
    PowReplayed,
    RateLimitedGate,
    GateRevoked,
}

impl Refused {
    pub const ALL: [Refused; 15] = [
        Refused::RateLimitedAddress,
        Refused::RateLimitedNetwork,
        Refused::Throttled,
        Refused::Blocked,
        Refused::TooManyConnections,
        Refused::HeadersTooLarge,
        Refused::TokenForged,
        Refused::TokenExpired,
        Refused::TokenOtherAccount,
        Refused::NotAdmitted,
        Refused::PowRequired,
        Refused::PowFailed,
        Refused::PowReplayed,
        Refused::RateLimitedGate,
        Refused::GateRevoked,
    ];

    pub fn code(self) -> ErrorCode {
        match self {
            Refused::RateLimitedAddress => ErrorCode::RateLimitedAddress,
            Refused::RateLimitedNetwork => ErrorCode::RateLimitedNetwork,
            Refused::Throttled => ErrorCode::Throttled,
            Refused::Blocked => ErrorCode::Blocked,
            Refused::TooManyConnections => ErrorCode::TooManyConnections,
            Refused::HeadersTooLarge => ErrorCode::HeadersTooLarge,
            Refused::TokenForged => ErrorCode::TokenForged,
            Refused::TokenExpired => ErrorCode::TokenExpired,
            Refused::TokenOtherAccount => ErrorCode::TokenOtherAccount,
            Refused::NotAdmitted => ErrorCode::NotAdmitted,
            Refused::PowRequired => ErrorCode::PowRequired,
            Refused::PowFailed => ErrorCode::PowFailed,
            Refused::PowReplayed => ErrorCode::PowReplayed,
            Refused::RateLimitedGate => ErrorCode::RateLimitedGate,
            Refused::GateRevoked => ErrorCode::GateRevoked,
        }
    }
}

/// The error every airlock refusal becomes; the HTTP layer maps the code to its status.
pub fn airlock_error(r: Refused, message: &str) -> AppError {
    AppError::Airlock { code: r.code(), message: message.to_string() }
}

/// A decision's scope from its two text fields: `address` and `203.0.113.7`, `network` and
/// `203.0.113.0/24` (or an IPv6 /48), `account` and an account id.
pub fn parse_scope(scope: &str, value: &str) -> Result<Scope> {
    match scope {
        "address" => value.parse().map(Scope::Address).map_err(|_| AppError::invalid("value", "not an IP address")),
        "network" => value
            .parse()
            .map(Scope::Network)
            .map_err(|_| AppError::invalid("value", "not an IPv4 /24 or IPv6 /48 network")),
        "account" => value.parse().map(Scope::Account).map_err(|_| AppError::invalid("value", "not an account id")),
        _ => Err(AppError::invalid("scope", "one of address, network, account")),
    }
}

/// The store's key for a decision's scope: one decision per scope.
pub fn scope_key(s: &Scope) -> String {
    match s {
        Scope::Address(ip) => format!("address:{ip}"),
        Scope::Network(n) => format!("network:{n}"),
        Scope::Account(a) => format!("account:{a}"),
    }
}
