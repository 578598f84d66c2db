//! Demo mode: the Trillet simulator's demo scenario, in-process on loopback, with in-memory
//! credentials — so a new user sees progress, the tray and a completion within a minute
//! without an account (and without touching their keychain).

use batchwatch_core::{ApiBase, BatchId, Credentials};
use trillet_sim::{RunningSim, SimConfig};

pub struct Demo {
    pub sim: RunningSim,
    pub base: ApiBase,
    pub credentials: Credentials,
    pub batches: Vec<BatchId>,
}

/// Speeds the demo's clock up (tests use it to see a completion in seconds).
pub const SPEED_ENV: &str = "BATCHWATCH_DEMO_SPEED";

pub fn start() -> std::io::Result<Demo> {
    let speed = std::env::var(SPEED_ENV)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(1.0);
    let sim = RunningSim::spawn(SimConfig {
        speed,
        ..SimConfig::default()
    })?;
    let batches = sim
        .control()
        .load_scenario("demo")
        .unwrap_or_default()
        .iter()
        .filter_map(|id| BatchId::parse(id).ok())
        .collect();
    let base = ApiBase::parse(&sim.base_url()).map_err(std::io::Error::other)?;
    let credentials =
        Credentials::new(&sim.api_key(), &sim.workspace_id()).map_err(std::io::Error::other)?;
    Ok(Demo {
        sim,
        base,
        credentials,
        batches,
    })
}
